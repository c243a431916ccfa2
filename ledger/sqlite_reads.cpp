// The SQLite ledger's reads: pooled connections, each read in its own snapshot; and offline
// verification of a file.
#include "ledger/sqlite_ledger.hpp"

#include <sqlite3.h>

#include <sys/stat.h>

namespace dg::ledger::sqlite_backend {

namespace {
constexpr std::size_t k_read_pool = 8;
} // namespace

Result<void> SqliteLedger::read(const std::function<void(View&)>& fn) {
  std::unique_ptr<sql::Connection> conn;
  {
    std::lock_guard lock(m_pool_mutex);
    if (!m_pool.empty()) {
      conn = std::move(m_pool.back());
      m_pool.pop_back();
    }
  }
  if (!conn) {
    auto opened = sql::Connection::open(m_options.database, false, false);
    if (!opened) {
      return opened.error();
    }
    conn = std::move(*opened);
  }
  Result<void> result;
  try {
    // Cached statements: on a short read, parsing BEGIN and COMMIT anew costs more than
    // running them.
    conn->prepare("BEGIN").run();
    store::SqlView view(*conn);
    fn(view);
    conn->prepare("COMMIT").run();
  } catch (const sql::Failure& f) {
    std::ignore = sqlite3_exec(conn->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    result = make_error(Errc::io, "ledger read failed: " + f.message);
  } catch (...) {
    // The caller's own exception: leave the connection clean, then let it through.
    std::ignore = sqlite3_exec(conn->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  std::lock_guard lock(m_pool_mutex);
  if (m_pool.size() < k_read_pool) {
    m_pool.push_back(std::move(conn));
  }
  return result;
}

Result<VerifyReport> verify(const std::string& path, const std::string& verifier) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(Errc::not_found, "no such file: " + path);
  }
  std::optional<NoteVerifier> pinned;
  if (!verifier.empty()) {
    auto v = parse_verifier(verifier);
    if (!v) {
      return make_error(Errc::invalid_argument, "bad --key verifier: " + v.error().message);
    }
    pinned = std::move(*v);
  }
  auto conn = sql::Connection::open(path, false, true);
  if (!conn) {
    return conn.error();
  }
  try {
    // One read transaction: a consistent snapshot even while the daemon appends.
    (*conn)->exec("BEGIN");
    auto& stmt = (*conn)->prepare("SELECT value FROM meta WHERE key = 'schema'");
    if (!stmt.step()) {
      return make_error(Errc::invalid_argument, path + " is not a digestgate ledger");
    }
    stmt.reset();
    auto keys = store::checkpoint_keys(**conn);
    auto check = [&](const std::string& note) {
      if (pinned) {
        return static_cast<bool>(open_checkpoint(note, *pinned));
      }
      return detail::note_verifies(note, keys);
    };
    VerifyReport report;
    {
      StoredRows rows(**conn);
      report = detail::scan(rows, check, true);
    }
    (*conn)->exec("COMMIT");
    return report;
  } catch (const sql::Failure& f) {
    return make_error(Errc::invalid_argument,
                      path + " is not a readable digestgate ledger: " + f.message);
  }
}

} // namespace dg::ledger::sqlite_backend
