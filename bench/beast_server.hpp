// The Boost.Beast HTTP/1.1 server of the benchmarks' own servers (dg_bench_bare_server and
// dg_bench_registry), in the style of the Beast coroutine examples: a coroutine per connection on
// its own strand, a fresh parser per request with header and body limits, a timer re-armed before
// every read, keep-alive as the client asks. Only those two programs include this header: it brings
// Beast and Asio with it.
#pragma once

#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace dg::bench {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// What a server answers to one request, and how long it waits on a timer before it writes the
// answer (a remote server's round trip; zero writes at once). The answer to a HEAD request is
// written without its body, whatever the handler left in it.
struct HttpAnswer {
  HttpResponse response;
  std::chrono::milliseconds delay{0};
};

// Called on the connection's strand; several connections call it at once.
using HttpHandler = std::function<HttpAnswer(const HttpRequest&)>;

// Listens on `listen` ("HOST:PORT"; port 0 picks one), writes the bound "HOST:PORT\n" to
// `address_file`, and serves every connection with `handler` on `threads` threads until SIGTERM
// or SIGINT. Ignores SIGPIPE. Throws when it cannot listen.
void serve_http(const std::string& listen,
                int threads,
                const std::string& address_file,
                const HttpHandler& handler);

} // namespace dg::bench
