#include "daemon/http_server.hpp"

#include "daemon/log.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace dg::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t k_header_limit = 16 * 1024;

// Per-connection state the server can reach to cut idle connections when it drains.
struct Connection {
  explicit Connection(asio::any_io_executor ex) : executor(std::move(ex)) {}
  asio::any_io_executor executor; // the connection's strand
  std::function<void()> cancel;   // set and run on the strand only
  bool busy = false; // a complete request header has been read and not yet answered; strand only
};

std::string new_request_id() {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t start =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%06llx",
                static_cast<unsigned long long>(start & 0xffffffffULL),
                static_cast<unsigned long long>(++counter));
  return buf;
}

http::response<http::string_body>
make_response(unsigned version, bool keep_alive, Response&& r, const std::string& request_id) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "digestgated/" DG_VERSION);
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Request-Id", request_id);
  for (auto& [name, value] : r.headers) {
    res.set(name, value);
  }
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

// The subject of the peer's certificate when the handshake verified one against tls.client_ca,
// else "".
std::string verified_client(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return {};
  }
  char subject[512];
  if (X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject) == nullptr) {
    return {};
  }
  return subject[0] == '\0' ? std::string("(empty subject)") : std::string(subject);
}

Response error_response(int status, const std::string& code, const std::string& message) {
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"error", code}, {"message", message}}.dump();
  return r;
}

// Runs the reloads SIGHUP asks for on a thread of its own, one at a time: a reload appends to the
// ledger and waits for it, which no I/O thread may do. Requests made while one runs fold into one
// more. stop() drops a reload not yet started; the destructor waits for one under way and joins
// the thread, so no reload outlives the server (and the service it reloads).
class Reloader {
public:
  explicit Reloader(std::function<void()> reload)
      : m_reload(std::move(reload)), m_thread([this] { loop(); }) {}
  ~Reloader() {
    stop();
    m_thread.join();
  }
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  void request() {
    std::lock_guard lock(m_mutex);
    m_pending = true;
    m_wake.notify_one();
  }

  void stop() {
    std::lock_guard lock(m_mutex);
    m_stopped = true;
    m_wake.notify_one();
  }

private:
  void loop() {
    std::unique_lock lock(m_mutex);
    while (true) {
      m_wake.wait(lock, [this] { return m_pending || m_stopped; });
      if (m_stopped) {
        return;
      }
      m_pending = false;
      lock.unlock();
      m_reload();
      lock.lock();
    }
  }

  std::function<void()> m_reload;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_pending = false;
  bool m_stopped = false;
  std::thread m_thread; // last: started once the members it uses exist
};

} // namespace

struct HttpServer::Impl {
  Service& service;
  const Config& config;
  Metrics& metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<ssl::context> tls;
  std::atomic<int> open_connections{0};
  std::atomic<bool> stopping{false};
  std::mutex connections_mutex;
  std::list<std::weak_ptr<Connection>> connections;
  asio::signal_set stop_signals{ioc, SIGTERM, SIGINT};
  asio::signal_set reload_signal{ioc, SIGHUP};

  Impl(Service& s, const Config& c, Metrics& m) : service(s), config(c), metrics(m) {}

  Result<void> setup_tls() {
    if (!config.tls) {
      return {};
    }
    tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    tls->use_certificate_chain_file(config.tls->certificate, ec);
    if (ec) {
      return make_error(Errc::invalid_argument, "config: tls.certificate: cannot load " +
                                                    config.tls->certificate + ": " + ec.message());
    }
    tls->use_private_key_file(config.tls->private_key, ssl::context::pem, ec);
    if (ec) {
      return make_error(Errc::invalid_argument, "config: tls.private_key: cannot load " +
                                                    config.tls->private_key + ": " + ec.message());
    }
    if (!config.tls->client_ca.empty()) {
      tls->load_verify_file(config.tls->client_ca, ec);
      if (ec) {
        return make_error(Errc::invalid_argument, "config: tls.client_ca: cannot load " +
                                                      config.tls->client_ca + ": " + ec.message());
      }
      tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    return {};
  }

  // Hand a request to the service and wait for its answer on this coroutine's executor. Most
  // answers are given before handle() returns, on this thread: they are taken as they are. An
  // answer from another thread (the ledger's completion thread) is posted back to the strand and
  // wakes the coroutine by cancelling a timer that never expires on its own.
  awaitable<Response> call_service(Request request) {
    struct Pending {
      explicit Pending(const asio::any_io_executor& ex)
          : timer(ex, asio::steady_timer::time_point::max()) {}
      asio::steady_timer timer;
      std::optional<Response> response;
      // Written and read by the calling thread only.
      bool in_handle = true;
    };
    auto pending = std::make_shared<Pending>(co_await asio::this_coro::executor);
    const std::thread::id caller = std::this_thread::get_id();
    service.handle(std::move(request), [pending, caller](Response r) {
      if (std::this_thread::get_id() == caller && pending->in_handle) {
        pending->response = std::move(r);
        return;
      }
      asio::post(pending->timer.get_executor(), [pending, r = std::move(r)]() mutable {
        pending->response = std::move(r);
        pending->timer.cancel();
      });
    });
    pending->in_handle = false;
    while (!pending->response) {
      auto [ec] = co_await pending->timer.async_wait(k_tuple);
      (void)ec; // cancelled when the answer arrives
    }
    co_return std::move(*pending->response);
  }

  // Writes a refusal of the request and no more: the connection closes after it.
  template <class Stream>
  awaitable<void> refuse(Stream& stream,
                         unsigned version,
                         int status,
                         const std::string& code,
                         const std::string& message,
                         const std::string& request_id) {
    auto res = make_response(version, false, error_response(status, code, message), request_id);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, k_tuple);
  }

  std::string too_large() const {
    return "the body exceeds " + std::to_string(config.limits.max_body_bytes) + " bytes";
  }

  struct Incoming {
    http::request<http::string_body> message;
    std::string id;
  };

  // Reads the next request of the connection: its header under the header timeout, then its body
  // under the body limit. From a complete header on, the connection is `busy` and a drain lets it
  // finish. Returns nullopt when the connection is to be closed, with any refusal (400, 413, 431)
  // already written.
  template <class Stream>
  awaitable<std::optional<Incoming>>
  read_request(Stream& stream, beast::flat_buffer& buffer, Connection& conn) {
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(std::chrono::milliseconds(config.limits.header_timeout_ms));
    http::request_parser<http::string_body> parser;
    parser.header_limit(k_header_limit);
    parser.body_limit(config.limits.max_body_bytes);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, k_tuple);
    if (ec) {
      if (ec == beast::error::timeout) {
        metrics.rejected("header-timeout");
      } else if (ec == http::error::body_limit) {
        // The parser compares Content-Length with the body limit as soon as the header is
        // complete: refuse without reading the body.
        metrics.rejected("body-too-large");
        metrics.request("unknown", std::string(parser.get().method_string()), 413);
        co_await refuse(stream, 11, 413, "body-too-large", too_large(), new_request_id());
      } else if (ec != http::error::end_of_stream && ec != asio::error::eof &&
                 ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
        metrics.rejected("bad-request");
        co_await refuse(stream, 11, ec == http::error::header_limit ? 431 : 400, "bad-request",
                        "malformed HTTP request: " + ec.message(), new_request_id());
      }
      co_return std::nullopt;
    }
    conn.busy = true;
    const std::string id = new_request_id();
    const unsigned version = parser.get().version();
    if (auto len = parser.content_length(); len && *len > config.limits.max_body_bytes) {
      metrics.rejected("body-too-large");
      metrics.request("unknown", std::string(parser.get().method_string()), 413);
      co_await refuse(stream, version, 413, "body-too-large", too_large(), id);
      co_return std::nullopt;
    }
    if (!parser.is_done()) {
      auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, k_tuple);
      if (body_ec == http::error::body_limit) {
        metrics.rejected("body-too-large");
        co_await refuse(stream, version, 413, "body-too-large", too_large(), id);
        co_return std::nullopt;
      }
      if (body_ec) {
        if (body_ec == beast::error::timeout) {
          metrics.rejected("body-timeout");
        }
        co_return std::nullopt;
      }
    }
    co_return Incoming{parser.release(), id};
  }

  // Answers the request through the service and logs it. Returns whether the connection stays open.
  template <class Stream>
  awaitable<bool> answer(Stream& stream, Incoming incoming, const std::string& client_certificate) {
    auto& lowest = beast::get_lowest_layer(stream);
    auto& req = incoming.message;
    const std::string& request_id = incoming.id;
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.body = std::move(req.body());
    request.authorization = std::string(req[http::field::authorization]);
    request.content_type = std::string(req[http::field::content_type]);
    request.if_none_match = std::string(req[http::field::if_none_match]);
    request.request_id = request_id;
    request.client_certificate = client_certificate;
    // The service may take a while (a durable commit); no read timeout applies meanwhile.
    lowest.expires_never();
    auto started = std::chrono::steady_clock::now();
    Response response = co_await call_service(std::move(request));
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    int status = response.status;
    const bool keep_alive = req.keep_alive() && !stopping;
    auto res = make_response(req.version(), keep_alive, std::move(response), request_id);
    if (req.method() == http::verb::head) {
      res.body().clear();
      res.content_length(0);
    }
    lowest.expires_after(std::chrono::milliseconds(config.limits.idle_timeout_ms));
    auto [wec, wn] = co_await http::async_write(stream, res, k_tuple);
    if (req.target() != "/healthz" && req.target() != "/metrics" && req.target() != "/readyz") {
      log("info", "request",
          {{"request_id", request_id},
           {"method", std::string(req.method_string())},
           {"target", std::string(req.target()).substr(0, 256)},
           {"status", status},
           {"ms", ms}});
    }
    co_return !wec && keep_alive;
  }

  // Serves the requests of one connection in turn until it closes, fails, times out, or the server
  // drains.
  template <class Stream>
  awaitable<void>
  serve(Stream& stream, std::shared_ptr<Connection> conn, std::string client_certificate = {}) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping) {
      // Between requests the idle timeout applies; once a request starts, the header timeout.
      if (!first && buffer.size() == 0) {
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::milliseconds(config.limits.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), k_tuple);
        if (ec) {
          break;
        }
        buffer.commit(n);
      }
      first = false;
      auto incoming = co_await read_request(stream, buffer, *conn);
      if (!incoming) {
        break;
      }
      const bool open = co_await answer(stream, std::move(*incoming), client_certificate);
      conn->busy = false;
      if (!open) {
        break;
      }
    }
  }

  awaitable<void> session(tcp::socket socket) {
    auto conn = std::make_shared<Connection>(socket.get_executor());
    beast::tcp_stream plain(std::move(socket));
    conn->cancel = [&plain] {
      boost::system::error_code ignored;
      plain.socket().cancel(ignored);
    };
    register_connection(conn);
    if (tls) {
      beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *tls);
      conn->cancel = [&stream] {
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream).socket().cancel(ignored);
      };
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::milliseconds(config.limits.header_timeout_ms));
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, k_tuple);
      if (!ec) {
        co_await serve(stream, conn, verified_client(stream.native_handle()));
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(k_tuple);
      } else {
        metrics.rejected("tls-handshake");
      }
      conn->cancel = [] {};
    } else {
      co_await serve(plain, conn);
      boost::system::error_code ignored;
      plain.socket().shutdown(tcp::socket::shutdown_send, ignored);
      conn->cancel = [] {};
    }
  }

  void register_connection(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(connections_mutex);
    for (auto it = connections.begin(); it != connections.end();) {
      it = it->expired() ? connections.erase(it) : std::next(it);
    }
    connections.push_back(conn);
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), k_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) {
          co_return;
        }
        log("warn", "accept failed", {{"error", ec.message()}});
        continue;
      }
      if (open_connections >= config.limits.max_connections) {
        metrics.rejected("max-connections");
        boost::system::error_code ignored;
        static const std::string k_busy_body =
            R"({"error":"unavailable","message":"too many open connections"})";
        static const std::string k_busy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nContent-Length: " +
            std::to_string(k_busy_body.size()) + "\r\n\r\n" + k_busy_body;
        socket.non_blocking(true, ignored);
        socket.send(asio::buffer(k_busy), 0, ignored);
        socket.close(ignored);
        continue;
      }
      ++open_connections;
      metrics.connection_opened();
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), [this](std::exception_ptr e) {
        --open_connections;
        metrics.connection_closed();
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log("error", "connection failed", {{"error", ex.what()}});
          }
        }
      });
    }
  }

  void wait_for_connections(std::shared_ptr<asio::steady_timer> poll,
                            asio::steady_timer& deadline) {
    if (open_connections == 0) {
      deadline.cancel();
      ioc.stop();
      return;
    }
    poll->expires_after(std::chrono::milliseconds(20));
    poll->async_wait([this, poll, &deadline](const boost::system::error_code&) {
      wait_for_connections(poll, deadline);
    });
  }

  void drain() {
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    std::lock_guard lock(connections_mutex);
    for (auto& weak : connections) {
      if (auto conn = weak.lock()) {
        // On the connection's strand, where `busy` changes: cut a connection that is idle or has
        // not sent a complete header (it would otherwise hold the drain for the header timeout);
        // one with a request in flight answers it and then closes.
        asio::post(conn->executor, [conn] {
          if (!conn->busy && conn->cancel) {
            conn->cancel();
          }
        });
      }
    }
  }
};

HttpServer::HttpServer(Service& service, const Config& config, Metrics& metrics)
    : m_impl(std::make_unique<Impl>(service, config, metrics)) {}

HttpServer::~HttpServer() = default;

Result<std::string> HttpServer::listen() {
  DG_TRY(m_impl->setup_tls());
  boost::system::error_code ec;
  auto address = asio::ip::make_address(m_impl->config.listen_host, ec);
  if (ec) {
    tcp::resolver resolver(m_impl->ioc);
    auto results = resolver.resolve(m_impl->config.listen_host, "", ec);
    if (ec || results.empty()) {
      return make_error(Errc::invalid_argument,
                        "config: listen: cannot resolve '" + m_impl->config.listen_host + "'");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, m_impl->config.listen_port);
  auto& acceptor = m_impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return make_error(Errc::io, "cannot listen on " + m_impl->config.listen_host + ":" +
                                    std::to_string(m_impl->config.listen_port) + ": " +
                                    ec.message());
  }
  auto bound = acceptor.local_endpoint();
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(bound.port());
}

void HttpServer::run(int threads,
                     const std::function<void()>& on_ready,
                     const std::function<void()>& on_reload,
                     const std::function<void()>& on_stopping) {
  auto& impl = *m_impl;
  // The signal sets live as long as the server: a second SIGTERM while the daemon finishes
  // closing the ledger is absorbed instead of killing it.
  auto& stop_signals = impl.stop_signals;
  auto& reload_signal = impl.reload_signal;
  asio::steady_timer drain_deadline(impl.ioc);
  Reloader reloader(on_reload);
  // The signal handlers run one at a time: a SIGHUP handled while a SIGTERM drains sees
  // `stopping` and waits for no further signal (which would keep the I/O threads running).
  auto signal_strand = asio::make_strand(impl.ioc);
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait(
        asio::bind_executor(signal_strand, [&](const boost::system::error_code& ec, int) {
          if (ec || impl.stopping) {
            return;
          }
          reloader.request();
          wait_reload();
        }));
  };
  wait_reload();
  stop_signals.async_wait(
      asio::bind_executor(signal_strand, [&](const boost::system::error_code& ec, int sig) {
        if (ec) {
          return;
        }
        log("info", "draining", {{"signal", sig}});
        on_stopping();
        impl.drain();
        reload_signal.cancel();
        reloader.stop();
        drain_deadline.expires_after(std::chrono::seconds(20));
        drain_deadline.async_wait([&](const boost::system::error_code& tec) {
          if (!tec) {
            log("warn", "drain timed out; stopping with requests in flight");
            impl.ioc.stop();
          }
        });
        // Stop as soon as the last connection has closed.
        impl.wait_for_connections(std::make_shared<asio::steady_timer>(impl.ioc), drain_deadline);
      }));
  asio::co_spawn(impl.ioc, impl.accept_loop(), asio::detached);
  on_ready();
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&] { impl.ioc.run(); });
  }
  impl.ioc.run();
  for (auto& t : pool) {
    t.join();
  }
}

} // namespace dg::daemon
