// WAL checkpoints off the writer thread (ledger/wal_checkpointer.hpp): the checkpointer copies the
// WAL while the writer commits, and the WAL stays bounded when it cannot.
#include "ledger/wal_checkpointer.hpp"
#include "tests/support/tempdir.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

using namespace dg::ledger;
using dg::ledger::sqlite_backend::WalCheckpointer;

namespace {

// A WAL database with one table, written as the ledger's writer writes (synchronous=FULL).
struct WalDb {
  dg::test::TempDir tmp{"dg-wal-test"};
  std::string path = tmp.file("wal.db");
  std::unique_ptr<sql::Connection> writer;

  WalDb() {
    auto conn = sql::Connection::open(path, true, false);
    REQUIRE(conn);
    writer = std::move(*conn);
    writer->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                 "CREATE TABLE rows(id INTEGER PRIMARY KEY, data BLOB NOT NULL);");
  }

  // `n` transactions, each inserting one row of about two pages.
  void commit(int n) {
    std::string data(6000, 'x');
    for (int i = 0; i < n; ++i) {
      writer->exec("BEGIN IMMEDIATE");
      writer->prepare("INSERT INTO rows(data) VALUES(?)")
          .bind_blob(1, data.data(), data.size())
          .run();
      writer->exec("COMMIT");
    }
  }

  std::int64_t count() {
    auto& stmt = writer->prepare("SELECT count(*) FROM rows");
    REQUIRE(stmt.step());
    std::int64_t n = stmt.int64(0);
    stmt.reset();
    return n;
  }
};

// Pages one transaction of WalDb::commit() adds to the WAL, at most (row pages, tree pages).
constexpr int k_frames_per_commit = 8;

} // namespace

TEST_SUITE_BEGIN("ledger");

TEST_CASE("The checkpointer thread copies the WAL while the writer commits, within the bound") {
  WalDb db;
  WalCheckpointer checkpointer(*db.writer, db.path, 20, 400);
  db.commit(600);
  // The last wake-up may still be running: wait for it, bounded.
  for (int i = 0; i < 200 && checkpointer.stats().background == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto stats = checkpointer.stats();
  CHECK(stats.background > 0);
  // 600 commits of ~2 pages each: without checkpoints the WAL would hold over 1,200 frames.
  CHECK(stats.max_frames > 20);
  // At the hard bound the writer's own checkpoint may find the checkpointer's still running (it
  // does not wait): the WAL then grows by the commits of that run, a few, before it succeeds.
  CHECK(stats.max_frames < 400 + 25 * k_frames_per_commit);
  checkpointer.stop();
  CHECK(db.count() == 600);
}

TEST_CASE("When the checkpointer does not run, the writer checkpoints itself at the hard bound") {
  WalDb db;
  // A soft threshold above the hard bound: the checkpointer thread is never woken.
  WalCheckpointer checkpointer(*db.writer, db.path, 100000, 50);
  db.commit(300);
  auto stats = checkpointer.stats();
  CHECK(stats.background == 0);
  CHECK(stats.writer > 0);
  CHECK(stats.max_frames >= 50);
  CHECK(stats.max_frames < 50 + k_frames_per_commit);
  // The WAL file never grew past the bound (it is reused from its start after a checkpoint).
  auto wal_bytes = std::filesystem::file_size(db.path + "-wal");
  CHECK(wal_bytes < static_cast<std::uintmax_t>((50 + k_frames_per_commit) * (4096 + 24) + 32));
}

TEST_CASE("After the checkpointer stops, the writer commits on with SQLite's own checkpoints") {
  WalDb db;
  {
    WalCheckpointer checkpointer(*db.writer, db.path, 20, 400);
    db.commit(50);
    checkpointer.stop();
    checkpointer.stop(); // idempotent
  }
  // The hook is gone with the checkpointer: commits call nothing that no longer exists.
  db.commit(700);
  CHECK(db.count() == 750);
  auto wal_bytes = std::filesystem::file_size(db.path + "-wal");
  CHECK(wal_bytes < static_cast<std::uintmax_t>(1100 * (4096 + 24)));
}

TEST_SUITE_END();
