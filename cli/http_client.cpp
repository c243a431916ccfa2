#include "cli/http_client.hpp"

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

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>
#include <utility>

namespace dg::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);
// Large enough for a page of 1000 ledger entries; a response beyond it is a broken server.
constexpr std::uint64_t k_max_response_bytes = 256ull * 1024 * 1024;
// How long to wait for the server's close_notify once the response is in.
constexpr auto k_tls_shutdown_time = std::chrono::seconds(2);

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  std::ignore = asio::ip::make_address(host, ec);
  return !ec;
}

std::string describe(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) {
    return "timed out";
  }
  return ec.message();
}

Error unreachable(std::string_view stage, const boost::system::error_code& ec) {
  return make_error(Errc::unavailable, std::string(stage) + ": " + describe(ec));
}

// The TLS handshake's error, with the certificate verification result when that is what failed.
Error handshake_failure(SSL* ssl, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return make_error(Errc::unavailable,
                      std::string("TLS handshake: certificate verification failed: ") +
                          X509_verify_cert_error_string(verify));
  }
  return unreachable("TLS handshake", ec);
}

struct Exchange {
  const Url& url;
  http::request<http::string_body> request;
  std::chrono::steady_clock::time_point deadline;
  ssl::context* tls = nullptr;
  std::optional<Result<HttpResult>> outcome;
};

template <class Stream>
asio::awaitable<Result<HttpResult>> converse(Stream& stream, Exchange& exchange) {
  beast::get_lowest_layer(stream).expires_at(exchange.deadline);
  auto [write_ec, written] = co_await http::async_write(stream, exchange.request, k_tuple);
  std::ignore = written;
  if (write_ec) {
    co_return unreachable("send", write_ec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(k_max_response_bytes);
  beast::get_lowest_layer(stream).expires_at(exchange.deadline);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, k_tuple);
  std::ignore = read;
  if (read_ec) {
    co_return unreachable("receive", read_ec);
  }
  auto response = parser.release();
  HttpResult result;
  result.status = static_cast<int>(response.result_int());
  result.content_type = std::string(response[http::field::content_type]);
  result.body = std::move(response.body());
  co_return result;
}

asio::awaitable<void> run(Exchange& exchange) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(exchange.url.host, exchange.url.port, k_tuple);
  if (resolve_ec) {
    exchange.outcome = unreachable("resolve " + exchange.url.host, resolve_ec);
    co_return;
  }

  if (exchange.tls == nullptr) {
    beast::tcp_stream stream(executor);
    stream.expires_at(exchange.deadline);
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, k_tuple);
    std::ignore = endpoint;
    if (connect_ec) {
      exchange.outcome = unreachable("connect", connect_ec);
      co_return;
    }
    exchange.outcome = co_await converse(stream, exchange);
    boost::system::error_code ignored;
    std::ignore = stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }

  beast::ssl_stream<beast::tcp_stream> stream(executor, *exchange.tls);
  SSL* ssl = stream.native_handle();
  const std::string& host = exchange.url.host;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip_address(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    // SNI carries host names only, never addresses (RFC 6066 section 3).
    SSL_set_tlsext_host_name(ssl, host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_at(exchange.deadline);
  auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, k_tuple);
  std::ignore = endpoint;
  if (connect_ec) {
    exchange.outcome = unreachable("connect", connect_ec);
    co_return;
  }
  lowest.expires_at(exchange.deadline);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, k_tuple);
  if (handshake_ec) {
    exchange.outcome = handshake_failure(ssl, handshake_ec);
    co_return;
  }
  exchange.outcome = co_await converse(stream, exchange);
  if (exchange.outcome->ok()) {
    // A polite close; the response is complete whatever happens here.
    lowest.expires_after(k_tls_shutdown_time);
    auto [shutdown_ec] = co_await stream.async_shutdown(k_tuple);
    std::ignore = shutdown_ec;
  }
}

Result<void> configure_tls(ssl::context& context, const ClientOptions& options) {
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_verify_mode(ssl::verify_peer, ec);
  if (!options.cacert.empty()) {
    std::ignore = context.load_verify_file(options.cacert, ec);
    if (ec) {
      return make_error(Errc::invalid_argument,
                        "cannot load CA certificates from " + options.cacert + ": " + ec.message());
    }
  } else {
    std::ignore = context.set_default_verify_paths(ec);
    if (ec) {
      return make_error(Errc::invalid_argument,
                        "cannot load the system's CA certificates: " + ec.message());
    }
  }
  if (!options.cert.empty()) {
    std::ignore = context.use_certificate_chain_file(options.cert, ec);
    if (ec) {
      return make_error(Errc::invalid_argument,
                        "cannot load client certificate " + options.cert + ": " + ec.message());
    }
    const std::string& key = options.key.empty() ? options.cert : options.key;
    std::ignore = context.use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
      return make_error(Errc::invalid_argument,
                        "cannot load client key " + key + ": " + ec.message());
    }
  }
  return {};
}

} // namespace

Result<HttpResult> http_request(const ClientOptions& options,
                                const std::string& method,
                                const std::string& target,
                                const std::string& body,
                                const std::string& token) {
  auto url = parse_url(options.url);
  if (!url) {
    return url.error();
  }
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return make_error(Errc::internal, "unknown HTTP method " + method);
  }

  std::optional<ssl::context> tls;
  if (url->tls) {
    tls.emplace(ssl::context::tls_client);
    DG_TRY(configure_tls(*tls, options));
  }

  Exchange exchange{*url,
                    {},
                    std::chrono::steady_clock::now() + options.timeout,
                    tls ? &*tls : nullptr,
                    std::nullopt};
  auto& request = exchange.request;
  request.method(verb);
  request.target(url->prefix + target);
  request.version(11);
  request.set(http::field::host, url->host_header);
  request.set(http::field::user_agent, "digestgate/" DG_VERSION);
  request.set(http::field::accept, "application/json, text/plain");
  if (!token.empty()) {
    request.set(http::field::authorization, "Bearer " + token);
  }
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.keep_alive(false);
  request.prepare_payload();

  asio::io_context context;
  std::exception_ptr failure;
  asio::co_spawn(context, run(exchange), [&failure](std::exception_ptr e) { failure = e; });
  // The per-operation deadlines bound everything but name resolution; this bounds that too.
  context.run_for(options.timeout + std::chrono::seconds(1));
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      return make_error(Errc::internal, std::string("HTTP client: ") + e.what());
    } catch (...) {
      return make_error(Errc::internal, "HTTP client: unknown exception");
    }
  }
  if (!exchange.outcome) {
    return make_error(Errc::unavailable, "timed out");
  }
  return std::move(*exchange.outcome);
}

} // namespace dg::cli
