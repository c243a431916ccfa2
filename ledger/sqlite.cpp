#include "ledger/sqlite.hpp"

#include <sqlite3.h>

#include <cstring>

namespace dg::ledger::sql {

namespace {
[[noreturn]] void fail(sqlite3* db, int rc) {
  throw Failure{rc, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)};
}
} // namespace

Statement::~Statement() {
  sqlite3_finalize(m_stmt);
}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(m_stmt, index, value);
  if (rc != SQLITE_OK) {
    fail(m_db, rc);
  }
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text(m_stmt, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) {
    fail(m_db, rc);
  }
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
  int rc = sqlite3_bind_blob(m_stmt, index, data, static_cast<int>(size), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) {
    fail(m_db, rc);
  }
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  std::string message = sqlite3_errmsg(m_db);
  sqlite3_reset(m_stmt);
  throw Failure{rc, message};
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

std::int64_t Statement::int64(int col) const {
  return sqlite3_column_int64(m_stmt, col);
}

std::string Statement::text(int col) const {
  const unsigned char* p = sqlite3_column_text(m_stmt, col);
  int n = sqlite3_column_bytes(m_stmt, col);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
                      : std::string();
}

std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(m_stmt, col);
  int n = sqlite3_column_bytes(m_stmt, col);
  return p != nullptr ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
                      : std::string();
}

Hash Statement::hash(int col) const {
  Hash h{};
  const void* p = sqlite3_column_blob(m_stmt, col);
  int n = sqlite3_column_bytes(m_stmt, col);
  if (p != nullptr && n == static_cast<int>(h.size())) {
    std::memcpy(h.data(), p, h.size());
  }
  return h;
}

bool Statement::is_null(int col) const {
  return sqlite3_column_type(m_stmt, col) == SQLITE_NULL;
}

Result<std::unique_ptr<Connection>>
Connection::open(const std::string& path, bool create, bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create) {
    flags |= SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return make_error(Errc::io, "cannot open ledger " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  m_cache.clear();
  sqlite3_close(m_db);
}

void Connection::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw Failure{rc, message};
  }
}

Statement& Connection::prepare(std::string_view sql) {
  auto it = m_cache.find(sql);
  if (it != m_cache.end()) {
    it->second->reset();
    return *it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    fail(m_db, rc);
  }
  auto [pos, inserted] = m_cache.emplace(sql, std::make_unique<Statement>(m_db, stmt));
  return *pos->second;
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(m_db);
}

} // namespace dg::ledger::sql
