#include "daemon/core.hpp"

#include "daemon/log.hpp"
#include "daemon/observer.hpp"
#include "policy/evidence.hpp"

namespace dg::daemon {

using nlohmann::json;

namespace {

ObserverOptions observer_options(const Config& config) {
  ObserverOptions options;
  for (const auto& [host, r] : config.registries) {
    options.client.registries[host] =
        registry::RegistrySettings{r.endpoint, r.username, r.password, r.ca_file};
  }
  options.background = config.observe;
  options.interval = config.observe_interval;
  options.client.timeout = config.registry_timeout;
  return options;
}

} // namespace

Core::Core(Config config_,
           std::unique_ptr<ledger::Ledger> ledger_,
           Metrics& metrics_,
           FactsCacheLimits cache_limits)
    : config(std::move(config_)), ledger(std::move(ledger_)), metrics(metrics_),
      facts_cache(cache_limits),
      dry_runs(k_max_remembered, k_max_remembered_bytes, k_max_remembered_entry_bytes),
      dry_run_answers(k_max_remembered, k_max_remembered_bytes, k_max_remembered_entry_bytes) {
  committed();
  observer = std::make_unique<Observer>(
      observer_options(config), *ledger,
      [this](ledger::Draft draft) { return append(std::move(draft)); }, metrics);
}

Core::~Core() {
  if (observer) {
    observer->stop();
  }
}

std::shared_ptr<const policy::Policy> Core::policy() const {
  std::lock_guard lock(m_policy_mutex);
  return m_policy;
}

void Core::set_policy(std::shared_ptr<const policy::Policy> pol) {
  std::lock_guard lock(m_policy_mutex);
  m_policy = std::move(pol);
}

std::optional<json> Core::body_object(const Ctx& ctx) {
  json body = json::parse(ctx->request.body, nullptr, false);
  if (body.is_discarded()) {
    ctx->error(400, "bad-json", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    ctx->error(400, "bad-json", "the request body must be a JSON object");
    return std::nullopt;
  }
  if (policy::nested_deeper_than(body, policy::k_max_record_depth)) {
    ctx->error(400, "bad-json",
               "the request body nests arrays and objects deeper than " +
                   std::to_string(policy::k_max_record_depth) + " levels");
    return std::nullopt;
  }
  return body;
}

bool Core::read(const Ctx& ctx, const std::function<void(ledger::View&)>& fn) {
  auto r = ledger->read([&](ledger::View& view) {
    ctx->tree_size = view.size();
    fn(view);
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return false;
  }
  return true;
}

void Core::submit(const Ctx& ctx,
                  ledger::Step step,
                  std::function<void(const ledger::Committed&)> on_committed,
                  std::function<void()> on_nothing) {
  ledger->submit(std::move(step),
                 [this, ctx, on_committed = std::move(on_committed),
                  on_nothing = std::move(on_nothing)](Result<std::optional<ledger::Committed>> r) {
                   if (!r) {
                     commit_failed();
                     ledger_failure(ctx, r.error());
                     return;
                   }
                   if (!*r) {
                     on_nothing();
                     return;
                   }
                   committed();
                   ctx->tree_size = (*r)->entry.seq;
                   on_committed(**r);
                 });
}

Result<ledger::Committed> Core::append(ledger::Draft draft) {
  auto appended = ledger->append(std::move(draft));
  if (!appended) {
    commit_failed();
    return appended;
  }
  committed();
  return appended;
}

bool Core::ledger_reachable() {
  if (config.ledger.backend != "postgresql") {
    return ledger->available();
  }
  std::lock_guard lock(m_probe_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (m_probed_at != std::chrono::steady_clock::time_point{} &&
      now - m_probed_at < std::chrono::seconds(1)) {
    return m_probe_ok;
  }
  auto probe = ledger->read([](ledger::View&) {});
  m_probe_ok = probe.ok();
  m_probed_at = std::chrono::steady_clock::now();
  return m_probe_ok;
}

void Core::committed() {
  // One checkpoint is signed per committed batch, so it covers the whole ledger.
  std::int64_t size = ledger->size();
  metrics.ledger_size(size);
  metrics.checkpoint_size(size);
}

void Core::commit_failed() {
  // A failed commit takes back entries that writer steps saw (and cached) but that never became
  // durable; their seqs could later be reused by other entries.
  facts_cache.clear();
  dry_runs.clear();
  dry_run_answers.clear();
}

void Core::ledger_failure(const Ctx& ctx, const Error& error) {
  log("error", "ledger failure",
      {{"request_id", ctx->request.request_id}, {"error", error.message}});
  if (error.code == Errc::corrupt) {
    ctx->error(503, "ledger-integrity", error.message);
  } else if (error.code == Errc::unavailable) {
    // The database cannot be reached (or the ledger is closing): nothing was ledgered.
    ctx->error(503, "ledger-unavailable", error.message);
  } else {
    ctx->error(500, "internal", error.message);
  }
}

} // namespace dg::daemon
