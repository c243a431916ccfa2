// End-to-end: the SQLite ledger's WAL checkpointer (ledger/wal_checkpointer.hpp) under SIGKILL.
// The daemon is killed under write load once its WAL has grown past the checkpointer's threshold,
// while that thread copies it into the database file; every acknowledged entry must be in the
// restarted ledger, which verifies and whose seal still vouches for the derived tables.
#include "tests/support/crash_load.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/gatekeeper.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <thread>

using namespace dg::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const json k_open_policy = {
    {"environments", {{"staging", {{"require_complete_evidence", false}}}}}};

// 1,000 WAL frames of 4 KiB pages: past it the checkpointer thread runs.
constexpr std::uintmax_t k_checkpointer_wal_bytes = 1000 * (4096 + 24);

std::uintmax_t wal_bytes(const Daemon& daemon) {
  std::error_code ec;
  auto size = fs::file_size(daemon.db_path() + "-wal", ec);
  return ec ? 0 : size;
}

} // namespace

TEST_SUITE_BEGIN("E2E ledger");

TEST_CASE("No acknowledged entry is lost when the daemon is killed while its WAL is checkpointed") {
  if (skipped_on_postgresql("checkpoints the SQLite WAL")) {
    return;
  }
  const unsigned seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  constexpr int k_daemons = 2;
  constexpr int k_clients = 12;
  for (int round = 0; round < k_daemons; ++round) {
    CAPTURE(round);
    Daemon daemon(k_open_policy); // a fresh state directory: the WAL starts empty
    AcknowledgedWrites writes(10000 * (round + 1));
    writes.start(daemon, k_clients);
    bool large = wait_until([&] { return wal_bytes(daemon) > k_checkpointer_wal_bytes; },
                            std::chrono::seconds(90));
    std::uintmax_t at_kill = 0;
    if (large) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
      at_kill = wal_bytes(daemon);
      daemon.kill9();
    }
    writes.stop();
    REQUIRE_MESSAGE(large, "the WAL never grew past the checkpointer's threshold");
    MESSAGE("WAL of ", at_kill / 4120, " frames at SIGKILL; acknowledged entries: ", writes.size());
    REQUIRE(writes.size() > 0);
    daemon.start();
    writes.expect_all_present(daemon);
    REQUIRE(daemon.stop() == 0);
  }
}

TEST_SUITE_END();
