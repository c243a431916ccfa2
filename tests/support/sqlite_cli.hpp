// Changing a ledger database the way someone with write access to the state directory would: with
// the `sqlite3` command line, outside digestgate. Used by the tamper tests.
//
// Every function runs `sqlite3` once and throws std::runtime_error, with its output, when it exits
// with a non-zero status. None of them may be used on a database the daemon is writing.
#pragma once

#include <cstdint>
#include <string>

namespace dg::test {

// Runs `sql` (one or more statements) against the database file `db`; returns standard output.
std::string sqlite_exec(const std::string& db, const std::string& sql);

// The stored bytes of entry `seq` (decoded from hex(bytes)). Throws when there is no such entry.
std::string sqlite_entry_bytes(const std::string& db, std::int64_t seq);

// SQL that drops the append-only triggers of `table` (<table>_no_UPDATE, <table>_no_DELETE).
std::string drop_append_only_triggers(const std::string& table);

// An SQL blob literal X'...' holding `bytes`.
std::string sql_blob(const std::string& bytes);

// An SQL string literal '...' holding `text` (quotes doubled).
std::string sql_text(const std::string& text);

} // namespace dg::test
