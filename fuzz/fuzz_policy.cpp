// Policy files: the input is a policy for parse_policy. A policy that parses judges fixed
// candidates (the example evidence with a signature and a provenance attestation, pinned, revoked,
// by tag, malformed) in each of its environments and in one it does not have.
#include "fuzz/fixtures.hpp"

#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "policy/reason.hpp"
#include "policy/reference.hpp"
#include "util/crypto.hpp"
#include "util/time.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace reason = dg::policy::reason;
using dg::policy::Candidate;

const std::set<std::string>& known_codes() {
  static const std::set<std::string> codes = {
      reason::malformed_reference,
      reason::mutable_reference,
      reason::unsupported_digest_algorithm,
      reason::unknown_digest,
      reason::repository_mismatch,
      reason::repository_not_allowed,
      reason::unknown_environment,
      reason::revoked,
      reason::gate_missing,
      reason::gate_failed,
      reason::findings_over_threshold,
      reason::scan_not_digest_bound,
      reason::artifact_not_fresh,
      reason::registry_parity_mismatch,
      reason::platform_missing,
      reason::evidence_incomplete,
      reason::revision_mismatch,
      reason::signature_missing,
      reason::signature_invalid,
      reason::provenance_missing,
      reason::provenance_invalid,
      reason::provenance_mismatch,
      reason::source_ref_not_allowed,
      reason::base_image_not_pinned,
      reason::stage_order,
      reason::evidence_stale,
      reason::ledger_integrity,
  };
  return codes;
}

Candidate candidate(const std::string& input) {
  Candidate c;
  c.input = input;
  c.reference = dg::policy::parse_reference(input);
  return c;
}

std::vector<Candidate> make_candidates() {
  auto record = dg::policy::parse_record(dg::fuzz::evidence());
  DG_FUZZ_CHECK(record.ok(), "the fixed evidence is a valid record");
  dg::policy::Facts facts;
  DG_FUZZ_CHECK(dg::policy::merge_record(facts, *record, 2).ok(), "the fixed evidence merges");

  std::string pinned = std::string(dg::fuzz::k_repository) + "@" + dg::fuzz::k_digest;
  std::vector<Candidate> out;
  out.push_back(candidate(pinned));
  out.back().facts = facts;

  out.push_back(candidate(pinned));
  out.back().facts = facts;
  out.back().revoked = "a critical vulnerability";

  out.push_back(candidate("docker.io/acme/app@" + std::string(dg::fuzz::k_digest)));
  out.back().facts = facts;

  out.push_back(candidate(std::string(dg::fuzz::k_repository) + ":v1.4.2"));
  out.back().tag_digests = {dg::fuzz::k_digest};

  out.push_back(candidate("ghcr.io/acme/app@sha256:" + std::string(64, '0')));

  out.push_back(candidate("Not A Reference!"));
  return out;
}

bool has_code(const dg::policy::Reasons& reasons, const char* code) {
  for (const auto& r : reasons) {
    if (r.code == code) {
      return true;
    }
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<Candidate> candidates = make_candidates();
  static const dg::TimeNs now = *dg::parse_rfc3339(dg::fuzz::k_now);

  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = dg::policy::parse_policy(text);
  if (!policy) {
    return 0;
  }
  DG_FUZZ_CHECK(policy->sha256 == dg::to_hex(dg::sha256(text)),
                "a policy's sha256 is that of its bytes");

  // Judging is linear in the environments; a few suffice, and large policies (regression inputs)
  // then cost only their parsing.
  constexpr std::size_t k_judged_environments = 32;
  std::vector<std::string> environments;
  for (const auto& [name, env] : policy->environments) {
    DG_FUZZ_CHECK(env.name == name, "an environment knows its name");
    DG_FUZZ_CHECK(policy->environment(name) == &env, "environment() finds every environment");
    if (environments.size() < k_judged_environments) {
      environments.push_back(name);
    }
  }
  environments.push_back("no-such-environment-in-this-policy");

  auto approved_in = [](const std::string& env, const std::string& digest) {
    return env == "staging" && digest == dg::fuzz::k_digest;
  };
  for (const auto& env : environments) {
    bool known = policy->environment(env) != nullptr;
    for (const auto& c : candidates) {
      for (bool rollback : {false, true}) {
        auto reasons =
            dg::policy::evaluate(*policy, env, c, approved_in, {now, rollback, rollback});
        for (const auto& r : reasons) {
          DG_FUZZ_CHECK(known_codes().count(r.code) == 1, "every reason code is in the contract");
        }
        if (!known) {
          DG_FUZZ_CHECK(has_code(reasons, reason::unknown_environment),
                        "an environment the policy lacks is refused");
        }
        if (!c.reference) {
          DG_FUZZ_CHECK(has_code(reasons, reason::malformed_reference),
                        "a malformed reference is refused");
        } else if (c.reference->is_mutable()) {
          DG_FUZZ_CHECK(has_code(reasons, reason::mutable_reference),
                        "a mutable reference is refused");
        } else if (c.revoked) {
          DG_FUZZ_CHECK(known ? has_code(reasons, reason::revoked) : !reasons.empty(),
                        "a revoked digest is refused");
        } else if (!c.facts) {
          DG_FUZZ_CHECK(!reasons.empty(), "an unknown digest is refused");
        }
      }
    }
  }
  return 0;
}
