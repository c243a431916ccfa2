#include "ledger/pg.hpp"

#include "util/files.hpp"

#include <cstring>
#include <libpq-fe.h>

namespace dg::ledger::pg {

namespace {

std::uint64_t big_endian(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

} // namespace

Rows::~Rows() {
  PQclear(m_result);
}

int Rows::size() const {
  return PQntuples(m_result);
}

bool Rows::is_null(int row, int col) const {
  return PQgetisnull(m_result, row, col) != 0;
}

std::int64_t Rows::int64(int row, int col) const {
  if (is_null(row, col)) {
    return 0;
  }
  int n = PQgetlength(m_result, row, col);
  std::uint64_t v = big_endian(PQgetvalue(m_result, row, col), n);
  switch (n) {
  case 2:
    return static_cast<std::int16_t>(v);
  case 4:
    return static_cast<std::int32_t>(v);
  case 8:
    return static_cast<std::int64_t>(v);
  default:
    throw StoreFailure{k_server_error, "an integer column of " + std::to_string(n) + " bytes"};
  }
}

bool Rows::boolean(int row, int col) const {
  return !is_null(row, col) && PQgetlength(m_result, row, col) == 1 &&
         PQgetvalue(m_result, row, col)[0] != 0;
}

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(m_result, row, col),
                     static_cast<std::size_t>(PQgetlength(m_result, row, col)));
}

Hash Rows::hash(int row, int col) const {
  Hash h{};
  if (PQgetlength(m_result, row, col) == static_cast<int>(h.size())) {
    std::memcpy(h.data(), PQgetvalue(m_result, row, col), h.size());
  }
  return h;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url,
                                                     const std::string& password) {
  const char* keys[] = {"dbname", password.empty() ? nullptr : "password", nullptr};
  const char* values[] = {url.c_str(), password.empty() ? nullptr : password.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, 1);
  if (conn == nullptr) {
    return make_error(Errc::unavailable, "cannot connect to the ledger database: out of memory");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    return make_error(Errc::unavailable, "cannot connect to the ledger database: " + message);
  }
  auto c = std::unique_ptr<Connection>(new Connection(conn));
  c->exec("SET client_min_messages = warning");
  return c;
}

Connection::~Connection() {
  PQfinish(m_conn);
}

void Connection::fail(pg_result* result) {
  std::string message;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state != nullptr) {
    message = std::string(state) + ": ";
  }
  message += result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(m_conn);
  PQclear(result);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  int code = PQstatus(m_conn) == CONNECTION_OK ? k_server_error : k_connection_lost;
  throw StoreFailure{code, message};
}

void Connection::exec(const std::string& sql) {
  pg_result* r = PQexec(m_conn, sql.c_str());
  auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    fail(r);
  }
  PQclear(r);
}

Rows Connection::query(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    values.push_back(p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  pg_result* r = PQexecParams(m_conn, sql.c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), lengths.data(), formats.data(), 1);
  auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    fail(r);
  }
  return Rows(r);
}

bool Connection::healthy() const {
  return PQstatus(m_conn) == CONNECTION_OK;
}

bool Connection::reset() {
  PQreset(m_conn);
  if (PQstatus(m_conn) != CONNECTION_OK) {
    return false;
  }
  try {
    exec("SET client_min_messages = warning");
  } catch (const StoreFailure&) {
    return false;
  }
  return true;
}

Result<std::string> read_password_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::invalid_argument,
                      "cannot read the ledger password file " + path + ": " + text.error().message);
  }
  std::string password = text->substr(0, text->find('\n'));
  if (!password.empty() && password.back() == '\r') {
    password.pop_back();
  }
  return password;
}

bool is_url(std::string_view database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

} // namespace dg::ledger::pg
