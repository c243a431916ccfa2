// End-to-end: the daemon's request bodies are strict (an unknown field anywhere is 400
// `bad-request` naming it by its path, and nothing is ledgered), every /v1 answer carries the tree
// size it reflects, break glass means one thing for promotions and rollbacks, the metrics that
// follow the ledger move on every kind of commit, and the record's schema is served.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace dg::test;
using nlohmann::json;

namespace {

std::string pinned(const std::string& digest, const std::string& repo = k_repo) {
  return repo + "@" + digest;
}

// A daemon with the strict policy and the few calls these tests make.
struct Bodies {
  OpensslSigner signer;
  Daemon daemon{strict_policy(signer.public_key_pem())};

  HttpResponse
  post(const std::string& path, const json& body, const std::string& token = k_admin_token) const {
    return daemon.http("POST", path, body.dump(), token);
  }
  // Entries in the ledger, as /readyz counts them (no token, no tree-size header involved).
  std::int64_t entries() const {
    auto r = daemon.http("GET", "/readyz");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json()["entries"].get<std::int64_t>();
  }
  std::string record(const json& evidence) const {
    auto r = post("/v1/validations", evidence, k_recorder_token);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return evidence["subject"]["digest"];
  }
  HttpResponse promote(const std::string& digest,
                       const std::string& env,
                       const std::string& break_glass = "") const {
    json body{{"reference", pinned(digest)}, {"environment", env}};
    if (!break_glass.empty()) {
      body["break_glass"] = {{"reason", break_glass}};
    }
    return post("/v1/promotions", body, break_glass.empty() ? k_promoter_token : k_operator_token);
  }
  json entry(const HttpResponse& r) const {
    auto got = daemon.http("GET", "/v1/entries/" + std::to_string(r.json()["seq"].get<int>()), "",
                           k_reader_token);
    REQUIRE_MESSAGE(got.status == 200, got.body);
    return got.json()["entry"];
  }
  double metric(const std::string& name) const {
    std::string text = daemon.http("GET", "/metrics").body;
    auto at = text.find("\n" + name + " ");
    REQUIRE_MESSAGE(at != std::string::npos, name);
    return std::stod(text.substr(at + name.size() + 2));
  }
};

// Expect 400 bad-request naming `path`, with nothing ledgered.
void expect_unknown_field(const Bodies& b,
                          const std::string& target,
                          const json& body,
                          const std::string& path) {
  CAPTURE(target);
  CAPTURE(path);
  std::int64_t before = b.entries();
  auto r = b.post(target, body);
  CHECK_MESSAGE(r.status == 400, r.body);
  CHECK(r.json()["error"] == "bad-request");
  std::string message = r.json().value("message", "");
  CHECK_MESSAGE(message.find(path + ": unknown field") != std::string::npos, message);
  CHECK(r.headers.at("digestgate-tree-size") == std::to_string(before));
  CHECK(b.entries() == before);
}

} // namespace

TEST_SUITE_BEGIN("E2E requests");

TEST_CASE("An unknown field in any request body is refused by its path and ledgers nothing") {
  Bodies b;
  json evidence = complete_evidence(b.signer, sample_digest(1));
  std::string digest = b.record(evidence);
  std::string other = b.record(complete_evidence(b.signer, sample_digest(2)));
  REQUIRE(b.promote(digest, "staging").status == 200);
  REQUIRE(b.promote(other, "staging").status == 200);

  SUBCASE("a promotion: dryrun for dry_run, a bundle's field, and break glass's own fields") {
    expect_unknown_field(
        b, "/v1/promotions",
        {{"reference", pinned(digest)}, {"environment", "production"}, {"dryrun", true}}, "dryrun");
    expect_unknown_field(b, "/v1/promotions",
                         {{"references", {pinned(digest)}},
                          {"environment", "production"},
                          {"dry_run", true},
                          {"bundle", true}},
                         "bundle");
    expect_unknown_field(b, "/v1/promotions",
                         {{"reference", pinned(digest)},
                          {"environment", "production"},
                          {"break_glass", {{"reasn", "hotfix"}}}},
                         "break_glass.reasn");
  }
  SUBCASE("a deployment report") {
    expect_unknown_field(b, "/v1/environments/staging/deployments",
                         {{"digest", other}, {"status", "succeeded"}, {"runing_digest", other}},
                         "runing_digest");
  }
  SUBCASE("a rollback, and its break glass") {
    expect_unknown_field(b, "/v1/environments/staging/rollback",
                         {{"reason", "bad release"}, {"too", digest}}, "too");
    expect_unknown_field(
        b, "/v1/environments/staging/rollback",
        {{"reason", "bad release"}, {"break_glass", {{"reason", "x"}, {"force", true}}}},
        "break_glass.force");
  }
  SUBCASE("a revocation") {
    expect_unknown_field(b, "/v1/revocations",
                         {{"digest", other}, {"reason", "CVE"}, {"environment", "staging"}},
                         "environment");
  }
  SUBCASE("a what-if report, at its top and inside the proposed policy") {
    json proposed = strict_policy(b.signer.public_key_pem());
    expect_unknown_field(b, "/v1/policy/what-if", {{"policy", proposed}, {"verbose", true}},
                         "verbose");
    proposed["environments"]["staging"]["require_gate"] = {"e2e"};
    auto r = b.post("/v1/policy/what-if", {{"policy", proposed}});
    CHECK(r.status == 400);
    CHECK_MESSAGE(r.json().value("message", "").find("require_gate") != std::string::npos, r.body);
  }
  SUBCASE("a validation record, at any depth") {
    json typo = complete_evidence(b.signer, sample_digest(3));
    typo["gates"][0]["finding"] = {{"critical", 0}};
    expect_unknown_field(b, "/v1/validations", typo, "gates[0].finding");
  }
}

TEST_CASE("A dry run misspelled as dryrun promotes nothing") {
  Bodies b;
  std::string digest = b.record(complete_evidence(b.signer, sample_digest(4)));
  std::int64_t before = b.entries();
  auto r = b.post("/v1/promotions",
                  {{"reference", pinned(digest)}, {"environment", "staging"}, {"dryrun", true}},
                  k_promoter_token);
  CHECK(r.status == 400);
  CHECK(b.entries() == before);
  auto env = b.daemon.http("GET", "/v1/environments/staging", "", k_reader_token);
  CHECK(env.json()["repositories"].empty());
  // Spelled right, the same request is a dry run: decided, not ledgered.
  r = b.post("/v1/promotions",
             {{"reference", pinned(digest)}, {"environment", "staging"}, {"dry_run", true}},
             k_promoter_token);
  CHECK(r.status == 200);
  CHECK(r.json()["seq"].is_null());
  CHECK(b.entries() == before);
}

TEST_CASE("A body that is not JSON is still bad-json") {
  Bodies b;
  auto r = b.daemon.http("POST", "/v1/promotions", "{\"reference\": ", k_promoter_token);
  CHECK(r.status == 400);
  CHECK(r.json()["error"] == "bad-json");
}

TEST_CASE("Every /v1 answer carries the tree size it reflects, errors included") {
  Bodies b;
  auto size = [&] { return std::to_string(b.entries()); };
  auto header = [](const HttpResponse& r) {
    auto it = r.headers.find("digestgate-tree-size");
    return it == r.headers.end() ? std::string("absent") : it->second;
  };
  std::string start = size(); // the policy entry
  CHECK(header(b.daemon.http("GET", "/v1/entries", "", k_reader_token)) == start);
  CHECK(header(b.daemon.http("GET", "/v1/checkpoint", "", k_reader_token)) == start);
  CHECK(header(b.daemon.http("GET", "/v1/entries")) == start);                          // 401
  CHECK(header(b.daemon.http("GET", "/v1/nothing-here", "", k_reader_token)) == start); // 404
  CHECK(header(b.daemon.http("DELETE", "/v1/entries", "", k_reader_token)) == start);   // 405
  CHECK(header(b.post("/v1/revocations", {{"digest", "x"}}, k_reader_token)) == start); // 403

  // A write answers with the size that includes its own entry.
  auto recorded =
      b.post("/v1/validations", complete_evidence(b.signer, sample_digest(5)), k_recorder_token);
  REQUIRE(recorded.status == 201);
  CHECK(header(recorded) == std::to_string(recorded.json()["seq"].get<int>()));
  auto refused = b.promote(sample_digest(6), "staging"); // unknown-digest: ledgered refusal
  REQUIRE(refused.status == 403);
  CHECK(header(refused) == std::to_string(refused.json()["seq"].get<int>()));
  CHECK(header(refused) == size());
  auto dry = b.post(
      "/v1/promotions",
      {{"reference", pinned(sample_digest(5))}, {"environment", "staging"}, {"dry_run", true}},
      k_promoter_token);
  CHECK(header(dry) == size());
  // Answers outside /v1 do not carry it.
  CHECK(header(b.daemon.http("GET", "/healthz")) == "absent");
  CHECK(header(b.daemon.http("GET", "/metrics")) == "absent");
}

TEST_CASE("break_glass.used means the approval happened only because of break glass, for "
          "promotions and rollbacks alike") {
  Bodies b;
  json clean = complete_evidence(b.signer, sample_digest(7));
  json failing = complete_evidence(b.signer, sample_digest(8));
  for (auto& gate : failing["gates"]) {
    if (gate["name"] == "e2e") {
      gate["result"] = "fail";
    }
  }
  std::string good = b.record(clean);
  std::string bad = b.record(failing);

  SUBCASE("promotions") {
    auto plain = b.promote(good, "staging", "just in case");
    REQUIRE_MESSAGE(plain.status == 200, plain.body);
    CHECK(plain.json()["break_glass"]["used"] == false);
    CHECK(plain.json()["break_glass"]["overridden"].empty());
    CHECK(b.entry(plain)["body"]["break_glass"]["used"] == false);

    auto broke = b.promote(bad, "staging", "incident 12");
    REQUIRE_MESSAGE(broke.status == 200, broke.body);
    CHECK(broke.json()["break_glass"]["used"] == true);
    CHECK(broke.json()["break_glass"]["overridden"][0]["code"] == "gate-failed");
    CHECK(b.entry(broke)["body"]["break_glass"]["used"] == true);

    // Break glass cannot override a revocation: refused, and not used.
    REQUIRE(b.post("/v1/revocations", {{"digest", good}, {"reason", "CVE"}}).status == 201);
    auto revoked = b.promote(good, "production", "incident 13");
    REQUIRE_MESSAGE(revoked.status == 403, revoked.body);
    CHECK(b.entry(revoked)["body"]["break_glass"]["used"] == false);
  }
  SUBCASE("rollbacks") {
    REQUIRE(b.promote(good, "staging").status == 200);
    REQUIRE(b.promote(bad, "staging", "incident 14").status == 200);
    // Back to the good digest: nothing fails, so break glass is not used.
    auto back = b.post("/v1/environments/staging/rollback",
                       {{"reason", "bad is bad"}, {"break_glass", {{"reason", "in case"}}}},
                       k_operator_token);
    REQUIRE_MESSAGE(back.status == 200, back.body);
    CHECK(back.json()["digest"] == good);
    CHECK(back.json()["break_glass"]["used"] == false);
    CHECK(b.entry(back)["body"]["break_glass"]["used"] == false);

    // To the failing digest, approved there before: only break glass lets it through.
    auto to_bad = b.post("/v1/environments/staging/rollback",
                         {{"reason", "the fix broke more"},
                          {"to", bad},
                          {"break_glass", {{"reason", "incident 15"}}}},
                         k_operator_token);
    REQUIRE_MESSAGE(to_bad.status == 200, to_bad.body);
    CHECK(to_bad.json()["break_glass"]["used"] == true);
    CHECK(to_bad.json()["break_glass"]["overridden"][0]["code"] == "gate-failed");
    CHECK(b.entry(to_bad)["body"]["break_glass"]["used"] == true);

    // To a revoked digest: refused whatever the break glass, which is then not used.
    REQUIRE(b.post("/v1/revocations", {{"digest", good}, {"reason", "CVE"}}).status == 201);
    auto to_revoked =
        b.post("/v1/environments/staging/rollback",
               {{"reason", "r"}, {"to", good}, {"break_glass", {{"reason", "incident 16"}}}},
               k_operator_token);
    REQUIRE_MESSAGE(to_revoked.status == 403, to_revoked.body);
    CHECK(b.entry(to_revoked)["body"]["break_glass"]["used"] == false);
  }
}

TEST_CASE("The ledger size and checkpoint gauges follow every commit, a revocation's too") {
  Bodies b;
  std::string digest = b.record(complete_evidence(b.signer, sample_digest(9)));
  double entries = b.metric("digestgate_ledger_entries");
  CHECK(b.metric("digestgate_checkpoint_size") == entries);
  REQUIRE(b.post("/v1/revocations", {{"digest", digest}, {"reason", "CVE"}}).status == 201);
  CHECK(b.metric("digestgate_ledger_entries") == entries + 1);
  CHECK(b.metric("digestgate_checkpoint_size") == entries + 1);
  REQUIRE(b.promote(digest, "staging").status == 403);
  REQUIRE(b.post("/v1/environments/staging/deployments", {{"digest", digest}, {"status", "failed"}},
                 k_promoter_token)
              .status == 201);
  CHECK(b.metric("digestgate_checkpoint_size") == entries + 3);
  CHECK(b.metric("digestgate_checkpoint_size") == static_cast<double>(b.entries()));
}

TEST_CASE("GET /v1/schemas/validation serves the record's JSON Schema to any role") {
  Bodies b;
  auto r = b.daemon.http("GET", "/v1/schemas/validation", "", k_reader_token);
  REQUIRE(r.status == 200);
  CHECK(r.headers.at("content-type").find("application/schema+json") == 0);
  json schema = json::parse(r.body);
  CHECK(schema.contains("$schema"));
  CHECK(schema["additionalProperties"] == false);
  CHECK(b.daemon.http("GET", "/v1/schemas/validation").status == 401);
  CHECK(b.daemon.http("POST", "/v1/schemas/validation", "{}", k_reader_token).status == 405);
}
