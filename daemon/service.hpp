// The application layer of the daemon: authentication, routing and every endpoint, over the
// ledger and the policy engine. The routes are one table (daemon/router.hpp says how to add one),
// the handlers one file per resource (daemon/routes/). It knows nothing of sockets: the HTTP layer
// hands it a parsed request and sends the response it gets back, which is also how fuzzers and
// tests drive it.
//
// Thread-safety: handle() may be called from any thread, concurrently.
#pragma once

#include "daemon/config.hpp"
#include "daemon/facts_cache.hpp"
#include "daemon/metrics.hpp"
#include "ledger/ledger.hpp"
#include "policy/policy.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace dg::daemon {

class Core;
class Router;

struct Request {
  std::string method;
  std::string target; // path and query, as received
  std::string body;
  std::string authorization;
  std::string content_type;
  std::string if_none_match;
  std::string request_id;
  // The subject of the client certificate that TLS verified against `tls.client_ca` ("" without
  // one). It authenticates the caller of the admission endpoint only (docs/kubernetes.md).
  std::string client_certificate;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

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
  void set_stopping();
  // Stops the registry observer (waiting for a running observation, each call bounded by
  // registry_timeout) and then closes the ledger. Idempotent; the destructor calls it.
  void close();

  const Config& config() const;
  ledger::Ledger& ledger();

private:
  std::unique_ptr<Core> m_core;
  std::unique_ptr<Router> m_router;
};

} // namespace dg::daemon
