// The evidence the benchmarks record and the policy they promote under: the shared builders of
// tests/support/evidence.hpp with a fourth gate, "unit-tests".
#pragma once

#include "tests/support/evidence.hpp"

#include <string>
#include <vector>

namespace dg::bench {

using test::digest_of;
using test::dsse_pae;
using test::gate_evidence;
inline constexpr const char* k_repository = test::k_repo;

inline std::vector<std::string> bench_gates() {
  return {"vuln-scan", "sbom", "e2e", "unit-tests"};
}

// A complete record for `digest` in `repository`, pushed an hour before `now`, that passes
// bench_policy() in "staging": 2 platforms, 2 mirrors, gates vuln-scan, sbom, e2e and
// unit-tests (each with an artifact), a cosign signature and an SLSA v1 provenance attestation.
inline test::json complete_evidence(const test::Signer& signer,
                                    const std::string& digest,
                                    const std::string& repository,
                                    TimeNs now) {
  test::EvidenceOptions options;
  options.repository = repository;
  options.now = now;
  options.gates = bench_gates();
  return test::complete_evidence(signer, digest, options);
}

// "staging" requires everything the contract knows; "production" adds stage order after staging.
inline test::json bench_policy(const std::string& signer_pem) {
  test::PolicyOptions options;
  options.gates = bench_gates();
  return test::strict_policy_with(signer_pem, options);
}

} // namespace dg::bench
