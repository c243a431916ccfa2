// Observations (PRODUCT.md "Registries"): the daemon asks the registries that should hold a
// digest what they serve for it, and ledgers the answer as an `observation` entry. Observations
// run on the observer's own worker threads, never on an I/O thread or the ledger's writer: a
// slow or broken registry delays nothing but other observations. Three sources feed them:
// - after each validation (queued; the 201 does not wait), when background observation is on;
// - on request (POST /v1/observations), answered through a callback once ledgered;
// - every `interval`, each digest current in some environment; a current digest that has
//   vanished from a registry or whose platforms changed is drift: logged, counted
//   (digestgate_observation_drift) and shown on the environment.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include "daemon/metrics.hpp"
#include "ledger/ledger.hpp"
#include "policy/evidence.hpp"
#include "registry/client.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dg::daemon {

struct ObserverOptions {
  registry::ClientOptions client;
  // Observe after each validation and every `interval` (when non-zero). Off when the daemon's
  // configuration names no `registries`.
  bool background = false;
  std::chrono::milliseconds interval{0};
  std::size_t workers = 2;
  // Background observations queued at most; beyond it they are dropped (and logged).
  std::size_t max_queue = 10000;
};

// What POST /v1/observations gets back.
struct ObservationOutcome {
  int status = 201;    // 201, 404, 502, 503
  nlohmann::json body; // the entry's JSON for 201, else {"error", "message"}
};

class Observer {
public:
  // Appends a draft and returns once it is durable (Core::append: the metrics follow).
  using Append = std::function<Result<ledger::Committed>(ledger::Draft)>;

  Observer(ObserverOptions options, ledger::Ledger& ledger, Append append, Metrics& metrics);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Starts the workers and the interval timer.
  void start();
  // Stops taking work: queued background observations are dropped, requests get 503. Returns at
  // once; running observations end within their bounded calls.
  void request_stop();
  // request_stop(), then waits for the running observations and joins the threads.
  void stop();

  // Queue a background observation of `digest` (nothing when background observation is off).
  void after_validation(const std::string& digest);
  // Observe `digest` in its recorded repositories and `names`, ledger it as `actor`, then call
  // `done` (on a worker thread). 404 unknown-digest when the digest was never recorded and no
  // names are given; 502 registry-unreachable naming the registries when none answered.
  void observe_now(std::string digest,
                   std::vector<std::string> names,
                   std::string actor,
                   std::function<void(ObservationOutcome)> done);
  // Resolve `reference`'s tag at its registry on a worker; `done` gets {status, body}.
  void resolve(std::string reference, std::function<void(ObservationOutcome)> done);

  registry::Client& client() { return *m_client; }

private:
  struct Job {
    std::function<void()> run;
  };
  void post(std::function<void()> run, bool background);
  void work();
  void tick();
  ObservationOutcome observe_and_ledger(const std::string& digest,
                                        const std::vector<std::string>& names,
                                        const std::string& actor);
  // After an observation of a digest current somewhere: drift is logged and counted.
  void report_drift(const policy::Facts& facts,
                    const nlohmann::json& body,
                    const ledger::Committed& committed);
  ObservationOutcome do_resolve(const std::string& reference);

  ObserverOptions m_options;
  ledger::Ledger& m_ledger;
  Append m_append;
  Metrics& m_metrics;
  std::unique_ptr<registry::Client> m_client;
  std::mutex m_mutex;
  std::condition_variable m_wake;                 // workers: work queued, or stopping
  std::condition_variable m_timer_wake;           // the interval timer: stopping
  std::deque<std::function<void()>> m_urgent;     // requests: ahead of background work
  std::deque<std::function<void()>> m_background; // after validations, intervals
  std::set<std::string> m_queued;                 // digests waiting in m_background
  // Read without the mutex by running jobs; written under it.
  std::atomic<bool> m_stopping{false};
  bool m_started = false;
  std::vector<std::thread> m_threads;
};

} // namespace dg::daemon
