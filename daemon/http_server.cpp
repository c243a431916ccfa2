#include "daemon/http_server.hpp"

#include "daemon/log.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
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
  std::atomic<bool> busy{false};
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

  template <class Stream>
  awaitable<void>
  serve(Stream& stream, std::shared_ptr<Connection> conn, std::string client_certificate = {}) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      if (stopping) {
        break;
      }
      // Between requests the idle timeout applies; once a request starts, the header timeout.
      if (!first && buffer.size() == 0) {
        lowest.expires_after(std::chrono::milliseconds(config.limits.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), k_tuple);
        if (ec) {
          break;
        }
        buffer.commit(n);
      }
      first = false;
      conn->busy = true;
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
          // complete: refuse without reading the body, then close.
          metrics.rejected("body-too-large");
          metrics.request("unknown", std::string(parser.get().method_string()), 413);
          auto res = make_response(11, false,
                                   error_response(413, "body-too-large",
                                                  "the body exceeds " +
                                                      std::to_string(config.limits.max_body_bytes) +
                                                      " bytes"),
                                   new_request_id());
          lowest.expires_after(std::chrono::seconds(5));
          co_await http::async_write(stream, res, k_tuple);
        } else if (ec != http::error::end_of_stream && ec != asio::error::eof &&
                   ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
          metrics.rejected("bad-request");
          Response r = error_response(ec == http::error::header_limit ? 431 : 400, "bad-request",
                                      "malformed HTTP request: " + ec.message());
          auto res = make_response(11, false, std::move(r), new_request_id());
          lowest.expires_after(std::chrono::seconds(5));
          co_await http::async_write(stream, res, k_tuple);
        }
        break;
      }
      auto& header = parser.get();
      std::string request_id = new_request_id();
      if (auto len = parser.content_length(); len && *len > config.limits.max_body_bytes) {
        // Refuse without reading the rest of the body, then close.
        metrics.rejected("body-too-large");
        metrics.request("unknown", std::string(header.method_string()), 413);
        auto res = make_response(header.version(), false,
                                 error_response(413, "body-too-large",
                                                "the body exceeds " +
                                                    std::to_string(config.limits.max_body_bytes) +
                                                    " bytes"),
                                 request_id);
        co_await http::async_write(stream, res, k_tuple);
        break;
      }
      if (!parser.is_done()) {
        auto [ec2, n2] = co_await http::async_read(stream, buffer, parser, k_tuple);
        if (ec2) {
          if (ec2 == http::error::body_limit) {
            metrics.rejected("body-too-large");
            auto res = make_response(
                header.version(), false,
                error_response(413, "body-too-large",
                               "the body exceeds " + std::to_string(config.limits.max_body_bytes) +
                                   " bytes"),
                request_id);
            co_await http::async_write(stream, res, k_tuple);
          } else if (ec2 == beast::error::timeout) {
            metrics.rejected("body-timeout");
          }
          break;
        }
      }
      auto req = parser.release();
      Request request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      request.body = std::move(req.body());
      request.authorization = std::string(req[http::field::authorization]);
      request.content_type = std::string(req[http::field::content_type]);
      request.if_none_match = std::string(req[http::field::if_none_match]);
      request.request_id = request_id;
      request.client_certificate = client_certificate;
      bool keep_alive = req.keep_alive() && !stopping;
      // The service may take a while (a durable commit); no read timeout applies meanwhile.
      lowest.expires_never();
      auto started = std::chrono::steady_clock::now();
      Response response = co_await call_service(std::move(request));
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      int status = response.status;
      keep_alive = keep_alive && !stopping;
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
      conn->busy = false;
      if (wec || !keep_alive) {
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
      if (auto conn = weak.lock(); conn && !conn->busy) {
        // Cancel reads of idle connections; busy ones finish their request and then close.
        asio::post(conn->executor, [conn] {
          if (conn->cancel) {
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
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) {
        return;
      }
      // Reloading appends to the ledger and waits for it: do it off the I/O threads.
      std::thread([on_reload] { on_reload(); }).detach();
      wait_reload();
    });
  };
  wait_reload();
  stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    log("info", "draining", {{"signal", sig}});
    on_stopping();
    impl.drain();
    reload_signal.cancel();
    drain_deadline.expires_after(std::chrono::seconds(20));
    drain_deadline.async_wait([&](const boost::system::error_code& tec) {
      if (!tec) {
        log("warn", "drain timed out; stopping with requests in flight");
        impl.ioc.stop();
      }
    });
    // Stop as soon as the last connection has closed.
    impl.wait_for_connections(std::make_shared<asio::steady_timer>(impl.ioc), drain_deadline);
  });
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
