// The registry client against real registries: Debian's docker-registry (CNCF distribution 2.8)
// started on loopback ports, plain, with TLS and htpasswd Basic auth, and with token auth trusting
// a token server of the test's own; and listeners that refuse, stall, babble or announce 10 GB.
#include "registry/client.hpp"
#include "registry/observe.hpp"
#include "registry/signatures.hpp"
#include "tests/support/registry.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace dg::test;
using nlohmann::json;
namespace registry = dg::registry;

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> k_two_platforms = {"linux/amd64", "linux/arm64"};

registry::Client client_for(std::map<std::string, registry::RegistrySettings> registries,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  registry::ClientOptions options;
  options.registries = std::move(registries);
  options.timeout = timeout;
  return registry::Client(std::move(options));
}

registry::RegistrySettings plain(const RegistryServer& server) {
  return {server.endpoint(), "", "", ""};
}

std::map<std::string, std::string> platforms_of(const registry::Manifest& index) {
  std::map<std::string, std::string> out;
  auto entries = registry::index_entries(index);
  REQUIRE(entries.ok());
  for (const auto& entry : *entries) {
    out[entry.platform] = entry.digest;
  }
  return out;
}

std::string kind(const dg::Error& error) {
  return std::string(registry::failure_kind(error));
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

TEST_SUITE_BEGIN("Registry client");

TEST_CASE("Two mirrors serve the same index, platforms, tags and cosign material") {
  RegistryServer a;
  RegistryServer b;
  const TestImage image = make_image("parity", k_two_platforms);
  push_image(a, "acme/app", image, "v1");
  push_image(b, "acme/app", image, "v1");
  OpensslSigner signer;
  const json signature = cosign_signature(signer, a.host() + "/acme/app", image.index_digest);
  const json attestation = slsa_attestation(signer, image.index_digest);
  push_cosign_signature(a, "acme/app", image.index_digest, signature);
  push_cosign_attestation(a, "acme/app", image.index_digest, attestation);
  auto client = client_for({{a.host(), plain(a)}, {b.host(), plain(b)}});

  for (const RegistryServer* server : {&a, &b}) {
    const std::string repo = server->host() + "/acme/app";
    auto index = client.get_manifest(repo, image.index_digest);
    REQUIRE_MESSAGE(index.ok(), index.error().message);
    CHECK(index->digest == image.index_digest);
    CHECK(index->media_type == registry::k_oci_index);
    CHECK(platforms_of(*index) == image.platforms);
    auto head = client.head_manifest(repo, "v1");
    REQUIRE_MESSAGE(head.ok(), head.error().message);
    CHECK(head->digest == image.index_digest);
    CHECK(head->size == image.index_bytes.size());
    auto arm = client.get_manifest(repo, image.platforms.at("linux/arm64"));
    REQUIRE(arm.ok());
    CHECK(arm->media_type == registry::k_oci_manifest);
    auto tags = client.list_tags(repo);
    REQUIRE(tags.ok());
    CHECK(std::find(tags->begin(), tags->end(), "v1") != tags->end());
  }

  auto found = registry::fetch_signing_material(client, a.host() + "/acme/app", image.index_digest);
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  CHECK(found->signatures == json::array({signature}));
  CHECK(found->attestations == json::array({attestation}));
  auto none = registry::fetch_signing_material(client, b.host() + "/acme/app", image.index_digest);
  REQUIRE(none.ok());
  CHECK(none->signatures.empty());
  CHECK(none->attestations.empty());
}

TEST_CASE("A mirror that lacks the digest, and a mirror whose index has another arm64 digest") {
  RegistryServer a;
  RegistryServer b;
  const TestImage image = make_image("lacking", k_two_platforms);
  push_image(a, "acme/app", image, "v1");
  auto client = client_for({{a.host(), plain(a)}, {b.host(), plain(b)}});

  auto missing = client.get_manifest(b.host() + "/acme/app", image.index_digest);
  REQUIRE_FALSE(missing.ok());
  CHECK(kind(missing.error()) == "not-found");
  CHECK(missing.error().code == dg::Errc::not_found);

  // The same amd64 manifest, another arm64 build, under the same tag on the second mirror.
  TestImage other = make_image("lacking", {"linux/amd64"});
  const TestImage arm_rebuilt = make_image("rebuilt", {"linux/arm64"});
  push_image(b, "acme/app", arm_rebuilt, "");
  json index = json::parse(image.index_bytes);
  index["manifests"][1]["digest"] = arm_rebuilt.platforms.at("linux/arm64");
  index["manifests"][1]["size"] = arm_rebuilt.manifests[0].bytes.size();
  for (const auto& blob : other.blobs) {
    b.push_blob("acme/app", blob.bytes);
  }
  b.push_manifest("acme/app", other.manifests[0].digest, other.manifests[0].media_type,
                  other.manifests[0].bytes);
  const std::string other_index =
      b.push_manifest("acme/app", "v1", registry::k_oci_index, index.dump());

  auto served = client.get_manifest(b.host() + "/acme/app", "v1");
  REQUIRE_MESSAGE(served.ok(), served.error().message);
  CHECK(served->digest == other_index);
  CHECK(served->digest != image.index_digest);
  const auto platforms = platforms_of(*served);
  CHECK(platforms.at("linux/amd64") == image.platforms.at("linux/amd64"));
  CHECK(platforms.at("linux/arm64") != image.platforms.at("linux/arm64"));
}

TEST_CASE("Referrers come from the sha256-<hex> tag when the registry has no referrers API") {
  RegistryServer a;
  const TestImage image = make_image("referred", {"linux/amd64"});
  push_image(a, "acme/app", image, "v1");
  const json bundle = {{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                       {"verificationMaterial", {{"publicKey", {{"hint", "test"}}}}}};
  const std::string bundle_bytes = bundle.dump();
  const std::string config = "{}";
  a.push_blob("acme/app", config);
  const std::string bundle_digest = a.push_blob("acme/app", bundle_bytes);
  const json referrer = {
      {"schemaVersion", 2},
      {"mediaType", registry::k_oci_manifest},
      {"artifactType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.empty.v1+json"},
        {"digest", "sha256:" + dg::to_hex(dg::sha256(config))},
        {"size", 2}}},
      {"layers", json::array({{{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                               {"digest", bundle_digest},
                               {"size", bundle_bytes.size()}}})},
      {"subject",
       {{"mediaType", registry::k_oci_index},
        {"digest", image.index_digest},
        {"size", image.index_bytes.size()}}}};
  const std::string referrer_digest =
      a.push_manifest("acme/app", "referrer", registry::k_oci_manifest, referrer.dump());
  const json referrers_index = {
      {"schemaVersion", 2},
      {"mediaType", registry::k_oci_index},
      {"manifests",
       json::array({{{"mediaType", registry::k_oci_manifest},
                     {"digest", referrer_digest},
                     {"size", referrer.dump().size()},
                     {"artifactType", "application/vnd.dev.sigstore.bundle.v0.3+json"}}})}};
  auto client = client_for({{a.host(), plain(a)}});
  auto before = client.referrers(a.host() + "/acme/app", image.index_digest);
  REQUIRE(before.ok());
  CHECK(before->empty());
  a.push_manifest("acme/app", "sha256-" + image.index_digest.substr(7), registry::k_oci_index,
                  referrers_index.dump());
  auto after = client.referrers(a.host() + "/acme/app", image.index_digest);
  REQUIRE_MESSAGE(after.ok(), after.error().message);
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].digest == referrer_digest);
  auto found = registry::fetch_signing_material(client, a.host() + "/acme/app", image.index_digest);
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  CHECK(found->bundles == json::array({bundle}));
}

TEST_CASE("TLS with a ca_file and htpasswd Basic authentication") {
  TestCa ca;
  RegistryServer server({&ca, "bot", "s3cret-passw0rd", nullptr});
  const TestImage image = make_image("private", k_two_platforms);
  push_image(server, "acme/app", image, "v1");
  const std::string repo = server.host() + "/acme/app";

  auto good =
      client_for({{server.host(), {server.endpoint(), "bot", "s3cret-passw0rd", ca.ca_file()}}});
  auto index = good.get_manifest(repo, image.index_digest);
  REQUIRE_MESSAGE(index.ok(), index.error().message);
  CHECK(platforms_of(*index) == image.platforms);
  CHECK(good.list_tags(repo).ok());

  SUBCASE("Without the CA the certificate is not trusted") {
    auto client = client_for({{server.host(), {server.endpoint(), "bot", "s3cret-passw0rd", ""}}});
    auto r = client.get_manifest(repo, image.index_digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "tls");
  }
  SUBCASE("A wrong password is refused, and the message does not contain it") {
    auto client = client_for({{server.host(), {server.endpoint(), "bot", "wrong", ca.ca_file()}}});
    auto r = client.get_manifest(repo, image.index_digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "unauthorized");
    CHECK(r.error().message.find("wrong") == std::string::npos);
  }
  SUBCASE("No credentials at all") {
    auto client = client_for({{server.host(), {server.endpoint(), "", "", ca.ca_file()}}});
    auto r = client.head_manifest(repo, "v1");
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "unauthorized");
  }
  SUBCASE("A registry not configured is reached over https with the system CAs only") {
    auto client = client_for({});
    auto r = client.get_manifest(repo, image.index_digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "tls");
  }
}

TEST_CASE("Plain http only where the endpoint says so") {
  RegistryServer server;
  const TestImage image = make_image("plain", {"linux/amd64"});
  push_image(server, "acme/app", image, "v1");
  auto client = client_for({});
  auto r = client.get_manifest(server.host() + "/acme/app", image.index_digest);
  REQUIRE_FALSE(r.ok());
  CHECK(kind(r.error()) == "tls");
}

TEST_CASE("The Bearer token challenge: realm, service, scope, and a cached token") {
  TokenServer tokens("digestgate-test-registry", "digestgate-test-issuer");
  RegistryServer server({nullptr, "", "", &tokens});
  const TestImage image = make_image("token", k_two_platforms);
  push_image(server, "acme/app", image, "v1");
  const std::string repo = server.host() + "/acme/app";
  const int minted_for_push = tokens.requests();

  auto client = client_for({{server.host(), plain(server)}});
  for (int i = 0; i < 3; ++i) {
    auto index = client.get_manifest(repo, image.index_digest);
    REQUIRE_MESSAGE(index.ok(), index.error().message);
    CHECK(platforms_of(*index) == image.platforms);
  }
  CHECK(client.head_manifest(repo, "v1").ok());
  CHECK(client.list_tags(repo).ok());
  // One token for the repository's pull scope, reused until it expires.
  CHECK(tokens.requests() - minted_for_push == 1);

  SUBCASE("A realm that wants credentials gets the configured ones") {
    tokens.require_basic("robot", "t0ken-pass");
    auto without = client_for({{server.host(), plain(server)}});
    auto refused = without.get_manifest(repo, image.index_digest);
    REQUIRE_FALSE(refused.ok());
    CHECK(kind(refused.error()) == "unauthorized");
    auto with = client_for({{server.host(), {server.endpoint(), "robot", "t0ken-pass", ""}}});
    auto index = with.get_manifest(repo, image.index_digest);
    CHECK_MESSAGE(index.ok(), index.error().message);
  }
}

TEST_CASE("A registry down, stalled, babbling or announcing 10 GB fails fast with its own error") {
  const auto timeout = std::chrono::milliseconds(800);
  const std::string digest = "sha256:" + std::string(64, 'a');

  SUBCASE("Connection refused") {
    const int port = free_port();
    const std::string host = "127.0.0.1:" + std::to_string(port);
    auto client = client_for({{host, {"http://" + host, "", "", ""}}}, timeout);
    const auto start = Clock::now();
    auto r = client.get_manifest(host + "/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "unreachable");
    CHECK(seconds_since(start) < 0.5);
  }
  SUBCASE("A listener that never answers") {
    BadListener silent(BadListener::Mode::silent);
    auto client = client_for({{silent.host(), {silent.endpoint(), "", "", ""}}}, timeout);
    const auto start = Clock::now();
    auto r = client.get_manifest(silent.host() + "/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "timeout");
    CHECK(seconds_since(start) >= 0.7);
    CHECK(seconds_since(start) < 2.0);
  }
  SUBCASE("Garbage instead of HTTP") {
    BadListener garbage(BadListener::Mode::garbage);
    auto client = client_for({{garbage.host(), {garbage.endpoint(), "", "", ""}}}, timeout);
    auto r = client.get_manifest(garbage.host() + "/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "bad-response");
  }
  SUBCASE("A 10 GB Content-Length is refused, not read") {
    BadListener huge(BadListener::Mode::huge_length);
    auto client = client_for({{huge.host(), {huge.endpoint(), "", "", ""}}}, timeout);
    const auto start = Clock::now();
    auto r = client.get_manifest(huge.host() + "/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(kind(r.error()) == "too-large");
    CHECK(r.error().message.find("10737418240") != std::string::npos);
    CHECK(seconds_since(start) < 0.5);
    auto blob = client.get_blob(huge.host() + "/acme/app", digest);
    REQUIRE_FALSE(blob.ok());
    CHECK(kind(blob.error()) == "too-large");
  }
}

TEST_CASE("An observation says, per registry, what it serves, what it lacks and why it failed") {
  RegistryServer a;
  RegistryServer b;
  BadListener silent(BadListener::Mode::silent);
  const int closed = free_port();
  const std::string down = "127.0.0.1:" + std::to_string(closed);
  const TestImage image = make_image("observed", k_two_platforms);
  push_image(a, "acme/app", image, "v1");
  OpensslSigner signer;
  const json signature = cosign_signature(signer, a.host() + "/acme/app", image.index_digest);
  push_cosign_signature(a, "acme/app", image.index_digest, signature);
  auto client = client_for({{a.host(), plain(a)},
                            {b.host(), plain(b)},
                            {silent.host(), {silent.endpoint(), "", "", ""}},
                            {down, {"http://" + down, "", "", ""}}},
                           std::chrono::milliseconds(800));
  registry::ObservationRequest request;
  request.digest = image.index_digest;
  request.repositories = {a.host() + "/acme/app", b.host() + "/acme/app",
                          silent.host() + "/acme/app", down + "/acme/app"};
  request.tags = {"v1"};
  request.observed_at = "2026-12-01T00:00:00Z";
  const auto start = Clock::now();
  const json body = registry::observe(client, request);
  CHECK(seconds_since(start) < 3.0);
  REQUIRE(body["registries"].size() == 4);
  const json& held = body["registries"][0];
  CHECK(held["present"] == true);
  CHECK(held["error"].is_null());
  CHECK(held["media_type"] == registry::k_oci_index);
  CHECK(held["platforms"].size() == 2);
  CHECK(held["tags"]["v1"] == image.index_digest);
  CHECK(body["registries"][1]["present"] == false);
  CHECK(body["registries"][1]["error"].is_null());
  CHECK(body["registries"][1]["tags"]["v1"].is_null());
  CHECK(body["registries"][2]["error"].get<std::string>().rfind("timeout:", 0) == 0);
  CHECK(body["registries"][3]["error"].get<std::string>().rfind("unreachable:", 0) == 0);
  CHECK(body["signatures"] == json::array({signature}));
  CHECK(registry::unanswered(body) ==
        std::vector<std::string>{silent.host() + "/acme/app", down + "/acme/app"});
}

TEST_SUITE_END();
