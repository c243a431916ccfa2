// GET /healthz, /readyz and /metrics: no token.
#include "daemon/core.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

using nlohmann::json;

void get_healthz(Core&, const Ctx& ctx) {
  ctx->reply(200, json{{"status", "ok"}});
}

void get_readyz(Core& core, const Ctx& ctx) {
  json problems = json::array();
  auto integrity = core.ledger->integrity();
  if (!integrity.ok) {
    problems.push_back("ledger-integrity: " + integrity.message);
  }
  if (!core.ledger_reachable()) {
    problems.push_back("ledger-unavailable: the ledger database cannot be reached");
  }
  if (!core.policy()) {
    problems.push_back("no policy loaded");
  }
  if (core.stopping) {
    problems.push_back("stopping");
  }
  if (problems.empty()) {
    ctx->reply(200, json{{"status", "ready"}, {"entries", core.ledger->size()}});
  } else {
    ctx->reply(503, json{{"status", "not-ready"}, {"problems", problems}});
  }
}

void get_metrics(Core& core, const Ctx& ctx) {
  ctx->reply_text(200, core.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace dg::daemon
