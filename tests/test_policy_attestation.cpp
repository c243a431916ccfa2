#include "policy/attestation.hpp"
#include "policy/reason.hpp"
#include "tests/support/tempdir.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using dg::policy::check_attestation;
using dg::policy::check_cosign_signature;
using dg::policy::evaluate_provenance;
using dg::policy::evaluate_signatures;
using dg::policy::ProvenanceFinding;
using dg::policy::ProvenanceRequirement;
using dg::policy::SignatureFinding;
using dg::policy::SignatureRequirement;
using dg::policy::TrustedKey;
using nlohmann::json;

const std::string k_hex = dg::to_hex(dg::sha256("digestgate test image index"));
const std::string k_digest = "sha256:" + k_hex;
const std::string k_other_hex = dg::to_hex(dg::sha256("another image"));
const std::string k_other_digest = "sha256:" + k_other_hex;
const std::string k_repository = "ghcr.io/acme/app";
const std::string k_commit = "8f2b6c1d0e9a7b3c5d4e6f708192a3b4c5d6e7f8";
const std::string k_builder =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";
const std::string k_cosign_type = "cosign container image signature";
const std::string k_in_toto = "application/vnd.in-toto+json";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A temporary directory for keys and signatures, removed at exit.
class Workspace {
public:
  fs::path path(const std::string& name) const { return m_dir / name; }

  std::string fresh_name(const std::string& stem) { return stem + std::to_string(m_counter++); }

  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(path(name), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
  }

  std::string read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Run `command` in the workspace; it must succeed. Its output is shown only on failure.
  void run(const std::string& command) const {
    const std::string full = "cd '" + m_dir.string() + "' && " + command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
      output += buffer;
    }
    const int status = pclose(pipe);
    INFO(full);
    INFO(output);
    REQUIRE(status == 0);
  }

private:
  dg::test::TempDir m_tmp{"dg-attestation"};
  fs::path m_dir{m_tmp.path()};
  int m_counter = 0;
};

Workspace& workspace() {
  static Workspace instance;
  return instance;
}

enum class Algorithm { ecdsa_p256, ed25519 };

// A key pair made with the openssl command line; signs with it too.
class OpenSslKey {
public:
  explicit OpenSslKey(Algorithm algorithm) : m_algorithm(algorithm) {
    Workspace& ws = workspace();
    m_private = ws.fresh_name("key") + ".pem";
    const std::string public_file = m_private + ".pub";
    if (algorithm == Algorithm::ecdsa_p256) {
      ws.run("openssl ecparam -name prime256v1 -genkey -noout -out " + m_private);
      ws.run("openssl ec -in " + m_private + " -pubout -out " + public_file);
    } else {
      ws.run("openssl genpkey -algorithm ed25519 -out " + m_private);
      ws.run("openssl pkey -in " + m_private + " -pubout -out " + public_file);
    }
    m_public_pem = ws.read(public_file);
  }

  // The signature of `message`: DER for ECDSA P-256 (over its SHA-256), raw for Ed25519.
  std::string sign(const std::string& message) const {
    Workspace& ws = workspace();
    const std::string in = ws.fresh_name("message");
    const std::string out = ws.fresh_name("signature");
    ws.write(in, message);
    if (m_algorithm == Algorithm::ecdsa_p256) {
      ws.run("openssl dgst -sha256 -sign " + m_private + " -out " + out + " " + in);
    } else {
      ws.run("openssl pkeyutl -sign -inkey " + m_private + " -rawin -in " + in + " -out " + out);
    }
    return ws.read(out);
  }

  TrustedKey trusted(const std::string& name) const {
    auto key = dg::PublicKey::from_pem(m_public_pem);
    REQUIRE(key.ok());
    return TrustedKey{name, std::make_shared<const dg::PublicKey>(std::move(*key))};
  }

private:
  Algorithm m_algorithm;
  std::string m_private;
  std::string m_public_pem;
};

const OpenSslKey& ecdsa_key() {
  static const OpenSslKey key(Algorithm::ecdsa_p256);
  return key;
}

const OpenSslKey& ed25519_key() {
  static const OpenSslKey key(Algorithm::ed25519);
  return key;
}

// A key the policy does not trust.
const OpenSslKey& stranger_key() {
  static const OpenSslKey key(Algorithm::ecdsa_p256);
  return key;
}

std::vector<TrustedKey> trusted_keys() {
  return {ecdsa_key().trusted("ci-signer"), ed25519_key().trusted("release-signer")};
}

// The fixed-width r||s form of a DER ECDSA P-256 signature.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  REQUIRE(sig != nullptr);
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string raw(64, '\0');
  const int r_size = BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  const int s_size = BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  REQUIRE(r_size == 32);
  REQUIRE(s_size == 32);
  return raw;
}

std::string url_safe(std::string base64) {
  for (char& c : base64) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  while (!base64.empty() && base64.back() == '=') {
    base64.pop_back();
  }
  return base64;
}

// --- cosign simple signing ----------------------------------------------------------------------

// A payload as `cosign sign` writes it.
std::string cosign_payload(const std::string& digest,
                           const std::string& reference,
                           const std::string& type = k_cosign_type) {
  return R"({"critical":{"identity":{"docker-reference":")" + reference +
         R"("},"image":{"docker-manifest-digest":")" + digest + R"("},"type":")" + type +
         R"("},"optional":{"creator":"ci","git-sha":")" + k_commit + R"("}})";
}

json cosign_entry(const std::string& payload, const std::string& signature) {
  return {{"payload", dg::base64_encode(payload)}, {"signature", dg::base64_encode(signature)}};
}

SignatureFinding check_signed(const std::string& payload, const OpenSslKey& signer) {
  return check_cosign_signature(cosign_entry(payload, signer.sign(payload)), trusted_keys(),
                                k_digest, k_repository);
}

// --- DSSE / in-toto / SLSA ----------------------------------------------------------------------

// SLSA provenance v1 as the GitHub Actions workflow build type records it.
json slsa_v1_statement(const std::string& subject_hex = k_hex) {
  return json::parse(R"({
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [
      {"name": "ghcr.io/acme/app", "digest": {"sha256": ")" +
                     subject_hex + R"("}}
    ],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {
      "buildDefinition": {
        "buildType": "https://actions.github.io/buildtypes/workflow/v1",
        "externalParameters": {
          "workflow": {
            "ref": "refs/tags/v1.4.2",
            "repository": "https://github.com/acme/app",
            "path": ".github/workflows/release.yml"
          }
        },
        "internalParameters": {
          "github": {"event_name": "push", "repository_id": "710325519", "repository_owner_id": "8104613"}
        },
        "resolvedDependencies": [
          {"uri": "git+https://github.com/acme/app@refs/tags/v1.4.2", "digest": {"gitCommit": ")" +
                     k_commit + R"("}}
        ]
      },
      "runDetails": {
        "builder": {"id": ")" +
                     k_builder + R"("},
        "metadata": {"invocationId": "https://github.com/acme/app/actions/runs/1234567/attempts/1"}
      }
    }
  })");
}

// SLSA provenance v0.2 as slsa-github-generator's container workflow records it.
json slsa_v02_statement() {
  return json::parse(R"({
    "_type": "https://in-toto.io/Statement/v0.1",
    "predicateType": "https://slsa.dev/provenance/v0.2",
    "subject": [
      {"name": "ghcr.io/acme/app", "digest": {"sha256": ")" +
                     k_hex + R"("}}
    ],
    "predicate": {
      "builder": {
        "id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"
      },
      "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
      "invocation": {
        "configSource": {
          "uri": "git+https://github.com/acme/app@refs/tags/v1.4.2",
          "digest": {"sha1": ")" +
                     k_commit + R"("},
          "entryPoint": ".github/workflows/release.yml"
        },
        "parameters": {},
        "environment": {"github_event_name": "push", "github_run_id": "1234567"}
      },
      "metadata": {"buildInvocationID": "1234567-1", "completeness": {"parameters": true}},
      "materials": [
        {"uri": "git+https://github.com/acme/app@refs/tags/v1.4.2", "digest": {"sha1": ")" +
                     k_commit + R"("}}
      ]
    }
  })");
}

json envelope(const std::string& payload_base64,
              const std::vector<std::string>& signatures_base64,
              const std::string& payload_type = k_in_toto) {
  json signatures = json::array();
  for (const auto& sig : signatures_base64) {
    signatures.push_back({{"keyid", ""}, {"sig", sig}});
  }
  return {{"envelope",
           {{"payloadType", payload_type},
            {"payload", payload_base64},
            {"signatures", std::move(signatures)}}}};
}

// An attestation of `statement` signed over its PAE by `signer`.
json signed_attestation(const std::string& statement, const OpenSslKey& signer) {
  const std::string sig = signer.sign(dg::policy::dsse_pae(k_in_toto, statement));
  return envelope(dg::base64_encode(statement), {dg::base64_encode(sig)});
}

ProvenanceFinding check_signed_statement(const json& statement, const OpenSslKey& signer) {
  return check_attestation(signed_attestation(statement.dump(), signer), trusted_keys(), k_digest);
}

// A finding as check_attestation reports an acceptable SLSA v1 attestation.
ProvenanceFinding good_provenance() {
  ProvenanceFinding finding;
  finding.key = "ci-signer";
  finding.verified = true;
  finding.subject_matches = true;
  finding.statement_type = "https://in-toto.io/Statement/v1";
  finding.predicate_type = "https://slsa.dev/provenance/v1";
  finding.builder_id = k_builder;
  finding.source_repository = "https://github.com/acme/app";
  finding.source_commit = k_commit;
  return finding;
}

SignatureFinding good_signature() {
  SignatureFinding finding;
  finding.key = "ci-signer";
  finding.verified = true;
  finding.binds = true;
  finding.manifest_digest = k_digest;
  finding.docker_reference = k_repository;
  return finding;
}

ProvenanceRequirement production_requirement() {
  return ProvenanceRequirement{
      {"ci-signer"},
      {"https://github.com/acme/app/.github/workflows/release.yml@refs/tags/*"},
      {"https://github.com/acme/app"}};
}

} // namespace

TEST_SUITE_BEGIN("PolicyAttestation");

TEST_CASE("The DSSE pre-authentication encoding follows the specification") {
  CHECK(dg::policy::dsse_pae("http://example.com/HelloWorld", "hello world") ==
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  CHECK(dg::policy::dsse_pae("", "") == "DSSEv1 0  0 ");
  // Lengths count bytes, not characters.
  CHECK(dg::policy::dsse_pae("t", "\xc3\xa9") == "DSSEv1 1 t 2 \xc3\xa9");
}

// --- cosign: accepted
// -----------------------------------------------------------------------------

TEST_CASE("A cosign signature by a trusted ECDSA P-256 key (DER) verifies and binds the image") {
  const auto finding = check_signed(cosign_payload(k_digest, k_repository), ecdsa_key());
  CHECK(finding.verified);
  CHECK(finding.binds);
  CHECK(finding.key == "ci-signer");
  CHECK(finding.manifest_digest == k_digest);
  CHECK(finding.docker_reference == k_repository);
  CHECK(finding.error == "");
}

TEST_CASE("A cosign signature by a trusted Ed25519 key verifies and binds the image") {
  const auto finding = check_signed(cosign_payload(k_digest, k_repository), ed25519_key());
  CHECK(finding.verified);
  CHECK(finding.binds);
  CHECK(finding.key == "release-signer");
  CHECK(finding.error == "");
}

TEST_CASE("A cosign signature in URL-safe base64 with a raw r||s ECDSA signature verifies") {
  const std::string payload = cosign_payload(k_digest, k_repository);
  const std::string raw = der_to_raw(ecdsa_key().sign(payload));
  const json entry = {{"payload", url_safe(dg::base64_encode(payload))},
                      {"signature", url_safe(dg::base64_encode(raw))}};
  const auto finding = check_cosign_signature(entry, trusted_keys(), k_digest, k_repository);
  CHECK(finding.verified);
  CHECK(finding.binds);
  CHECK(finding.error == "");
}

TEST_CASE("Docker Hub repository spellings are compared after normalization") {
  SUBCASE("index.docker.io/library/x in the payload, docker.io/library/x required") {
    const auto finding = check_cosign_signature(
        cosign_entry(cosign_payload(k_digest, "index.docker.io/library/nginx"),
                     ecdsa_key().sign(cosign_payload(k_digest, "index.docker.io/library/nginx"))),
        trusted_keys(), k_digest, "docker.io/library/nginx");
    CHECK(finding.binds);
    CHECK(finding.docker_reference == "index.docker.io/library/nginx");
    CHECK(finding.error == "");
  }
  SUBCASE("docker.io/library/x in the payload, the familiar x required") {
    const std::string payload = cosign_payload(k_digest, "docker.io/library/nginx");
    const auto finding = check_cosign_signature(cosign_entry(payload, ecdsa_key().sign(payload)),
                                                trusted_keys(), k_digest, "nginx");
    CHECK(finding.binds);
    CHECK(finding.error == "");
  }
}

TEST_CASE("A cosign payload of exactly 1 MiB is accepted") {
  std::string payload = cosign_payload(k_digest, k_repository);
  payload.resize(dg::policy::k_max_payload_size, ' ');
  const auto finding = check_signed(payload, ed25519_key());
  CHECK(finding.verified);
  CHECK(finding.binds);
  CHECK(finding.error == "");
}

// --- cosign: refused
// ------------------------------------------------------------------------------

TEST_CASE("A cosign payload changed after signing does not verify") {
  const std::string payload = cosign_payload(k_digest, k_repository);
  const std::string signature = ecdsa_key().sign(payload);
  const std::string tampered = cosign_payload(k_digest, "ghcr.io/acme/evil");
  const auto finding = check_cosign_signature(cosign_entry(tampered, signature), trusted_keys(),
                                              k_digest, "ghcr.io/acme/evil");
  CHECK_FALSE(finding.verified);
  CHECK(finding.key == "");
  CHECK(finding.error == "signature does not verify with any trusted key");
}

TEST_CASE("A cosign signature by an untrusted key does not verify") {
  const auto finding = check_signed(cosign_payload(k_digest, k_repository), stranger_key());
  CHECK_FALSE(finding.verified);
  CHECK(finding.key == "");
  CHECK(finding.binds); // the payload itself names the right image
  CHECK(finding.error == "signature does not verify with any trusted key");
}

TEST_CASE("A cosign signature checked against no trusted keys does not verify") {
  const std::string payload = cosign_payload(k_digest, k_repository);
  const auto finding = check_cosign_signature(cosign_entry(payload, ecdsa_key().sign(payload)), {},
                                              k_digest, k_repository);
  CHECK_FALSE(finding.verified);
  CHECK(finding.error == "signature does not verify with any trusted key");
}

TEST_CASE("A cosign payload naming another digest does not bind") {
  const auto finding = check_signed(cosign_payload(k_other_digest, k_repository), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.manifest_digest == k_other_digest);
  CHECK(finding.error == "payload names \"" + k_other_digest + "\", not this digest " + k_digest);
}

TEST_CASE("A cosign payload naming another repository does not bind") {
  const auto finding = check_signed(cosign_payload(k_digest, "ghcr.io/acme/other"), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.docker_reference == "ghcr.io/acme/other");
  CHECK(finding.error ==
        "payload names repository \"ghcr.io/acme/other\", not \"ghcr.io/acme/app\"");
}

TEST_CASE("A cosign payload naming the same path on another registry does not bind") {
  const auto finding = check_signed(cosign_payload(k_digest, "docker.io/acme/app"), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
}

TEST_CASE("A cosign payload whose docker-reference pins another digest does not bind") {
  const auto finding =
      check_signed(cosign_payload(k_digest, k_repository + "@" + k_other_digest), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(contains(finding.error, "pins another digest"));
}

TEST_CASE("A cosign payload with another critical.type does not bind") {
  const auto finding = check_signed(
      cosign_payload(k_digest, k_repository, "atomic container signature"), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.error == "payload critical.type is \"atomic container signature\", not \"cosign "
                         "container image signature\"");
}

TEST_CASE("A cosign payload that is not JSON does not bind") {
  const auto finding = check_signed("not json at all", ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.error == "payload is not JSON");
}

TEST_CASE("An unverified cosign payload names every failure") {
  const auto finding = check_signed(cosign_payload(k_other_digest, k_repository), stranger_key());
  CHECK_FALSE(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.error == "signature does not verify with any trusted key; payload names \"" +
                             k_other_digest + "\", not this digest " + k_digest);
}

TEST_CASE("Malformed cosign signature entries are refused without throwing") {
  const std::string payload = cosign_payload(k_digest, k_repository);
  const std::string sig = dg::base64_encode(ecdsa_key().sign(payload));
  const std::string payload64 = dg::base64_encode(payload);
  json entry;
  std::string expected;
  SUBCASE("not an object") {
    entry = json::array({payload64, sig});
    expected = "signature entry is not an object with string fields \"payload\" and \"signature\"";
  }
  SUBCASE("payload is a number") {
    entry = {{"payload", 5}, {"signature", sig}};
    expected = "signature entry is not an object with string fields \"payload\" and \"signature\"";
  }
  SUBCASE("signature is missing") {
    entry = {{"payload", payload64}};
    expected = "signature entry is not an object with string fields \"payload\" and \"signature\"";
  }
  SUBCASE("payload is not base64") {
    entry = {{"payload", "not base64!"}, {"signature", sig}};
    expected = "signature payload is not base64";
  }
  SUBCASE("signature is not base64") {
    entry = {{"payload", payload64}, {"signature", "***"}};
    expected = "signature is not base64";
  }
  SUBCASE("payload is empty") {
    entry = {{"payload", ""}, {"signature", sig}};
    expected = "signature payload is empty";
  }
  SUBCASE("signature is far larger than any supported signature") {
    entry = {{"payload", payload64}, {"signature", dg::base64_encode(std::string(4096, 'x'))}};
    expected = "signature exceeds 512 bytes";
  }
  SUBCASE("payload is over 1 MiB") {
    std::string big = payload;
    big.resize(dg::policy::k_max_payload_size + 1, ' ');
    entry = {{"payload", dg::base64_encode(big)}, {"signature", sig}};
    expected = "signature payload exceeds 1048576 bytes";
  }
  const auto finding = check_cosign_signature(entry, trusted_keys(), k_digest, k_repository);
  CHECK_FALSE(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.error == expected);
}

TEST_CASE("A signed cosign payload with hostile structure does not bind and does not throw") {
  std::string payload;
  std::string expected;
  SUBCASE("payload is a JSON array") {
    payload = "[1,2,3]";
    expected = "payload has no \"critical\" object";
  }
  SUBCASE("critical is an array") {
    payload = R"({"critical":[]})";
    expected = "payload has no \"critical\" object";
  }
  SUBCASE("every critical member has the wrong type") {
    payload = R"({"critical":{"type":7,"image":"sha256","identity":{"docker-reference":null}}})";
    expected =
        "payload has no critical.type; payload has no critical.image.docker-manifest-digest; "
        "payload has no critical.identity.docker-reference";
  }
  SUBCASE("the digest is a number") {
    payload = R"({"critical":{"type":"cosign container image signature",)"
              R"("image":{"docker-manifest-digest":1},"identity":{"docker-reference":")" +
              k_repository + R"("}}})";
    expected = "payload has no critical.image.docker-manifest-digest";
  }
  SUBCASE("the docker-reference is malformed") {
    payload = cosign_payload(k_digest, "ghcr.io/acme/UPPER");
    expected = "payload names malformed repository \"ghcr.io/acme/UPPER\"";
  }
  SUBCASE("nesting far deeper than any payload") {
    payload = std::string(100000, '[') + std::string(100000, ']');
    expected = "payload nests deeper than 64 levels";
  }
  const auto finding = check_signed(payload, ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.binds);
  CHECK(finding.error == expected);
}

// --- DSSE: accepted
// -------------------------------------------------------------------------------

TEST_CASE("A DSSE envelope with SLSA provenance v1 signed by a trusted ECDSA key is accepted") {
  const auto finding = check_signed_statement(slsa_v1_statement(), ecdsa_key());
  CHECK(finding.verified);
  CHECK(finding.key == "ci-signer");
  CHECK(finding.subject_matches);
  CHECK(finding.statement_type == "https://in-toto.io/Statement/v1");
  CHECK(finding.predicate_type == "https://slsa.dev/provenance/v1");
  CHECK(finding.builder_id == k_builder);
  CHECK(finding.source_repository == "https://github.com/acme/app");
  CHECK(finding.source_commit == k_commit);
  CHECK(finding.error == "");
}

TEST_CASE("A DSSE envelope with SLSA provenance v0.2 signed by a trusted Ed25519 key is accepted") {
  const auto finding = check_signed_statement(slsa_v02_statement(), ed25519_key());
  CHECK(finding.verified);
  CHECK(finding.key == "release-signer");
  CHECK(finding.subject_matches);
  CHECK(finding.statement_type == "https://in-toto.io/Statement/v0.1");
  CHECK(finding.predicate_type == "https://slsa.dev/provenance/v0.2");
  CHECK(finding.builder_id == "https://github.com/slsa-framework/slsa-github-generator/.github/"
                              "workflows/generator_container_slsa3.yml@refs/tags/v1.9.0");
  CHECK(finding.source_repository == "https://github.com/acme/app");
  CHECK(finding.source_commit == k_commit);
  CHECK(finding.error == "");
}

TEST_CASE("A DSSE envelope in URL-safe base64 with a raw r||s ECDSA signature is accepted") {
  json document = slsa_v1_statement();
  // Six '?' hold an aligned "???", which standard base64 encodes as "Pz8/".
  document["predicate"]["runDetails"]["metadata"]["note"] = "??????";
  const std::string statement = document.dump();
  const std::string payload64 = url_safe(dg::base64_encode(statement));
  // The encoding must differ from the standard one for this test to mean anything.
  REQUIRE(payload64.find_first_of("-_") != std::string::npos);
  const std::string raw = der_to_raw(ecdsa_key().sign(dg::policy::dsse_pae(k_in_toto, statement)));
  const auto finding = check_attestation(envelope(payload64, {url_safe(dg::base64_encode(raw))}),
                                         trusted_keys(), k_digest);
  CHECK(finding.verified);
  CHECK(finding.subject_matches);
  CHECK(finding.error == "");
}

TEST_CASE("SLSA v1 without a workflow takes the source from the first resolved dependency") {
  json statement = slsa_v1_statement();
  auto& definition = statement["predicate"]["buildDefinition"];
  definition["externalParameters"] = {{"source", "https://github.com/acme/app"}};
  definition["resolvedDependencies"] = json::parse(
      R"([{"uri": "git+ssh://git@github.com/acme/app@refs/heads/main", "digest": {"sha1": ")" +
      k_commit + R"("}}, {"uri": "pkg:docker/node@22-slim", "digest": {"sha256": ")" + k_other_hex +
      R"("}}])");
  const auto finding = check_signed_statement(statement, ecdsa_key());
  CHECK(finding.error == "");
  CHECK(finding.source_repository == "ssh://git@github.com/acme/app");
  CHECK(finding.source_commit == k_commit);
}

TEST_CASE("SLSA v1 takes the commit of the dependency that is the source repository") {
  json statement = slsa_v1_statement();
  statement["predicate"]["buildDefinition"]["resolvedDependencies"] = json::parse(
      R"([{"uri": "git+https://github.com/acme/actions@v2", "digest": {"gitCommit": "1111111111111111111111111111111111111111"}},
          {"uri": "git+https://github.com/acme/app@refs/tags/v1.4.2", "digest": {"gitCommit": ")" +
      k_commit + R"("}}])");
  const auto finding = check_signed_statement(statement, ecdsa_key());
  CHECK(finding.error == "");
  CHECK(finding.source_repository == "https://github.com/acme/app");
  CHECK(finding.source_commit == k_commit);
}

TEST_CASE("A DSSE envelope verifies when any of its signatures is by a trusted key") {
  const std::string statement = slsa_v1_statement().dump();
  const std::string pae = dg::policy::dsse_pae(k_in_toto, statement);
  json attestation =
      envelope(dg::base64_encode(statement), {dg::base64_encode(stranger_key().sign(pae)),
                                              dg::base64_encode(ed25519_key().sign(pae))});
  // keyid is an unauthenticated hint and must not decide anything.
  attestation["envelope"]["signatures"][1]["keyid"] = "ci-signer";
  const auto finding = check_attestation(attestation, trusted_keys(), k_digest);
  CHECK(finding.verified);
  CHECK(finding.key == "release-signer");
  CHECK(finding.error == "");
}

TEST_CASE("A statement with several subjects matches when one of them is the digest") {
  json statement = slsa_v1_statement();
  statement["subject"] = json::parse(R"([{"name": "a", "digest": {"sha512": "00"}},
      {"name": "b", "digest": {"sha256": ")" +
                                     k_other_hex + R"("}},
      {"name": "c", "digest": {"sha256": ")" +
                                     k_hex + R"("}}])");
  const auto finding = check_signed_statement(statement, ecdsa_key());
  CHECK(finding.subject_matches);
  CHECK(finding.error == "");
}

// --- DSSE: refused
// --------------------------------------------------------------------------------

TEST_CASE("A DSSE signature over the bare payload instead of the PAE does not verify") {
  const std::string statement = slsa_v1_statement().dump();
  const auto finding = check_attestation(
      envelope(dg::base64_encode(statement), {dg::base64_encode(ecdsa_key().sign(statement))}),
      trusted_keys(), k_digest);
  CHECK_FALSE(finding.verified);
  CHECK(finding.key == "");
  CHECK(finding.subject_matches);
  CHECK(finding.error == "no envelope signature verifies over the DSSE PAE with any trusted key");
}

TEST_CASE("A DSSE payload changed after signing does not verify") {
  const std::string statement = slsa_v1_statement(k_other_hex).dump();
  const std::string sig =
      dg::base64_encode(ecdsa_key().sign(dg::policy::dsse_pae(k_in_toto, statement)));
  const std::string tampered = slsa_v1_statement().dump();
  const auto finding =
      check_attestation(envelope(dg::base64_encode(tampered), {sig}), trusted_keys(), k_digest);
  CHECK_FALSE(finding.verified);
  CHECK(finding.subject_matches); // the tampered statement names the digest, but proves nothing
  CHECK(finding.error == "no envelope signature verifies over the DSSE PAE with any trusted key");
}

TEST_CASE("A DSSE envelope signed by an untrusted key does not verify") {
  const auto finding = check_signed_statement(slsa_v1_statement(), stranger_key());
  CHECK_FALSE(finding.verified);
  CHECK(finding.error == "no envelope signature verifies over the DSSE PAE with any trusted key");
}

TEST_CASE("A DSSE envelope whose signed payloadType is changed does not verify") {
  const std::string statement = slsa_v1_statement().dump();
  const std::string sig =
      dg::base64_encode(ecdsa_key().sign(dg::policy::dsse_pae("application/json", statement)));
  const auto finding =
      check_attestation(envelope(dg::base64_encode(statement), {sig}), trusted_keys(), k_digest);
  CHECK_FALSE(finding.verified);
}

TEST_CASE("A DSSE envelope with another payloadType is refused") {
  const std::string statement = slsa_v1_statement().dump();
  const std::string sig =
      dg::base64_encode(ecdsa_key().sign(dg::policy::dsse_pae("application/json", statement)));
  const auto finding = check_attestation(
      envelope(dg::base64_encode(statement), {sig}, "application/json"), trusted_keys(), k_digest);
  CHECK_FALSE(finding.verified);
  CHECK(finding.error ==
        "envelope payloadType \"application/json\" is not \"application/vnd.in-toto+json\"");
}

TEST_CASE("A statement whose subjects do not include the digest does not match") {
  const auto finding = check_signed_statement(slsa_v1_statement(k_other_hex), ecdsa_key());
  CHECK(finding.verified);
  CHECK_FALSE(finding.subject_matches);
  CHECK(finding.builder_id == k_builder);
  CHECK(finding.error == "statement subjects do not include " + k_digest);
}

TEST_CASE("A statement with an unknown predicate type is reported without an error") {
  json statement = slsa_v1_statement();
  statement["predicateType"] = "https://spdx.dev/Document";
  statement["predicate"] = {{"spdxVersion", "SPDX-2.3"}};
  const auto finding = check_signed_statement(statement, ecdsa_key());
  CHECK(finding.verified);
  CHECK(finding.subject_matches);
  CHECK(finding.predicate_type == "https://spdx.dev/Document");
  CHECK(finding.builder_id == "");
  CHECK(finding.error == "");
}

TEST_CASE("A statement of an unknown _type is refused") {
  json statement = slsa_v1_statement();
  statement["_type"] = "https://in-toto.io/Statement/v9";
  const auto finding = check_signed_statement(statement, ecdsa_key());
  CHECK(finding.verified);
  CHECK(finding.error ==
        "statement _type \"https://in-toto.io/Statement/v9\" is not an in-toto Statement v1 or "
        "v0.1");
}

TEST_CASE("SLSA provenance without a builder id is refused") {
  SUBCASE("v1") {
    json statement = slsa_v1_statement();
    statement["predicate"]["runDetails"].erase("builder");
    const auto finding = check_signed_statement(statement, ecdsa_key());
    CHECK(finding.error == "SLSA provenance v1 predicate has no runDetails.builder.id");
  }
  SUBCASE("v0.2") {
    json statement = slsa_v02_statement();
    statement["predicate"]["builder"]["id"] = 42;
    const auto finding = check_signed_statement(statement, ecdsa_key());
    CHECK(finding.error == "SLSA provenance v0.2 predicate has no builder.id");
  }
}

TEST_CASE("A DSSE payload of exactly 1 MiB is accepted and one byte more is refused unread") {
  std::string statement = slsa_v1_statement().dump();
  statement.resize(dg::policy::k_max_payload_size, ' ');
  const auto at_limit =
      check_attestation(signed_attestation(statement, ecdsa_key()), trusted_keys(), k_digest);
  CHECK(at_limit.verified);
  CHECK(at_limit.error == "");

  statement += ' ';
  const auto over_limit =
      check_attestation(signed_attestation(statement, ecdsa_key()), trusted_keys(), k_digest);
  CHECK_FALSE(over_limit.verified);
  CHECK(over_limit.error == "envelope payload exceeds 1048576 bytes");
}

TEST_CASE("Malformed DSSE envelopes are refused without throwing") {
  const std::string statement = slsa_v1_statement().dump();
  const std::string payload64 = dg::base64_encode(statement);
  const std::string sig =
      dg::base64_encode(ecdsa_key().sign(dg::policy::dsse_pae(k_in_toto, statement)));
  json attestation = envelope(payload64, {sig});
  std::string expected;
  SUBCASE("not an object") {
    attestation = "envelope";
    expected = "attestation has no \"envelope\" object";
  }
  SUBCASE("envelope is an array") {
    attestation["envelope"] = json::array();
    expected = "attestation has no \"envelope\" object";
  }
  SUBCASE("payloadType is missing") {
    attestation["envelope"].erase("payloadType");
    expected = "envelope has no string payloadType";
  }
  SUBCASE("payload is an object") {
    attestation["envelope"]["payload"] = json::object();
    expected = "envelope has no string payload";
  }
  SUBCASE("payload is not base64") {
    attestation["envelope"]["payload"] = "%%%";
    expected = "envelope payload is not base64";
  }
  SUBCASE("signatures is not an array") {
    attestation["envelope"]["signatures"] = sig;
    expected = "envelope has no signatures";
  }
  SUBCASE("signatures is empty") {
    attestation["envelope"]["signatures"] = json::array();
    expected = "envelope has no signatures";
  }
  SUBCASE("too many signatures") {
    attestation["envelope"]["signatures"] = json::array();
    for (int i = 0; i < 17; ++i) {
      attestation["envelope"]["signatures"].push_back({{"sig", sig}});
    }
    expected = "envelope has more than 16 signatures";
  }
  SUBCASE("sig entries of the wrong type") {
    attestation["envelope"]["signatures"] =
        json::array({json::array(), {{"sig", 3}}, {{"sig", "!!"}}});
    expected = "no envelope signature verifies over the DSSE PAE with any trusted key; envelope "
               "signature 1 has no string \"sig\"; envelope signature 2 has no string \"sig\"; "
               "envelope signature 3 is not base64";
  }
  const auto finding = check_attestation(attestation, trusted_keys(), k_digest);
  CHECK_FALSE(finding.verified);
  CHECK(finding.error == expected);
}

TEST_CASE("A malformed sig entry does not spoil a valid signature beside it") {
  const std::string statement = slsa_v1_statement().dump();
  const std::string sig =
      dg::base64_encode(ecdsa_key().sign(dg::policy::dsse_pae(k_in_toto, statement)));
  json attestation = envelope(dg::base64_encode(statement), {sig});
  attestation["envelope"]["signatures"].insert(attestation["envelope"]["signatures"].begin(),
                                               json{{"sig", nullptr}});
  const auto finding = check_attestation(attestation, trusted_keys(), k_digest);
  CHECK(finding.verified);
  CHECK(finding.error == "");
}

TEST_CASE("Signed statements with hostile structure are refused without throwing") {
  std::string statement;
  std::string expected;
  bool subject_matches = false;
  SUBCASE("not JSON") {
    statement = "{\"_type\":";
    expected = "statement is not JSON";
  }
  SUBCASE("a JSON string") {
    statement = "\"https://in-toto.io/Statement/v1\"";
    expected = "statement is not a JSON object";
  }
  SUBCASE("every member of the wrong type") {
    statement = R"({"_type":1,"subject":{"sha256":"x"},"predicateType":[],"predicate":"x"})";
    expected = "statement has no _type; statement has no subject list; statement has no "
               "predicateType";
  }
  SUBCASE("subjects of the wrong types") {
    statement = R"({"_type":"https://in-toto.io/Statement/v1","subject":[1,"x",{"digest":[]},)"
                R"({"digest":{"sha256":7}}],"predicateType":"https://slsa.dev/provenance/v1",)"
                R"("predicate":{"runDetails":{"builder":{"id":"b"}},"buildDefinition":)"
                R"({"resolvedDependencies":{"uri":1}}}})";
    expected = "statement subjects do not include " + k_digest;
  }
  SUBCASE("a SLSA v1 predicate with wrong types below it") {
    statement = R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":")" +
                k_hex +
                R"("}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{)"
                R"("runDetails":{"builder":"b"},"buildDefinition":{"externalParameters":)"
                R"({"workflow":[]},"resolvedDependencies":[7,{"digest":"x"},{"uri":[],"digest":)"
                R"({"gitCommit":1}}]}}})";
    expected = "SLSA provenance v1 predicate has no runDetails.builder.id";
    subject_matches = true;
  }
  SUBCASE("a SLSA v0.2 predicate that is an array") {
    statement = R"({"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":")" +
                k_hex +
                R"("}}],"predicateType":"https://slsa.dev/provenance/v0.2","predicate":[]})";
    expected = "SLSA provenance v0.2 statement has no predicate object";
    subject_matches = true;
  }
  SUBCASE("nesting far deeper than any statement") {
    statement = std::string(50000, '[');
    expected = "statement nests deeper than 64 levels";
  }
  const auto finding =
      check_attestation(signed_attestation(statement, ecdsa_key()), trusted_keys(), k_digest);
  CHECK(finding.verified);
  CHECK(finding.subject_matches == subject_matches);
  CHECK(finding.error == expected);
}

// --- evaluate_signatures
// --------------------------------------------------------------------------

TEST_CASE("A signature requirement is met by a verified, binding signature by a required key") {
  SUBCASE("the only signature") {
    CHECK(evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {good_signature()}).empty());
  }
  SUBCASE("one good signature among bad ones") {
    SignatureFinding bad;
    bad.error = "signature does not verify with any trusted key";
    CHECK(evaluate_signatures(SignatureRequirement{{"release-signer", "ci-signer"}},
                              {bad, good_signature()})
              .empty());
  }
  SUBCASE("no keys listed accepts any trusted key") {
    auto finding = good_signature();
    finding.key = "release-signer";
    CHECK(evaluate_signatures(SignatureRequirement{}, {finding}).empty());
  }
  SUBCASE("end to end from a real signature") {
    const auto finding = check_signed(cosign_payload(k_digest, k_repository), ecdsa_key());
    CHECK(evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {finding}).empty());
  }
}

TEST_CASE("A signature requirement without signatures is signature-missing") {
  const auto reasons = evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {});
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "signature-missing");
  CHECK(reasons[0].gate == "require_signature");
}

TEST_CASE("A signature requirement with only unverified signatures is signature-invalid") {
  const auto finding = check_signed(cosign_payload(k_digest, k_repository), stranger_key());
  const auto reasons = evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {finding});
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "signature-invalid");
  CHECK(reasons[0].gate == "require_signature");
  CHECK(
      contains(reasons[0].message, "signature 1: signature does not verify with any trusted key"));
}

TEST_CASE(
    "A signature requirement with a verified signature of another image is signature-invalid") {
  const auto wrong_digest = check_signed(cosign_payload(k_other_digest, k_repository), ecdsa_key());
  const auto wrong_repo = check_signed(cosign_payload(k_digest, "ghcr.io/acme/other"), ecdsa_key());
  const auto reasons =
      evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {wrong_digest, wrong_repo});
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "signature-invalid");
  CHECK(contains(reasons[0].message, "signature 1: payload names \"" + k_other_digest));
  CHECK(
      contains(reasons[0].message, "signature 2: payload names repository \"ghcr.io/acme/other\""));
}

TEST_CASE("A signature requirement met only by a key it does not list is signature-invalid") {
  const auto finding = check_signed(cosign_payload(k_digest, k_repository), ed25519_key());
  REQUIRE(finding.key == "release-signer");
  const auto reasons = evaluate_signatures(SignatureRequirement{{"ci-signer"}}, {finding});
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "signature-invalid");
  CHECK(contains(reasons[0].message, "\"release-signer\""));
  CHECK(contains(reasons[0].message, "\"ci-signer\""));
}

// --- evaluate_provenance
// --------------------------------------------------------------------------

TEST_CASE("A provenance requirement is met by agreeing SLSA provenance") {
  SUBCASE("SLSA v1 end to end, with the record's commit and builder") {
    const auto finding = check_signed_statement(slsa_v1_statement(), ecdsa_key());
    CHECK(evaluate_provenance(production_requirement(), {finding}, k_commit, k_builder).empty());
  }
  SUBCASE("SLSA v0.2 end to end, builder allowed by glob") {
    const auto finding = check_signed_statement(slsa_v02_statement(), ed25519_key());
    const ProvenanceRequirement requirement{
        {"release-signer"},
        {"https://github.com/slsa-framework/slsa-github-generator/*"},
        {"https://github.com/acme/*"}};
    CHECK(evaluate_provenance(requirement, {finding}, k_commit, "").empty());
  }
  SUBCASE("empty lists accept any builder and source, no record fields to compare") {
    CHECK(evaluate_provenance(ProvenanceRequirement{}, {good_provenance()}, "", "").empty());
  }
  SUBCASE("the record's commit in uppercase") {
    std::string upper = k_commit;
    for (char& c : upper) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    CHECK(evaluate_provenance(production_requirement(), {good_provenance()}, upper, "").empty());
  }
  SUBCASE("one agreeing attestation beside a disagreeing one") {
    auto other = good_provenance();
    other.builder_id = "https://example.com/other-builder";
    CHECK(evaluate_provenance(production_requirement(), {other, good_provenance()}, k_commit,
                              k_builder)
              .empty());
  }
}

TEST_CASE("A provenance requirement without attestations is provenance-missing") {
  const auto reasons = evaluate_provenance(production_requirement(), {}, k_commit, k_builder);
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "provenance-missing");
  CHECK(reasons[0].gate == "require_provenance");
}

TEST_CASE("A provenance requirement with no acceptable attestation is provenance-invalid") {
  std::vector<ProvenanceFinding> findings;
  std::string expected;
  SUBCASE("signed by an untrusted key") {
    findings = {check_signed_statement(slsa_v1_statement(), stranger_key())};
    expected = "attestation 1: no envelope signature verifies over the DSSE PAE with any trusted "
               "key";
  }
  SUBCASE("subjects without the digest") {
    findings = {check_signed_statement(slsa_v1_statement(k_other_hex), ecdsa_key())};
    expected = "attestation 1: statement subjects do not include " + k_digest;
  }
  SUBCASE("signed by a trusted key the requirement does not list") {
    findings = {check_signed_statement(slsa_v1_statement(), ed25519_key())};
    expected = "attestation 1: signed by key \"release-signer\"";
  }
  SUBCASE("an unknown predicate type") {
    json statement = slsa_v1_statement();
    statement["predicateType"] = "https://cyclonedx.org/bom";
    findings = {check_signed_statement(statement, ecdsa_key())};
    expected = "attestation 1: predicate type \"https://cyclonedx.org/bom\" is not SLSA provenance "
               "v1 or v0.2";
  }
  SUBCASE("each failure named") {
    findings = {check_signed_statement(slsa_v1_statement(), stranger_key()),
                check_signed_statement(slsa_v1_statement(k_other_hex), ecdsa_key())};
    expected = "attestation 2: statement subjects do not include " + k_digest;
  }
  const auto reasons = evaluate_provenance(production_requirement(), findings, k_commit, "");
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "provenance-invalid");
  CHECK(reasons[0].gate == "require_provenance");
  CHECK(contains(reasons[0].message, expected));
}

TEST_CASE("Provenance from a builder outside the allowed globs is provenance-mismatch") {
  auto finding = good_provenance();
  // A branch build of the same workflow: the allowed glob only admits tags.
  finding.builder_id = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
  const auto reasons = evaluate_provenance(production_requirement(), {finding}, k_commit, "");
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "provenance-mismatch");
  CHECK(reasons[0].gate == "require_provenance");
  CHECK(contains(reasons[0].message, "builder id"));
  CHECK(contains(reasons[0].message, "@refs/heads/main"));
}

TEST_CASE("Provenance from a source repository outside the allowed list is provenance-mismatch") {
  SUBCASE("another repository") {
    json statement = slsa_v1_statement();
    statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["repository"] =
        "https://github.com/acme/fork";
    const auto finding = check_signed_statement(statement, ecdsa_key());
    REQUIRE(finding.error == "");
    const auto reasons = evaluate_provenance(production_requirement(), {finding}, "", "");
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].code == "provenance-mismatch");
    CHECK(contains(reasons[0].message, "source repository \"https://github.com/acme/fork\""));
  }
  SUBCASE("no source repository at all") {
    auto finding = good_provenance();
    finding.source_repository.clear();
    const auto reasons = evaluate_provenance(production_requirement(), {finding}, "", "");
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].code == "provenance-mismatch");
    CHECK(contains(reasons[0].message, "no source repository"));
  }
}

TEST_CASE("Provenance of another commit than the record's is provenance-mismatch") {
  SUBCASE("another commit") {
    const std::string recorded = "0000000000000000000000000000000000000001";
    const auto reasons =
        evaluate_provenance(production_requirement(), {good_provenance()}, recorded, "");
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].code == "provenance-mismatch");
    CHECK(contains(reasons[0].message, "source commit \"" + k_commit + "\""));
    CHECK(contains(reasons[0].message, recorded));
  }
  SUBCASE("no commit in the provenance") {
    auto finding = good_provenance();
    finding.source_commit.clear();
    const auto reasons = evaluate_provenance(production_requirement(), {finding}, k_commit, "");
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].code == "provenance-mismatch");
    CHECK(contains(reasons[0].message, "no source commit"));
  }
}

TEST_CASE(
    "Provenance whose builder differs from the record's build.builder_id is provenance-mismatch") {
  const std::string recorded =
      "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.3";
  const auto reasons =
      evaluate_provenance(production_requirement(), {good_provenance()}, k_commit, recorded);
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0].code == "provenance-mismatch");
  CHECK(contains(reasons[0].message, "build.builder_id"));
  CHECK(contains(reasons[0].message, recorded));
}

TEST_CASE("Every disagreeing field is a reason of its own") {
  auto finding = good_provenance();
  finding.builder_id = "https://example.com/builder";
  finding.source_repository = "https://example.com/repo";
  finding.source_commit = "0000000000000000000000000000000000000001";
  const auto reasons =
      evaluate_provenance(production_requirement(), {finding}, k_commit, k_builder);
  REQUIRE(reasons.size() == 4);
  for (const auto& reason : reasons) {
    CHECK(reason.code == "provenance-mismatch");
    CHECK(reason.gate == "require_provenance");
  }
  CHECK(contains(reasons[0].message, "allowed builder ids"));
  CHECK(contains(reasons[1].message, "allowed source repositories"));
  CHECK(contains(reasons[2].message, "source.commit"));
  CHECK(contains(reasons[3].message, "build.builder_id"));
}

TEST_SUITE_END();
