// The driver's shared pieces (bench/run.cpp and the scenarios in files of their own): the run's
// settings, digestgated under test, the load generator, the recorded evidence. Benchmark code only:
// errors are thrown as std::runtime_error and end the run with a message.
#pragma once

#include "bench/evidence.hpp"
#include "bench/support.hpp"

#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/signer.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace dg::bench {

inline constexpr const char* k_token = "bench-token";
inline constexpr const char* k_origin = "bench.digestgate/ledger";

struct Settings {
  bool quick = false;
  std::string out = DG_BENCH_REPORT;
  std::string dir;
  bool keep = false;
  std::set<std::string> only;
  double duration = 10;
  double warmup = 2;
  int rounds = 3;
  std::vector<std::int64_t> sizes = {1000, 100000, 1000000};
  std::vector<int> sync_delays_us = {1000, 5000};
  int read_connections = 32;
  int write_connections = 64;
  int record_connections = 64;
  std::size_t record_bodies = 30000;
  // observe: the current digests observed, and the registry's delay before every answer.
  int observe_digests = 1000;
  int observe_delay_ms = 50;

  bool wants(const std::string& scenario) const { return only.empty() || only.count(scenario); }
};

// A line on stderr, with the time.
void say(const std::string& text);
double median(std::vector<double> v);
// The last `n` characters of `text`.
std::string tail(const std::string& text, std::size_t n = 3000);
// The JSON a benchmark program printed; throws when it failed or printed none.
json parse_output(const test::ProcessResult& r, const std::string& what);

// --- digestgated under test ---------------------------------------------------------------

class Daemon {
public:
  // Writes policy.json and config.json into `dir` (listen 127.0.0.1:0, state in dir/state) and
  // runs `digestgated init`.
  // `program` is the daemon binary started by start(): digestgated, or digestgated_bench for the
  // slow-sync seam. `extra` adds fields to the configuration (e.g. "registries").
  Daemon(std::string dir,
         const json& policy,
         std::string program = DG_BENCH_DAEMON,
         const json& extra = json::object())
      : m_dir(std::move(dir)), m_program(std::move(program)) {
    ::mkdir(m_dir.c_str(), 0700);
    write_text(m_dir + "/policy.json", policy.dump(2));
    json config = {{"listen", "127.0.0.1:0"},
                   {"state_dir", state_dir()},
                   {"policy", m_dir + "/policy.json"},
                   {"origin", k_origin},
                   {"principals",
                    {{{"name", "bench"},
                      {"roles", {"recorder", "promoter", "operator"}},
                      {"token_sha256", sha256_hex(k_token)}}}}};
    for (const auto& [key, value] : extra.items()) {
      config[key] = value;
    }
    write_text(m_dir + "/config.json", config.dump(2));
    auto init =
        test::run_process({DG_BENCH_DAEMON, "init", "--state-dir", state_dir()}, {}, "", 60);
    if (init.exit_code != 0) {
      throw std::runtime_error("digestgated init failed:\n" + init.out + init.err);
    }
  }

  ~Daemon() { stop(); }

  std::string state_dir() const { return m_dir + "/state"; }
  std::string db_path() const { return state_dir() + "/ledger.db"; }
  const std::string& host() const { return m_host; }
  int port() const { return m_port; }
  std::string address() const { return m_host + ":" + std::to_string(m_port); }
  pid_t pid() const { return m_child ? m_child->pid() : -1; }

  // Starts digestgated and waits until /healthz and then /readyz answer 200; returns the seconds
  // from the fork to each.
  json start(int timeout_seconds = 1800) {
    std::string address_file = state_dir() + "/listen-address";
    ::unlink(address_file.c_str());
    m_child = std::make_unique<test::Process>();
    m_child->start({m_program, "--config", m_dir + "/config.json"}, m_dir + "/daemon.log");
    auto deadline = m_child->started() + std::chrono::seconds(timeout_seconds);
    std::optional<double> healthy;
    for (;;) {
      if (m_child->wait_for(std::chrono::milliseconds(0))) {
        throw std::runtime_error("digestgated exited while starting:\n" +
                                 tail(read_text(m_dir + "/daemon.log")));
      }
      if (m_port == 0 || !healthy) {
        std::string text = read_text(address_file);
        auto colon = text.rfind(':');
        if (colon != std::string::npos && text.find('\n') != std::string::npos) {
          m_host = text.substr(0, colon);
          m_port = std::atoi(text.c_str() + colon + 1);
        }
      }
      if (m_port != 0) {
        if (!healthy) {
          if (probe("/healthz") == 200) {
            healthy = seconds_since(m_child->started());
          }
        }
        if (healthy && probe("/readyz") == 200) {
          double ready = seconds_since(m_child->started());
          return json{{"healthz_s", *healthy}, {"readyz_s", ready}};
        }
      }
      if (Clock::now() > deadline) {
        throw std::runtime_error("digestgated did not become ready in time:\n" +
                                 tail(read_text(m_dir + "/daemon.log")));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  void stop() {
    if (m_child) {
      m_child->stop(SIGTERM, std::chrono::seconds(30));
      m_child.reset();
    }
    m_port = 0;
  }

  test::HttpResponse request(const std::string& method,
                             const std::string& target,
                             const std::string& body = "") const {
    return test::http_request({m_host, m_port}, method, target, body, k_token, {}, 30000);
  }

  std::int64_t entries() const {
    auto r = test::http_request({m_host, m_port}, "GET", "/readyz");
    return r.json().value("entries", std::int64_t{-1});
  }

private:
  // The status of an unauthenticated GET of `target`; 0 while the daemon does not answer.
  int probe(const std::string& target) const {
    try {
      return test::http_request({m_host, m_port}, "GET", target, "", "", {}, 2000).status;
    } catch (const std::runtime_error&) {
      return 0;
    }
  }

  std::string m_dir;
  std::string m_program;
  std::unique_ptr<test::Process> m_child;
  std::string m_host;
  int m_port = 0;
};

// --- Load ---------------------------------------------------------------------------------

struct Load {
  std::string address;
  int connections = 32;
  double duration = 10;
  double warmup = 2;
  std::string method = "POST";
  std::string target;
  std::string body_file;
  std::string bodies_file;
  bool cycle = false;
};

// Runs dg_bench_load and returns its report.
json run_load(const Load& l);
std::uint64_t status_count(const json& load, int status);
// Throws unless every response had `status`; the load's errors count against it.
void expect_status(const json& load, int status, const std::string& what);

// --- The bare server ----------------------------------------------------------------------

// dg_bench_bare_server, the baseline of the request paths, started with its address file and log
// in `dir`; stopped (SIGTERM) when it goes.
class BareServer {
public:
  explicit BareServer(const std::string& dir);
  ~BareServer() { stop(); }
  BareServer(const BareServer&) = delete;
  BareServer& operator=(const BareServer&) = delete;

  // "HOST:PORT"; empty when the server did not write it in 10 s.
  const std::string& address() const { return m_address; }
  void stop() { m_process.stop(SIGTERM, std::chrono::seconds(30)); }

private:
  test::Process m_process;
  std::string m_address;
};

// Rounds of `load` against the bare server and then digestgated, alternating, every response 200.
struct BareRounds {
  json rounds = json::array(); // each: baseline, digestgate, ratio, load_average
  std::vector<double> base_rps, base_p50, base_p99, dg_rps, dg_p50, dg_p99;
};
// `what` names digestgated's requests in errors, `unit` its rate in the progress lines.
BareRounds rounds_against_bare(int count,
                               Load load,
                               const std::string& bare_address,
                               const std::string& daemon_address,
                               const std::string& what,
                               const std::string& unit);

// --- Evidence -----------------------------------------------------------------------------

// An ECDSA P-256 key, as cosign makes it.
struct Signer {
  test::KeySigner key = test::KeySigner::ecdsa_p256();
};

// Records complete evidence for `digest` and checks the daemon took it.
void record_target(const Daemon& d, const Signer& signer, const std::string& digest);
// A promotion of k_repository@`digest` to "staging".
std::string promotion_body(const std::string& digest, bool dry_run);
// Checks that one promotion is approved (so the load measures approvals, not refusals).
void expect_approved(const Daemon& d, const std::string& body);

json memory_json(pid_t pid);
// The "HOST:PORT" a server writes into `file` once it listens; empty after 10 s without it.
std::string wait_for_address(const std::string& file);

// --- Scenarios in files of their own -------------------------------------------------------

// bench/observation.cpp: dry-run promotions with the observation loop busy vs idle.
json observation_path(const Settings& s, const std::string& work);

} // namespace dg::bench
