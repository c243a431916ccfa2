// dg_bench_registry: the registry of the observation benchmark. A Boost.Beast HTTP/1.1 server
// that speaks the read side of the OCI Distribution API the daemon's observations use, and that
// answers every request only after a fixed delay (50 ms by default, a remote registry's round
// trip), on a timer, so that a thousand waiting requests cost it nothing.
//
// It serves the manifests of a content file, one per line, tab-separated:
//   REPOSITORY-PATH <TAB> TAG-or-"-" <TAB> MEDIA-TYPE <TAB> BODY
// Each is served by its digest (the SHA-256 of BODY, as Docker-Content-Digest) and, when a tag is
// given, by that tag, to GET and HEAD of /v2/<path>/manifests/<reference>. `GET /v2/` answers 200;
// everything else (tags lists, cosign `.sig`/`.att` tags, the referrers API, blobs) answers 404
// with an OCI error body, after the same delay. `GET /bench/stats` answers at once with the
// counts of requests served so far: {"requests", "manifests", "not_found"}.
//
// usage: dg_bench_registry --address-file FILE --content FILE [--delay-ms MS] [--threads N]
// Writes the bound "HOST:PORT" to FILE and serves until SIGTERM or SIGINT.
#include "bench/support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

struct Served {
  std::string media_type;
  std::string digest;
  std::string body;
};

struct Registry {
  // By "path@digest" and "path:tag".
  std::unordered_map<std::string, Served> manifests;
  std::chrono::milliseconds delay{50};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> found{0};
  std::atomic<std::uint64_t> not_found{0};
};

void load_content(Registry& registry, const std::string& path) {
  std::istringstream in(dg::bench::read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      std::size_t tab = line.find('\t', start);
      if (tab == std::string::npos) {
        throw std::runtime_error("content line without 4 fields: " + line.substr(0, 80));
      }
      fields.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    Served served{fields[2], "sha256:" + dg::bench::sha256_hex(line.substr(start)),
                  line.substr(start)};
    registry.manifests[fields[0] + "@" + served.digest] = served;
    if (fields[1] != "-") {
      registry.manifests[fields[0] + ":" + fields[1]] = served;
    }
  }
}

// The manifest a target /v2/<path>/manifests/<reference> names, or nullptr.
const Served* find_manifest(const Registry& registry, std::string_view target) {
  constexpr std::string_view k_prefix = "/v2/";
  constexpr std::string_view k_manifests = "/manifests/";
  auto at = target.rfind(k_manifests);
  if (!target.starts_with(k_prefix) || at == std::string_view::npos || at <= k_prefix.size()) {
    return nullptr;
  }
  std::string path(target.substr(k_prefix.size(), at - k_prefix.size()));
  std::string reference(target.substr(at + k_manifests.size()));
  const char joint = reference.starts_with("sha256:") ? '@' : ':';
  auto it = registry.manifests.find(path + joint + reference);
  return it == registry.manifests.end() ? nullptr : &it->second;
}

http::response<http::string_body> answer(Registry& registry,
                                         const http::request<http::string_body>& req) {
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "dg_bench_registry");
  res.set("Docker-Distribution-API-Version", "registry/2.0");
  res.keep_alive(req.keep_alive());
  const bool head = req.method() == http::verb::head;
  const bool read = head || req.method() == http::verb::get;
  if (read && (target == "/v2/" || target == "/v2")) {
    res.set(http::field::content_type, "application/json");
    res.body() = "{}";
  } else if (const Served* m = read ? find_manifest(registry, target) : nullptr) {
    registry.found.fetch_add(1, std::memory_order_relaxed);
    res.set(http::field::content_type, m->media_type);
    res.set("Docker-Content-Digest", m->digest);
    res.body() = m->body;
  } else {
    registry.not_found.fetch_add(1, std::memory_order_relaxed);
    res.result(http::status::not_found);
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})";
  }
  res.prepare_payload();
  if (head) {
    res.body().clear(); // Content-Length stays that of the GET
  }
  return res;
}

asio::awaitable<void> session(Registry& registry, tcp::socket socket) {
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
    auto& req = parser.get();
    if (req.target() == "/bench/stats") {
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = dg::bench::json{{"requests", registry.requests.load()},
                                   {"manifests", registry.found.load()},
                                   {"not_found", registry.not_found.load()}}
                       .dump();
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, k_tuple);
      if (wec || !res.keep_alive()) {
        break;
      }
      continue;
    }
    registry.requests.fetch_add(1, std::memory_order_relaxed);
    timer.expires_after(registry.delay);
    co_await timer.async_wait(k_tuple);
    auto res = answer(registry, req);
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

asio::awaitable<void> accept_loop(Registry& registry, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()), k_tuple);
    if (ec) {
      co_return;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(registry, std::move(socket)), asio::detached);
  }
}

} // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: dg_bench_registry --address-file FILE --content FILE "
                            "[--delay-ms MS] [--threads N]\n";
  const auto args = dg::bench::CommandLine::parse(
      argc, argv, {"--address-file", "--content", "--delay-ms", "--threads"}, "dg_bench_registry",
      usage);
  if (!args) {
    return 2;
  }
  Registry registry;
  std::string address_file;
  int threads = 1;
  try {
    address_file = args->text("--address-file");
    const std::string content = args->text("--content");
    if (address_file.empty() || content.empty()) {
      std::cerr << usage;
      return 2;
    }
    registry.delay = std::chrono::milliseconds(args->integer("--delay-ms", 50));
    threads = static_cast<int>(std::max(1LL, args->integer("--threads", 1)));
    load_content(registry, content);
  } catch (const std::exception& e) {
    std::cerr << "dg_bench_registry: " << e.what() << "\n" << usage;
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ioc(threads);
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto bound = acceptor.local_endpoint();
  dg::bench::write_text(address_file,
                        bound.address().to_string() + ":" + std::to_string(bound.port()) + "\n");
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
  asio::co_spawn(ioc, accept_loop(registry, acceptor), asio::detached);
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
