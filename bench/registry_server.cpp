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
#include "bench/beast_server.hpp"
#include "bench/support.hpp"

#include <algorithm>
#include <atomic>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace http = boost::beast::http;
using dg::bench::HttpAnswer;
using dg::bench::HttpRequest;

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

// The answer to a request of the OCI Distribution API, after the registry's delay.
HttpAnswer serve_api(Registry& registry, const HttpRequest& req) {
  registry.requests.fetch_add(1, std::memory_order_relaxed);
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  HttpAnswer out{{http::status::ok, req.version()}, registry.delay};
  auto& res = out.response;
  res.set(http::field::server, "dg_bench_registry");
  res.set("Docker-Distribution-API-Version", "registry/2.0");
  res.keep_alive(req.keep_alive());
  const bool read = req.method() == http::verb::head || req.method() == http::verb::get;
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
  res.prepare_payload(); // a HEAD's Content-Length is that of the GET; its body is not sent
  return out;
}

// GET /bench/stats answers at once; everything else is the registry's.
HttpAnswer answer(Registry& registry, const HttpRequest& req) {
  if (req.target() != "/bench/stats") {
    return serve_api(registry, req);
  }
  HttpAnswer out{{http::status::ok, req.version()}};
  auto& res = out.response;
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = dg::bench::json{{"requests", registry.requests.load()},
                               {"manifests", registry.found.load()},
                               {"not_found", registry.not_found.load()}}
                   .dump();
  res.prepare_payload();
  return out;
}

} // namespace

int main(int argc, char** argv) {
  const dg::bench::Program program{"dg_bench_registry",
                                   "usage: dg_bench_registry --address-file FILE --content FILE "
                                   "[--delay-ms MS] [--threads N]\n",
                                   {"--address-file", "--content", "--delay-ms", "--threads"}};
  Registry registry;
  std::string address_file;
  int threads = 1;
  return dg::bench::program_main(
      argc, argv, program,
      [&](const dg::bench::CommandLine& args) {
        address_file = args.text("--address-file");
        const std::string content = args.text("--content");
        if (address_file.empty() || content.empty()) {
          throw std::invalid_argument("--address-file and --content are required");
        }
        registry.delay = std::chrono::milliseconds(args.integer("--delay-ms", 50));
        threads = static_cast<int>(std::max(1LL, args.integer("--threads", 1)));
        load_content(registry, content);
      },
      [&] {
        dg::bench::serve_http("127.0.0.1:0", threads, address_file,
                              [&](const HttpRequest& req) { return answer(registry, req); });
        return 0;
      });
}
