// The HTTP/1.1 (and HTTPS) front end of the daemon, on Boost.Beast. This header keeps Asio and
// Beast out of its includers.
#pragma once

#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/service.hpp"
#include "util/result.hpp"

#include <functional>
#include <memory>
#include <string>

namespace dg::daemon {

// Serves `service` until stopped. Signals: SIGTERM and SIGINT drain and stop; SIGHUP calls
// `on_reload`.
class HttpServer {
public:
  HttpServer(Service& service, const Config& config, Metrics& metrics);
  ~HttpServer();

  // Bind and listen; returns the bound "host:port".
  Result<std::string> listen();

  // Run until SIGTERM/SIGINT (then drain in-flight requests) on `threads` threads. `on_ready` is
  // called once serving; `on_reload` on SIGHUP; `on_stopping` when a stop signal arrives.
  void run(int threads,
           const std::function<void()>& on_ready,
           const std::function<void()>& on_reload,
           const std::function<void()>& on_stopping);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace dg::daemon
