// The decision engine: judges one reference against an environment's policy and everything the
// ledger holds for its digest, and returns every reason that fails (empty: approved). Pure: the
// caller gathers the facts; nothing here touches the ledger or the network.
#pragma once

#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "policy/reason.hpp"
#include "policy/reference.hpp"
#include "util/time.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dg::policy {

// A reference to promote and what the ledger knows about it.
struct Candidate {
  std::string input; // the reference as given
  Result<Reference> reference = Error{Errc::invalid_argument, "not parsed"};
  std::optional<Facts> facts;           // nullopt: the digest was never recorded
  std::optional<std::string> revoked;   // the revocation reason, when revoked
  std::vector<std::string> tag_digests; // for a mutable reference: digests ledgered under its tag
};

struct EvaluationOptions {
  TimeNs now = 0;
  bool skip_stage_order = false;  // rollback targets are exempt from `after`
  bool skip_evidence_age = false; // ... and from `max_evidence_age`
};

// True if `digest` was approved in `environment`.
using ApprovedIn = std::function<bool(const std::string& environment, const std::string& digest)>;

// Parse `input` into a Candidate's reference; returns the reasons the reference itself fails
// (malformed-reference, mutable-reference, unsupported-digest-algorithm), empty for a sha256
// digest reference.
Reasons reference_reasons(const Candidate& candidate);

// Every reason `candidate` fails in `environment` under `policy`.
Reasons evaluate(const Policy& policy,
                 const std::string& environment,
                 const Candidate& candidate,
                 const ApprovedIn& approved_in,
                 const EvaluationOptions& options);

// Supplies evaluate_timeless_evidence(policy, env, facts) for the policy and facts of one
// evaluation, e.g. from a cache. It must return exactly what that function returns.
using TimelessEvidence = std::function<Reasons(const EnvironmentPolicy& env, const Facts& facts)>;

// The same as evaluate above, but the digest's facts are `facts` (nullptr: never recorded;
// `candidate.facts` is ignored), so that they need not be copied into the candidate, and the
// evidence's timeless reasons come from `timeless`. Everything that depends on the time
// (options.now) is still judged here.
Reasons evaluate(const Policy& policy,
                 const std::string& environment,
                 const Candidate& candidate,
                 const Facts* facts,
                 const ApprovedIn& approved_in,
                 const EvaluationOptions& options,
                 const TimelessEvidence& timeless);

// Reasons of the evidence alone against one environment's requirements (no reference, stage or
// revocation checks). Used by evaluate and by what-if reports. The timeless reasons followed by
// the evidence-age reasons, in that order.
Reasons evaluate_evidence(const Policy& policy,
                          const EnvironmentPolicy& env,
                          const Facts& facts,
                          const EvaluationOptions& options);

// The reasons of evaluate_evidence that do not depend on the time: a pure function of the policy
// (its trusted keys included), the environment and the facts, so its result may be cached for as
// long as those three are unchanged. Verifies the signatures and attestations.
Reasons
evaluate_timeless_evidence(const Policy& policy, const EnvironmentPolicy& env, const Facts& facts);

// The reasons of evaluate_evidence that depend on the time: evidence-stale under
// max_evidence_age, judged at options.now (none when options.skip_evidence_age), and under
// require_observation, registry-not-observed (no observation, one older than max_age, or a
// registry that did not answer) and registry-parity-mismatch (a registry lacks the digest or
// serves other platform digests than recorded), from the newest ledgered observation.
Reasons evaluate_evidence_age(const Policy& policy,
                              const EnvironmentPolicy& env,
                              const Facts& facts,
                              const EvaluationOptions& options);

} // namespace dg::policy
