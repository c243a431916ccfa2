// dg_bench_sqlite: the write-path baseline. Single-row durable SQLite inserts, one transaction
// per row, in WAL mode with synchronous=FULL (the durability the ledger promises: a row is on disk
// when COMMIT returns), one writer, for a fixed time.
//
// usage: dg_bench_sqlite --dir DIR [--seconds S] [--row-bytes B]
// Creates DIR/sqlite-baseline.db (removed afterwards) on the file system under test and prints
// one JSON object: rows, seconds, rows per second and commit latency percentiles.
#include "bench/slow_sync_vfs.hpp"
#include "bench/support.hpp"

#include <sqlite3.h>

#include <iostream>
#include <string>
#include <unistd.h>

namespace {

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
  }
}

} // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: dg_bench_sqlite --dir DIR [--seconds S] [--row-bytes B]\n";
  const auto args = dg::bench::CommandLine::parse(argc, argv, {"--dir", "--seconds", "--row-bytes"},
                                                  "dg_bench_sqlite", usage);
  if (!args) {
    return 2;
  }
  const std::string dir = args->text("--dir");
  const double seconds = args->number("--seconds", 10);
  const auto row_bytes = static_cast<std::size_t>(args->integer("--row-bytes", 700));
  if (dir.empty()) {
    std::cerr << usage;
    return 2;
  }
  // DG_BENCH_SYNC_DELAY_US: the slow-sync seam, as digestgated_bench has it.
  dg::bench::install_slow_sync_vfs_from_environment();
  std::string path = dir + "/sqlite-baseline.db";
  sqlite3* db = nullptr;
  try {
    check(db, sqlite3_open(path.c_str(), &db), "open");
    check(
        db,
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "CREATE TABLE IF NOT EXISTS rows(id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
                     nullptr, nullptr, nullptr),
        "schema");
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* commit = nullptr;
    check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr), "prepare");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO rows(body) VALUES(?)", -1, &insert, nullptr),
          "prepare");
    check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr), "prepare");
    std::string body(row_bytes, 'x');
    std::vector<std::uint32_t> latency_us;
    auto started = dg::bench::Clock::now();
    auto deadline = started + std::chrono::duration_cast<dg::bench::Clock::duration>(
                                  std::chrono::duration<double>(seconds));
    std::uint64_t rows = 0;
    while (dg::bench::Clock::now() < deadline) {
      auto t0 = dg::bench::Clock::now();
      check(db, sqlite3_step(begin), "begin");
      sqlite3_reset(begin);
      sqlite3_bind_blob(insert, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      check(db, sqlite3_step(insert), "insert");
      sqlite3_reset(insert);
      check(db, sqlite3_step(commit), "commit");
      sqlite3_reset(commit);
      latency_us.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(dg::bench::Clock::now() - t0)
              .count()));
      ++rows;
    }
    double elapsed = dg::bench::seconds_since(started);
    sqlite3_finalize(begin);
    sqlite3_finalize(insert);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    db = nullptr;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ::unlink((path + suffix).c_str());
    }
    nlohmann::json report = {{"rows", rows},
                             {"seconds", elapsed},
                             {"rps", static_cast<double>(rows) / elapsed},
                             {"row_bytes", row_bytes},
                             {"latency", dg::bench::percentiles(latency_us).to_json()}};
    std::cout << report.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dg_bench_sqlite: " << e.what() << "\n";
    if (db != nullptr) {
      sqlite3_close(db);
    }
    return 1;
  }
}
