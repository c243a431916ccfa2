// A thin RAII layer over the SQLite C API, private to the ledger room.
#pragma once

#include "ledger/failure.hpp"
#include "util/crypto.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace dg::ledger::sql {

class Statement {
public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : m_db(db), m_stmt(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind_blob(int index, const void* data, std::size_t size);
  Statement& bind_hash(int index, const Hash& h) { return bind_blob(index, h.data(), h.size()); }

  // Advance: true while a row is available. Throws sql::Failure on an error.
  bool step();
  // Run to completion (for statements that return no rows).
  void run();
  void reset();

  std::int64_t int64(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  Hash hash(int col) const;
  bool is_null(int col) const;

private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt;
};

// An SQLite error with its message; caught at the ledger's boundary.
using Failure = StoreFailure;

class Connection {
public:
  // Open `path`; `create` allows creating the file.
  static Result<std::unique_ptr<Connection>>
  open(const std::string& path, bool create, bool read_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const std::string& sql);
  // A cached prepared statement, reset and with its bindings cleared. Looked up without copying
  // `sql` (the writer prepares a dozen statements per append).
  Statement& prepare(std::string_view sql);
  std::int64_t changes() const;
  sqlite3* handle() const { return m_db; }

private:
  explicit Connection(sqlite3* db) : m_db(db) {}
  sqlite3* m_db;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> m_cache;
};

} // namespace dg::ledger::sql
