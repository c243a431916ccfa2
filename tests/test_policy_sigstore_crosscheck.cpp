// Fixtures for the cross-check against sigstore-js (tests/sigstore-js/,
// scripts/sigstore-crosscheck): when DG_SIGSTORE_CROSSCHECK_DIR names a directory, this writes into
// it a trust root of the test Sigstore (tests/support/sigstore_pki), bundles made with it (message
// signatures and DSSE in-toto statements, logged in Rekor v1 and v2, each with one check broken at
// a time) with their artifact, the identity each is checked against, and the outcome digestgate's
// verifier gives. The node script verifies the same files with @sigstore/verify and compares.
// Skipped when the variable is unset.
#include "policy/sigstore.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace ss = dg::policy::sigstore;
using dg::test::SigstorePki;
using nlohmann::json;

fs::path crosscheck_directory() {
  const char* dir = std::getenv("DG_SIGSTORE_CROSSCHECK_DIR"); // NOLINT(concurrency-mt-unsafe)
  return dir != nullptr ? fs::path(dir) : fs::path();
}

bool no_directory() {
  return crosscheck_directory().empty();
}

struct Case {
  std::string name;
  std::function<void(SigstorePki::Options&)> set;
  std::string issuer = dg::test::k_sigstore_issuer;
  std::string subject = dg::test::k_sigstore_subject;
};

// Each check broken alone, as tests/test_policy_sigstore.cpp breaks them; "+tsa" cases are dated by
// an RFC 3161 timestamp only, so that the broken part is not the signed entry timestamp.
std::vector<Case> cases() {
  using O = SigstorePki::Options;
  std::vector<Case> out = {
      {"ok", [](O&) {}},
      {"ok-set-and-tsa", [](O& o) { o.tsa = true; }},
      {"ok-tsa-only",
       [](O& o) {
         o.set = false;
         o.tsa = true;
       }},
      {"other-subject", [](O&) {}, dg::test::k_sigstore_issuer,
       "https://github.com/acme/other/.github/workflows/release.yml@refs/tags/v1.4.2"},
      {"other-issuer", [](O&) {}, "https://accounts.google.com"},
      {"other-ca", [](O& o) { o.other_ca = true; }},
      {"expired-at-signing", [](O& o) { o.expired_at_signing = true; }},
      {"no-set-no-tsa", [](O& o) { o.set = false; }},
      {"bad-set", [](O& o) { o.bad_set = true; }},
      {"bad-tsa", [](O& o) { o.bad_tsa = true; }},
      {"bad-proof", [](O& o) { o.bad_proof = true; }},
      {"bad-proof+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.bad_proof = true;
       }},
      {"bad-checkpoint", [](O& o) { o.bad_checkpoint = true; }},
      {"bad-checkpoint+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.bad_checkpoint = true;
       }},
      {"unknown-log+tsa",
       [](O& o) {
         o.tsa = true;
         o.unknown_log = true;
       }},
      {"other-body", [](O& o) { o.other_body = true; }},
      {"other-body+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.other_body = true;
       }},
      {"bad-sct", [](O& o) { o.bad_sct = true; }},
      {"no-sct", [](O& o) { o.no_sct = true; }},
      {"unknown-ct-log", [](O& o) { o.unknown_ct_log = true; }},
      {"bad-signature", [](O& o) { o.bad_signature = true; }},
      {"other-certificate-in-body", [](O& o) { o.other_certificate_in_body = true; }},
      {"other-certificate-in-body+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.other_certificate_in_body = true;
       }},
      {"other-digest-in-body+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.other_digest_in_body = true;
       }},
      {"other-tree-checkpoint", [](O& o) { o.other_tree_checkpoint = true; }},
      {"other-tree-checkpoint+tsa",
       [](O& o) {
         o.set = false;
         o.tsa = true;
         o.other_tree_checkpoint = true;
       }},
      {"rekor2-ok",
       [](O& o) {
         o.rekor_v2 = true;
         o.tsa = true;
       }},
      {"rekor2-no-tsa", [](O& o) { o.rekor_v2 = true; }},
      {"rekor2-bad-proof",
       [](O& o) {
         o.rekor_v2 = true;
         o.tsa = true;
         o.bad_proof = true;
       }},
      {"rekor2-bad-checkpoint",
       [](O& o) {
         o.rekor_v2 = true;
         o.tsa = true;
         o.bad_checkpoint = true;
       }},
      {"rekor2-other-body",
       [](O& o) {
         o.rekor_v2 = true;
         o.tsa = true;
         o.other_body = true;
       }},
  };
  return out;
}

void write(const fs::path& path, const std::string& text) {
  auto written = dg::write_file_atomic(path.string(), text);
  REQUIRE_MESSAGE(written.ok(), path.string());
}

} // namespace

TEST_SUITE_BEGIN("SigstoreCrosscheck" * doctest::skip(no_directory()));

TEST_CASE("Fixtures for the sigstore-js cross-check, each with digestgate's own outcome") {
  const fs::path dir = crosscheck_directory();
  fs::create_directories(dir);
  const SigstorePki pki;
  const json root = pki.trusted_root();
  write(dir / "trusted_root.json", root.dump(2));
  auto parsed_root = ss::parse_trusted_root(root.dump());
  REQUIRE_MESSAGE(parsed_root.ok(), parsed_root.error().message);

  const std::string image = "sha256:" + dg::to_hex(dg::sha256("digestgate crosscheck image"));
  const std::string message = SigstorePki::cosign_payload("ghcr.io/acme/app", image);
  const std::string statement = SigstorePki::statement(image);
  json manifest = json::array();
  for (const bool dsse : {false, true}) {
    for (const Case& c : cases()) {
      const std::string name = std::string(dsse ? "dsse-" : "message-") + c.name;
      CAPTURE(name);
      SigstorePki::Options options;
      options.dsse = dsse;
      c.set(options);
      const json bundle = pki.bundle(dsse ? statement : message, options);
      write(dir / (name + ".sigstore.json"), bundle.dump(2));
      // A message signature signs the artifact's bytes; a DSSE statement names the image by digest.
      ss::Artifact artifact;
      if (dsse) {
        auto by_digest = ss::artifact_from_digest(image);
        REQUIRE(by_digest.ok());
        artifact = *by_digest;
      } else {
        artifact.bytes = message;
        write(dir / (name + ".artifact"), message);
      }
      json entry = {{"name", name},
                    {"bundle", name + ".sigstore.json"},
                    {"issuer", c.issuer},
                    {"subject", c.subject}};
      if (!dsse) {
        entry["artifact"] = name + ".artifact";
      }
      auto parsed = ss::parse_bundle(bundle);
      if (!parsed) {
        entry["verified"] = false;
        entry["check"] = "bundle";
        entry["error"] = parsed.error().message;
      } else {
        const ss::Verification v = ss::verify_bundle(*parsed, *parsed_root, artifact);
        // The identity is matched exactly, as sigstore-js matches a SAN and issuer given as
        // strings.
        const bool identity = ss::identity_matches({"", c.issuer, c.subject}, v.identity);
        entry["verified"] = v.verified && identity;
        entry["check"] = !v.verified ? ss::to_string(v.failed) : identity ? "" : "identity";
        entry["error"] = v.verified ? "" : v.error;
      }
      manifest.push_back(entry);
    }
  }
  write(dir / "cases.json", manifest.dump(2));
  MESSAGE("wrote " << manifest.size() << " cases to " << dir.string());
  CHECK(manifest.size() == 2 * cases().size());
}

TEST_SUITE_END();
