// The one place where the daemon judges digests: the candidates of a promotion (or of a rollback,
// or of a what-if report), their evaluation against the policy with the facts cache, the last
// known-good digest of an environment, and the rule of break glass.
//
// Break glass: a request that asks for it (an operator's `break_glass: {"reason"}`) is approved
// despite failing reasons when every one of them may be overridden (`overridable`); `used` is true
// exactly when the approval happened only because of break glass (there were failing reasons and
// it was approved). Promotions and rollbacks both decide through `decide()`.
//
// Thread-safety: the functions are pure over their arguments; InputLookups and DryRunAnswer are
// immutable once made.
#pragma once

#include "daemon/facts_cache.hpp"
#include "daemon/requests.hpp"
#include "ledger/ledger.hpp"
#include "policy/decision.hpp"
#include "policy/policy.hpp"
#include "util/time.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dg::daemon {

// What one input of a promotion is and what the ledger said about it at one snapshot: every answer
// its evaluation needs from the ledger. Immutable once made.
struct InputLookups {
  struct Approved {
    std::string environment;
    std::string digest;
    bool approved = false;
  };
  policy::Candidate candidate; // input, reference, tag_digests, revoked; never facts
  // The digest's facts, when it is a sha256 digest reference. Not owned: the facts cache alone
  // bounds how many facts are held, so remembered lookups whose facts it dropped are unusable.
  bool has_facts = false;
  std::weak_ptr<const CachedFacts> facts;
  nlohmann::json previous = nullptr;
  std::vector<Approved> approved; // the approved_in questions asked, with their answers

  // Bytes held, roughly, for SnapshotMemo's bound.
  std::size_t bytes() const;
};

// A dry run's answer and what it was made of besides its request.
struct DryRunAnswer {
  std::string policy_sha256;
  std::vector<policy::Reasons> reasons; // per input
  std::vector<nlohmann::json> previous; // per input
  bool approved = false;
  std::string body;

  // Bytes held, roughly, for SnapshotMemo's bound.
  std::size_t bytes() const;
};

// The evaluation of a promotion's inputs, in order.
struct Evaluation {
  std::vector<policy::Candidate> candidates;
  std::vector<policy::Reasons> reasons; // per candidate
  std::vector<nlohmann::json> previous; // per candidate: previous digest or null
  bool overridable = true;              // false when a reason is one break glass cannot override
  policy::Reasons all() const;
};

// The outcome of a judged request under the break-glass rule.
struct Verdict {
  bool approved = false;
  bool break_glass_used = false; // approved only because of break glass
};

// True if break glass may override a failing reason of code `code`.
bool overridable(const std::string& code);
bool overridable(const policy::Reasons& reasons);

// Approve when nothing fails, or when break glass was asked and every failing reason may be
// overridden.
Verdict decide(const policy::Reasons& reasons, bool reasons_overridable, bool break_glass_asked);

// The `break_glass` object of an answer: {"reason", "used", "overridden"}.
nlohmann::json
break_glass_json(const std::string& reason, const Verdict& verdict, const policy::Reasons& reasons);

// Every reason `candidate` fails in `environment` under `pol`, with the digest's facts and the
// timeless evidence reasons taken from the cache: the same reasons as policy::evaluate with the
// facts of load_facts.
policy::Reasons evaluate_cached(const std::shared_ptr<const policy::Policy>& pol,
                                const std::string& environment,
                                const policy::Candidate& candidate,
                                const std::shared_ptr<const CachedFacts>& cached,
                                const policy::ApprovedIn& approved_in,
                                const policy::EvaluationOptions& options);

// A candidate for `repository`@`digest` as the ledger of `view` knows it (its revocation), and its
// digest's cached facts.
struct PinnedCandidate {
  policy::Candidate candidate;
  std::shared_ptr<const CachedFacts> facts;
};
PinnedCandidate pinned_candidate(ledger::View& view,
                                 FactsCache& cache,
                                 const std::string& repository,
                                 const std::string& digest);

// Evaluate `req` on `view`. When `looked_up` is given, it receives what the ledger answered for
// each input, approved_in questions included, for evaluate_remembered.
Evaluation
evaluate_promotion(ledger::View& view,
                   FactsCache& cache,
                   const std::shared_ptr<const policy::Policy>& pol,
                   const PromotionRequest& req,
                   const ledger::Integrity& integrity,
                   TimeNs now,
                   std::vector<std::shared_ptr<const InputLookups>>* looked_up = nullptr);

// Evaluate `req` from what the ledger answered earlier (`looked_up`, one per input); nullopt if
// the evaluation asks a question that was not asked then (the policy changed, say), or if the facts
// cache has dropped a digest's facts since.
std::optional<Evaluation>
evaluate_remembered(const std::vector<std::shared_ptr<const InputLookups>>& looked_up,
                    const std::shared_ptr<const policy::Policy>& pol,
                    const PromotionRequest& req,
                    const ledger::Integrity& integrity,
                    TimeNs now);

// The last known-good digest of (`env`, `repository`): the newest digest approved there before
// the current one that is not revoked, was never rolled back from there, and — once any
// deployment has been reported there — was reported succeeded without drift.
std::optional<ledger::Approval>
last_known_good(ledger::View& view, const std::string& env, const std::string& repository);

} // namespace dg::daemon
