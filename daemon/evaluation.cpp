#include "daemon/evaluation.hpp"

#include "daemon/render.hpp"
#include "policy/reference.hpp"

#include <set>

namespace dg::daemon {

using nlohmann::json;
using policy::Candidate;
using policy::Reason;
using policy::Reasons;

std::size_t InputLookups::bytes() const {
  std::size_t n = sizeof(*this) + 2 * candidate.input.size() +
                  candidate.revoked.value_or(std::string()).size() + 80;
  for (const auto& d : candidate.tag_digests) {
    n += d.size() + 32;
  }
  for (const auto& a : approved) {
    n += sizeof(a) + a.environment.size() + a.digest.size();
  }
  return n;
}

std::size_t DryRunAnswer::bytes() const {
  std::size_t n = sizeof(*this) + policy_sha256.size() + body.size() + 80 * previous.size();
  for (const auto& list : reasons) {
    for (const auto& r : list) {
      n += sizeof(r) + r.code.size() + r.message.size() + r.gate.size() + r.reference.size();
    }
  }
  return n;
}

Reasons Evaluation::all() const {
  Reasons out;
  for (const auto& r : reasons) {
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

bool overridable(const std::string& code) {
  return code != policy::reason::malformed_reference && code != policy::reason::mutable_reference &&
         code != policy::reason::unsupported_digest_algorithm &&
         code != policy::reason::ledger_integrity && code != policy::reason::revoked;
}

bool overridable(const Reasons& reasons) {
  for (const auto& r : reasons) {
    if (!overridable(r.code)) {
      return false;
    }
  }
  return true;
}

Verdict decide(const Reasons& reasons, bool reasons_overridable, bool break_glass_asked) {
  Verdict v;
  v.approved = reasons.empty() || (break_glass_asked && reasons_overridable);
  v.break_glass_used = v.approved && !reasons.empty();
  return v;
}

json break_glass_json(const std::string& reason, const Verdict& verdict, const Reasons& reasons) {
  return json{{"reason", reason},
              {"used", verdict.break_glass_used},
              {"overridden", verdict.break_glass_used ? reasons_json(reasons) : json::array()}};
}

Reasons evaluate_cached(const std::shared_ptr<const policy::Policy>& pol,
                        const std::string& environment,
                        const Candidate& candidate,
                        const std::shared_ptr<const CachedFacts>& cached,
                        const policy::ApprovedIn& approved_in,
                        const policy::EvaluationOptions& options) {
  const policy::Facts* facts = cached ? cached->facts().get() : nullptr;
  return policy::evaluate(*pol, environment, candidate, facts, approved_in, options,
                          [&](const policy::EnvironmentPolicy& env, const policy::Facts&) {
                            return cached->timeless_evidence(pol, env);
                          });
}

PinnedCandidate pinned_candidate(ledger::View& view,
                                 FactsCache& cache,
                                 const std::string& repository,
                                 const std::string& digest) {
  PinnedCandidate out;
  out.candidate.input = repository + "@" + digest;
  out.candidate.reference = policy::parse_reference(out.candidate.input);
  out.facts = cache.get(view, digest);
  if (auto rev = view.revocation(digest)) {
    out.candidate.revoked = rev->reason;
  }
  return out;
}

namespace {

// Judge the input `lookups` describes, whose digest's facts are `facts`, asking `approved_in`
// whether it was approved in the environments that come before, and add it to `ev`.
void judge(Evaluation& ev,
           const InputLookups& lookups,
           const std::shared_ptr<const CachedFacts>& facts,
           const std::shared_ptr<const policy::Policy>& pol,
           const PromotionRequest& req,
           const policy::ApprovedIn& approved_in,
           const ledger::Integrity& integrity,
           TimeNs now) {
  Candidate c = lookups.candidate;
  policy::EvaluationOptions options;
  options.now = now;
  Reasons reasons = evaluate_cached(pol, req.environment, c, facts, approved_in, options);
  if (!integrity.ok) {
    reasons.push_back(Reason{policy::reason::ledger_integrity,
                             "the ledger failed its integrity check: " + integrity.message,
                             {},
                             {}});
  }
  std::string label = c.reference && !c.reference->digest.empty() ? c.reference->pinned() : c.input;
  for (auto& r : reasons) {
    r.reference = label;
  }
  ev.overridable = ev.overridable && overridable(reasons);
  ev.candidates.push_back(std::move(c));
  ev.reasons.push_back(std::move(reasons));
  ev.previous.push_back(lookups.previous);
}

// What the ledger of `view` says about `input` for a promotion among `slots`.
std::shared_ptr<InputLookups> look_up(ledger::View& view,
                                      FactsCache& cache,
                                      const std::vector<ledger::Slot>& slots,
                                      const std::string& input,
                                      std::shared_ptr<const CachedFacts>& facts) {
  auto lookups = std::make_shared<InputLookups>();
  Candidate& c = lookups->candidate;
  c.input = input;
  c.reference = policy::parse_reference(input);
  if (!c.reference) {
    return lookups;
  }
  const auto& ref = *c.reference;
  if (ref.digest.empty()) {
    c.tag_digests = view.tag_digests(ref.name(), ref.familiar_tag());
  } else if (policy::is_sha256_digest(ref.digest)) {
    facts = cache.get(view, ref.digest);
    lookups->has_facts = true;
    lookups->facts = facts;
    if (auto rev = view.revocation(ref.digest)) {
      c.revoked = rev->reason;
    }
  }
  for (const auto& s : slots) {
    if (s.repository == ref.name()) {
      lookups->previous = s.digest;
    }
  }
  return lookups;
}

} // namespace

Evaluation evaluate_promotion(ledger::View& view,
                              FactsCache& cache,
                              const std::shared_ptr<const policy::Policy>& pol,
                              const PromotionRequest& req,
                              const ledger::Integrity& integrity,
                              TimeNs now,
                              std::vector<std::shared_ptr<const InputLookups>>* looked_up) {
  Evaluation ev;
  auto slots = view.slots(req.environment);
  for (const auto& input : req.inputs) {
    std::shared_ptr<const CachedFacts> facts;
    auto lookups = look_up(view, cache, slots, input, facts);
    auto approved_in = [&](const std::string& env, const std::string& digest) {
      bool approved = view.approved_in(env, digest);
      lookups->approved.push_back({env, digest, approved});
      return approved;
    };
    judge(ev, *lookups, facts, pol, req, approved_in, integrity, now);
    if (looked_up != nullptr) {
      looked_up->push_back(std::move(lookups));
    }
  }
  return ev;
}

std::optional<Evaluation>
evaluate_remembered(const std::vector<std::shared_ptr<const InputLookups>>& looked_up,
                    const std::shared_ptr<const policy::Policy>& pol,
                    const PromotionRequest& req,
                    const ledger::Integrity& integrity,
                    TimeNs now) {
  Evaluation ev;
  bool unanswered = false;
  for (const auto& lookups : looked_up) {
    std::shared_ptr<const CachedFacts> facts = lookups->facts.lock();
    if (lookups->has_facts && !facts) {
      return std::nullopt;
    }
    auto approved_in = [&](const std::string& env, const std::string& digest) {
      for (const auto& a : lookups->approved) {
        if (a.environment == env && a.digest == digest) {
          return a.approved;
        }
      }
      unanswered = true;
      return false;
    };
    judge(ev, *lookups, facts, pol, req, approved_in, integrity, now);
  }
  if (unanswered) {
    return std::nullopt;
  }
  return ev;
}

std::optional<ledger::Approval>
last_known_good(ledger::View& view, const std::string& env, const std::string& repository) {
  const ledger::Slot* current = nullptr;
  auto slots = view.slots(env);
  for (const auto& s : slots) {
    if (s.repository == repository) {
      current = &s;
    }
  }
  if (current == nullptr) {
    return std::nullopt;
  }
  auto deployments = view.deployments(env, repository);
  std::set<std::string> good;
  for (const auto& d : deployments) {
    if (d.status == "succeeded" && !d.drift) {
      good.insert(d.digest);
    }
  }
  for (const auto& a : view.approvals(env, repository)) {
    if (a.seq >= current->seq || a.digest == current->digest) {
      continue;
    }
    if (view.revocation(a.digest) || view.rolled_back_from(env, repository, a.digest)) {
      continue;
    }
    if (!deployments.empty() && !good.count(a.digest)) {
      continue;
    }
    return a;
  }
  return std::nullopt;
}

} // namespace dg::daemon
