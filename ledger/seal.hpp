// The seal: keyed multiset hashes over every row of the derived tables and over every stored
// checkpoint, kept up to date on each write and bound to the tree head, so that the start-up
// check can confirm the derived tables instead of rebuilding them, and the checkpoints instead of
// verifying every signature. Private to the ledger room; see docs/ledger.md.
#pragma once

#include "ledger/sqlite.hpp"
#include "util/crypto.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3_value;

namespace dg::ledger::seal {

// A sum of 256-bit row hashes modulo 2^256: adding a row and removing it again cancel out, so
// the sum depends only on the set of rows present, whatever order they were written in.
class Sum {
public:
  void add(const Hash& h);
  void subtract(const Hash& h);
  std::string hex() const;
  static std::optional<Sum> from_hex(std::string_view text);
  bool operator==(const Sum&) const = default;

private:
  std::array<std::uint64_t, 4> m_limbs{}; // little-endian limbs
};

// HMAC-SHA-256 under the seal key over a row's canonical encoding (table name, then each value
// with its type). Without the key, nobody can compute a row's hash, and so cannot forge a sum.
class RowHasher {
public:
  explicit RowHasher(const Hash& key);
  ~RowHasher();
  RowHasher(const RowHasher&) = delete;
  RowHasher& operator=(const RowHasher&) = delete;

  Hash row(std::string_view table, sqlite3_value** values, int count);
  // The hash row() gives the row (INTEGER size, BLOB root, TEXT note) of table `checkpoints`.
  Hash checkpoint(std::int64_t size, const Hash& root, std::string_view note);
  Hash mac(std::string_view message);

private:
  Hash finish();

  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_buffer;
};

// The seal key: SHA-256 of the checkpoint key's (deterministic) Ed25519 signature over a fixed
// label. Only the holder of the checkpoint key can derive it.
Hash derive_key(const Ed25519PrivateKey& key);

// The sum over every row of every derived table, read through `db` (inside its transaction).
Sum scan(sql::Connection& db, RowHasher& hasher);

// Keeps `sum` up to date on `db`: TEMP triggers (they live only in this connection, never in
// the file) on every derived table call a function that adds inserted rows and subtracts
// deleted ones. `sum` and `hasher` must outlive the connection.
void track(sql::Connection& db, Sum& sum, RowHasher& hasher);

// The stored seal text, "v2 SIZE ROOT SUM CPSUM MAC": the tree head, the derived tables' sum,
// the checkpoints' sum, and a MAC over the rest under the seal key.
std::string make(std::int64_t size,
                 const Hash& root,
                 const Sum& derived,
                 const Sum& checkpoints,
                 RowHasher& hasher);

// What a stored seal confirms about a verified tree head: for each of the derived tables and the
// checkpoints, why the seal does not vouch for them, or nothing when it does. A seal that is
// absent, malformed, not made with the seal key or made for another tree head vouches for
// neither. A "v1 SIZE ROOT SUM MAC" seal (written by earlier versions) vouches for the derived
// tables only.
struct Verdict {
  std::optional<std::string> derived;
  std::optional<std::string> checkpoints;
};
Verdict check(const std::string& text,
              std::int64_t size,
              const Hash& root,
              const Sum& derived,
              const Sum& checkpoints,
              RowHasher& hasher);

} // namespace dg::ledger::seal
