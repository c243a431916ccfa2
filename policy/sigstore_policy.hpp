// Keyless signatures in the policy: the trust roots loaded with it ("trusted_roots"), what each
// recorded Sigstore bundle proves about a digest, and the identities of "require_signature" and
// "require_provenance". See docs/policy.md and docs/sigstore.md.
//
// A SigstoreTrust remembers every verification made with it, so a bundle is verified once per
// loaded trust root (a reloaded policy loads new ones). All functions are thread-safe.
#pragma once

#include "policy/attestation.hpp"
#include "policy/reason.hpp"
#include "policy/sigstore.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dg::policy {

// A trust root of the policy under its name, with the memo of its verifications.
class SigstoreTrust {
public:
  SigstoreTrust(std::string name, sigstore::TrustedRoot root, std::string sha256);

  const std::string& name() const { return m_name; }
  // Hex SHA-256 of the trusted_root.json bytes.
  const std::string& sha256() const { return m_sha256; }
  const sigstore::TrustedRoot& root() const { return m_root; }

  // sigstore::verify_bundle, remembered under `key` (which must name the bundle and the artifact
  // exactly); at most k_memo_size verifications are kept.
  sigstore::Verification verify(const std::string& key,
                                const sigstore::Bundle& bundle,
                                const sigstore::Artifact& artifact) const;

  static constexpr std::size_t k_memo_size = 4096;

private:
  std::string m_name;
  sigstore::TrustedRoot m_root;
  std::string m_sha256;
  mutable std::mutex m_mutex;
  mutable std::unordered_map<std::string, sigstore::Verification> m_memo;
};

using SigstoreTrusts = std::map<std::string, std::shared_ptr<const SigstoreTrust>>;

// What one recorded bundle ({"bundle": {...}, "payload": base64}) proves about a digest.
struct BundleFinding {
  bool dsse = false;
  // The item or its bundle does not parse, or its payload or statement does not name this digest
  // (then no verification is attempted); empty otherwise.
  std::string error;
  // For a DSSE bundle, its in-toto statement's facts (predicate, builder, source).
  ProvenanceFinding statement;
  // A DSSE bundle whose predicate is SLSA provenance v1 or v0.2.
  bool provenance = false;
  // The verification under each trust root of the policy, by name.
  std::map<std::string, sigstore::Verification> by_root;

  // The trust root the bundle verified under first (by name), or the first one when none.
  const sigstore::Verification* shown(std::string* root_name = nullptr) const;
};

// Check the record's bundle item `item` against every trust root for `digest` in `repository`.
BundleFinding check_bundle(const nlohmann::json& item,
                           const SigstoreTrusts& trusts,
                           std::string_view digest,
                           std::string_view repository);

// The bundle as GET /v1/digests/{digest} shows it: {"kind", "verified", "trusted_root",
// "identity", "issuer", "log_index", "integrated_time", "predicate_type", "error", ...}.
nlohmann::json bundle_json(const BundleFinding& finding);

// "require_signature": met by a signature verified with a listed key (evaluate_signatures) or a
// bundle that verified under an identity's trust root from an allowed identity. With no
// identities, exactly evaluate_signatures. Otherwise, when unmet: signature-missing when nothing
// was recorded, identity-mismatch when a bundle verified from another identity (naming the
// identities found and allowed), else signature-invalid naming each failure.
Reasons evaluate_signature_requirement(const SignatureRequirement& requirement,
                                       const std::vector<SignatureFinding>& signatures,
                                       const std::vector<BundleFinding>& bundles);

// "require_provenance": as evaluate_provenance, where a SLSA bundle that verified from an allowed
// identity counts like an attestation verified with a listed key. identity-mismatch replaces
// provenance-missing/-invalid when a SLSA bundle verified from an identity not allowed.
Reasons evaluate_provenance_requirement(const ProvenanceRequirement& requirement,
                                        const std::vector<ProvenanceFinding>& attestations,
                                        const std::vector<BundleFinding>& bundles,
                                        std::string_view recorded_commit,
                                        std::string_view recorded_builder_id);

} // namespace dg::policy
