// The crash tests' write load and their check: clients that record a fresh digest and promote it
// into staging, over and over, keeping what the daemon acknowledged; and, after the daemon was
// killed and started again, the check that every acknowledged entry is in its ledger.
//
//   Daemon daemon(k_open_policy); // a policy that approves any recorded digest in staging
//   AcknowledgedWrites writes(1000);
//   writes.start(daemon, 4);
//   ...; daemon.kill9(); writes.stop();
//   daemon.start();
//   writes.expect_all_present(daemon);
//
// The check uses doctest (REQUIRE/CHECK): for doctest test binaries only.
#pragma once

#include "tests/support/daemon.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dg::test {

class AcknowledgedWrites {
public:
  // The clients' digests are sample_digest(first_digest), sample_digest(first_digest + 1), ...
  explicit AcknowledgedWrites(int first_digest) : m_next_digest(first_digest) {}
  ~AcknowledgedWrites() { stop(); }
  AcknowledgedWrites(const AcknowledgedWrites&) = delete;
  AcknowledgedWrites& operator=(const AcknowledgedWrites&) = delete;

  // Starts `clients` threads that each record a fresh digest and then promote it into staging,
  // until stop() or until a request fails (the daemon was killed: whatever was not answered was
  // not acknowledged). Each 2xx answer with a seq is kept as acknowledged.
  void start(Daemon& daemon, int clients);
  // Stops and joins the clients.
  void stop();
  // How many entries the daemon acknowledged so far.
  std::size_t size() const;

  // The ledger of the running `daemon` holds entries 1..N with no gap, every acknowledged entry
  // is there with the kind and the digest it was acknowledged for, the daemon's last start-up
  // check confirmed the derived tables by their seal, and `digestgate ledger verify` passes.
  void expect_all_present(Daemon& daemon) const;

private:
  struct Acked {
    std::string kind;
    std::string digest;
  };

  mutable std::mutex m_mutex;
  std::map<std::int64_t, Acked> m_acked;
  std::atomic<int> m_next_digest;
  std::atomic<bool> m_stop{false};
  std::vector<std::thread> m_clients;
};

// The newest "ledger checked" log line in a daemon's log (one per start), or null.
nlohmann::json last_ledger_check(const std::string& log);

} // namespace dg::test
