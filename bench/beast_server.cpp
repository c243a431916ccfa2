#include "bench/beast_server.hpp"

#include "bench/support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include <csignal>
#include <thread>
#include <tuple>
#include <vector>

namespace dg::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> session(const HttpHandler& handler, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  asio::steady_timer timer(stream.get_executor());
  for (;;) {
    stream.expires_after(std::chrono::seconds(60));
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, k_tuple);
    if (ec) {
      break;
    }
    const auto& req = parser.get();
    HttpAnswer answer = handler(req);
    if (answer.delay.count() > 0) {
      timer.expires_after(answer.delay);
      co_await timer.async_wait(k_tuple);
    }
    auto& res = answer.response;
    beast::error_code wec;
    if (req.method() == http::verb::head) {
      http::response_serializer<http::string_body> sr{res};
      sr.split(true);
      std::tie(wec, std::ignore) = co_await http::async_write_header(stream, sr, k_tuple);
    } else {
      std::tie(wec, std::ignore) = co_await http::async_write(stream, res, k_tuple);
    }
    if (wec || !res.keep_alive()) {
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(const HttpHandler& handler, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()), k_tuple);
    if (ec) {
      co_return;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(handler, std::move(socket)), asio::detached);
  }
}

} // namespace

void serve_http(const std::string& listen,
                int threads,
                const std::string& address_file,
                const HttpHandler& handler) {
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
  write_text(address_file, bound.address().to_string() + ":" + std::to_string(bound.port()) + "\n");

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
  asio::co_spawn(ioc, accept_loop(handler, acceptor), asio::detached);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : pool) {
    t.join();
  }
}

} // namespace dg::bench
