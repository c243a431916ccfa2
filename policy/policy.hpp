// The policy file: trusted keys and per-environment requirements. Parsing is strict: an unknown
// field, an unknown key name, a bad glob or a bad duration is refused with a message that names
// its place (e.g. "environments.production.max_findings.critical: must be a non-negative
// integer"). See docs/policy.md.
#pragma once

#include "policy/attestation.hpp"
#include "policy/sigstore_policy.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dg::policy {

struct EnvironmentPolicy {
  std::string name;
  std::vector<std::string> after;
  std::vector<std::string> repositories; // globs; empty: any repository
  std::vector<std::string> require_gates;
  std::map<std::string, std::int64_t> max_findings; // severity -> maximum
  bool require_registry_parity = false;
  bool require_complete_evidence = true;
  std::vector<std::string> require_platforms;
  std::optional<SignatureRequirement> require_signature;
  std::optional<ProvenanceRequirement> require_provenance;
  std::vector<std::string> source_refs; // globs; empty: any
  bool stable_semver_only = false;
  bool require_pinned_base_image = false;
  std::optional<std::int64_t> max_evidence_age_ns;
  // require_observation.max_age: the newest observation must be younger than this.
  std::optional<std::int64_t> require_observation_max_age_ns;
};

struct Policy {
  std::vector<TrustedKey> trusted_keys;
  SigstoreTrusts trusted_roots; // "trusted_roots", by name
  std::map<std::string, EnvironmentPolicy> environments;
  nlohmann::json document; // the parsed file
  std::string sha256;      // hex SHA-256 of the file's bytes

  const EnvironmentPolicy* environment(const std::string& name) const;
  // The trusted keys named in `names`.
  std::vector<TrustedKey> keys(const std::vector<std::string>& names) const;
};

// Reads a trust root's file named in "trusted_roots" (relative to the policy file).
using TrustRootLoader = std::function<Result<std::string>(const std::string& file)>;

// Parse a policy file's bytes; `load` reads the trust roots it names (without one, a policy that
// names trust roots is refused).
Result<Policy> parse_policy(std::string_view text, const TrustRootLoader& load = {});

} // namespace dg::policy
