#include "tests/support/evidence.hpp"

#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <stdexcept>

namespace dg::test {

OpensslSigner::OpensslSigner() {
  std::string key = m_dir.path() + "/key.pem";
  std::string pub = m_dir.path() + "/key.pub";
  auto gen =
      run_process({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key});
  auto out = run_process({"openssl", "ec", "-in", key, "-pubout", "-out", pub});
  if (gen.exit_code != 0 || out.exit_code != 0) {
    throw std::runtime_error("openssl could not make a key: " + gen.err + out.err);
  }
  m_public_pem = read_file(pub).value();
}

std::string OpensslSigner::sign(const std::string& data) const {
  static int counter = 0;
  std::string in = m_dir.path() + "/data" + std::to_string(++counter);
  std::string sig = in + ".sig";
  if (!write_file_atomic(in, data)) {
    throw std::runtime_error("cannot write " + in);
  }
  auto r = run_process(
      {"openssl", "dgst", "-sha256", "-sign", m_dir.path() + "/key.pem", "-out", sig, in});
  if (r.exit_code != 0) {
    throw std::runtime_error("openssl dgst failed: " + r.err);
  }
  return base64_encode(read_file(sig).value());
}

std::string timestamp(long long offset_seconds) {
  return format_rfc3339(now_ns() + offset_seconds * 1000000000LL);
}

json strict_policy(const std::string& signer_pem) {
  json env = {
      {"repositories", {"ghcr.io/acme/*"}},
      {"require_gates", {"vuln-scan", "sbom", "e2e"}},
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

json cosign_signature(const OpensslSigner& signer,
                      const std::string& repository,
                      const std::string& digest) {
  json payload = {{"critical",
                   {{"identity", {{"docker-reference", repository}}},
                    {"image", {{"docker-manifest-digest", digest}}},
                    {"type", "cosign container image signature"}}},
                  {"optional", nullptr}};
  std::string bytes = payload.dump();
  return {{"payload", base64_encode(bytes)}, {"signature", signer.sign(bytes)}};
}

json slsa_attestation(const OpensslSigner& signer,
                      const std::string& digest,
                      const std::string& builder_id,
                      const std::string& source_repository,
                      const std::string& commit) {
  json statement = {{"_type", "https://in-toto.io/Statement/v1"},
                    {"subject", {{{"name", k_repo}, {"digest", {{"sha256", digest.substr(7)}}}}}},
                    {"predicateType", "https://slsa.dev/provenance/v1"},
                    {"predicate",
                     {{"buildDefinition",
                       {{"buildType", "https://actions.github.io/buildtypes/workflow/v1"},
                        {"externalParameters",
                         {{"workflow",
                           {{"ref", "refs/tags/v1.4.2"},
                            {"repository", source_repository},
                            {"path", ".github/workflows/release.yml"}}}}},
                        {"resolvedDependencies",
                         {{{"uri", "git+" + source_repository + "@refs/tags/v1.4.2"},
                           {"digest", {{"gitCommit", commit}}}}}}}},
                      {"runDetails", {{"builder", {{"id", builder_id}}}}}}}};
  std::string payload = statement.dump();
  std::string type = "application/vnd.in-toto+json";
  std::string pae = "DSSEv1 " + std::to_string(type.size()) + " " + type + " " +
                    std::to_string(payload.size()) + " " + payload;
  return {{"envelope",
           {{"payloadType", type},
            {"payload", base64_encode(payload)},
            {"signatures", {{{"keyid", ""}, {"sig", signer.sign(pae)}}}}}}};
}

json complete_evidence(const OpensslSigner& signer,
                       const std::string& digest,
                       const std::string& repository) {
  std::string amd64 = "sha256:" + to_hex(sha256(digest + "/amd64"));
  std::string arm64 = "sha256:" + to_hex(sha256(digest + "/arm64"));
  json platforms = {{{"platform", "linux/amd64"}, {"digest", amd64}},
                    {{"platform", "linux/arm64"}, {"digest", arm64}}};
  std::string pushed = timestamp(-3600);
  auto gate = [&](const std::string& name, const std::string& tool, json findings) {
    json g = {{"name", name},
              {"tool", {{"name", tool}, {"version", "1.0.0"}}},
              {"target", repository + "@" + digest},
              {"started_at", timestamp(-3000)},
              {"finished_at", timestamp(-2900)},
              {"result", "pass"},
              {"artifacts",
               {{{"name", name + ".json"},
                 {"sha256", to_hex(sha256(name + digest))},
                 {"created_at", timestamp(-2900)}}}}};
    if (!findings.is_null()) {
      g["findings"] = findings;
    }
    return g;
  };
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
          {"pushed_at", pushed},
          {"mirrors",
           {{{"name", repository},
             {"digest", digest},
             {"platforms", platforms},
             {"observed_at", timestamp(-3500)}},
            {{"name", "docker.io/acme/app"},
             {"digest", digest},
             {"platforms", platforms},
             {"observed_at", timestamp(-3500)}}}},
          {"gates",
           {gate("vuln-scan", "trivy", {{"critical", 0}, {"high", 0}, {"medium", 2}, {"low", 9}}),
            gate("sbom", "syft", nullptr), gate("e2e", "playwright", nullptr)}},
          {"signatures", {cosign_signature(signer, repository, digest)}},
          {"attestations", {slsa_attestation(signer, digest)}}};
}

} // namespace dg::test
