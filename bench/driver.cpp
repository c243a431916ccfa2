#include "bench/driver.hpp"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <sstream>

namespace dg::bench {

void say(const std::string& text) {
  std::time_t t = std::time(nullptr);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&t));
  std::cerr << "[" << stamp << "] " << text << std::endl;
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "[...]\n" + text.substr(text.size() - n);
}

json parse_output(const test::ProcessResult& r, const std::string& what) {
  if (r.exit_code != 0) {
    throw std::runtime_error(what + " exited with " + std::to_string(r.exit_code) + ":\n" +
                             tail(r.out + r.err));
  }
  auto j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    throw std::runtime_error(what + " printed no JSON:\n" + tail(r.out + r.err));
  }
  return j;
}

// --- Load ---------------------------------------------------------------------------------

json run_load(const Load& l) {
  std::vector<std::string> argv = {DG_BENCH_LOAD,
                                   "--address",
                                   l.address,
                                   "--connections",
                                   std::to_string(l.connections),
                                   "--duration",
                                   std::to_string(l.duration),
                                   "--warmup",
                                   std::to_string(l.warmup),
                                   "--method",
                                   l.method,
                                   "--target",
                                   l.target,
                                   "--header",
                                   std::string("Authorization: Bearer ") + k_token};
  if (!l.body_file.empty()) {
    argv.insert(argv.end(), {"--body-file", l.body_file});
  }
  if (!l.bodies_file.empty()) {
    argv.insert(argv.end(), {"--bodies-file", l.bodies_file});
  }
  if (l.cycle) {
    argv.emplace_back("--cycle");
  }
  auto timeout = static_cast<int>(l.duration + l.warmup) + 120;
  return parse_output(test::run_process(argv, {}, "", timeout), "dg_bench_load");
}

std::uint64_t status_count(const json& load, int status) {
  return load["status"].value(std::to_string(status), std::uint64_t{0});
}

// The fraction of responses with `status`; the load's errors count against it.
void expect_status(const json& load, int status, const std::string& what) {
  std::uint64_t total = load["requests"].get<std::uint64_t>();
  std::uint64_t good = status_count(load, status);
  if (total == 0 || good != total || load["errors"].get<std::uint64_t>() > 0) {
    throw std::runtime_error(what + ": expected every response to be " + std::to_string(status) +
                             ", got " + load["status"].dump() + " and " + load["errors"].dump() +
                             " transport errors");
  }
}

// --- The bare server ----------------------------------------------------------------------

BareServer::BareServer(const std::string& dir) {
  m_process.start({DG_BENCH_BARE, "--address-file", dir + "/bare-address"}, dir + "/bare.log");
  m_address = wait_for_address(dir + "/bare-address");
}

BareRounds rounds_against_bare(int count,
                               Load load,
                               const std::string& bare_address,
                               const std::string& daemon_address,
                               const std::string& what,
                               const std::string& unit) {
  BareRounds out;
  for (int r = 0; r < count; ++r) {
    load.address = bare_address;
    json b = run_load(load);
    expect_status(b, 200, "bare server");
    load.address = daemon_address;
    json d = run_load(load);
    expect_status(d, 200, what);
    out.base_rps.push_back(b["rps"]);
    out.base_p50.push_back(b["latency"]["p50_ms"]);
    out.base_p99.push_back(b["latency"]["p99_ms"]);
    out.dg_rps.push_back(d["rps"]);
    out.dg_p50.push_back(d["latency"]["p50_ms"]);
    out.dg_p99.push_back(d["latency"]["p99_ms"]);
    say("  round " + std::to_string(r + 1) + ": bare " + std::to_string(b["rps"].get<double>()) +
        " req/s, digestgated " + std::to_string(d["rps"].get<double>()) + " " + unit);
    out.rounds.push_back({{"baseline", b},
                          {"digestgate", d},
                          {"ratio", d["rps"].get<double>() / b["rps"].get<double>()},
                          {"load_average", load_average()}});
  }
  return out;
}

// --- Evidence -----------------------------------------------------------------------------

// Records complete evidence for `digest` and checks the daemon took it.
void record_target(const Daemon& d, const Signer& signer, const std::string& digest) {
  json evidence = complete_evidence(signer.key, digest, k_repository, now_ns());
  auto r = d.request("POST", "/v1/validations", evidence.dump());
  if (r.status != 201) {
    throw std::runtime_error("recording the target evidence answered " + std::to_string(r.status) +
                             ": " + r.body);
  }
}

std::string promotion_body(const std::string& digest, bool dry_run) {
  return json{{"reference", std::string(k_repository) + "@" + digest},
              {"environment", "staging"},
              {"dry_run", dry_run}}
      .dump();
}

// Checks that one promotion is approved (so the load measures approvals, not refusals).
void expect_approved(const Daemon& d, const std::string& body) {
  auto r = d.request("POST", "/v1/promotions", body);
  if (r.status != 200 || r.json().value("decision", "") != "approved") {
    throw std::runtime_error("the benchmark promotion is not approved (" +
                             std::to_string(r.status) + "): " + r.body);
  }
}

json memory_json(pid_t pid) {
  Memory m = process_memory(pid);
  return json{{"rss_kb", m.rss_kb}, {"hwm_kb", m.hwm_kb}};
}

// The "HOST:PORT" a server writes into `file` once it listens; empty after 10 s without it.
std::string wait_for_address(const std::string& file) {
  std::string text;
  for (int i = 0; i < 5000 && text.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    text = read_text(file);
  }
  return text.substr(0, text.find('\n'));
}

} // namespace dg::bench
