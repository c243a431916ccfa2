// The policy: GET /v1/policy (the one in force) and POST /v1/policy/what-if (what a proposed
// policy would decide about each environment's current and recent digests; appends nothing).
#include "daemon/core.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"

#include <set>

namespace dg::daemon {

using nlohmann::json;

void get_policy(Core& core, const Ctx& ctx) {
  auto pol = core.policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }
  std::int64_t seq = 0;
  bool read = core.read(ctx, [&](ledger::View& view) {
    if (auto e = view.latest_policy()) {
      seq = e->seq;
    }
  });
  if (read) {
    ctx->reply(200, json{{"sha256", pol->sha256},
                         {"path", core.config.policy_path},
                         {"seq", seq},
                         {"policy", pol->document}});
  }
}

namespace {

// What the proposed policy `proposed` decides about `repository`@`digest` in `env`.
json what_if_item(ledger::View& view,
                  FactsCache& cache,
                  const policy::Policy& proposed,
                  const std::string& env,
                  const ledger::Approval& a,
                  const char* role) {
  auto pinned = pinned_candidate(view, cache, a.repository, a.digest);
  auto approved_in = [&](const std::string& e, const std::string& d) {
    return view.approved_in(e, d);
  };
  policy::EvaluationOptions options;
  options.now = now_ns();
  // The proposed policy lives for this request only: nothing to memoize its reasons for.
  auto reasons = policy::evaluate(
      proposed, env, pinned.candidate, pinned.facts->facts().get(), approved_in, options,
      [&](const policy::EnvironmentPolicy& e, const policy::Facts& facts) {
        return policy::evaluate_timeless_evidence(proposed, e, facts);
      });
  return json{{"environment", env},
              {"repository", a.repository},
              {"digest", a.digest},
              {"reference", pinned.candidate.input},
              {"role", role},
              {"seq", a.seq},
              {"decision", reasons.empty() ? "approved" : "refused"},
              {"reasons", reasons_json(reasons)}};
}

// Each environment's current digests and up to `recent` recent approvals per repository, once.
json what_if_report(ledger::View& view, FactsCache& cache, const policy::Policy& proposed) {
  constexpr std::int64_t recent = 20;
  json report = json::array();
  for (const auto& environment : proposed.environments) {
    const std::string& name = environment.first;
    std::set<std::pair<std::string, std::string>> seen;
    auto judge = [&](const ledger::Approval& a, const char* role) {
      if (seen.insert({a.repository, a.digest}).second) {
        report.push_back(what_if_item(view, cache, proposed, name, a, role));
      }
    };
    for (const auto& s : view.slots(name)) {
      judge(ledger::Approval{s.repository, s.digest, s.seq, s.time, ""}, "current");
      std::int64_t n = 0;
      for (const auto& a : view.approvals(name, s.repository)) {
        if (++n > recent) {
          break;
        }
        judge(a, "recent-approval");
      }
    }
  }
  return report;
}

} // namespace

void post_what_if(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_what_if_request);
  if (!req) {
    return;
  }
  json report;
  bool read = core.read(ctx, [&](ledger::View& view) {
    report = what_if_report(view, core.facts_cache, req->policy);
  });
  if (!read) {
    return;
  }
  std::int64_t refused = 0;
  for (const auto& item : report) {
    refused += item["decision"] == "refused" ? 1 : 0;
  }
  ctx->reply(200, json{{"policy_sha256", req->policy.sha256},
                       {"evaluated", report.size()},
                       {"would_refuse", refused},
                       {"results", report}});
}

} // namespace dg::daemon
