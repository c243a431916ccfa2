// End-to-end: the SQLite ledger's WAL checkpointer (ledger/wal_checkpointer.hpp) under SIGKILL.
// The daemon is killed under write load once its WAL has grown past the checkpointer's threshold,
// while that thread copies it into the database file; every acknowledged entry must be in the
// restarted ledger, which verifies and whose seal still vouches for the derived tables.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/gatekeeper.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
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

// The newest "ledger checked" log line (one per start).
json last_ledger_check(const std::string& log) {
  json found;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "ledger checked") {
      found = std::move(j);
    }
  }
  return found;
}

struct Acked {
  std::string kind;
  std::string digest;
};

// Every entry in `acked` is in the daemon's ledger as acknowledged; the ledger verifies.
void expect_acknowledged(Daemon& daemon, const std::map<std::int64_t, Acked>& acked) {
  auto ready = daemon.http("GET", "/readyz");
  REQUIRE_MESSAGE(ready.status == 200, ready.body);
  std::int64_t size = ready.json()["entries"].get<std::int64_t>();
  REQUIRE(!acked.empty());
  REQUIRE(acked.rbegin()->first <= size);
  for (const auto& [key, what] : acked) {
    const std::int64_t seq = key;
    CAPTURE(seq);
    auto r = daemon.http("GET", "/v1/entries/" + std::to_string(seq), "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const json entry = r.json()["entry"];
    CHECK(entry["kind"] == what.kind);
    const json& body = entry["body"];
    std::string digest = what.kind == "validation" ? body.value("digest", "")
                                                   : body["promotions"][0].value("digest", "");
    CHECK(digest == what.digest);
  }
  json checked = last_ledger_check(daemon.log());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "sealed", checked.dump());
  CliResult verify = run_process({DG_CLI_PATH, "ledger", "verify", "--db", daemon.db_path()},
                                 {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", ""}});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
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
    std::mutex mutex;
    std::map<std::int64_t, Acked> acked;
    std::atomic<int> next_digest{10000 * (round + 1)};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < k_clients; ++c) {
      clients.emplace_back([&] {
        auto ack = [&](const HttpResponse& r, const char* kind, const std::string& digest) {
          json j = r.json();
          if ((r.status / 100 == 2) && j.contains("seq") && j["seq"].is_number_integer()) {
            std::lock_guard lock(mutex);
            acked[j["seq"].get<std::int64_t>()] = Acked{kind, digest};
          }
        };
        while (!stop) {
          std::string digest = sample_digest(next_digest++);
          try {
            json evidence = {{"subject", {{"name", k_repo}, {"digest", digest}}}};
            ack(daemon.http("POST", "/v1/validations", evidence.dump(), k_recorder_token),
                "validation", digest);
            ack(daemon.http("POST", "/v1/promotions",
                            promotion_body(pinned(digest), "staging").dump(), k_promoter_token),
                "promotion", digest);
          } catch (const std::exception&) {
            return; // the daemon was killed: whatever was not answered was not acknowledged
          }
        }
      });
    }
    bool large = wait_until([&] { return wal_bytes(daemon) > k_checkpointer_wal_bytes; },
                            std::chrono::seconds(90));
    std::uintmax_t at_kill = 0;
    if (large) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
      at_kill = wal_bytes(daemon);
      daemon.kill9();
    }
    stop = true;
    for (auto& t : clients) {
      t.join();
    }
    REQUIRE_MESSAGE(large, "the WAL never grew past the checkpointer's threshold");
    MESSAGE("WAL of ", at_kill / 4120, " frames at SIGKILL; acknowledged entries: ", acked.size());
    daemon.start();
    expect_acknowledged(daemon, acked);
    REQUIRE(daemon.stop() == 0);
  }
}

TEST_SUITE_END();
