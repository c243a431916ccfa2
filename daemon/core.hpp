// What every handler shares: the configuration, the ledger, the policy in force, the metrics, the
// facts cache and the dry-run memos; and the few ways a handler reads the ledger, writes to it and
// answers its failures, so that every endpoint does them the same way (the answer's tree size,
// the metrics that follow the ledger, the caches dropped after a failed commit).
//
// Thread-safety: every member function may be called from any thread, concurrently.
#pragma once

#include "daemon/config.hpp"
#include "daemon/context.hpp"
#include "daemon/evaluation.hpp"
#include "daemon/facts_cache.hpp"
#include "daemon/metrics.hpp"
#include "daemon/snapshot_memo.hpp"
#include "ledger/ledger.hpp"
#include "policy/policy.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace dg::daemon {

class Observer;

class Core {
public:
  Core(Config config,
       std::unique_ptr<ledger::Ledger> ledger,
       Metrics& metrics,
       FactsCacheLimits cache_limits);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // The policy in force (nullptr before the first load); replaced atomically.
  std::shared_ptr<const policy::Policy> policy() const;
  void set_policy(std::shared_ptr<const policy::Policy> pol);

  // The request body as a JSON object, or an answer of 400 `bad-json` and nullopt.
  static std::optional<nlohmann::json> body_object(const Ctx& ctx);
  // The request body read by `reader` (see daemon/requests.hpp): 400 `bad-json` for a body that
  // is not a JSON object, 400 `bad-request` with the reader's message for one it refuses.
  template <typename T>
  static std::optional<T> read_body(const Ctx& ctx, Result<T> (*reader)(const nlohmann::json&)) {
    auto body = body_object(ctx);
    if (!body) {
      return std::nullopt;
    }
    auto read = reader(*body);
    if (!read) {
      ctx->error(400, "bad-request", read.error().message);
      return std::nullopt;
    }
    return std::move(*read);
  }

  // Run `fn` on a read snapshot, whose size becomes the answer's tree size. On failure, answers
  // it (ledger_failure) and returns false.
  bool read(const Ctx& ctx, const std::function<void(ledger::View&)>& fn);

  // Queue `step` on the ledger's writer. Once its entry is durable, the metrics that follow the
  // ledger are updated, the entry's seq becomes the answer's tree size, and `on_committed` runs
  // (on the ledger's completion thread); when the step appended nothing, `on_nothing` runs. When
  // the commit failed, the caches are dropped and the failure is answered.
  void submit(const Ctx& ctx,
              ledger::Step step,
              std::function<void(const ledger::Committed&)> on_committed,
              std::function<void()> on_nothing);

  // Append `draft` and wait until it is durable, updating the metrics (for start-up and reloads).
  Result<ledger::Committed> append(ledger::Draft draft);

  // Whether the ledger's database answers. SQLite: always. PostgreSQL: a read transaction, asked
  // at most once a second (the answer in between is the last one), so that /readyz notices a lost
  // database, and its return, without waiting for a write.
  bool ledger_reachable();

  // Answer a ledger failure: 503 `ledger-integrity`, 503 `unavailable` or 500 `internal`.
  static void ledger_failure(const Ctx& ctx, const Error& error);

  Config config;
  std::unique_ptr<ledger::Ledger> ledger;
  Metrics& metrics;
  std::atomic<bool> stopping{false};
  // Merged facts of recently evaluated digests; used by reads and by writer steps.
  FactsCache facts_cache;
  // What the ledger answered to recent dry runs' inputs, by environment and input, while the
  // ledger keeps its size; and the text of their answers, by request, with what each was made of.
  // Each memo holds at most 1024 values and 1 MiB, of at most 16 KiB each.
  static constexpr std::size_t k_max_remembered = 1024;
  static constexpr std::size_t k_max_remembered_bytes = 1024 * 1024;
  static constexpr std::size_t k_max_remembered_entry_bytes = 16 * 1024;
  SnapshotMemo<InputLookups> dry_runs;
  SnapshotMemo<DryRunAnswer> dry_run_answers;
  // Registry observations (daemon/observer.hpp), on threads of their own; started by the service.
  // Declared last: stopped and destroyed before the ledger.
  std::unique_ptr<Observer> observer;

private:
  // The metrics that follow the ledger, after a commit: its size and its checkpoint's.
  void committed();
  // After a failed commit: forget what writer steps saw that never became durable.
  void commit_failed();

  std::mutex m_probe_mutex;
  std::chrono::steady_clock::time_point m_probed_at{};
  bool m_probe_ok = true;

  mutable std::mutex m_policy_mutex;
  std::shared_ptr<const policy::Policy> m_policy;
};

} // namespace dg::daemon
