#include "fuzz/fixtures.hpp"

#include "ledger/checkpoint.hpp"
#include "tests/support/evidence.hpp"

#include <cstdlib>
#include <iostream>
#include <memory>

namespace dg::fuzz {

namespace {

// Made with `openssl genpkey -algorithm ed25519` for these targets alone.
constexpr const char* k_signing_key_pem = R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINYCtU3toyhJA5igQMo77rAx+G1lw5MqPOWn9Mo9TRxy
-----END PRIVATE KEY-----
)";

// The public half of another such key, whose private half was discarded.
constexpr const char* k_other_key_pem = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGFRRtSB/adK1ZtbjO0SYLOSyPxAoQfhtwIUR+J5nyy4=
-----END PUBLIC KEY-----
)";

// A copy of docs/examples/evidence.json.
constexpr const char* k_example_evidence = R"({
  "subject": {
    "name": "ghcr.io/acme/app",
    "digest": "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426",
    "media_type": "application/vnd.oci.image.index.v1+json",
    "platforms": [
      {"platform": "linux/amd64", "digest": "sha256:54caece6dd3102d492d97a6071d1e163e3ce9b60d1761ee3f95d9ee943b01b5c"},
      {"platform": "linux/arm64", "digest": "sha256:96e3118f98575b46626441f34464c1be70af0644019c189307af50766e575220"}
    ],
    "tags": ["v1.4.2", "latest"],
    "labels": {"org.opencontainers.image.revision": "4f9c2d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"}
  },
  "source": {"repository": "https://github.com/acme/app", "commit": "4f9c2d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e", "ref": "refs/tags/v1.4.2"},
  "build": {
    "builder_id": "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2",
    "run_id": "1234567",
    "run_url": "https://github.com/acme/app/actions/runs/1234567",
    "base_image": "docker.io/library/node:22-slim@sha256:dbc30fa0ebf6bfb054e7830f2448281a6f9d20c4e9cfec80db4e44af448e00da"
  },
  "pushed_at": "2026-11-20T10:00:00Z",
  "mirrors": [
    {"name": "ghcr.io/acme/app", "digest": "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426",
     "platforms": [{"platform": "linux/amd64", "digest": "sha256:54caece6dd3102d492d97a6071d1e163e3ce9b60d1761ee3f95d9ee943b01b5c"}, {"platform": "linux/arm64", "digest": "sha256:96e3118f98575b46626441f34464c1be70af0644019c189307af50766e575220"}],
     "observed_at": "2026-11-20T10:01:00Z"},
    {"name": "docker.io/acme/app", "digest": "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426",
     "platforms": [{"platform": "linux/amd64", "digest": "sha256:54caece6dd3102d492d97a6071d1e163e3ce9b60d1761ee3f95d9ee943b01b5c"}, {"platform": "linux/arm64", "digest": "sha256:96e3118f98575b46626441f34464c1be70af0644019c189307af50766e575220"}],
     "observed_at": "2026-11-20T10:02:00Z"}
  ],
  "gates": [
    {"name": "vuln-scan", "tool": {"name": "trivy", "version": "0.58.1"},
     "target": "ghcr.io/acme/app@sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426",
     "started_at": "2026-11-20T10:05:00Z", "finished_at": "2026-11-20T10:06:10Z",
     "result": "pass", "findings": {"critical": 0, "high": 0, "medium": 2, "low": 9},
     "artifacts": [{"name": "trivy.sarif", "sha256": "b2b681cc7a272ae19df296bf433291a7ce5f52f61e24dea0bd85d3a49fd245f2", "created_at": "2026-11-20T10:06:10Z"}]},
    {"name": "sbom", "tool": {"name": "syft", "version": "1.18.1"},
     "target": "ghcr.io/acme/app@sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426",
     "started_at": "2026-11-20T10:05:00Z", "finished_at": "2026-11-20T10:05:40Z",
     "result": "pass",
     "artifacts": [{"name": "sbom.spdx.json", "sha256": "98f3ae1ef67113d8140d4f6cb8d2830070e21ea48f091be519659846c771a374", "created_at": "2026-11-20T10:05:40Z"}]}
  ]
})";

// Fixtures are constants: failing to build one is a defect of this file.
[[noreturn]] void fixture_broken(const std::string& what) {
  std::cerr << "fuzz fixtures: " << what << "\n";
  std::abort();
}

std::shared_ptr<const PublicKey> public_key(std::string_view pem) {
  auto key = PublicKey::from_pem(pem);
  if (!key) {
    fixture_broken("public key: " + key.error().message);
  }
  return std::make_shared<const PublicKey>(std::move(*key));
}

} // namespace

const Ed25519PrivateKey& signing_key() {
  static const Ed25519PrivateKey key = [] {
    auto parsed = Ed25519PrivateKey::from_pem(k_signing_key_pem);
    if (!parsed) {
      fixture_broken("signing key: " + parsed.error().message);
    }
    return std::move(*parsed);
  }();
  return key;
}

std::string signing_key_public_pem() {
  return signing_key().public_key_pem();
}

std::vector<policy::TrustedKey> trusted_keys() {
  static const std::vector<policy::TrustedKey> keys = {
      {"fuzz-other", public_key(k_other_key_pem)},
      {k_signer, public_key(signing_key_public_pem())},
  };
  return keys;
}

const test::KeySigner& signer() {
  static const test::KeySigner key = test::KeySigner::ed25519(k_signing_key_pem);
  return key;
}

json cosign_signature(std::string_view digest, std::string_view repository) {
  return test::cosign_signature(signer(), std::string(repository), digest);
}

json slsa_attestation(std::string_view digest, bool v02) {
  test::Provenance provenance;
  provenance.subject = k_repository;
  provenance.commit = k_commit;
  provenance.v02 = v02;
  return test::slsa_attestation(signer(), digest, provenance);
}

json evidence() {
  json doc = json::parse(k_example_evidence);
  json e2e = doc["gates"][1];
  e2e["name"] = "e2e";
  e2e["tool"] = {{"name", "playwright"}, {"version", "1.49.0"}};
  e2e["artifacts"][0]["name"] = "e2e-report.html";
  doc["gates"].push_back(e2e);
  doc["signatures"] = json::array({cosign_signature(k_digest, k_repository)});
  doc["attestations"] = json::array({slsa_attestation(k_digest)});
  return doc;
}

json strict_policy() {
  test::PolicyOptions options;
  options.key = k_signer;
  json doc = test::strict_policy_with(signing_key_public_pem(), options);
  json& environments = doc["environments"];
  for (const char* name : {"staging", "production"}) {
    environments[name]["require_provenance"]["source_repositories"] = {"https://github.com/acme/*"};
  }
  environments["production"]["require_signature"] = {{"keys", {"fuzz-other", k_signer}}};
  environments["dev"] = json::object();
  doc["trusted_keys"]["fuzz-other"] = {{"public_key_pem", k_other_key_pem}};
  return doc;
}

std::string checkpoint_note(std::uint64_t size) {
  ledger::Checkpoint checkpoint{k_origin, size, sha256("fuzz checkpoint " + std::to_string(size))};
  return ledger::sign_checkpoint(checkpoint, k_origin, signing_key());
}

void invariant_failed(const char* file, int line, std::string_view what) {
  std::cerr << file << ":" << line << ": invariant broken: " << what << std::endl;
  std::abort();
}

} // namespace dg::fuzz
