// POST /v1/promotions: a promotion of one reference or of a bundle to an environment; a dry run
// is judged on a snapshot (or from the dry-run memos) and appends nothing.
#include "daemon/core.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

using nlohmann::json;
using policy::Candidate;
using policy::Reason;
using policy::Reasons;

namespace {

// The key of a dry run's input in the memo: unambiguous for any environment and input text.
std::string memo_key(const std::string& environment, const std::string& input) {
  return std::to_string(environment.size()) + ":" + environment + input;
}

json promotion_item(const Candidate& c, const json& previous, const std::string& env) {
  json item{{"environment", env}, {"input", c.input}};
  if (c.reference && !c.reference->digest.empty()) {
    item["reference"] = c.reference->pinned();
    item["repository"] = c.reference->name();
    item["digest"] = c.reference->digest;
  } else {
    item["reference"] = c.input;
    item["repository"] = c.reference ? json(c.reference->name()) : json(nullptr);
    item["digest"] = nullptr;
  }
  item["previous_digest"] = previous;
  return item;
}

// The answer to a promotion request: `seq` is null and `checkpoint` empty unless ledgered.
json promotion_answer(const Evaluation& ev,
                      const Verdict& verdict,
                      const json& seq,
                      const std::string& checkpoint,
                      const PromotionRequest& req,
                      const std::string& policy_sha256) {
  const char* decision = verdict.approved ? "approved" : "refused";
  json body{{"decision", decision},
            {"seq", seq},
            {"environment", req.environment},
            {"policy_sha256", policy_sha256},
            {"dry_run", req.dry_run}};
  if (!checkpoint.empty()) {
    body["checkpoint"] = checkpoint;
  }
  json items = json::array();
  for (std::size_t i = 0; i < ev.candidates.size(); ++i) {
    json item = promotion_item(ev.candidates[i], ev.previous[i], req.environment);
    // All or nothing: in a refused bundle no reference is approved, not even one that passed.
    item["decision"] = decision;
    if (!ev.reasons[i].empty()) {
      item["reasons"] = reasons_json(ev.reasons[i]);
    }
    items.push_back(std::move(item));
  }
  if (!req.bundle) {
    for (const char* key : {"digest", "reference", "repository", "previous_digest"}) {
      body[key] = items[0][key];
    }
  } else {
    body["promotions"] = items;
  }
  Reasons all = ev.all();
  if (verdict.approved && req.break_glass) {
    body["break_glass"] = break_glass_json(*req.break_glass, verdict, all);
  }
  if (!verdict.approved) {
    body["reasons"] = reasons_json(all);
  }
  return body;
}

// The body of the promotion entry for `ev`.
json promotion_entry(const Evaluation& ev,
                     const Verdict& verdict,
                     const PromotionRequest& req,
                     const std::string& policy_sha256) {
  json items = json::array();
  for (std::size_t i = 0; i < ev.candidates.size(); ++i) {
    json item = promotion_item(ev.candidates[i], ev.previous[i], req.environment);
    item.erase("environment");
    items.push_back(std::move(item));
  }
  json body{{"environment", req.environment},
            {"decision", verdict.approved ? "approved" : "refused"},
            {"bundle", req.bundle},
            {"policy_sha256", policy_sha256},
            {"promotions", items},
            {"reasons", reasons_json(ev.all())}};
  if (!req.deploy_commit.empty()) {
    body["deploy_commit"] = req.deploy_commit;
  }
  if (req.break_glass) {
    body["break_glass"] = json{{"reason", *req.break_glass}, {"used", verdict.break_glass_used}};
  }
  return body;
}

Verdict verdict_of(const Evaluation& ev, const PromotionRequest& req) {
  return decide(ev.all(), ev.overridable, req.break_glass.has_value());
}

bool same_reasons(const Reasons& a, const Reasons& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Reason& x, const Reason& y) {
    return x.code == y.code && x.message == y.message && x.gate == y.gate &&
           x.reference == y.reference;
  });
}

// True if `answer` was made from an evaluation with the outcome of `ev` under a policy with
// `policy_sha256`: then, for the same request, its text is the answer to `ev`.
bool made_of(const DryRunAnswer& answer,
             const Evaluation& ev,
             bool approved,
             const std::string& policy_sha256) {
  return answer.approved == approved && answer.policy_sha256 == policy_sha256 &&
         answer.previous == ev.previous &&
         std::equal(answer.reasons.begin(), answer.reasons.end(), ev.reasons.begin(),
                    ev.reasons.end(), same_reasons);
}

// Everything of a dry run's request its answer depends on, apart from the evaluation: the
// environment, the inputs in order, bundle or not, and the break glass reason. Unambiguous.
std::string answer_key(const PromotionRequest& req) {
  std::string key = memo_key(req.environment, "");
  key += req.bundle ? 'B' : 'S';
  for (const auto& input : req.inputs) {
    key += memo_key(input, "");
  }
  key += req.break_glass ? memo_key(*req.break_glass, "") : std::string("-");
  return key;
}

// The evaluation of a dry run: from what the ledger answered to the same questions while it has
// not grown, else on a snapshot (remembering what it answered). Answers a failure itself.
std::optional<Evaluation> evaluate_dry_run(Core& core,
                                           const Ctx& ctx,
                                           const PromotionRequest& req,
                                           const std::shared_ptr<const policy::Policy>& pol,
                                           std::int64_t size) {
  auto integrity = core.ledger->integrity();
  std::vector<std::shared_ptr<const InputLookups>> remembered;
  for (const auto& text : req.inputs) {
    auto found = core.dry_runs.find(size, memo_key(req.environment, text));
    if (!found) {
      break;
    }
    remembered.push_back(std::move(found));
  }
  std::optional<Evaluation> ev;
  if (remembered.size() == req.inputs.size()) {
    ev = evaluate_remembered(remembered, pol, req, integrity, now_ns());
  }
  if (ev) {
    ctx->tree_size = size;
    return ev;
  }
  std::vector<std::shared_ptr<const InputLookups>> looked_up;
  bool read = core.read(ctx, [&](ledger::View& view) {
    ev = evaluate_promotion(view, core.facts_cache, pol, req, integrity, now_ns(), &looked_up);
  });
  if (!read) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < looked_up.size(); ++i) {
    std::size_t bytes = looked_up[i]->bytes();
    core.dry_runs.store(*ctx->tree_size, memo_key(req.environment, req.inputs[i]),
                        std::move(looked_up[i]), bytes);
  }
  return ev;
}

void dry_run(Core& core,
             const Ctx& ctx,
             const PromotionRequest& req,
             const std::shared_ptr<const policy::Policy>& pol) {
  std::int64_t size = core.ledger->size();
  auto ev = evaluate_dry_run(core, ctx, req, pol, size);
  if (!ev) {
    return;
  }
  // The answer is a function of the evaluation and the request: when both are what they were
  // for a remembered answer, its text is this answer's text.
  Verdict verdict = verdict_of(*ev, req);
  std::string key = answer_key(req);
  auto answer = core.dry_run_answers.find(size, key);
  if (!answer || !made_of(*answer, *ev, verdict.approved, pol->sha256)) {
    auto made = std::make_shared<DryRunAnswer>();
    made->policy_sha256 = pol->sha256;
    made->reasons = ev->reasons;
    made->previous = ev->previous;
    made->approved = verdict.approved;
    made->body = json_text(promotion_answer(*ev, verdict, nullptr, "", req, pol->sha256));
    core.dry_run_answers.store(size, key, made, made->bytes());
    answer = std::move(made);
  }
  ctx->reply_text(verdict.approved ? 200 : 403, answer->body, "application/json");
}

void answer_promotion(Core& core,
                      const Ctx& ctx,
                      const PromotionRequest& req,
                      const Evaluation& ev,
                      const Verdict& verdict,
                      const json& seq,
                      const std::string& checkpoint,
                      const std::string& policy_sha256) {
  core.metrics.decision("promotion", verdict.approved ? "approved" : "refused");
  for (const auto& r : ev.all()) {
    core.metrics.reason(r.code);
  }
  ctx->reply(verdict.approved ? 200 : 403,
             promotion_answer(ev, verdict, seq, checkpoint, req, policy_sha256));
}

// A promotion while the ledger failed its integrity check: it accepts no entry, so evaluate on a
// snapshot and refuse without a seq.
void refuse_unledgered(Core& core,
                       const Ctx& ctx,
                       const PromotionRequest& req,
                       const std::shared_ptr<const policy::Policy>& pol,
                       const ledger::Integrity& integrity) {
  std::optional<Evaluation> ev;
  bool read = core.read(ctx, [&](ledger::View& view) {
    ev = evaluate_promotion(view, core.facts_cache, pol, req, integrity, now_ns());
  });
  if (read) {
    answer_promotion(core, ctx, req, *ev, Verdict{}, nullptr, "", pol->sha256);
  }
}

} // namespace

void post_promotion(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_promotion_request);
  if (!req) {
    return;
  }
  const Principal& who = *ctx->principal;
  if (req->break_glass ? !who.has_role("operator") : !who.has_role("promoter")) {
    ctx->error(403, "forbidden",
               req->break_glass ? "break glass needs the operator role"
                                : "principal '" + who.name + "' lacks the role promoter");
    return;
  }
  auto pol = core.policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }
  if (req->dry_run) {
    dry_run(core, ctx, *req, pol);
    return;
  }
  auto integrity = core.ledger->integrity();
  if (!integrity.ok) {
    refuse_unledgered(core, ctx, *req, pol, integrity);
    return;
  }
  struct Outcome {
    std::optional<Evaluation> ev;
    Verdict verdict;
  };
  auto out = std::make_shared<Outcome>();
  FactsCache* cache = &core.facts_cache;
  auto step = [r = *req, pol, out, actor = who.name, integrity,
               cache](ledger::View& view) -> std::optional<ledger::Draft> {
    out->ev = evaluate_promotion(view, *cache, pol, r, integrity, now_ns());
    out->verdict = verdict_of(*out->ev, r);
    return ledger::Draft{ledger::k_promotion, actor,
                         promotion_entry(*out->ev, out->verdict, r, pol->sha256)};
  };
  auto committed = [&core, ctx, r = *req, out, pol](const ledger::Committed& c) {
    answer_promotion(core, ctx, r, *out->ev, out->verdict, c.entry.seq, c.checkpoint, pol->sha256);
  };
  auto nothing = [ctx] {
    Core::ledger_failure(ctx, make_error(Errc::internal, "nothing was ledgered"));
  };
  core.submit(ctx, step, committed, nothing);
}

} // namespace dg::daemon
