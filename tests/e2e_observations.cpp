// Registry observations through the real daemon and CLI, against real registries (Debian's
// docker-registry, CNCF distribution 2.8) started by the tests: parity, a mirror that lacks the
// digest, platforms other than recorded, registries that are down, stalled, babbling or announce
// 10 GB, a tag that moved, a signature found only in the registry, and drift of a current digest
// within one observe_interval. PRODUCT.md "Registries".
#include "tests/support/registry.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <future>
#include <set>
#include <thread>

using namespace dg::test;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> k_two_platforms = {"linux/amd64", "linux/arm64"};
constexpr const char* k_path = "acme/app";

// {"HOST": {"endpoint": "http://HOST"}} for plain registries and listeners.
json plain_registries(const std::vector<std::string>& hosts) {
  json out = json::object();
  for (const auto& host : hosts) {
    out[host] = {{"endpoint", "http://" + host}};
  }
  return out;
}

// A policy with one environment, "staging", requiring `extra` on top of an e2e gate.
json policy_with(const json& extra) {
  json staging = {{"require_gates", {"e2e"}}};
  for (const auto& [key, value] : extra.items()) {
    staging[key] = value;
  }
  return {{"environments", {{"staging", staging}}}};
}

// What CI records of `image` pushed to `subject` and mirrored to `mirrors`: its platforms (or
// `platforms` when given), tag v1, a passing e2e gate.
json record_of(const TestImage& image,
               const std::string& subject,
               const std::vector<std::string>& mirrors,
               const std::map<std::string, std::string>& platforms = {}) {
  json list = json::array();
  for (const auto& [platform, digest] : platforms.empty() ? image.platforms : platforms) {
    list.push_back({{"platform", platform}, {"digest", digest}});
  }
  json mirror_list = json::array();
  for (const auto& name : mirrors) {
    mirror_list.push_back({{"name", name},
                           {"digest", image.index_digest},
                           {"platforms", list},
                           {"observed_at", timestamp(-60)}});
  }
  return {{"subject",
           {{"name", subject},
            {"digest", image.index_digest},
            {"media_type", "application/vnd.oci.image.index.v1+json"},
            {"platforms", list},
            {"tags", {"v1"}}}},
          {"pushed_at", timestamp(-3600)},
          {"mirrors", mirror_list},
          {"gates", {named_gate("e2e", subject, image.index_digest, dg::now_ns())}}};
}

void record(const Daemon& daemon, const json& evidence) {
  auto r = daemon.http("POST", "/v1/validations", evidence.dump(), k_recorder_token);
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

// The newest observation entry of `digest` (null when there is none).
json newest_observation(const Daemon& daemon, const std::string& digest) {
  auto r = daemon.http("GET", "/v1/entries?kind=observation&limit=1000", "", k_reader_token);
  REQUIRE(r.status == 200);
  json newest = nullptr;
  const json entries = r.json()["entries"];
  for (const json& e : entries) {
    if (e["body"]["digest"] == digest) {
      newest = e;
    }
  }
  return newest;
}

std::set<std::string> codes_of(const json& decision) {
  std::set<std::string> codes;
  for (const auto& r : decision.value("reasons", json::array())) {
    codes.insert(r["code"].get<std::string>());
  }
  return codes;
}

json promote(const Daemon& daemon, const std::string& reference) {
  auto r = daemon.http("POST", "/v1/promotions",
                       json{{"environment", "staging"}, {"reference", reference}}.dump(),
                       k_promoter_token);
  REQUIRE_MESSAGE((r.status == 200 || r.status == 403), r.body);
  return r.json();
}

// POST /v1/observations as the operator.
HttpResponse observe(const Daemon& daemon, const std::string& digest, const json& names = nullptr) {
  json body = {{"digest", digest}};
  if (!names.is_null()) {
    body["names"] = names;
  }
  return daemon.http("POST", "/v1/observations", body.dump(), k_operator_token);
}

} // namespace

TEST_SUITE_BEGIN("e2e observations");

TEST_CASE("Parity holds: the daemon observes after recording, and require_observation approves") {
  RegistryServer a;
  RegistryServer b;
  const TestImage image = make_image("parity", k_two_platforms);
  push_image(a, k_path, image, "v1");
  push_image(b, k_path, image, "v1");
  Daemon daemon(policy_with({{"require_observation", {{"max_age", "1h"}}}}),
                {{"registries", plain_registries({a.host(), b.host()})}});
  const std::string subject = a.host() + "/" + k_path;
  const std::string mirror = b.host() + "/" + k_path;
  record(daemon, record_of(image, subject, {mirror}));

  // In the background, after the 201.
  json entry;
  REQUIRE(wait_until([&] {
    entry = newest_observation(daemon, image.index_digest);
    return !entry.is_null();
  }));
  CHECK(entry["actor"] == "digestgated");
  const json& body = entry["body"];
  CHECK(body["digest"] == image.index_digest);
  CHECK(body.contains("observed_at"));
  REQUIRE(body["registries"].size() == 2);
  for (const json& r : body["registries"]) {
    CHECK(r["present"] == true);
    CHECK(r["error"].is_null());
    CHECK(r["media_type"] == "application/vnd.oci.image.index.v1+json");
    CHECK(r["platforms"].size() == 2);
  }
  CHECK(body["registries"][0]["name"] == subject);
  CHECK(body["registries"][1]["name"] == mirror);

  const json decision = promote(daemon, subject + "@" + image.index_digest);
  CHECK_MESSAGE(decision["decision"] == "approved", decision.dump());

  auto env = daemon.http("GET", "/v1/environments/staging", "", k_reader_token);
  REQUIRE(env.status == 200);
  const json observed = env.json()["repositories"][subject]["observed"];
  CHECK(observed["ok"] == true);
  CHECK(observed["seq"] == entry["seq"]);
  CHECK(observed["problems"].empty());
  CHECK(env.json()["observed"]["ok"] == true);

  // The CLI asks again, and says what each registry served.
  auto cli = daemon.cli({"observe", subject + "@" + image.index_digest}, k_operator_token);
  CHECK_MESSAGE(cli.exit_code == 0, cli.err);
  CHECK(cli.out.find("observed " + image.index_digest) != std::string::npos);
  CHECK(cli.out.find(mirror + "  present") != std::string::npos);
  auto as_json = daemon.cli({"--json", "observe", image.index_digest}, k_recorder_token);
  REQUIRE_MESSAGE(as_json.exit_code == 0, as_json.err);
  CHECK(as_json.json()["kind"] == "observation");
  CHECK(as_json.json()["actor"] == "recorder");
  CHECK(as_json.json()["seq"].get<long long>() > entry["seq"].get<long long>());
}

TEST_CASE("registry-not-observed: never observed, too old, or a registry that did not answer") {
  RegistryServer a;
  const int closed = free_port();
  const std::string down = "127.0.0.1:" + std::to_string(closed);
  const TestImage image = make_image("unobserved", k_two_platforms);
  push_image(a, k_path, image, "v1");
  // No `registries` in the config: nothing is observed unless asked.
  Daemon daemon(policy_with({{"require_observation", {{"max_age", "2s"}}}}));
  const std::string subject = a.host() + "/" + k_path;
  const std::string reference = subject + "@" + image.index_digest;
  record(daemon, record_of(image, subject, {}));

  json decision = promote(daemon, reference);
  CHECK(codes_of(decision) == std::set<std::string>{"registry-not-observed"});
  CHECK(newest_observation(daemon, image.index_digest).is_null());

  // An unlisted registry is reached at https://<host>: this one speaks plain http, so it does not
  // answer, and neither does the closed port.
  auto r = observe(daemon, image.index_digest, {down + "/" + k_path});
  CHECK(r.status == 502);
  CHECK(r.json()["error"] == "registry-unreachable");
  CHECK(r.json()["message"].get<std::string>().find(down + "/" + k_path) != std::string::npos);
  CHECK(newest_observation(daemon, image.index_digest).is_null());

  // With the registry configured, it answers, but the mirror that is down does not.
  daemon.stop();
  daemon.write_config([&] {
    json config = daemon.config();
    config["registries"] = plain_registries({a.host(), down});
    return config;
  }());
  daemon.start();
  r = observe(daemon, image.index_digest, {down + "/" + k_path});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json()["body"]["registries"][1]["error"].get<std::string>().rfind("unreachable:", 0) ==
        0);
  decision = promote(daemon, reference);
  CHECK(codes_of(decision) == std::set<std::string>{"registry-not-observed"});
  bool names_down = false;
  for (const json& reason : decision["reasons"]) {
    names_down = names_down || reason["message"].get<std::string>().find(down) != std::string::npos;
  }
  CHECK_MESSAGE(names_down, decision.dump());

  // Observed in full: approved, until the observation is older than max_age.
  r = observe(daemon, image.index_digest);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  decision = promote(daemon, reference);
  CHECK_MESSAGE(decision["decision"] == "approved", decision.dump());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  decision = promote(daemon, reference);
  CHECK(codes_of(decision) == std::set<std::string>{"registry-not-observed"});
}

TEST_CASE("registry-parity-mismatch: a mirror lacks the digest, or serves other platforms") {
  RegistryServer a;
  RegistryServer b;
  const TestImage image = make_image("mismatch", k_two_platforms);
  push_image(a, k_path, image, "v1");
  Daemon daemon(
      policy_with({{"require_observation", {{"max_age", "1h"}}}}),
      {{"registries", plain_registries({a.host(), b.host()})}, {"observe_interval", "1h"}});
  const std::string subject = a.host() + "/" + k_path;
  const std::string mirror = b.host() + "/" + k_path;

  SUBCASE("The mirror lacks the digest") {
    record(daemon, record_of(image, subject, {mirror}));
    auto r = observe(daemon, image.index_digest);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    CHECK(r.json()["body"]["registries"][1]["present"] == false);
    CHECK(r.json()["body"]["registries"][1]["error"].is_null());
    const json decision = promote(daemon, subject + "@" + image.index_digest);
    CHECK(codes_of(decision) == std::set<std::string>{"registry-parity-mismatch"});
    CHECK(decision.dump().find(mirror) != std::string::npos);
  }
  SUBCASE("CI claimed another arm64 digest than the registries serve") {
    push_image(b, k_path, image, "v1");
    auto claimed = image.platforms;
    claimed["linux/arm64"] = make_image("rebuilt", {"linux/arm64"}).platforms.at("linux/arm64");
    record(daemon, record_of(image, subject, {mirror}, claimed));
    auto r = observe(daemon, image.index_digest);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const json decision = promote(daemon, subject + "@" + image.index_digest);
    CHECK_MESSAGE(codes_of(decision) == std::set<std::string>{"registry-parity-mismatch"},
                  decision.dump());
    CHECK(decision.dump().find("linux/arm64") != std::string::npos);
  }
}

TEST_CASE("A registry down, stalled, babbling or announcing 10 GB: the observation says which, "
          "and nothing else waits") {
  RegistryServer a;
  BadListener silent(BadListener::Mode::silent);
  BadListener garbage(BadListener::Mode::garbage);
  BadListener huge(BadListener::Mode::huge_length);
  const std::string down = "127.0.0.1:" + std::to_string(free_port());
  const TestImage image = make_image("broken", k_two_platforms);
  push_image(a, k_path, image, "v1");
  Daemon daemon(policy_with(json::object()),
                {{"registries",
                  plain_registries({a.host(), silent.host(), garbage.host(), huge.host(), down})},
                 {"observe_interval", "1h"},
                 {"registry_timeout", "2s"}});
  const std::string subject = a.host() + "/" + k_path;
  record(daemon, record_of(image, subject, {}));

  // The stalled registry holds its observation for the whole call timeout; meanwhile reads,
  // records and promotions answer at once.
  auto pending = std::async(std::launch::async, [&] {
    return observe(daemon, image.index_digest,
                   {silent.host() + "/" + k_path, garbage.host() + "/" + k_path,
                    huge.host() + "/" + k_path, down + "/" + k_path});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    CHECK(daemon.http("GET", "/readyz").status == 200);
    CHECK(daemon.http("GET", "/v1/checkpoint", "", k_reader_token).status == 200);
    const json decision = promote(daemon, subject + "@" + image.index_digest);
    CHECK_MESSAGE(decision["decision"] == "approved", decision.dump());
    CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 2.0);
  }
  auto r = pending.get();
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const json registries = r.json()["body"]["registries"];
  REQUIRE(registries.size() == 5);
  CHECK(registries[0]["present"] == true);
  const auto error_of = [&](int k) { return registries[k]["error"].get<std::string>(); };
  CHECK(error_of(1).rfind("timeout:", 0) == 0);
  CHECK(error_of(2).rfind("bad-response:", 0) == 0);
  CHECK(error_of(3).rfind("too-large:", 0) == 0);
  CHECK(error_of(4).rfind("unreachable:", 0) == 0);

  // None could be asked: 502 naming each, and exit 3 from the CLI.
  auto cli =
      daemon.cli({"observe", down + "/" + k_path + "@" + sample_digest(7)}, k_operator_token);
  CHECK(cli.exit_code == 3);
  CHECK(cli.err.find("registry-unreachable") != std::string::npos);
  CHECK(cli.err.find(down + "/" + k_path) != std::string::npos);
}

TEST_CASE("POST /v1/observations refuses what it cannot ask about") {
  Daemon daemon(policy_with(json::object()), {{"registries", json::object()}});
  CHECK(observe(daemon, sample_digest(1)).status == 404);
  CHECK(observe(daemon, sample_digest(1)).json()["error"] == "unknown-digest");
  auto r = daemon.http("POST", "/v1/observations",
                       json{{"digest", sample_digest(1)}, {"name", "x"}}.dump(), k_operator_token);
  CHECK(r.status == 400);
  CHECK(r.json()["message"] == "name: unknown field");
  r = daemon.http("POST", "/v1/observations", json{{"digest", "latest"}}.dump(), k_operator_token);
  CHECK(r.status == 400);
  r = daemon.http("POST", "/v1/observations",
                  json{{"digest", sample_digest(1)}, {"names", {"Not A Name"}}}.dump(),
                  k_operator_token);
  CHECK(r.status == 400);
  CHECK(r.json()["message"].get<std::string>().rfind("names[0]:", 0) == 0);
  r = daemon.http("POST", "/v1/observations", json{{"digest", sample_digest(1)}}.dump(),
                  k_promoter_token);
  CHECK(r.status == 403);
  CHECK(daemon.http("GET", "/v1/resolve", "", k_reader_token).status == 400);
  CHECK(daemon.http("GET", "/v1/resolve?reference=x:y").status == 401);
  auto usage = daemon.cli({"observe", "ghcr.io/acme/app:v1"}, k_operator_token);
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("digestgate resolve") != std::string::npos);
}

TEST_CASE("resolve: the tag's digest at the registry now, and what the ledger knows of it") {
  RegistryServer a;
  const TestImage first = make_image("first", k_two_platforms);
  const TestImage second = make_image("second", k_two_platforms);
  push_image(a, k_path, first, "v1");
  Daemon daemon(policy_with(json::object()),
                {{"registries", plain_registries({a.host()})}, {"observe_interval", "1h"}});
  const std::string subject = a.host() + "/" + k_path;
  record(daemon, record_of(first, subject, {}));

  auto r = daemon.http("GET", "/v1/resolve?reference=" + subject + ":v1", "", k_reader_token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["digest"] == first.index_digest);
  CHECK(r.json()["pinned"] == subject + "@" + first.index_digest);
  CHECK(r.json()["ledger"]["recorded"] == true);
  CHECK(r.json()["ledger"]["tag_moved"] == false);

  // The tag moves after recording.
  push_image(a, k_path, second, "v1");
  auto cli = daemon.cli({"resolve", subject + ":v1"}, k_reader_token);
  REQUIRE_MESSAGE(cli.exit_code == 0, cli.err);
  CHECK(cli.out.find("pin as: " + subject + "@" + second.index_digest) != std::string::npos);
  CHECK(cli.out.find("no recorded evidence") != std::string::npos);
  CHECK(cli.out.find("the tag moved") != std::string::npos);
  CHECK(cli.out.find(first.index_digest) != std::string::npos);
  auto as_json = daemon.cli({"--json", "resolve", subject + ":v1"}, k_reader_token);
  REQUIRE_MESSAGE(as_json.exit_code == 0, as_json.err);
  CHECK(as_json.json()["ledger"]["tag_moved"] == true);
  CHECK(as_json.json()["ledger"]["recorded_under_tag"] == json::array({first.index_digest}));

  auto unknown = daemon.cli({"resolve", subject + ":nope"}, k_reader_token);
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("not-found") != std::string::npos);
}

TEST_CASE("A signature found only in the registry satisfies require_signature") {
  RegistryServer a;
  OpensslSigner signer;
  const TestImage image = make_image("signed-there", k_two_platforms);
  push_image(a, k_path, image, "v1");
  const std::string subject = a.host() + "/" + k_path;
  json policy = policy_with({{"require_signature", {{"keys", {"ci"}}}}});
  policy["trusted_keys"] = {{"ci", {{"public_key_pem", signer.public_key_pem()}}}};
  Daemon daemon(policy, {{"registries", plain_registries({a.host()})}, {"observe_interval", "1h"}});
  record(daemon, record_of(image, subject, {}));
  const std::string reference = subject + "@" + image.index_digest;
  // The background observation finds no signature yet.
  REQUIRE(wait_until([&] { return !newest_observation(daemon, image.index_digest).is_null(); }));
  CHECK(codes_of(promote(daemon, reference)) == std::set<std::string>{"signature-missing"});

  push_cosign_signature(a, k_path, image.index_digest,
                        cosign_signature(signer, subject, image.index_digest));
  auto r = observe(daemon, image.index_digest);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json()["body"]["signatures"].size() == 1);
  const json decision = promote(daemon, reference);
  CHECK_MESSAGE(decision["decision"] == "approved", decision.dump());
}

TEST_CASE("A current digest deleted from a mirror is drift within one observe_interval") {
  RegistryServer a;
  RegistryServer b;
  const TestImage image = make_image("drifting", k_two_platforms);
  push_image(a, k_path, image, "v1");
  push_image(b, k_path, image, "v1");
  Daemon daemon(
      policy_with(json::object()),
      {{"registries", plain_registries({a.host(), b.host()})}, {"observe_interval", "1s"}});
  const std::string subject = a.host() + "/" + k_path;
  const std::string mirror = b.host() + "/" + k_path;
  record(daemon, record_of(image, subject, {mirror}));
  const json decision = promote(daemon, subject + "@" + image.index_digest);
  REQUIRE_MESSAGE(decision["decision"] == "approved", decision.dump());
  REQUIRE(wait_until([&] {
    auto env = daemon.http("GET", "/v1/environments/staging", "", k_reader_token).json();
    return env["observed"].is_object() && env["observed"]["ok"] == true;
  }));

  b.delete_manifest(k_path, image.index_digest);
  json env;
  REQUIRE(wait_until(
      [&] {
        env = daemon.http("GET", "/v1/environments/staging", "", k_reader_token).json();
        return env["observed"].is_object() && env["observed"]["ok"] == false;
      },
      std::chrono::seconds(10)));
  const json& observed = env["repositories"][subject]["observed"];
  CHECK(observed["ok"] == false);
  REQUIRE(observed["problems"].size() >= 1);
  CHECK(observed["problems"][0].get<std::string>().find(mirror) != std::string::npos);
  CHECK(observed.contains("seq"));
  CHECK(observed.contains("time"));

  // The observer counts and logs the drift just after ledgering it: the environment may show it
  // first (on PostgreSQL, a reader sees the commit at once).
  CHECK(wait_until([&] {
    const std::string metrics = daemon.http("GET", "/metrics").body;
    const auto at = metrics.find("\ndigestgate_observation_drift ");
    return at != std::string::npos && std::stoll(metrics.substr(at + 30)) >= 1;
  }));
  CHECK(wait_until([&] { return daemon.log().find("observation drift") != std::string::npos; }));
  auto cli = daemon.cli({"env", "staging"}, k_reader_token);
  CHECK(cli.out.find("registries: DRIFT") != std::string::npos);
}

TEST_CASE(
    "Registries with TLS and a ca_file, htpasswd Basic from a password_file, and token auth") {
  TestCa ca;
  RegistryServer basic({&ca, "bot", "s3cret-pass", nullptr});
  TokenServer tokens("registry.test", "token-issuer");
  RegistryServer bearer({nullptr, "", "", &tokens});
  const TestImage image = make_image("authenticated", k_two_platforms);
  push_image(basic, k_path, image, "v1");
  push_image(bearer, k_path, image, "v1");
  TempDir dir;
  const std::string password_file = dir.path() + "/basic.password";
  REQUIRE(dg::write_file_atomic(password_file, "s3cret-pass\n", 0600).ok());
  json registries = {{basic.host(),
                      {{"endpoint", basic.endpoint()},
                       {"username", "bot"},
                       {"password_file", password_file},
                       {"ca_file", ca.ca_file()}}},
                     {bearer.host(), {{"endpoint", bearer.endpoint()}}}};
  Daemon daemon(policy_with({{"require_observation", {{"max_age", "1h"}}}}),
                {{"registries", registries}, {"observe_interval", "1h"}});
  const std::string subject = basic.host() + "/" + k_path;
  record(daemon, record_of(image, subject, {bearer.host() + "/" + k_path}));
  auto r = observe(daemon, image.index_digest);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const json found = r.json()["body"]["registries"];
  for (const json& registry : found) {
    CHECK_MESSAGE(registry["present"] == true, registry.dump());
  }
  CHECK(tokens.requests() >= 1);
  CHECK(promote(daemon, subject + "@" + image.index_digest)["decision"] == "approved");
  CHECK(daemon.log().find("s3cret-pass") == std::string::npos);
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("e2e observations");

TEST_CASE("A stop waits for a running observation, and a second SIGTERM meanwhile is absorbed") {
  BadListener silent(BadListener::Mode::silent);
  Daemon daemon(policy_with(json::object()), {{"registries", plain_registries({silent.host()})},
                                              {"observe_interval", "1h"},
                                              {"registry_timeout", "3s"}});
  const TestImage image = make_image("stalled", k_two_platforms);
  // The background observation after this record waits on the silent registry.
  record(daemon, record_of(image, silent.host() + "/" + k_path, {}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(::kill(daemon.pid(), SIGTERM) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  CHECK(daemon.stop(SIGTERM) == 0);
  CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 10.0);
  CHECK(daemon.log().find("\"msg\":\"stopped\"") != std::string::npos);
}

TEST_SUITE_END();
