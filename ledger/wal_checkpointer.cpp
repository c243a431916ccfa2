#include "ledger/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <pthread.h>

namespace dg::ledger::sqlite_backend {

namespace {

// Frames written since the last checkpoint that copied the WAL: after a restart of the WAL (its
// frame count fell below what was copied), all of them.
int pending(int frames, int backfilled) {
  return frames >= backfilled ? frames - backfilled : frames;
}

} // namespace

WalCheckpointer::WalCheckpointer(sql::Connection& writer,
                                 const std::string& path,
                                 int soft,
                                 int hard)
    : m_writer(writer), m_soft(soft), m_hard(hard) {
  auto own = sql::Connection::open(path, false, false);
  if (own) {
    try {
      // The checkpointer syncs the WAL and the database file as the writer's own checkpoint did.
      (*own)->exec("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0; "
                   "SELECT count(*) FROM sqlite_schema;");
      m_own = std::move(*own);
    } catch (const sql::Failure&) {
      m_own.reset();
    }
  }
  m_background_thread = m_own != nullptr;
  sqlite3_wal_autocheckpoint(m_writer.handle(), 0);
  sqlite3_wal_hook(m_writer.handle(), &WalCheckpointer::on_commit, this);
  m_hooked = true;
  if (m_own) {
    m_thread = std::thread([this] { run(); });
  }
}

void WalCheckpointer::stop() {
  if (m_hooked) {
    sqlite3_wal_hook(m_writer.handle(), nullptr, nullptr);
    sqlite3_wal_autocheckpoint(m_writer.handle(), m_soft);
    m_hooked = false;
  }
  m_stopping.store(true);
  m_wake.fetch_add(1);
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
  m_own.reset();
}

WalCheckpointer::Stats WalCheckpointer::stats() const {
  return Stats{m_background.load(), m_writer_runs.load(), m_max_frames.load()};
}

// On the writer thread, after each commit: never waits for the checkpointer.
int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* c = static_cast<WalCheckpointer*>(self);
  c->m_frames.store(frames, std::memory_order_relaxed);
  if (frames > c->m_max_frames.load(std::memory_order_relaxed)) {
    c->m_max_frames.store(frames, std::memory_order_relaxed);
  }
  bool background = c->m_background_thread;
  if (frames >= c->m_hard || (!background && frames >= c->m_soft)) {
    int log = 0;
    int copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
        SQLITE_OK) {
      c->m_backfilled.store(copied);
      c->m_writer_runs.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (background && pending(frames, c->m_backfilled.load()) >= c->m_soft) {
    c->m_wake.fetch_add(1);
    c->m_wake.notify_one();
  }
  // The commit has happened whatever a checkpoint did; the writer never reports it as failed.
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  pthread_setname_np(pthread_self(), "dg-checkpoint");
  for (;;) {
    std::uint32_t seen = m_wake.load();
    if (m_stopping.load()) {
      return;
    }
    if (pending(m_frames.load(), m_backfilled.load()) < m_soft) {
      m_wake.wait(seen);
      continue;
    }
    int log = 0;
    int copied = 0;
    // SQLITE_BUSY: the writer is checkpointing itself; another error: the writer's hard bound
    // still holds the WAL. Either way the next commit past the threshold wakes this thread again.
    int rc = sqlite3_wal_checkpoint_v2(m_own->handle(), "main", SQLITE_CHECKPOINT_PASSIVE, &log,
                                       &copied);
    if (rc == SQLITE_OK) {
      m_backfilled.store(copied);
      m_background.fetch_add(1, std::memory_order_relaxed);
    }
    // Run again only once a commit came since this run began: a reader that pins an old
    // snapshot (the checkpoint then copies nothing more) costs one attempt per commit, no spin.
    m_wake.wait(seen);
  }
}

} // namespace dg::ledger::sqlite_backend
