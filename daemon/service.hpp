// The application layer of the daemon: authentication, routing and every endpoint, over the
// ledger and the policy engine. It knows nothing of sockets: the HTTP layer hands it a parsed
// request and sends the response it gets back, which is also how fuzzers and tests drive it.
//
// Thread-safety: handle() may be called from any thread, concurrently.
#pragma once

#include "daemon/config.hpp"
#include "daemon/facts_cache.hpp"
#include "daemon/metrics.hpp"
#include "daemon/snapshot_memo.hpp"
#include "ledger/ledger.hpp"
#include "policy/policy.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace dg::daemon {

struct Request {
  std::string method;
  std::string target; // path and query, as received
  std::string body;
  std::string authorization;
  std::string content_type;
  std::string if_none_match;
  std::string request_id;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

struct InputLookups;
struct DryRunAnswer;

// Called exactly once with the response; possibly on another thread (the ledger's completion
// thread).
using Respond = std::function<void(Response)>;

class Service {
public:
  // `cache_limits` bound the cache of digests' merged facts (see daemon/facts_cache.hpp).
  Service(Config config,
          std::unique_ptr<ledger::Ledger> ledger,
          Metrics& metrics,
          FactsCacheLimits cache_limits = {});
  ~Service();

  // Load the policy file and ledger it if it differs from the newest ledgered policy. On failure
  // the previous policy (if any) stays in force.
  Result<void> load_policy();

  void handle(Request request, Respond respond);

  // Ready: the ledger is open and verified, a policy is loaded, and the service is not stopping.
  bool ready() const;
  void set_stopping() { m_stopping = true; }

  const Config& config() const { return m_config; }
  ledger::Ledger& ledger() { return *m_ledger; }

private:
  struct Context;

  std::shared_ptr<const policy::Policy> policy() const;
  void dispatch(const std::shared_ptr<Context>& ctx);

  using Ctx = std::shared_ptr<Context>;
  void get_entries(const Ctx& ctx);
  void get_entry(const Ctx& ctx, const std::string& seq);
  void get_checkpoint(const Ctx& ctx);
  void get_consistency(const Ctx& ctx);
  void get_keys(const Ctx& ctx);
  void get_digest(const Ctx& ctx, const std::string& digest);
  void get_environments(const Ctx& ctx);
  void get_environment(const Ctx& ctx, const std::string& env);
  void get_policy(const Ctx& ctx);
  void get_whoami(const Ctx& ctx);
  void post_validation(const Ctx& ctx);
  void post_promotion(const Ctx& ctx);
  void post_deployment(const Ctx& ctx, const std::string& env);
  void post_rollback(const Ctx& ctx, const std::string& env);
  void post_revocation(const Ctx& ctx);
  void post_what_if(const Ctx& ctx);
  // Parse the body as a JSON object, or answer 400 and return nullopt.
  std::optional<nlohmann::json> body_object(const Ctx& ctx);
  // Answer a read failure of the ledger.
  void ledger_failure(const Ctx& ctx, const Error& error);
  // Called by a writer step's completion when its commit failed.
  void commit_failed();

  Config m_config;
  std::unique_ptr<ledger::Ledger> m_ledger;
  Metrics& m_metrics;
  mutable std::mutex m_policy_mutex;
  std::shared_ptr<const policy::Policy> m_policy;
  std::atomic<bool> m_stopping{false};
  // Merged facts of recently evaluated digests; used by reads and by writer steps.
  FactsCache m_facts_cache;
  // What the ledger answered to recent dry runs' inputs, by environment and input, while the
  // ledger keeps its size; and the text of their answers, by request, with what each was made of.
  // Each memo holds at most 1024 values and 1 MiB, of at most 16 KiB each.
  static constexpr std::size_t k_max_remembered = 1024;
  static constexpr std::size_t k_max_remembered_bytes = 1024 * 1024;
  static constexpr std::size_t k_max_remembered_entry_bytes = 16 * 1024;
  SnapshotMemo<InputLookups> m_dry_runs;
  SnapshotMemo<DryRunAnswer> m_dry_run_answers;
};

} // namespace dg::daemon
