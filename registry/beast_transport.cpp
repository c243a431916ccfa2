// The registry room's only translation unit with Boost.Asio and Boost.Beast.
#include "registry/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cctype>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace dg::registry {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t k_header_limit = 64 * 1024;

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  std::ignore = asio::ip::make_address(host, ec);
  return !ec;
}

// A network error as one of the transport's failure kinds.
Error network_failure(std::string_view stage, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return make_error(Errc::unavailable, "timeout: " + std::string(stage) + " timed out");
  }
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
    return make_error(Errc::corrupt, "too-large: the response body is over the bound");
  }
  if (ec == http::error::header_limit) {
    return make_error(Errc::corrupt, "bad-response: the response header is over 64 KiB");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof || ec == asio::error::connection_reset) {
    if (stage == "connect" || stage == "send") {
      return make_error(Errc::unavailable,
                        "unreachable: " + std::string(stage) + ": " + ec.message());
    }
    return make_error(Errc::corrupt, "bad-response: " + std::string(stage) + ": " + ec.message());
  }
  if (stage == "receive") {
    return make_error(Errc::corrupt, "bad-response: receive: " + ec.message());
  }
  return make_error(Errc::unavailable, "unreachable: " + std::string(stage) + ": " + ec.message());
}

Error handshake_failure(SSL* handle, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) {
    return network_failure("TLS handshake", ec);
  }
  const long verify = SSL_get_verify_result(handle);
  if (verify != X509_V_OK) {
    return make_error(Errc::unavailable, std::string("tls: certificate verification failed: ") +
                                             X509_verify_cert_error_string(verify));
  }
  return make_error(Errc::unavailable, "tls: handshake: " + ec.message());
}

struct Exchange {
  const HttpRequest& request;
  const SendOptions& options;
  http::request<http::string_body> message;
  std::chrono::steady_clock::time_point deadline;
  ssl::context* tls = nullptr;
  std::optional<Result<HttpResponse>> outcome;
};

template <class Stream>
asio::awaitable<Result<HttpResponse>> converse(Stream& stream, Exchange& exchange) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_at(exchange.deadline);
  auto [write_ec, written] = co_await http::async_write(stream, exchange.message, k_tuple);
  std::ignore = written;
  if (write_ec) {
    co_return network_failure("send", write_ec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(k_header_limit);
  // The announced length is judged after the header, so the refusal can say what was announced.
  parser.body_limit(boost::none);
  if (exchange.message.method() == http::verb::head) {
    parser.skip(true);
  }
  auto [header_ec, header_read] = co_await http::async_read_header(stream, buffer, parser, k_tuple);
  std::ignore = header_read;
  if (header_ec) {
    co_return network_failure("receive", header_ec);
  }
  const auto length = parser.content_length();
  if (exchange.message.method() != http::verb::head && length &&
      *length > exchange.options.max_body_bytes) {
    co_return make_error(Errc::corrupt, "too-large: the response announces " +
                                            std::to_string(*length) + " bytes, over the bound of " +
                                            std::to_string(exchange.options.max_body_bytes));
  }
  parser.body_limit(exchange.options.max_body_bytes);
  if (!parser.is_done()) {
    auto [body_ec, body_read] = co_await http::async_read(stream, buffer, parser, k_tuple);
    std::ignore = body_read;
    if (body_ec) {
      co_return network_failure("receive", body_ec);
    }
  }
  auto response = parser.release();
  HttpResponse result;
  result.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    result.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  result.body = std::move(response.body());
  co_return result;
}

asio::awaitable<void> run(Exchange& exchange) {
  auto executor = co_await asio::this_coro::executor;
  const Url& url = exchange.request.url;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url.host, url.port, k_tuple);
  if (resolve_ec) {
    exchange.outcome = network_failure("resolve " + url.host, resolve_ec);
    co_return;
  }
  if (exchange.tls == nullptr) {
    beast::tcp_stream stream(executor);
    stream.expires_at(exchange.deadline);
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, k_tuple);
    std::ignore = endpoint;
    if (connect_ec) {
      exchange.outcome = network_failure("connect", connect_ec);
      co_return;
    }
    exchange.outcome = co_await converse(stream, exchange);
    boost::system::error_code ignored;
    std::ignore = stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(executor, *exchange.tls);
  SSL* handle = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  if (is_ip_address(url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(handle, url.host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
  }
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_at(exchange.deadline);
  auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, k_tuple);
  std::ignore = endpoint;
  if (connect_ec) {
    exchange.outcome = network_failure("connect", connect_ec);
    co_return;
  }
  lowest.expires_at(exchange.deadline);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, k_tuple);
  if (handshake_ec) {
    exchange.outcome = handshake_failure(handle, handshake_ec);
    co_return;
  }
  exchange.outcome = co_await converse(stream, exchange);
  // No close_notify exchange: the response is complete, and a registry that never answers one
  // must not hold this thread.
  boost::system::error_code ignored;
  std::ignore = lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

class NetworkTransport final : public Transport {
public:
  Result<HttpResponse> send(const HttpRequest& request, const SendOptions& options) override {
    const http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
      return make_error(Errc::internal, "config: unknown HTTP method " + request.method);
    }
    std::shared_ptr<ssl::context> tls;
    if (request.url.tls) {
      auto context = tls_context(options.ca_file);
      if (!context) {
        return context.error();
      }
      tls = std::move(*context);
    }
    Exchange exchange{request,   options,
                      {},        std::chrono::steady_clock::now() + options.timeout,
                      tls.get(), std::nullopt};
    auto& message = exchange.message;
    message.method(verb);
    message.target(request.url.target);
    message.version(11);
    message.set(http::field::host, request.url.host_header);
    message.set(http::field::user_agent, "digestgate/" DG_VERSION);
    for (const auto& [name, value] : request.headers) {
      message.set(name, value);
    }
    message.body() = request.body;
    message.keep_alive(false);
    if (!request.body.empty() || verb == http::verb::put || verb == http::verb::post) {
      message.prepare_payload();
    }
    asio::io_context context;
    std::exception_ptr failure;
    asio::co_spawn(context, run(exchange), [&failure](std::exception_ptr e) { failure = e; });
    // The per-operation deadlines bound everything but name resolution; this bounds that too.
    context.run_for(options.timeout + std::chrono::milliseconds(500));
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("bad-response: ") + e.what());
      } catch (...) {
        return make_error(Errc::internal, "bad-response: unknown exception");
      }
    }
    if (!exchange.outcome) {
      return make_error(Errc::unavailable, "timeout: resolve " + request.url.host + " timed out");
    }
    return std::move(*exchange.outcome);
  }

private:
  // One context per CA file, made once: loading the system's CA store is not free.
  Result<std::shared_ptr<ssl::context>> tls_context(const std::string& ca_file) {
    std::lock_guard lock(m_mutex);
    if (auto it = m_contexts.find(ca_file); it != m_contexts.end()) {
      return it->second;
    }
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    context->set_verify_mode(ssl::verify_peer, ec);
    std::ignore = context->set_default_verify_paths(ec);
    if (ec) {
      return make_error(Errc::invalid_argument,
                        "config: cannot load the system's CA certificates: " + ec.message());
    }
    if (!ca_file.empty()) {
      std::ignore = context->load_verify_file(ca_file, ec);
      if (ec) {
        return make_error(Errc::invalid_argument, "config: cannot load CA certificates from " +
                                                      ca_file + ": " + ec.message());
      }
    }
    m_contexts.emplace(ca_file, context);
    return context;
  }

  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<ssl::context>> m_contexts;
};

} // namespace

std::shared_ptr<Transport> make_network_transport() {
  return std::make_shared<NetworkTransport>();
}

} // namespace dg::registry
