// Load with faults: honest clients record and promote while others send garbage, oversize bodies,
// never-ending headers, wrong tokens and abrupt disconnects. The honest clients keep getting
// correct answers, the daemon's memory stays bounded, and afterwards every acknowledged entry is
// present and the ledger verifies. Bounded in time (about 20 s).
#include "tests/support/daemon.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

using namespace dg::test;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// How much the daemon's resident memory may grow under the load. The tests are built with the
// daemon's flags: under AddressSanitizer freed memory sits in a quarantine of up to 256 MB (plus
// its shadow), so only a runaway is caught there.
// gcc defines __SANITIZE_ADDRESS__; clang (before 17) only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define DG_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DG_TEST_ASAN 1
#endif
#endif
#if defined(DG_TEST_ASAN)
constexpr long k_rss_growth_kib = 1024 * 1024;
#else
constexpr long k_rss_growth_kib = 64 * 1024;
#endif

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

json evidence_for(const std::string& digest) {
  return {{"subject", {{"name", "ghcr.io/acme/app"}, {"digest", digest}, {"tags", {"v1.0.0"}}}},
          {"pushed_at", "2026-11-20T10:00:00Z"},
          {"gates",
           {{{"name", "vuln-scan"},
             {"tool", {{"name", "trivy"}, {"version", "0.58.1"}}},
             {"target", "ghcr.io/acme/app@" + digest},
             {"started_at", "2026-11-20T10:05:00Z"},
             {"finished_at", "2026-11-20T10:06:00Z"},
             {"result", "pass"},
             {"findings", {{"critical", 0}}}}}}};
}

struct Acknowledged {
  std::int64_t seq;
  std::string kind;
  std::string digest;
};

} // namespace

TEST_SUITE_BEGIN("E2E faults");

TEST_CASE("Honest clients are served correctly while others misbehave, and nothing is lost") {
  json policy = {
      {"environments",
       {{"staging", {{"require_gates", {"vuln-scan"}}, {"max_findings", {{"critical", 0}}}}}}}};
  json limits = {{"limits",
                  {{"max_body_bytes", 65536},
                   {"header_timeout_ms", 800},
                   {"idle_timeout_ms", 1500},
                   {"max_connections", 256}}}};
  Daemon daemon(policy, limits);
  const std::string address = daemon.address();
  // Warm up, so the memory baseline includes the daemon's steady-state allocations.
  for (int i = 0; i < 20; ++i) {
    daemon.http("GET", "/v1/entries", "", k_reader_token);
  }
  const long rss_before = rss_kib(daemon.pid());
  REQUIRE(rss_before > 0);

  const auto deadline = Clock::now() + std::chrono::seconds(15);
  std::atomic<int> wrong_answers{0};
  std::atomic<int> transport_errors{0};
  std::atomic<int> faults_sent{0};
  std::mutex acked_mutex;
  std::vector<Acknowledged> acked;

  auto honest = [&](int id) {
    for (int i = 0; Clock::now() < deadline; ++i) {
      std::string digest = sample_digest(id * 100000 + i);
      try {
        auto rec =
            daemon.http("POST", "/v1/validations", evidence_for(digest).dump(), k_admin_token);
        if (rec.status != 201 || rec.json()["digest"] != digest) {
          ++wrong_answers;
          continue;
        }
        auto pro = daemon.http(
            "POST", "/v1/promotions",
            json{{"reference", "ghcr.io/acme/app@" + digest}, {"environment", "staging"}}.dump(),
            k_admin_token);
        json p = pro.json();
        if (pro.status != 200 || p["decision"] != "approved" ||
            p["reference"] != "ghcr.io/acme/app@" + digest) {
          ++wrong_answers;
          continue;
        }
        auto tag = daemon.http(
            "POST", "/v1/promotions",
            json{{"reference", "ghcr.io/acme/app:v1.0.0"}, {"environment", "staging"}}.dump(),
            k_admin_token);
        if (tag.status != 403 || tag.json()["reasons"][0]["code"] != "mutable-reference") {
          ++wrong_answers;
          continue;
        }
        std::lock_guard lock(acked_mutex);
        acked.push_back({rec.json()["seq"].get<std::int64_t>(), "validation", digest});
        acked.push_back({p["seq"].get<std::int64_t>(), "promotion", digest});
      } catch (const std::exception&) {
        ++transport_errors;
      }
    }
  };

  auto faulty = [&](int id) {
    for (int i = 0; Clock::now() < deadline; ++i) {
      try {
        switch ((id + i) % 6) {
        case 0: { // garbage bytes
          std::string garbage =
              dg::to_hex(dg::sha256(std::to_string(i))) + "\r\n\x01\x02\xff\r\n\r\n";
          raw_request(address, garbage, 500);
          break;
        }
        case 1: // a body far over the limit, announced and never sent
          raw_request(address,
                      "POST /v1/validations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nContent-Length: 500000000\r\n\r\n{",
                      500);
          break;
        case 2: // a header that never ends (the daemon cuts it off)
          raw_request(address, "GET /v1/entries HTTP/1.1\r\nHost: x\r\nX-Slow: aaaa", 1200);
          break;
        case 3: { // wrong tokens must be refused
          auto r = daemon.http(
              "POST", "/v1/promotions",
              R"({"reference": "ghcr.io/acme/app@sha256:00", "environment": "staging"})",
              "not-a-token-" + std::to_string(i));
          if (r.status != 401) {
            ++wrong_answers;
          }
          break;
        }
        case 4: // an abrupt disconnect in the middle of a request
          raw_request(
              address,
              "POST /v1/validations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sub", 1);
          break;
        case 5: // malformed JSON with a valid token
          if (daemon.http("POST", "/v1/validations", "{\"subject\": [", k_recorder_token).status !=
              400) {
            ++wrong_answers;
          }
          break;
        }
        ++faults_sent;
      } catch (const std::exception&) {
        // A misbehaving client may well be cut off; only the honest clients must be served.
      }
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back(honest, i + 1);
  }
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back(faulty, i);
  }
  for (auto& t : threads) {
    t.join();
  }

  CHECK(wrong_answers == 0);
  CHECK(transport_errors == 0);
  CHECK(faults_sent > 50);
  REQUIRE(acked.size() > 20);
  const long rss_after = rss_kib(daemon.pid());
  MESSAGE("daemon RSS " << rss_before << " KiB before, " << rss_after << " KiB after; "
                        << acked.size() << " entries acknowledged, " << faults_sent.load()
                        << " faults sent");
  CHECK(rss_after < rss_before + k_rss_growth_kib);
  CHECK(daemon.http("GET", "/readyz").status == 200);

  // Every acknowledged entry is there, after a restart too, and the ledger verifies.
  REQUIRE(daemon.stop() == 0);
  daemon.start();
  for (const auto& a : acked) {
    auto r = daemon.http("GET", "/v1/entries/" + std::to_string(a.seq), "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    json entry = r.json()["entry"];
    CHECK(entry["kind"] == a.kind);
    std::string digest = a.kind == "validation"
                             ? entry["body"]["digest"].get<std::string>()
                             : entry["body"]["promotions"][0]["digest"].get<std::string>();
    CHECK(digest == a.digest);
  }
  auto verify = daemon.cli({"ledger", "verify", "--db", daemon.ledger_db()});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
}

TEST_SUITE_END();
