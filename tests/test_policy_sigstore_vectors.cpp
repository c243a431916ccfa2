// The public Sigstore vectors (see tests/sigstore-vectors.md): every one gives its published
// outcome, failing ones at the check named here. The vectors are the Sigstore projects' files and
// are not kept in this repository: DG_SIGSTORE_VECTORS names a directory holding them, and these
// tests are skipped when it is unset. tests/test_policy_sigstore.cpp breaks each check with a
// test PKI of our own instead, and always runs.
#include "policy/sigstore.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
namespace ss = dg::policy::sigstore;
using nlohmann::json;

fs::path vectors_directory() {
  const char* dir = std::getenv("DG_SIGSTORE_VECTORS"); // NOLINT(concurrency-mt-unsafe)
  return dir != nullptr ? fs::path(dir) : fs::path();
}

const fs::path k_data = vectors_directory();

// doctest's skip decorator: true when no vectors directory is given.
bool no_vectors() {
  return k_data.empty();
}
const std::string k_beacon = "https://github.com/sigstore-conformance/extremely-dangerous-public-"
                             "oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@"
                             "refs/heads/main";
const std::string k_github = "https://token.actions.githubusercontent.com";

std::string read(const fs::path& path) {
  auto text = dg::read_file(path.string());
  REQUIRE_MESSAGE(text.ok(), path.string());
  return *text;
}

struct Outcome {
  bool verified = false;
  std::string check; // "trusted-root", "bundle" or ss::to_string of the failed check
  std::string error;
  ss::CertificateIdentity identity;
};

Outcome
verify(const std::string& bundle_text, const std::string& root_text, const ss::Artifact& artifact) {
  Outcome out;
  auto root = ss::parse_trusted_root(root_text);
  if (!root) {
    out.check = "trusted-root";
    out.error = root.error().message;
    return out;
  }
  auto bundle = ss::parse_bundle_text(bundle_text);
  if (!bundle) {
    out.check = "bundle";
    out.error = bundle.error().message;
    return out;
  }
  const ss::Verification v = ss::verify_bundle(*bundle, *root, artifact);
  out.verified = v.verified;
  out.check = v.verified ? "" : ss::to_string(v.failed);
  out.error = v.error;
  out.identity = v.identity;
  return out;
}

// A conformance directory verified as sigstore-conformance's test_verify does.
Outcome conformance(const std::string& name) {
  const fs::path dir = k_data / "conformance" / name;
  const fs::path root = fs::exists(dir / "trusted_root.json")
                            ? dir / "trusted_root.json"
                            : k_data / "trusted-root-public-good.json";
  const fs::path artifact =
      fs::exists(dir / "artifact") ? dir / "artifact" : k_data / "conformance" / "a.txt";
  ss::Artifact a;
  a.bytes = read(artifact);
  return verify(read(dir / "bundle.sigstore.json"), read(root), a);
}

struct Vector {
  const char* name;
  const char* check; // empty: verifies
  const char* message;
};

// The published outcome is in the name (a "_fail" suffix fails); the check and message are ours.
const Vector k_vectors[] = {
    {"happy-path-v0.1", "", ""},
    {"happy-path-v0.2", "", ""},
    {"happy-path-v0.3", "", ""},
    {"happy-path-v0.3-new-mediaType", "", ""},
    {"happy-path-intoto-in-dsse-v3", "", ""},
    {"intoto-with-custom-trust-root", "", ""},
    {"trust-root-tlog-validity-end-inclusive", "", ""},
    {"bundle-empty-certificate-chain_fail", "bundle", "certificates is missing or empty"},
    {"bundle-from-wrong-instance_fail", "certificate", "does not chain to a certificate authority"},
    {"bundle-invalid-base64-signature_fail", "bundle", "messageSignature.signature is not base64"},
    {"bundle-malformed-json_fail", "bundle", "bundle is not JSON"},
    {"bundle-negative-log-index_fail", "bundle", "logIndex is negative"},
    {"bundle-unknown-version_fail", "bundle", "is not a supported bundle version"},
    {"bundle-with-root-cert_fail", "bundle", "inclusionProof.checkpoint is missing"},
    {"checkpoint-bad-keyhint_fail", "signing-time", "checkpoint is not signed by the entry's"},
    {"checkpoint-wrong-roothash_fail", "signing-time", "checkpoint is for another tree"},
    {"dsse-invalid-sig_fail", "signing-time", "another signature than the bundle's"},
    {"dsse-mismatch-envelope_fail", "signing-time", "another signature than the bundle's"},
    {"dsse-mismatch-sig_fail", "signing-time", "another signature than the bundle's"},
    {"inclusion-proof-corrupted-hash_fail", "signing-time", "inclusion proof does not lead"},
    {"incorrect-public-key_fail", "signing-time", "signed entry timestamp does not verify"},
    {"integrated-time-in-future_fail", "certificate", "outside the signing certificate's validity"},
    {"intoto-expired-certificate_fail", "certificate",
     "outside the signing certificate's validity"},
    {"intoto-log-entry-mismatch_fail", "signing-time", "another signature than the bundle's"},
    {"intoto-missing-inclusion-proof_fail", "bundle", "has no inclusionProof"},
    {"intoto-set-outside-signing-cert-validity_fail", "certificate",
     "outside the signing certificate's validity"},
    {"intoto-tsa-timestamp-outside-cert-validity_fail", "certificate", "certificate has expired"},
    {"invalid-checkpoint-signature_fail", "signing-time", "checkpoint is not signed"},
    {"invalid-ct-key_fail", "sct", "the embedded SCT is from no CT log of the trust root"},
    {"invalid-inclusion-proof_fail", "bundle", "inclusionProof.checkpoint is missing"},
    {"message-digest-mismatch_fail", "signing-time", "artifact digest is not the bundle's"},
    {"set-invalid-signature_fail", "signing-time", "signed entry timestamp does not verify"},
    {"signature-mismatch_fail", "signing-time", "another signature than the bundle's"},
    {"trust-root-tlog-missing-validity-start_fail", "trusted-root", "validFor.start is missing"},
    {"wrong-hashedrekord-artifact_fail", "signing-time", "another signature than the bundle's"},
    {"wrong-hashedrekord-cert-and-sig_fail", "signing-time", "another signature than the bundle's"},
    {"wrong-hashedrekord-entry_fail", "signing-time", "another signature than the bundle's"},
    {"wrong-material_fail", "signature", "does not verify over the artifact"},
    // Rekor v2 (hashedrekord 0.0.2): no SET, an RFC 3161 timestamp dates the signature.
    {"rekor2-happy-path", "", ""},
    {"bundle-with-sct-with-extensions", "", ""},
    {"rekor2-no-timestamp_fail", "signing-time",
     "no verified signing time: the bundle has no signed entry timestamp and no RFC 3161"},
    {"rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail", "signing-time",
     "an RFC 3161 timestamp does not verify under a timestamp authority of the trust root"},
};

} // namespace

TEST_SUITE_BEGIN("SigstoreVectors" * doctest::skip(no_vectors()));

TEST_CASE("Each sigstore-conformance vector gives its published outcome") {
  for (const Vector& vector : k_vectors) {
    const std::string name = vector.name;
    CAPTURE(name);
    const Outcome out = conformance(vector.name);
    CAPTURE(out.error);
    const bool published_pass = !std::string(vector.name).ends_with("_fail");
    CHECK(out.verified == published_pass);
    CHECK(out.check == vector.check);
    CHECK(out.error.find(vector.message) != std::string::npos);
    if (out.verified) {
      CHECK(out.identity.issuer == k_github);
      CHECK(out.identity.subject == k_beacon);
    }
  }
}

TEST_CASE("A verified vector from another identity does not match the policy's") {
  const Outcome out = conformance("happy-path-v0.3");
  REQUIRE(out.verified);
  CHECK(ss::identity_matches({"", k_github, "https://github.com/sigstore-conformance/*"},
                             out.identity));
  CHECK_FALSE(ss::identity_matches({"", k_github, "https://github.com/acme/*"}, out.identity));
  CHECK_FALSE(ss::identity_matches({"", "https://accounts.google.com", "*"}, out.identity));
}

TEST_CASE("A log entry from a log the trust root does not list does not verify") {
  json root = json::parse(read(k_data / "trusted-root-public-good.json"));
  // The same log keys under other log ids: the entry names a log the trust root does not list.
  for (json& log : root["tlogs"]) {
    log["logId"]["keyId"] = dg::base64_encode(std::string(32, 'x'));
  }
  ss::Artifact a;
  a.bytes = read(k_data / "conformance" / "a.txt");
  const Outcome out = verify(
      read(k_data / "conformance" / "happy-path-v0.3" / "bundle.sigstore.json"), root.dump(), a);
  CHECK_FALSE(out.verified);
  CHECK(out.check == "signing-time");
  CHECK(out.error.find("from no transparency log of the trust root") != std::string::npos);
}

TEST_CASE("sigstore-js provenance from sigstore-go's examples verifies by its sha512 subject") {
  auto a = ss::artifact_from_digest(
      "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe28"
      "60030f410eee69ea20079bd3a2c6f3dcf3b329b10751");
  REQUIRE(a.ok());
  const Outcome out = verify(read(k_data / "sigstore-go-bundle-provenance.json"),
                             read(k_data / "trusted-root-public-good.json"), *a);
  CHECK(out.verified);
  CHECK(out.identity.subject ==
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main");
  a->digest[0] ^= 1;
  const Outcome other = verify(read(k_data / "sigstore-go-bundle-provenance.json"),
                               read(k_data / "trusted-root-public-good.json"), *a);
  CHECK_FALSE(other.verified);
  CHECK(other.check == "artifact");
}

TEST_SUITE_END();
