#include "tests/support/evidence.hpp"

#include "util/crypto.hpp"

#include <utility>

namespace dg::test {

std::string digest_of(const std::string& seed) {
  return "sha256:" + to_hex(sha256(seed));
}

std::string timestamp(TimeNs now, long long offset_seconds) {
  return format_rfc3339(now + offset_seconds * 1000000000LL);
}

std::string timestamp(long long offset_seconds) {
  return timestamp(now_ns(), offset_seconds);
}

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string pae = "DSSEv1 ";
  pae += std::to_string(payload_type.size());
  pae += ' ';
  pae += payload_type;
  pae += ' ';
  pae += std::to_string(payload.size());
  pae += ' ';
  pae += payload;
  return pae;
}

json strict_policy(const std::string& signer_pem) {
  return strict_policy_with(signer_pem, PolicyOptions{});
}

json strict_policy_with(const std::string& signer_pem, const PolicyOptions& options) {
  json env = {
      {"repositories", {"ghcr.io/acme/*"}},
      {"require_gates", options.gates},
      {"max_findings", {{"critical", 0}, {"high", 0}}},
      {"require_registry_parity", true},
      {"require_platforms", {"linux/amd64", "linux/arm64"}},
      {"require_signature", {{"keys", {options.key}}}},
      {"require_provenance",
       {{"keys", {options.key}},
        {"builder_ids", {"https://github.com/acme/app/.github/workflows/release.yml@refs/tags/*"}},
        {"source_repositories", {k_source_repository}}}},
      {"source_refs", {"refs/tags/v*"}},
      {"stable_semver_only", true},
      {"require_pinned_base_image", true},
      {"max_evidence_age", "168h"}};
  json production = env;
  production["after"] = {"staging"};
  return {{"trusted_keys", {{options.key, {{"public_key_pem", signer_pem}}}}},
          {"environments", {{"staging", env}, {"production", production}}}};
}

json cosign_signature(const Signer& signer,
                      const std::string& repository,
                      std::string_view digest) {
  json payload = {{"critical",
                   {{"identity", {{"docker-reference", repository}}},
                    {"image", {{"docker-manifest-digest", digest}}},
                    {"type", "cosign container image signature"}}},
                  {"optional", nullptr}};
  std::string bytes = payload.dump();
  return {{"payload", base64_encode(bytes)}, {"signature", signer.sign(bytes)}};
}

namespace {

json predicate_v1(const Provenance& p) {
  return {{"buildDefinition",
           {{"buildType", "https://actions.github.io/buildtypes/workflow/v1"},
            {"externalParameters",
             {{"workflow",
               {{"ref", p.ref},
                {"repository", p.source_repository},
                {"path", ".github/workflows/release.yml"}}}}},
            {"resolvedDependencies",
             {{{"uri", "git+" + p.source_repository + "@" + p.ref},
               {"digest", {{"gitCommit", p.commit}}}}}}}},
          {"runDetails", {{"builder", {{"id", p.builder_id}}}}}};
}

json predicate_v02(const Provenance& p) {
  return {{"builder", {{"id", p.builder_id}}},
          {"buildType", "https://github.com/slsa-framework/slsa-github-generator/v1"},
          {"invocation",
           {{"configSource",
             {{"uri", "git+" + p.source_repository + "@" + p.ref},
              {"digest", {{"sha1", p.commit}}},
              {"entryPoint", ".github/workflows/release.yml"}}}}}};
}

} // namespace

json slsa_attestation(const Signer& signer, std::string_view digest, const Provenance& provenance) {
  std::string hex(digest.substr(digest.find(':') + 1));
  json statement = {
      {"_type",
       provenance.v02 ? "https://in-toto.io/Statement/v0.1" : "https://in-toto.io/Statement/v1"},
      {"subject", {{{"name", provenance.subject}, {"digest", {{"sha256", hex}}}}}},
      {"predicateType",
       provenance.v02 ? "https://slsa.dev/provenance/v0.2" : "https://slsa.dev/provenance/v1"},
      {"predicate", provenance.v02 ? predicate_v02(provenance) : predicate_v1(provenance)}};
  std::string payload = statement.dump();
  return {{"envelope",
           {{"payloadType", k_in_toto_type},
            {"payload", base64_encode(payload)},
            {"signatures",
             {{{"keyid", ""}, {"sig", signer.sign(dsse_pae(k_in_toto_type, payload))}}}}}}};
}

json gate(const std::string& name,
          const std::string& tool,
          const std::string& repository,
          const std::string& digest,
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

json named_gate(const std::string& name,
                const std::string& repository,
                const std::string& digest,
                TimeNs now) {
  if (name == "vuln-scan") {
    return gate(name, "trivy", repository, digest, now,
                {{"critical", 0}, {"high", 0}, {"medium", 2}, {"low", 9}});
  }
  if (name == "sbom") {
    return gate(name, "syft", repository, digest, now);
  }
  if (name == "e2e") {
    return gate(name, "playwright", repository, digest, now);
  }
  return gate(name, "ctest", repository, digest, now);
}

json complete_evidence(const Signer& signer,
                       const std::string& digest,
                       const EvidenceOptions& options) {
  const std::string& repository = options.repository;
  const TimeNs now = options.now != 0 ? options.now : now_ns();
  std::string amd64 = digest_of(digest + "/amd64");
  std::string arm64 = digest_of(digest + "/arm64");
  json platforms = {{{"platform", "linux/amd64"}, {"digest", amd64}},
                    {{"platform", "linux/arm64"}, {"digest", arm64}}};
  json mirror = {{"name", repository},
                 {"digest", digest},
                 {"platforms", platforms},
                 {"observed_at", timestamp(now, -3500)}};
  json docker_hub = mirror;
  docker_hub["name"] = "docker.io/acme/app";
  json gates = json::array();
  for (const auto& name : options.gates) {
    gates.push_back(named_gate(name, repository, digest, now));
  }
  return {
      {"subject",
       {{"name", repository},
        {"digest", digest},
        {"media_type", "application/vnd.oci.image.index.v1+json"},
        {"platforms", platforms},
        {"tags", {"v1.4.2", "latest"}},
        {"labels", {{"org.opencontainers.image.revision", k_commit}}}}},
      {"source",
       {{"repository", k_source_repository}, {"commit", k_commit}, {"ref", "refs/tags/v1.4.2"}}},
      {"build",
       {{"builder_id", k_builder},
        {"run_id", "1234567"},
        {"run_url", "https://github.com/acme/app/actions/runs/1234567"},
        {"base_image", "docker.io/library/node:22-slim@sha256:" + to_hex(sha256("node"))}}},
      {"pushed_at", timestamp(now, -3600)},
      {"mirrors", {mirror, docker_hub}},
      {"gates", std::move(gates)},
      {"signatures", {cosign_signature(signer, repository, digest)}},
      {"attestations", {slsa_attestation(signer, digest)}}};
}

json complete_evidence(const Signer& signer,
                       const std::string& digest,
                       const std::string& repository) {
  EvidenceOptions options;
  options.repository = repository;
  return complete_evidence(signer, digest, options);
}

json gate_evidence(const std::string& digest,
                   const std::string& repository,
                   const std::vector<std::string>& gates,
                   TimeNs now) {
  json list = json::array();
  for (const auto& name : gates) {
    list.push_back(named_gate(name, repository, digest, now));
  }
  return {{"subject", {{"name", repository}, {"digest", digest}}}, {"gates", std::move(list)}};
}

} // namespace dg::test
