// dg_bench_bare_server: the read-path baseline. A bare Boost.Beast HTTP/1.1 server in the style
// of the Beast coroutine examples (a coroutine per connection on its own strand, a fresh parser
// per request with header and body limits, a timer re-armed before every read) that answers
// every request, whatever its method, target and body, with one fixed JSON body. It runs on as
// many threads as digestgated does (the hardware concurrency, at least 2), so that the ratio
// against digestgated measures what the daemon does per request and nothing else.
//
// usage: dg_bench_bare_server --address-file FILE [--listen HOST:PORT] [--threads N]
// Writes the bound "HOST:PORT" to FILE and serves until SIGTERM or SIGINT.
#include "bench/support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

// The size and shape of digestgated's answer to an approved dry-run promotion.
const std::string k_body =
    R"({"decision":"approved","digest":"sha256:3b1f0c5e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",)"
    R"("dry_run":true,"environment":"staging","policy_sha256":)"
    R"("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","previous_digest":null,)"
    R"("reference":"ghcr.io/acme/app@sha256:3b1f0c5e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",)"
    R"("repository":"ghcr.io/acme/app","seq":null})";

asio::awaitable<void> session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(std::chrono::seconds(60));
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, k_tuple);
    if (ec) {
      break;
    }
    auto& req = parser.get();
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "dg_bench_bare_server");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = k_body;
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, k_tuple);
    if (wec || !res.keep_alive()) {
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()), k_tuple);
    if (ec) {
      co_return;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket)), asio::detached);
  }
}

} // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: dg_bench_bare_server --address-file FILE [--listen HOST:PORT] [--threads N]\n";
  const auto args = dg::bench::CommandLine::parse(
      argc, argv, {"--listen", "--address-file", "--threads"}, "dg_bench_bare_server", usage);
  if (!args) {
    return 2;
  }
  const std::string listen = args->text("--listen", "127.0.0.1:0");
  const std::string address_file = args->text("--address-file");
  const int threads = static_cast<int>(args->integer(
      "--threads", static_cast<int>(std::max(2u, std::thread::hardware_concurrency()))));
  if (address_file.empty()) {
    std::cerr << usage;
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ioc(threads);
  auto colon = listen.rfind(':');
  tcp::endpoint endpoint(asio::ip::make_address(listen.substr(0, colon)),
                         static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  tcp::acceptor acceptor(ioc);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  auto bound = acceptor.local_endpoint();
  dg::bench::write_text(address_file,
                        bound.address().to_string() + ":" + std::to_string(bound.port()) + "\n");

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
  asio::co_spawn(ioc, accept_loop(acceptor), asio::detached);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : pool) {
    t.join();
  }
  return 0;
}
