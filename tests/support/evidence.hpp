// Realistic signed evidence for tests, benchmarks and fuzz seeds, written once over the Signer
// interface (signer.hpp): a multi-platform image with mirrors, digest-bound gates with artifacts,
// a cosign simple-signing signature and a DSSE envelope carrying SLSA provenance, as CI records
// them; and the strict policy they pass.
//
// These builders do not use the code under test (the DSSE encoding and the cosign payload are
// written out here), so a test of the verifier does not check the verifier against itself.
#pragma once

#include "tests/support/daemon.hpp" // for the end-to-end tests that include this header alone
#include "tests/support/signer.hpp"
#include "util/time.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace dg::test {

using nlohmann::json;

inline constexpr const char* k_repo = "ghcr.io/acme/app";
inline constexpr const char* k_commit = "0123456789abcdef0123456789abcdef01234567";
inline constexpr const char* k_builder =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";
inline constexpr const char* k_source_repository = "https://github.com/acme/app";
inline constexpr const char* k_in_toto_type = "application/vnd.in-toto+json";

// "sha256:" + the hex SHA-256 of `seed`.
std::string digest_of(const std::string& seed);

// RFC 3339 for now + `offset_seconds`, or for `now` + `offset_seconds`.
std::string timestamp(long long offset_seconds);
std::string timestamp(TimeNs now, long long offset_seconds);

// The DSSE v1 pre-authentication encoding of `payload`.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// The policy every reason-code test runs against: "staging" requires everything the contract
// knows (`gates`, findings, parity, platforms, signature and provenance by `key`, source refs,
// stable semver, a pinned base image, evidence age); "production" comes after it.
struct PolicyOptions {
  std::vector<std::string> gates = {"vuln-scan", "sbom", "e2e"};
  std::string key = "ci-signer";
};
json strict_policy(const std::string& signer_pem);
json strict_policy_with(const std::string& signer_pem, const PolicyOptions& options);

// A cosign simple-signing signature entry for `digest` in `repository`.
json cosign_signature(const Signer& signer, const std::string& repository, std::string_view digest);

// What an SLSA provenance statement says about the build.
struct Provenance {
  std::string subject = k_repo;
  std::string builder_id = k_builder;
  std::string source_repository = k_source_repository;
  std::string commit = k_commit;
  std::string ref = "refs/tags/v1.4.2";
  // SLSA provenance v0.2 in an in-toto v0.1 statement instead of v1 in a v1 statement.
  bool v02 = false;
};

// A DSSE envelope entry {"envelope"} with an in-toto statement carrying SLSA provenance.
json slsa_attestation(const Signer& signer,
                      std::string_view digest,
                      const Provenance& provenance = {});

// A passing gate result bound to `repository`@`digest`, run 50 minutes before `now`, with one
// artifact; `findings` is left out when null.
json gate(const std::string& name,
          const std::string& tool,
          const std::string& repository,
          const std::string& digest,
          TimeNs now,
          json findings = nullptr);

// The gate `name` as CI runs it: vuln-scan (trivy, with findings), sbom (syft), e2e (playwright),
// anything else (ctest).
json named_gate(const std::string& name,
                const std::string& repository,
                const std::string& digest,
                TimeNs now);

struct EvidenceOptions {
  std::string repository = k_repo;
  // 0: now.
  TimeNs now = 0;
  std::vector<std::string> gates = {"vuln-scan", "sbom", "e2e"};
};

// Evidence that passes strict_policy() for `digest`, pushed an hour before `now`: 2 platforms, 2
// mirrors, the gates (each with an artifact), a cosign signature and an SLSA v1 attestation.
json complete_evidence(const Signer& signer,
                       const std::string& digest,
                       const EvidenceOptions& options);
json complete_evidence(const Signer& signer,
                       const std::string& digest,
                       const std::string& repository = k_repo);

// A later record of the same digest with only gate results (a scan or test job).
json gate_evidence(const std::string& digest,
                   const std::string& repository,
                   const std::vector<std::string>& gates,
                   TimeNs now);

} // namespace dg::test
