#include "tests/support/sqlite_cli.hpp"

#include "tests/support/daemon.hpp"

#include <stdexcept>

namespace dg::test {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

std::string sqlite_exec(const std::string& db, const std::string& sql) {
  // -bail stops at the first failing statement so that a half-applied change is reported.
  CliResult r = run_process({"sqlite3", "-bail", db, sql}, {}, "", 30);
  if (r.exit_code != 0) {
    throw std::runtime_error("sqlite3 " + db + " exited with " + std::to_string(r.exit_code) +
                             "\nSQL: " + sql + "\nstdout: " + r.out + "\nstderr: " + r.err);
  }
  return r.out;
}

std::string sqlite_entry_bytes(const std::string& db, std::int64_t seq) {
  std::string hex =
      sqlite_exec(db, "SELECT hex(bytes) FROM entries WHERE seq = " + std::to_string(seq) + ";");
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) {
    hex.pop_back();
  }
  if (hex.empty() || hex.size() % 2 != 0) {
    throw std::runtime_error("no entry " + std::to_string(seq) + " in " + db);
  }
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      throw std::runtime_error("sqlite3 printed something that is not hex: " + hex);
    }
    bytes.push_back(static_cast<char>(hi * 16 + lo));
  }
  return bytes;
}

std::string drop_append_only_triggers(const std::string& table) {
  return "DROP TRIGGER IF EXISTS " + table + "_no_UPDATE; DROP TRIGGER IF EXISTS " + table +
         "_no_DELETE;";
}

std::string sql_blob(const std::string& bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out = "X'";
  for (unsigned char c : bytes) {
    out.push_back(k_digits[c >> 4]);
    out.push_back(k_digits[c & 0x0f]);
  }
  out.push_back('\'');
  return out;
}

std::string sql_text(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out.push_back(c);
    if (c == '\'') {
      out.push_back('\'');
    }
  }
  out.push_back('\'');
  return out;
}

} // namespace dg::test
