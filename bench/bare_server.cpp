// dg_bench_bare_server: the read-path baseline. A bare Boost.Beast HTTP/1.1 server in the style
// of the Beast coroutine examples (bench/beast_server.hpp: a coroutine per connection on its own
// strand, a fresh parser per request with header and body limits, a timer re-armed before every
// read) that answers every request, whatever its method, target and body, with one fixed JSON
// body. It runs on as many threads as digestgated does (the hardware concurrency, at least 2), so
// that the ratio against digestgated measures what the daemon does per request and nothing else.
//
// usage: dg_bench_bare_server --address-file FILE [--listen HOST:PORT] [--threads N]
// Writes the bound "HOST:PORT" to FILE and serves until SIGTERM or SIGINT.
#include "bench/beast_server.hpp"
#include "bench/support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

namespace http = boost::beast::http;

// The size and shape of digestgated's answer to an approved dry-run promotion.
const std::string k_body =
    R"({"decision":"approved","digest":"sha256:3b1f0c5e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",)"
    R"("dry_run":true,"environment":"staging","policy_sha256":)"
    R"("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","previous_digest":null,)"
    R"("reference":"ghcr.io/acme/app@sha256:3b1f0c5e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",)"
    R"("repository":"ghcr.io/acme/app","seq":null})";

dg::bench::HttpAnswer answer(const dg::bench::HttpRequest& req) {
  dg::bench::HttpAnswer out{{http::status::ok, req.version()}};
  auto& res = out.response;
  res.set(http::field::server, "dg_bench_bare_server");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = k_body;
  res.prepare_payload();
  return out;
}

} // namespace

int main(int argc, char** argv) {
  const dg::bench::Program program{
      "dg_bench_bare_server",
      "usage: dg_bench_bare_server --address-file FILE [--listen HOST:PORT] [--threads N]\n",
      {"--listen", "--address-file", "--threads"}};
  std::string listen;
  std::string address_file;
  int threads = 0;
  return dg::bench::program_main(
      argc, argv, program,
      [&](const dg::bench::CommandLine& args) {
        listen = args.text("--listen", "127.0.0.1:0");
        address_file = args.text("--address-file");
        threads = static_cast<int>(args.integer(
            "--threads", static_cast<int>(std::max(2u, std::thread::hardware_concurrency()))));
        if (address_file.empty()) {
          throw std::invalid_argument("--address-file is required");
        }
      },
      [&] {
        dg::bench::serve_http(listen, threads, address_file, answer);
        return 0;
      });
}
