// dg_bench_load: a small HTTP/1.1 keep-alive load generator on Boost.Beast.
//
// Opens N connections to one server and, on each, sends a request, reads the whole response,
// and sends the next one (closed loop: at most one request in flight per connection). The
// request bytes are built once: either one fixed request, or one per line of a bodies file (each
// body sent once, in order, across all connections; or round-robin with --cycle). Responses that
// complete during the measurement window (after the warm-up, before the deadline) count; the
// report gives the throughput, latency percentiles (send start to last response byte) and the
// count per status.
//
// Prints one JSON object on stdout.
#include "bench/support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using dg::bench::Clock;
using dg::bench::json;

namespace {

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

constexpr const char* k_usage = R"(usage: dg_bench_load --address HOST:PORT [options]
  --connections N     keep-alive connections (default 32)
  --duration S        measured seconds (default 10)
  --warmup S          seconds before measuring (default 2)
  --threads N         client threads (default 1)
  --method M          request method (default GET)
  --target T          request target (default /)
  --header 'N: V'     an extra header (repeatable)
  --body-file F       a fixed body sent with every request
  --bodies-file F     one body per line, each sent once in order; the run ends when they run out
  --cycle             with --bodies-file: send the bodies round-robin until the deadline
)";

struct Options {
  std::string host;
  int port = 0;
  int connections = 32;
  double duration = 10;
  double warmup = 2;
  int threads = 1;
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::string> headers;
  std::string body_file;
  std::string bodies_file;
  bool cycle = false;
};

struct Shared {
  std::vector<std::string> requests; // one fixed request, or one per body
  bool once = false;                 // each request is sent once (bodies without --cycle)
  std::atomic<std::size_t> next{0};
  std::atomic<bool> exhausted{false};
  Clock::time_point measure_start;
  Clock::time_point measure_end;
};

struct Stats {
  std::vector<std::uint32_t> latency_us;
  std::map<int, std::uint64_t> status;
  std::uint64_t errors = 0;
  std::uint64_t completed_total = 0;
  Clock::time_point last_completion{};
};

std::string build_request(const Options& o, const std::string& body) {
  std::string r = o.method + " " + o.target + " HTTP/1.1\r\nHost: " + o.host + ":" +
                  std::to_string(o.port) + "\r\nUser-Agent: dg_bench_load\r\n";
  for (const auto& h : o.headers) {
    r += h + "\r\n";
  }
  if (!body.empty() || o.method == "POST" || o.method == "PUT") {
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += "\r\n";
  r += body;
  return r;
}

asio::awaitable<void> connection(tcp::endpoint endpoint, Shared& shared, Stats& stats) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  bool connected = false;
  for (;;) {
    if (Clock::now() >= shared.measure_end) {
      break;
    }
    if (!connected) {
      stream.expires_after(std::chrono::seconds(10));
      auto [ec] = co_await stream.async_connect(endpoint, k_tuple);
      if (ec) {
        ++stats.errors;
        asio::steady_timer pause(executor, std::chrono::milliseconds(10));
        co_await pause.async_wait(k_tuple);
        continue;
      }
      stream.socket().set_option(tcp::no_delay(true));
      buffer.clear();
      connected = true;
    }
    std::size_t i = shared.next++;
    if (shared.once && i >= shared.requests.size()) {
      shared.exhausted = true;
      break;
    }
    const std::string* request = &shared.requests[i % shared.requests.size()];
    auto sent = Clock::now();
    stream.expires_after(std::chrono::seconds(60));
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(*request), k_tuple);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code rec;
    if (!wec) {
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, k_tuple);
      rec = ec;
    }
    auto done = Clock::now();
    if (wec || rec) {
      ++stats.errors;
      boost::system::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
      continue;
    }
    ++stats.completed_total;
    if (done >= shared.measure_start && done <= shared.measure_end) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - sent).count();
      stats.latency_us.push_back(static_cast<std::uint32_t>(us));
      ++stats.status[static_cast<int>(parser.get().result_int())];
      stats.last_completion = done;
    }
    if (!parser.get().keep_alive()) {
      boost::system::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

int run(const Options& o) {
  Shared shared;
  if (!o.bodies_file.empty()) {
    std::ifstream in(o.bodies_file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) {
        shared.requests.push_back(build_request(o, line));
      }
    }
    shared.once = !o.cycle;
    if (shared.requests.empty()) {
      std::cerr << "dg_bench_load: no bodies in " << o.bodies_file << "\n";
      return 2;
    }
  } else {
    std::string body = o.body_file.empty() ? std::string() : dg::bench::read_text(o.body_file);
    shared.requests.push_back(build_request(o, body));
  }

  asio::io_context ioc(o.threads);
  tcp::endpoint endpoint(asio::ip::make_address(o.host), static_cast<unsigned short>(o.port));
  std::vector<Stats> stats(static_cast<std::size_t>(o.connections));
  auto start = Clock::now();
  shared.measure_start =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  shared.measure_end = shared.measure_start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(o.duration));
  for (auto& s : stats) {
    s.latency_us.reserve(1 << 16);
    asio::co_spawn(asio::make_strand(ioc), connection(endpoint, shared, s), asio::detached);
  }
  std::vector<std::thread> pool;
  for (int i = 1; i < o.threads; ++i) {
    pool.emplace_back([&] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : pool) {
    t.join();
  }

  std::vector<std::uint32_t> all;
  std::map<int, std::uint64_t> status;
  std::uint64_t errors = 0;
  Clock::time_point last{};
  for (auto& s : stats) {
    all.insert(all.end(), s.latency_us.begin(), s.latency_us.end());
    for (auto [code, n] : s.status) {
      status[code] += n;
    }
    errors += s.errors;
    last = std::max(last, s.last_completion);
  }
  // When the bodies ran out early, the window ends with the last response.
  auto window_end = shared.exhausted && last < shared.measure_end && last > shared.measure_start
                        ? last
                        : shared.measure_end;
  double seconds = std::chrono::duration<double>(window_end - shared.measure_start).count();
  auto count = all.size();
  auto pct = dg::bench::percentiles(all);
  json status_json = json::object();
  for (auto [code, n] : status) {
    status_json[std::to_string(code)] = n;
  }
  json report = {{"connections", o.connections},
                 {"threads", o.threads},
                 {"warmup_s", o.warmup},
                 {"seconds", seconds},
                 {"requests", count},
                 {"errors", errors},
                 {"rps", seconds > 0 ? static_cast<double>(count) / seconds : 0.0},
                 {"latency", pct.to_json()},
                 {"status", status_json},
                 {"bodies_exhausted", shared.exhausted.load()}};
  std::cout << report.dump() << "\n";
  return 0;
}

// Reads the options; throws std::invalid_argument naming a bad one.
Options options(const dg::bench::CommandLine& args) {
  Options o;
  const std::string address = args.text("--address");
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument(address.empty() ? "--address is required"
                                                : "--address needs HOST:PORT");
  }
  o.host = address.substr(0, colon);
  o.port = std::stoi(address.substr(colon + 1));
  o.connections = static_cast<int>(args.integer("--connections", o.connections));
  o.duration = args.number("--duration", o.duration);
  o.warmup = args.number("--warmup", o.warmup);
  o.threads = static_cast<int>(args.integer("--threads", o.threads));
  o.method = args.text("--method", o.method);
  o.target = args.text("--target", o.target);
  o.headers = args.texts("--header");
  o.body_file = args.text("--body-file");
  o.bodies_file = args.text("--bodies-file");
  o.cycle = args.flag("--cycle");
  if (o.host.empty() || o.connections < 1 || o.threads < 1 || o.duration <= 0) {
    throw std::invalid_argument("--address is required; counts must be positive");
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  const dg::bench::Program program{"dg_bench_load",
                                   k_usage,
                                   {"--address", "--connections", "--duration", "--warmup",
                                    "--threads", "--method", "--target", "--header", "--body-file",
                                    "--bodies-file"},
                                   {"--cycle"}};
  Options o;
  return dg::bench::program_main(
      argc, argv, program, [&](const dg::bench::CommandLine& args) { o = options(args); },
      [&] { return run(o); });
}
