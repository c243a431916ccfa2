// The daemon's request path without a socket. The input's first byte chooses the bearer token (0:
// keep the request's own Authorization header; 1-5: a principal with the roles in k_principals,
// so ASCII '0'..'5' select them too); the rest is parsed as an HTTP/1.1 request with the limits of
// the HTTP server and handed to one Service over a real ledger in a temporary state directory.
// Requests build up state (evidence, promotions, revocations) from one input to the next; the
// ledger starts afresh once it grows past k_max_entries entries or k_max_ledger_bytes bytes.
// DG_FUZZ_STATE_PARENT chooses where the state directories go (default: /dev/shm when writable).
#include "fuzz/fixtures.hpp"

#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/service.hpp"
#include "ledger/ledger.hpp"
#include "tests/support/tempdir.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using dg::daemon::Request;
using dg::daemon::Response;
using nlohmann::json;

// The limits of daemon/http_server.cpp and of the default configuration.
constexpr std::size_t k_header_limit = 16 * 1024;
constexpr std::size_t k_body_limit = 1024 * 1024;

constexpr std::int64_t k_max_entries = 500;
constexpr std::uintmax_t k_max_ledger_bytes = 64 * 1024 * 1024;

struct FuzzPrincipal {
  const char* name;
  std::vector<std::string> roles;
  const char* token;
};

const std::vector<FuzzPrincipal> k_principals = {
    {"ci", {"recorder"}, "fuzz-token-recorder"},
    {"deploy", {"promoter"}, "fuzz-token-promoter"},
    {"ops", {"operator"}, "fuzz-token-operator"},
    {"viewer", {"reader"}, "fuzz-token-reader"},
    {"root", {"recorder", "promoter", "operator", "reader"}, "fuzz-token-root"},
};

[[noreturn]] void setup_failed(const std::string& what) {
  std::cerr << "fuzz_http: " << what << std::endl;
  std::abort();
}

// A tmpfs when there is one: every append is fsynced.
fs::path scratch_parent() {
  if (const char* dir = std::getenv("DG_FUZZ_STATE_PARENT")) {
    return dir;
  }
  if (::access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return fs::temp_directory_path();
}

// One Service over its own ledger, rebuilt from scratch on demand.
class Harness {
public:
  Harness() { start(); }

  ~Harness() { stop(); }

  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // The response of the service to `request`, which it must give exactly once.
  Response handle(Request request) {
    auto promise = std::make_shared<std::promise<Response>>();
    auto future = promise->get_future();
    m_service->handle(std::move(request),
                      [promise](Response response) { promise->set_value(std::move(response)); });
    if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      setup_failed("no response within 60 s");
    }
    return future.get();
  }

  // Start afresh when the ledger has grown past its bounds.
  void bound_growth() {
    std::error_code ec;
    auto db = fs::file_size(m_config.ledger_path(), ec);
    auto wal = fs::file_size(m_config.ledger_path() + "-wal", ec);
    if (m_service->ledger().size() > k_max_entries || (db + wal) > k_max_ledger_bytes) {
      stop();
      start();
    }
  }

private:
  void start() {
    fs::path dir = fs::path(m_root) / ("state-" + std::to_string(++m_generation));
    fs::create_directories(dir);
    m_config = dg::daemon::Config{};
    m_config.path = (dir / "config.json").string();
    m_config.state_dir = dir.string();
    m_config.policy_path = (dir / "policy.json").string();
    m_config.origin = dg::fuzz::k_origin;
    for (const auto& p : k_principals) {
      m_config.principals.push_back({p.name, p.roles, dg::to_hex(dg::sha256(p.token))});
    }
    if (!dg::write_file_atomic(m_config.policy_path, dg::fuzz::strict_policy().dump(2))) {
      setup_failed("cannot write " + m_config.policy_path);
    }

    auto key = dg::Ed25519PrivateKey::generate();
    if (!key) {
      setup_failed(key.error().message);
    }
    if (auto r = dg::ledger::Ledger::initialize(m_config.ledger_path(), key->public_key()); !r) {
      setup_failed(r.error().message);
    }
    m_metrics = std::make_unique<dg::daemon::Metrics>();
    dg::ledger::Options options;
    options.database = m_config.ledger_path();
    options.origin = m_config.origin;
    options.key = std::make_shared<const dg::Ed25519PrivateKey>(std::move(*key));
    options.witness_path = m_config.witness_path();
    options.on_commit = [metrics = m_metrics.get()](std::size_t batch, double seconds) {
      metrics->commit(batch, seconds);
    };
    auto ledger = dg::ledger::Ledger::open(options);
    if (!ledger) {
      setup_failed(ledger.error().message);
    }
    m_service = std::make_unique<dg::daemon::Service>(m_config, std::move(*ledger), *m_metrics);
    if (auto loaded = m_service->load_policy(); !loaded) {
      setup_failed(loaded.error().message);
    }
  }

  void stop() {
    m_service.reset();
    m_metrics.reset();
    std::error_code ignored;
    fs::remove_all(m_config.state_dir, ignored);
  }

  dg::test::TempDir m_root_dir{"dg-fuzz-http", scratch_parent().string()};
  std::string m_root{m_root_dir.path()};
  int m_generation = 0;
  dg::daemon::Config m_config;
  std::unique_ptr<dg::daemon::Metrics> m_metrics;
  std::unique_ptr<dg::daemon::Service> m_service;
};

Harness* g_harness = nullptr;

void check_response(const Response& response) {
  DG_FUZZ_CHECK(response.status >= 200 && response.status <= 599, "a response has a valid status");
  if (response.status >= 500) {
    std::cerr << "status " << response.status << ": " << response.body << std::endl;
  }
  DG_FUZZ_CHECK(response.status < 500, "a healthy service over a healthy ledger fails no request");
  if (response.content_type == "application/json") {
    json body = json::parse(response.body, nullptr, false);
    DG_FUZZ_CHECK(!body.is_discarded() && body.is_object(), "a JSON response is a JSON object");
    if (response.status >= 400) {
      DG_FUZZ_CHECK(body.contains("error") || body.contains("decision"),
                    "an error response names the error");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static Harness harness;
  g_harness = &harness;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::size_t token = data[0] % (k_principals.size() + 1);

  http::request_parser<http::string_body> parser;
  parser.header_limit(k_header_limit);
  parser.body_limit(k_body_limit);
  parser.eager(true);
  boost::beast::error_code ec;
  boost::asio::const_buffer input(data + 1, size - 1);
  while (input.size() > 0 && !parser.is_done()) {
    std::size_t used = parser.put(input, ec);
    if (ec == http::error::need_more) {
      break;
    }
    if (ec) {
      return 0;
    }
    input += used;
  }
  if (!parser.got_some()) {
    return 0;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) {
      return 0;
    }
  }

  // As HttpServer hands requests over.
  auto req = parser.release();
  Request request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.body = std::move(req.body());
  request.authorization = std::string(req[http::field::authorization]);
  request.content_type = std::string(req[http::field::content_type]);
  request.request_id = "fuzz";
  if (token > 0) {
    request.authorization = std::string("Bearer ") + k_principals[token - 1].token;
  }

  std::string line = request.method + " " + request.target;
  Response response = g_harness->handle(std::move(request));
  // DG_FUZZ_HTTP_TRACE=1 prints each exchange, to see what the seeds reach.
  static const bool trace = std::getenv("DG_FUZZ_HTTP_TRACE") != nullptr;
  if (trace) {
    std::cerr << line << " -> " << response.status << " " << response.body.substr(0, 300) << "\n";
  }
  check_response(response);
  g_harness->bound_growth();
  return 0;
}
