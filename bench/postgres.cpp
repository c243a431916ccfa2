// dg_bench_postgres: the PostgreSQL ledger's benchmarks, measured in one run on one PostgreSQL 15
// server started here (the test kit's tests/support/postgres.hpp), with digestgated started as the
// end-to-end tests start it (tests/support/daemon.hpp), each daemon on a database of its own:
//
//   insert_baseline  single-row INSERTs, one transaction each, synchronous_commit=on, one client
//   one_daemon       durable approved promotions on one daemon (closed-loop clients)
//   two_daemons      the same load split over two daemons appending to one database
//   read             dry-run promotions on a PostgreSQL-backed daemon vs the bare Beast server
//
// usage: dg_bench_postgres [--duration S] [--warmup S] [--write-connections N]
//                          [--read-connections N]
// Prints one JSON object on stdout. See docs/performance.md.
#include "tests/support/postgres.hpp"

#include "bench/evidence.hpp"
#include "bench/support.hpp"

#include "tests/support/daemon.hpp"
#include "tests/support/tempdir.hpp"

#include <csignal>
#include <iostream>
#include <libpq-fe.h>
#include <memory>
#include <thread>

namespace dg::bench {
namespace {

constexpr int k_write_digests = 256;

struct Settings {
  double duration = 10;
  double warmup = 2;
  int write_connections = 64;
  int read_connections = 32;
};

json parse_output(const test::ProcessResult& r, const std::string& what) {
  auto j = json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded()) {
    throw std::runtime_error(what + " failed (" + std::to_string(r.exit_code) + "):\n" + r.out +
                             r.err);
  }
  return j;
}

// dg_bench_load against `address`: POST `target` with the bodies of `bodies_file` round-robin.
json run_load(const Settings& s,
              const std::string& address,
              int connections,
              const std::string& bodies_file) {
  return parse_output(
      test::run_process({DG_BENCH_LOAD, "--address", address, "--connections",
                         std::to_string(connections), "--duration", std::to_string(s.duration),
                         "--warmup", std::to_string(s.warmup), "--method", "POST", "--target",
                         "/v1/promotions", "--header",
                         std::string("Authorization: Bearer ") + test::k_admin_token,
                         "--bodies-file", bodies_file, "--cycle"},
                        {}, "", static_cast<int>(s.duration + s.warmup) + 120),
      "dg_bench_load");
}

void expect_all(const json& load, int status, const std::string& what) {
  const auto total = load["requests"].get<std::uint64_t>();
  if (total == 0 || load["status"].value(std::to_string(status), std::uint64_t{0}) != total ||
      load["errors"].get<std::uint64_t>() > 0) {
    throw std::runtime_error(what + ": expected every response to be " + std::to_string(status) +
                             ", got " + load["status"].dump() + " and " + load["errors"].dump() +
                             " transport errors");
  }
}

// Single-row INSERTs of `row_bytes`, each its own transaction (synchronous_commit=on: the commit
// returns once its WAL is flushed), one client, for `seconds`.
json insert_baseline(const std::string& url, double seconds, std::size_t row_bytes = 700) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> db(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(db.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("baseline: ") + PQerrorMessage(db.get()));
  }
  auto exec = [&](PGresult* r, ExecStatusType want, const char* what) {
    std::unique_ptr<PGresult, decltype(&PQclear)> result(r, &PQclear);
    if (PQresultStatus(result.get()) != want) {
      throw std::runtime_error(std::string("baseline ") + what + ": " + PQerrorMessage(db.get()));
    }
  };
  exec(PQexec(db.get(), "SET synchronous_commit = on; CREATE TABLE IF NOT EXISTS rows("
                        "id bigserial PRIMARY KEY, body bytea NOT NULL)"),
       PGRES_COMMAND_OK, "schema");
  exec(PQprepare(db.get(), "insert", "INSERT INTO rows(body) VALUES($1)", 1, nullptr),
       PGRES_COMMAND_OK, "prepare");
  const std::string body(row_bytes, 'x');
  const char* values[] = {body.data()};
  const int lengths[] = {static_cast<int>(body.size())};
  const int formats[] = {1};
  std::vector<std::uint32_t> latency_us;
  std::uint64_t rows = 0;
  const auto started = Clock::now();
  while (seconds_since(started) < seconds) {
    const auto t0 = Clock::now();
    exec(PQexecPrepared(db.get(), "insert", 1, values, lengths, formats, 0), PGRES_COMMAND_OK,
         "insert");
    latency_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
    ++rows;
  }
  const double elapsed = seconds_since(started);
  return {{"rows", rows},
          {"seconds", elapsed},
          {"rps", static_cast<double>(rows) / elapsed},
          {"row_bytes", row_bytes},
          {"latency", percentiles(latency_us).to_json()}};
}

json ledger_config(const std::string& url) {
  return {{"ledger", {{"backend", "postgresql"}, {"url", url}}}};
}

// Dry-run promotions of one recorded digest on a PostgreSQL-backed daemon against the bare Beast
// server (a fixed JSON answer on the same threads), measured back to back.
json read_ratio(const Settings& s,
                const test::Daemon& d,
                const std::string& dry_run_file,
                const std::string& dir) {
  test::Process bare;
  bare.start({DG_BENCH_BARE, "--address-file", dir + "/bare-address"}, dir + "/bare.log");
  std::string address;
  for (int i = 0; i < 5000 && address.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    address = read_text(dir + "/bare-address");
  }
  address = address.substr(0, address.find('\n'));
  const json base = run_load(s, address, s.read_connections, dry_run_file);
  expect_all(base, 200, "bare server");
  const json daemon = run_load(s, d.address(), s.read_connections, dry_run_file);
  expect_all(daemon, 200, "dry-run promotions");
  bare.stop(SIGTERM, std::chrono::seconds(30));
  return {{"connections", s.read_connections},
          {"digestgate_rps", daemon["rps"]},
          {"baseline_rps", base["rps"]},
          {"ratio", daemon["rps"].get<double>() / base["rps"].get<double>()},
          {"digestgate_p99_ms", daemon["latency"]["p99_ms"]},
          {"baseline_p99_ms", base["latency"]["p99_ms"]}};
}

// Records k_write_digests digests through `d`; writes their promotions, one a line, to `file`.
void record_targets(const test::Daemon& d, const test::Signer& signer, const std::string& file) {
  std::string bodies;
  for (int i = 0; i < k_write_digests; ++i) {
    const std::string digest = digest_of("bench-pg-write-" + std::to_string(i));
    const json evidence = complete_evidence(signer, digest, k_repository, now_ns());
    auto r = d.http("POST", "/v1/validations", evidence.dump(), test::k_recorder_token);
    if (r.status != 201) {
      throw std::runtime_error("recording evidence answered " + std::to_string(r.status));
    }
    bodies +=
        json{{"reference", std::string(k_repository) + "@" + digest}, {"environment", "staging"}}
            .dump() +
        "\n";
  }
  write_text(file, bodies);
}

// What the daemons' ledgers did: commits (transactions), entries per commit, time per commit.
json commit_facts(const std::vector<const test::Daemon*>& daemons) {
  double commits = 0, entries = 0, seconds = 0;
  for (const auto* d : daemons) {
    const std::string metrics = d->http("GET", "/metrics").body;
    commits += test::metric_sample(metrics, "digestgate_ledger_commit_batch_size_count");
    entries += test::metric_sample(metrics, "digestgate_ledger_commit_batch_size_sum");
    seconds += test::metric_sample(metrics, "digestgate_ledger_append_seconds_sum");
  }
  return {{"commits", commits},
          {"mean_commit_batch", commits > 0 ? entries / commits : 0.0},
          {"mean_commit_ms", commits > 0 ? 1000 * seconds / commits : 0.0}};
}

std::int64_t entries_of(const test::Daemon& d) {
  return d.http("GET", "/readyz").json().value("entries", std::int64_t{-1});
}

// Durable approvals on `daemons` (the connections split evenly, loads run at once).
json write_load(const Settings& s,
                const std::vector<const test::Daemon*>& daemons,
                const std::string& bodies_file) {
  const std::int64_t before = entries_of(*daemons.front());
  std::vector<json> loads(daemons.size());
  std::vector<std::thread> threads;
  const int each = s.write_connections / static_cast<int>(daemons.size());
  for (std::size_t i = 0; i < daemons.size(); ++i) {
    threads.emplace_back(
        [&, i] { loads[i] = run_load(s, daemons[i]->address(), each, bodies_file); });
  }
  for (auto& t : threads) {
    t.join();
  }
  double rps = 0;
  std::uint64_t approved = 0;
  for (const auto& l : loads) {
    expect_all(l, 200, "approved promotions");
    rps += l["rps"].get<double>();
    approved += l["requests"].get<std::uint64_t>();
  }
  const std::int64_t added = entries_of(*daemons.front()) - before;
  if (added < static_cast<std::int64_t>(approved)) {
    throw std::runtime_error("fewer ledger entries than approvals");
  }
  json out = {{"daemons", daemons.size()},
              {"connections", each * static_cast<int>(daemons.size())},
              {"rps", rps},
              {"ledger_entries_added", added},
              {"loads", loads}};
  out.update(commit_facts(daemons));
  return out;
}

json run(const Settings& s) {
  auto server = test::Postgres::start();
  test::TempDir work("digestgate-bench-pg");
  const test::KeySigner signer = test::KeySigner::ecdsa_p256();
  const json policy = bench_policy(signer.public_key_pem());
  json report = {{"server", "PostgreSQL 15 from Debian, fsync=on, synchronous_commit=on, "
                            "TCP on the loopback, started by the benchmark"}};

  report["insert_baseline"] = insert_baseline(server->fresh_database("bench_insert"), s.duration);

  const std::string bodies = work.file("promotions.jsonl");
  {
    test::Daemon a(policy, ledger_config(server->fresh_database("bench_one")));
    record_targets(a, signer, bodies);
    report["one_daemon"] = write_load(s, {&a}, bodies);
    // The first recorded digest, promoted as a dry run: the read path.
    const std::string first = read_text(bodies).substr(0, read_text(bodies).find('\n'));
    json dry = json::parse(first);
    dry["dry_run"] = true;
    write_text(work.file("dry-run.json"), dry.dump() + "\n");
    report["read"] = read_ratio(s, a, work.file("dry-run.json"), work.path());
  }
  {
    const std::string url = server->fresh_database("bench_two");
    test::Daemon a(policy, ledger_config(url));
    test::Daemon b(policy, ledger_config(url), a.shared_key());
    record_targets(a, signer, bodies);
    report["two_daemons"] = write_load(s, {&a, &b}, bodies);
  }
  const double base = report["insert_baseline"]["rps"].get<double>();
  report["one_daemon"]["ratio_to_inserts"] = report["one_daemon"]["rps"].get<double>() / base;
  report["two_daemons"]["ratio_to_inserts"] = report["two_daemons"]["rps"].get<double>() / base;
  return report;
}

} // namespace
} // namespace dg::bench

int main(int argc, char** argv) {
  dg::bench::Settings s;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--duration") {
      s.duration = std::stod(args[i + 1]);
    } else if (args[i] == "--warmup") {
      s.warmup = std::stod(args[i + 1]);
    } else if (args[i] == "--write-connections") {
      s.write_connections = std::stoi(args[i + 1]);
    } else if (args[i] == "--read-connections") {
      s.read_connections = std::stoi(args[i + 1]);
    } else {
      std::cerr << "dg_bench_postgres: unknown argument '" << args[i] << "'\n";
      return 2;
    }
  }
  if (args.size() % 2 != 0) {
    std::cerr << "usage: dg_bench_postgres [--duration S] [--warmup S] [--write-connections N] "
                 "[--read-connections N]\n";
    return 2;
  }
  if (!dg::test::Postgres::available()) {
    std::cerr << "dg_bench_postgres: " << dg::test::Postgres::unavailable_reason() << "\n";
    return 77;
  }
  try {
    std::cout << dg::bench::run(s).dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dg_bench_postgres: " << e.what() << "\n";
    return 1;
  }
}
