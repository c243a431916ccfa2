// WAL checkpoints off the writer thread. The writer connection's automatic checkpoints are turned
// off; after each of its commits SQLite's WAL hook reports how many frames the WAL holds. Once
// `soft` frames are waiting to be copied into the database file, the hook wakes a thread of this
// class, which runs PASSIVE checkpoints on a connection of its own while the writer goes on
// committing. When the WAL reaches `hard` frames anyway (the checkpointer cannot catch up, or it
// cannot run), the writer runs a PASSIVE checkpoint itself right after its commit, as SQLite's
// automatic checkpoint would: the WAL cannot grow without bound. Durability is untouched: a
// commit is durable once its WAL frames are synced, whoever copies them later. Private to the
// ledger room; see docs/ledger.md.
#pragma once

#include "ledger/sqlite.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace dg::ledger::sqlite_backend {

class WalCheckpointer {
public:
  // What the checkpoints did so far.
  struct Stats {
    std::uint64_t background = 0; // PASSIVE checkpoints run by the checkpointer thread
    std::uint64_t writer = 0;     // checkpoints the writer ran itself (WAL at the hard bound)
    std::int64_t max_frames = 0;  // the most frames the WAL held after a commit
  };

  static constexpr int k_soft_frames = 1000; // SQLite's own automatic checkpoint threshold
  static constexpr int k_hard_frames = 10000;

  // Hooks into `writer` (turning its automatic checkpoints off) and starts the thread with a
  // connection of its own to `path`. When that connection cannot be opened, the writer
  // checkpoints itself at `soft` frames, as SQLite's automatic checkpoint does.
  WalCheckpointer(sql::Connection& writer,
                  const std::string& path,
                  int soft = k_soft_frames,
                  int hard = k_hard_frames);
  ~WalCheckpointer() { stop(); }
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Stops the thread and unhooks the writer connection. Call when the writer no longer commits.
  void stop();
  Stats stats() const;

private:
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  void run();

  sql::Connection& m_writer;
  std::unique_ptr<sql::Connection> m_own;
  int m_soft;
  int m_hard;
  bool m_hooked = false;
  bool m_background_thread = false;

  std::atomic<int> m_frames{0};     // frames in the WAL after the writer's last commit
  std::atomic<int> m_backfilled{0}; // frames copied by the checkpointer's last run
  std::atomic<std::uint32_t> m_wake{0};
  std::atomic<bool> m_stopping{false};
  std::atomic<std::uint64_t> m_background{0};
  std::atomic<std::uint64_t> m_writer_runs{0};
  std::atomic<std::int64_t> m_max_frames{0};
  std::thread m_thread;
};

} // namespace dg::ledger::sqlite_backend
