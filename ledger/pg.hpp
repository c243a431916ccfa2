// A thin RAII layer over libpq, private to the ledger room. Every query is sent with
// PQexecParams (parameters as text, except bytea as binary) and answered in binary, so bytea
// values arrive as their raw bytes. Errors throw StoreFailure, whose `code` is 1 for an error the
// server reported (the message starts with its SQLSTATE) and 2 for a lost connection.
#pragma once

#include "ledger/failure.hpp"
#include "util/crypto.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace dg::ledger::pg {

inline constexpr int k_server_error = 1;
inline constexpr int k_connection_lost = 2;

// One parameter: text (also for numbers), or raw bytes for a bytea.
struct Param {
  std::string value;
  bool binary = false;

  Param(std::string text) : value(std::move(text)) {}
  Param(const char* text) : value(text) {}
  Param(std::int64_t n) : value(std::to_string(n)) {}
  Param(int n) : value(std::to_string(n)) {}
  static Param bytes(std::string_view raw) {
    Param p{std::string(raw)};
    p.binary = true;
    return p;
  }
  static Param hash(const Hash& h) {
    return bytes(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  }
};

class Rows {
public:
  explicit Rows(pg_result* result) : m_result(result) {}
  Rows(Rows&& other) noexcept : m_result(other.m_result) { other.m_result = nullptr; }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows& operator=(Rows&&) = delete;
  ~Rows();

  int size() const;
  bool is_null(int row, int col) const;
  // int2, int4 or int8 columns.
  std::int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const;
  // text or bytea: the raw bytes.
  std::string text(int row, int col) const;
  Hash hash(int row, int col) const;

private:
  pg_result* m_result;
};

class Connection {
public:
  // Connect to `url` (a libpq URL or connection string; the PG* variables apply). A non-empty
  // `password` is given to libpq as the password.
  static Result<std::unique_ptr<Connection>> open(const std::string& url,
                                                  const std::string& password);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Run statements that return no rows (several, separated by semicolons, with no parameters).
  void exec(const std::string& sql);
  Rows query(const std::string& sql, const std::vector<Param>& params = {});
  // False once the connection is known to be broken.
  bool healthy() const;
  // Reconnect (libpq tries every host of the URL again).
  bool reset();
  pg_conn* handle() const { return m_conn; }

private:
  explicit Connection(pg_conn* conn) : m_conn(conn) {}
  [[noreturn]] void fail(pg_result* result);
  pg_conn* m_conn;
};

// Read a password file (its first line), for the `password_file` setting.
Result<std::string> read_password_file(const std::string& path);

// True for a database string that names PostgreSQL ("postgresql://..." or "postgres://...").
bool is_url(std::string_view database);

} // namespace dg::ledger::pg
