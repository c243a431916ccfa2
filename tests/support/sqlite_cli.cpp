#include "tests/support/sqlite_cli.hpp"

#include "tests/support/daemon.hpp"
#include "util/crypto.hpp"

#include <stdexcept>

namespace dg::test {

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
  if (hex.empty()) {
    throw std::runtime_error("no entry " + std::to_string(seq) + " in " + db);
  }
  auto bytes = from_hex(hex);
  if (!bytes) {
    throw std::runtime_error("sqlite3 printed something that is not hex: " + hex);
  }
  return std::string(bytes->begin(), bytes->end());
}

std::string drop_append_only_triggers(const std::string& table) {
  return "DROP TRIGGER IF EXISTS " + table + "_no_UPDATE; DROP TRIGGER IF EXISTS " + table +
         "_no_DELETE;";
}

std::string sql_blob(const std::string& bytes) {
  return "X'" + to_hex(bytes) + "'";
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
