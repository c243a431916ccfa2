// A reason a promotion is refused.
#pragma once

#include <string>
#include <vector>

namespace dg::policy {

// Reason codes: the stable strings of the product contract.
namespace reason {
inline constexpr const char* malformed_reference = "malformed-reference";
inline constexpr const char* mutable_reference = "mutable-reference";
inline constexpr const char* unsupported_digest_algorithm = "unsupported-digest-algorithm";
inline constexpr const char* unknown_digest = "unknown-digest";
inline constexpr const char* repository_mismatch = "repository-mismatch";
inline constexpr const char* repository_not_allowed = "repository-not-allowed";
inline constexpr const char* unknown_environment = "unknown-environment";
inline constexpr const char* revoked = "revoked";
inline constexpr const char* gate_missing = "gate-missing";
inline constexpr const char* gate_failed = "gate-failed";
inline constexpr const char* findings_over_threshold = "findings-over-threshold";
inline constexpr const char* scan_not_digest_bound = "scan-not-digest-bound";
inline constexpr const char* artifact_not_fresh = "artifact-not-fresh";
inline constexpr const char* registry_parity_mismatch = "registry-parity-mismatch";
inline constexpr const char* platform_missing = "platform-missing";
inline constexpr const char* evidence_incomplete = "evidence-incomplete";
inline constexpr const char* revision_mismatch = "revision-mismatch";
inline constexpr const char* signature_missing = "signature-missing";
inline constexpr const char* signature_invalid = "signature-invalid";
inline constexpr const char* provenance_missing = "provenance-missing";
inline constexpr const char* provenance_invalid = "provenance-invalid";
inline constexpr const char* provenance_mismatch = "provenance-mismatch";
inline constexpr const char* source_ref_not_allowed = "source-ref-not-allowed";
inline constexpr const char* base_image_not_pinned = "base-image-not-pinned";
inline constexpr const char* stage_order = "stage-order";
inline constexpr const char* evidence_stale = "evidence-stale";
inline constexpr const char* ledger_integrity = "ledger-integrity";
inline constexpr const char* identity_mismatch = "identity-mismatch";
// Admission only: the environment never approved the digest for its repository, or rolled back
// from it.
inline constexpr const char* not_approved = "not-approved";
inline constexpr const char* registry_not_observed = "registry-not-observed";
} // namespace reason

struct Reason {
  std::string code;
  std::string message;
  std::string gate;      // the gate or policy field the reason concerns; may be empty
  std::string reference; // the reference it concerns (set for bundles)
};

using Reasons = std::vector<Reason>;

} // namespace dg::policy
