// POST /v1/environments/{env}/rollback: roll a repository of an environment back to its last
// known-good digest (or to a digest approved there before), re-gated by the current policy.
#include "daemon/core.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

using nlohmann::json;

namespace {

struct Outcome {
  int status = 0; // of a refusal without an entry
  std::string error_code;
  std::string error;
  std::string repository;
  std::string from;
  std::string target;
  policy::Reasons reasons;
  Verdict verdict;

  std::nullopt_t fail(int code, const char* error_code_, std::string message) {
    status = code;
    error_code = error_code_;
    error = std::move(message);
    return std::nullopt;
  }
};

// The repository to roll back in `slots` and its current slot; fails `out` when there is none.
const ledger::Slot* current_slot(const std::vector<ledger::Slot>& slots,
                                 const std::string& env,
                                 const RollbackRequest& req,
                                 Outcome& out) {
  std::string repo = req.repository;
  if (repo.empty()) {
    if (slots.size() != 1) {
      out.fail(400, "bad-request",
               "repository is required: " + env + " holds " + std::to_string(slots.size()) +
                   " repositories");
      return nullptr;
    }
    repo = slots[0].repository;
  }
  for (const auto& s : slots) {
    if (s.repository == repo) {
      return &s;
    }
  }
  out.fail(409, "no-known-good",
           "nothing of " + repo + " is current in " + env + "; nothing to roll back");
  return nullptr;
}

// The digest to roll back to: `req.to`, approved there before, or the last known-good digest.
std::optional<std::string> choose_target(ledger::View& view,
                                         const std::string& env,
                                         const std::string& repo,
                                         const RollbackRequest& req,
                                         Outcome& out) {
  if (req.to.empty()) {
    auto lkg = last_known_good(view, env, repo);
    if (!lkg) {
      return out.fail(409, "no-known-good",
                      "no known-good digest of " + repo + " in " + env +
                          " to roll back to (none approved before the current one that is not "
                          "revoked, not rolled back from, and reported healthy)");
    }
    return lkg->digest;
  }
  if (req.to == out.from) {
    return out.fail(409, "no-known-good", req.to + " is already current in " + env);
  }
  for (const auto& a : view.approvals(env, repo)) {
    if (a.digest == req.to) {
      return req.to;
    }
  }
  return out.fail(409, "no-known-good", req.to + " was never approved for " + repo + " in " + env);
}

// Judge the target of `out` in `env`: the current policy, except stage order and evidence age.
void judge_target(ledger::View& view,
                  FactsCache& cache,
                  const std::shared_ptr<const policy::Policy>& pol,
                  const std::string& env,
                  const RollbackRequest& req,
                  Outcome& out) {
  auto pinned = pinned_candidate(view, cache, out.repository, out.target);
  auto approved_in = [&](const std::string& e, const std::string& d) {
    return view.approved_in(e, d);
  };
  policy::EvaluationOptions options;
  options.now = now_ns();
  options.skip_stage_order = true;
  options.skip_evidence_age = true;
  out.reasons = evaluate_cached(pol, env, pinned.candidate, pinned.facts, approved_in, options);
  for (auto& r : out.reasons) {
    r.reference = pinned.candidate.input;
  }
  out.verdict = decide(out.reasons, overridable(out.reasons), req.break_glass.has_value());
}

json rollback_entry(const std::string& env,
                    const RollbackRequest& req,
                    const Outcome& out,
                    const std::string& policy_sha256) {
  json body{{"environment", env},
            {"repository", out.repository},
            {"from_digest", out.from},
            {"digest", out.target},
            {"reference", out.repository + "@" + out.target},
            {"reason", req.reason},
            {"decision", out.verdict.approved ? "approved" : "refused"},
            {"policy_sha256", policy_sha256},
            {"reasons", reasons_json(out.reasons)}};
  if (req.break_glass) {
    body["break_glass"] =
        json{{"reason", *req.break_glass}, {"used", out.verdict.break_glass_used}};
  }
  return body;
}

json rollback_answer(const ledger::Committed& c,
                     const std::string& env,
                     const RollbackRequest& req,
                     const Outcome& out,
                     const std::string& policy_sha256) {
  json body{{"decision", out.verdict.approved ? "approved" : "refused"},
            {"seq", c.entry.seq},
            {"environment", env},
            {"repository", out.repository},
            {"digest", out.target},
            {"reference", out.repository + "@" + out.target},
            {"previous_digest", out.from},
            {"policy_sha256", policy_sha256},
            {"checkpoint", c.checkpoint}};
  if (out.verdict.approved && req.break_glass) {
    body["break_glass"] = break_glass_json(*req.break_glass, out.verdict, out.reasons);
  }
  if (!out.verdict.approved) {
    body["reasons"] = reasons_json(out.reasons);
  }
  body["entry"] = entry_json(c.entry);
  return body;
}

} // namespace

void post_rollback(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_rollback_request);
  if (!req) {
    return;
  }
  const std::string env = ctx->arg("env");
  auto pol = core.policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }
  if (pol->environment(env) == nullptr) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy");
    return;
  }
  auto out = std::make_shared<Outcome>();
  std::string actor = ctx->principal->name;
  FactsCache* cache = &core.facts_cache;
  RollbackRequest r = *req;
  auto step = [=](ledger::View& view) -> std::optional<ledger::Draft> {
    auto slots = view.slots(env);
    const ledger::Slot* current = current_slot(slots, env, r, *out);
    if (current == nullptr) {
      return std::nullopt;
    }
    out->repository = current->repository;
    out->from = current->digest;
    auto target = choose_target(view, env, out->repository, r, *out);
    if (!target) {
      return std::nullopt;
    }
    out->target = *target;
    judge_target(view, *cache, pol, env, r, *out);
    return ledger::Draft{ledger::k_rollback, actor, rollback_entry(env, r, *out, pol->sha256)};
  };
  auto committed = [&core, ctx, out, env, r, pol](const ledger::Committed& c) {
    core.metrics.decision("rollback", out->verdict.approved ? "approved" : "refused");
    for (const auto& reason : out->reasons) {
      core.metrics.reason(reason.code);
    }
    ctx->reply(out->verdict.approved ? 200 : 403, rollback_answer(c, env, r, *out, pol->sha256));
  };
  auto refused = [ctx, out] { ctx->error(out->status, out->error_code, out->error); };
  core.submit(ctx, step, committed, refused);
}

} // namespace dg::daemon
