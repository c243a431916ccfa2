#include "bench/evidence.hpp"

#include "util/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <stdexcept>
#include <utility>

namespace dg::bench {

namespace {

EVP_PKEY* pkey(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

} // namespace

EcdsaKey EcdsaKey::generate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    throw std::runtime_error("cannot generate an ECDSA P-256 key");
  }
  return EcdsaKey(key);
}

EcdsaKey::EcdsaKey(EcdsaKey&& other) noexcept : m_pkey(std::exchange(other.m_pkey, nullptr)) {}

EcdsaKey& EcdsaKey::operator=(EcdsaKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey(m_pkey));
    m_pkey = std::exchange(other.m_pkey, nullptr);
  }
  return *this;
}

EcdsaKey::~EcdsaKey() {
  EVP_PKEY_free(pkey(m_pkey));
}

std::string EcdsaKey::public_key_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey(m_pkey));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string EcdsaKey::sign(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey(m_pkey)) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty()) {
    throw std::runtime_error("ECDSA signing failed");
  }
  return sig;
}

bool EcdsaKey::verify(std::string_view data, std::string_view der_signature) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey(m_pkey)) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der_signature.data()),
                             der_signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string digest_of(const std::string& seed) {
  return "sha256:" + to_hex(sha256(seed));
}

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  return "DSSEv1 " + std::to_string(payload_type.size()) + " " + std::string(payload_type) + " " +
         std::to_string(payload.size()) + " " + std::string(payload);
}

std::string timestamp(TimeNs now, long long offset_seconds) {
  return format_rfc3339(now + offset_seconds * 1000000000LL);
}

namespace {

json gate(const std::string& name,
          const std::string& tool,
          const std::string& digest,
          const std::string& repository,
          TimeNs now,
          json findings) {
  json g = {{"name", name},
            {"tool", {{"name", tool}, {"version", "1.0.0"}}},
            {"target", repository + "@" + digest},
            {"started_at", timestamp(now, -3000)},
            {"finished_at", timestamp(now, -2900)},
            {"result", "pass"},
            {"artifacts",
             {{{"name", name + ".json"},
               {"sha256", to_hex(sha256(name + digest))},
               {"created_at", timestamp(now, -2900)}}}}};
  if (!findings.is_null()) {
    g["findings"] = std::move(findings);
  }
  return g;
}

json gate_named(const std::string& name,
                const std::string& digest,
                const std::string& repository,
                TimeNs now) {
  if (name == "vuln-scan") {
    return gate(name, "trivy", digest, repository, now,
                {{"critical", 0}, {"high", 0}, {"medium", 2}, {"low", 9}});
  }
  if (name == "sbom") {
    return gate(name, "syft", digest, repository, now, nullptr);
  }
  if (name == "e2e") {
    return gate(name, "playwright", digest, repository, now, nullptr);
  }
  return gate(name, "ctest", digest, repository, now, nullptr);
}

json subject_only(const std::string& digest, const std::string& repository) {
  return {{"name", repository}, {"digest", digest}};
}

} // namespace

json complete_evidence(const SignFn& sign,
                       const std::string& digest,
                       const std::string& repository,
                       TimeNs now) {
  std::string amd64 = "sha256:" + to_hex(sha256(digest + "/amd64"));
  std::string arm64 = "sha256:" + to_hex(sha256(digest + "/arm64"));
  json platforms = {{{"platform", "linux/amd64"}, {"digest", amd64}},
                    {{"platform", "linux/arm64"}, {"digest", arm64}}};

  json cosign_payload = {{"critical",
                          {{"identity", {{"docker-reference", repository}}},
                           {"image", {{"docker-manifest-digest", digest}}},
                           {"type", "cosign container image signature"}}},
                         {"optional", nullptr}};
  std::string cosign_bytes = cosign_payload.dump();

  json statement = {
      {"_type", "https://in-toto.io/Statement/v1"},
      {"subject", {{{"name", repository}, {"digest", {{"sha256", digest.substr(7)}}}}}},
      {"predicateType", "https://slsa.dev/provenance/v1"},
      {"predicate",
       {{"buildDefinition",
         {{"buildType", "https://actions.github.io/buildtypes/workflow/v1"},
          {"externalParameters",
           {{"workflow",
             {{"ref", "refs/tags/v1.4.2"},
              {"repository", "https://github.com/acme/app"},
              {"path", ".github/workflows/release.yml"}}}}},
          {"resolvedDependencies",
           {{{"uri", "git+https://github.com/acme/app@refs/tags/v1.4.2"},
             {"digest", {{"gitCommit", k_commit}}}}}}}},
        {"runDetails", {{"builder", {{"id", k_builder}}}}}}}};
  std::string statement_bytes = statement.dump();

  return {{"subject",
           {{"name", repository},
            {"digest", digest},
            {"media_type", "application/vnd.oci.image.index.v1+json"},
            {"platforms", platforms},
            {"tags", {"v1.4.2", "latest"}},
            {"labels", {{"org.opencontainers.image.revision", k_commit}}}}},
          {"source",
           {{"repository", "https://github.com/acme/app"},
            {"commit", k_commit},
            {"ref", "refs/tags/v1.4.2"}}},
          {"build",
           {{"builder_id", k_builder},
            {"run_id", "1234567"},
            {"run_url", "https://github.com/acme/app/actions/runs/1234567"},
            {"base_image", "docker.io/library/node:22-slim@sha256:" + to_hex(sha256("node"))}}},
          {"pushed_at", timestamp(now, -3600)},
          {"mirrors",
           {{{"name", repository},
             {"digest", digest},
             {"platforms", platforms},
             {"observed_at", timestamp(now, -3500)}},
            {{"name", "docker.io/acme/app"},
             {"digest", digest},
             {"platforms", platforms},
             {"observed_at", timestamp(now, -3500)}}}},
          {"gates",
           {gate_named("vuln-scan", digest, repository, now),
            gate_named("sbom", digest, repository, now), gate_named("e2e", digest, repository, now),
            gate_named("unit-tests", digest, repository, now)}},
          {"signatures",
           {{{"payload", base64_encode(cosign_bytes)}, {"signature", sign(cosign_bytes)}}}},
          {"attestations",
           {{{"envelope",
              {{"payloadType", k_in_toto_type},
               {"payload", base64_encode(statement_bytes)},
               {"signatures",
                {{{"keyid", ""}, {"sig", sign(dsse_pae(k_in_toto_type, statement_bytes))}}}}}}}}}};
}

json gate_evidence(const std::string& digest,
                   const std::string& repository,
                   const std::vector<std::string>& gates,
                   TimeNs now) {
  json list = json::array();
  for (const auto& name : gates) {
    list.push_back(gate_named(name, digest, repository, now));
  }
  return {{"subject", subject_only(digest, repository)}, {"gates", std::move(list)}};
}

json bench_policy(const std::string& signer_pem) {
  json env = {
      {"repositories", {"ghcr.io/acme/*"}},
      {"require_gates", {"vuln-scan", "sbom", "e2e", "unit-tests"}},
      {"max_findings", {{"critical", 0}, {"high", 0}}},
      {"require_registry_parity", true},
      {"require_platforms", {"linux/amd64", "linux/arm64"}},
      {"require_signature", {{"keys", {"ci-signer"}}}},
      {"require_provenance",
       {{"keys", {"ci-signer"}},
        {"builder_ids", {"https://github.com/acme/app/.github/workflows/release.yml@refs/tags/*"}},
        {"source_repositories", {"https://github.com/acme/app"}}}},
      {"source_refs", {"refs/tags/v*"}},
      {"stable_semver_only", true},
      {"require_pinned_base_image", true},
      {"max_evidence_age", "168h"}};
  json production = env;
  production["after"] = {"staging"};
  return {{"trusted_keys", {{"ci-signer", {{"public_key_pem", signer_pem}}}}},
          {"environments", {{"staging", env}, {"production", production}}}};
}

} // namespace dg::bench
