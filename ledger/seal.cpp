#include "ledger/seal.hpp"

#include "ledger/store.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sqlite3.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace dg::ledger::seal {

namespace {

constexpr std::string_view k_key_label = "digestgate derived-state seal key v1";
// The format written, and the earlier one still read (it covers the derived tables only).
constexpr std::string_view k_version = "v2";
constexpr std::string_view k_version_1 = "v1";
constexpr std::string_view k_mac_label = "digestgate derived-state seal\n";

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void put_bytes(std::string& out, const void* data, std::size_t size) {
  put_u32(out, static_cast<std::uint32_t>(size));
  out.append(static_cast<const char*>(data), size);
}

[[noreturn]] void fail(sqlite3* db, int rc) {
  throw sql::Failure{rc, sqlite3_errmsg(db)};
}

// The columns of `table`, in declaration order.
std::vector<std::string> columns_of(sql::Connection& db, const std::string& table) {
  std::vector<std::string> columns;
  auto& stmt = db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid");
  stmt.bind(1, table);
  while (stmt.step()) {
    columns.push_back(stmt.text(0));
  }
  stmt.reset();
  if (columns.empty()) {
    throw sql::Failure{SQLITE_ERROR, "no such table: " + table};
  }
  return columns;
}

std::string sql_name(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

struct Tracked {
  Sum* sum;
  RowHasher* hasher;
};

// dg_seal_row(SIGN, TABLE, VALUE...): adds (SIGN > 0) or subtracts a row's hash.
void seal_row(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  auto* tracked = static_cast<Tracked*>(sqlite3_user_data(ctx));
  if (argc < 2) {
    sqlite3_result_error(ctx, "dg_seal_row: too few arguments", -1);
    return;
  }
  const auto* table = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  if (table == nullptr) {
    sqlite3_result_error(ctx, "dg_seal_row: no table", -1);
    return;
  }
  Hash h = tracked->hasher->row(table, argv + 2, argc - 2);
  if (sqlite3_value_int(argv[0]) > 0) {
    tracked->sum->add(h);
  } else {
    tracked->sum->subtract(h);
  }
  sqlite3_result_null(ctx);
}

} // namespace

void Sum::add(const Hash& h) {
  unsigned carry = 0;
  for (std::size_t i = 0; i < m_limbs.size(); ++i) {
    std::uint64_t limb = 0;
    for (std::size_t b = 0; b < 8; ++b) {
      limb |= static_cast<std::uint64_t>(h[i * 8 + b]) << (8 * b);
    }
    std::uint64_t sum = m_limbs[i] + limb;
    unsigned next = sum < limb ? 1U : 0U;
    sum += carry;
    next += sum < carry ? 1U : 0U;
    m_limbs[i] = sum;
    carry = next;
  }
}

void Sum::subtract(const Hash& h) {
  unsigned borrow = 0;
  for (std::size_t i = 0; i < m_limbs.size(); ++i) {
    std::uint64_t limb = 0;
    for (std::size_t b = 0; b < 8; ++b) {
      limb |= static_cast<std::uint64_t>(h[i * 8 + b]) << (8 * b);
    }
    std::uint64_t a = m_limbs[i];
    std::uint64_t diff = a - limb;
    unsigned next = a < limb ? 1U : 0U;
    next += diff < borrow ? 1U : 0U;
    diff -= borrow;
    m_limbs[i] = diff;
    borrow = next;
  }
}

std::string Sum::hex() const {
  Hash bytes{};
  for (std::size_t i = 0; i < m_limbs.size(); ++i) {
    for (std::size_t b = 0; b < 8; ++b) {
      bytes[i * 8 + b] = static_cast<std::uint8_t>(m_limbs[i] >> (8 * b));
    }
  }
  return to_hex(bytes);
}

std::optional<Sum> Sum::from_hex(std::string_view text) {
  auto bytes = hash_from_hex(text);
  if (!bytes) {
    return std::nullopt;
  }
  Sum s;
  s.add(*bytes);
  return s;
}

// HMAC-SHA-256 through OpenSSL's EVP_MAC: the key is set once; each MAC re-initializes the
// context with the key it holds (no key schedule per row).
struct RowHasher::Impl {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;

  ~Impl() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

RowHasher::RowHasher(const Hash& key) : m_impl(std::make_unique<Impl>()) {
  if (m_impl->ctx == nullptr) {
    throw std::runtime_error("HMAC is unavailable");
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(m_impl->ctx, key.data(), key.size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA-256 is unavailable");
  }
}

RowHasher::~RowHasher() = default;

Hash RowHasher::finish() {
  Hash out{};
  std::size_t len = 0;
  EVP_MAC_CTX* ctx = m_impl->ctx;
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(m_buffer.data()),
                     m_buffer.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  return out;
}

Hash RowHasher::row(std::string_view table, sqlite3_value** values, int count) {
  m_buffer.clear();
  put_bytes(m_buffer, table.data(), table.size());
  for (int i = 0; i < count; ++i) {
    sqlite3_value* v = values[i];
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      m_buffer.push_back('i');
      put_u64(m_buffer, static_cast<std::uint64_t>(sqlite3_value_int64(v)));
      break;
    case SQLITE_FLOAT: {
      double d = sqlite3_value_double(v);
      std::uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      m_buffer.push_back('f');
      put_u64(m_buffer, bits);
      break;
    }
    case SQLITE_TEXT: {
      const unsigned char* text = sqlite3_value_text(v);
      m_buffer.push_back('t');
      put_bytes(m_buffer, text, static_cast<std::size_t>(sqlite3_value_bytes(v)));
      break;
    }
    case SQLITE_BLOB: {
      const void* blob = sqlite3_value_blob(v);
      m_buffer.push_back('b');
      put_bytes(m_buffer, blob, static_cast<std::size_t>(sqlite3_value_bytes(v)));
      break;
    }
    default:
      m_buffer.push_back('n');
      break;
    }
  }
  return finish();
}

Hash RowHasher::checkpoint(std::int64_t size, const Hash& root, std::string_view note) {
  constexpr std::string_view table = "checkpoints";
  m_buffer.clear();
  put_bytes(m_buffer, table.data(), table.size());
  m_buffer.push_back('i');
  put_u64(m_buffer, static_cast<std::uint64_t>(size));
  m_buffer.push_back('b');
  put_bytes(m_buffer, root.data(), root.size());
  m_buffer.push_back('t');
  put_bytes(m_buffer, note.data(), note.size());
  return finish();
}

Hash RowHasher::mac(std::string_view message) {
  m_buffer.assign(message);
  return finish();
}

Hash derive_key(const Ed25519PrivateKey& key) {
  Bytes signature = key.sign(k_key_label);
  return sha256(
      std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size()));
}

Sum scan(sql::Connection& db, RowHasher& hasher) {
  Sum sum;
  std::vector<sqlite3_value*> values;
  for (const std::string& table : store::derived_tables()) {
    std::vector<std::string> columns = columns_of(db, table);
    std::string select = "SELECT ";
    for (std::size_t i = 0; i < columns.size(); ++i) {
      select += (i ? ", " : "") + sql_name(columns[i]);
    }
    select += " FROM " + sql_name(table);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db.handle(), select.c_str(), -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      fail(db.handle(), rc);
    }
    int n = static_cast<int>(columns.size());
    values.resize(columns.size());
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int i = 0; i < n; ++i) {
        values[static_cast<std::size_t>(i)] = sqlite3_column_value(stmt, i);
      }
      sum.add(hasher.row(table, values.data(), n));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      fail(db.handle(), rc);
    }
  }
  return sum;
}

void track(sql::Connection& db, Sum& sum, RowHasher& hasher) {
  // The function is DIRECTONLY: schema objects stored in the file (which anyone with access to
  // it could add) cannot call it; TEMP triggers can.
  auto* tracked = new Tracked{&sum, &hasher};
  int rc = sqlite3_create_function_v2(db.handle(), "dg_seal_row", -1,
                                      SQLITE_UTF8 | SQLITE_DIRECTONLY, tracked, seal_row, nullptr,
                                      nullptr, [](void* p) { delete static_cast<Tracked*>(p); });
  if (rc != SQLITE_OK) {
    fail(db.handle(), rc);
  }
  std::string sql;
  for (const std::string& table : store::derived_tables()) {
    std::vector<std::string> columns = columns_of(db, table);
    auto call = [&](const char* sign, const char* row) {
      std::string s = std::string("SELECT dg_seal_row(") + sign + ", '" + table + "'";
      for (const auto& c : columns) {
        s += std::string(", ") + row + "." + sql_name(c);
      }
      return s + ");";
    };
    std::string name = "dg_seal_" + table;
    sql += "CREATE TEMP TRIGGER IF NOT EXISTS " + name + "_insert AFTER INSERT ON main." +
           sql_name(table) + " BEGIN " + call("1", "NEW") + " END;\n";
    sql += "CREATE TEMP TRIGGER IF NOT EXISTS " + name + "_delete AFTER DELETE ON main." +
           sql_name(table) + " BEGIN " + call("-1", "OLD") + " END;\n";
    sql += "CREATE TEMP TRIGGER IF NOT EXISTS " + name + "_update AFTER UPDATE ON main." +
           sql_name(table) + " BEGIN " + call("-1", "OLD") + " " + call("1", "NEW") + " END;\n";
  }
  db.exec(sql);
}

std::string make(std::int64_t size,
                 const Hash& root,
                 const Sum& derived,
                 const Sum& checkpoints,
                 RowHasher& hasher) {
  std::string body = std::string(k_version) + " " + std::to_string(size) + " " + to_hex(root) +
                     " " + derived.hex() + " " + checkpoints.hex();
  return body + " " + to_hex(hasher.mac(std::string(k_mac_label) + body));
}

Verdict check(const std::string& text,
              std::int64_t size,
              const Hash& root,
              const Sum& derived,
              const Sum& checkpoints,
              RowHasher& hasher) {
  auto neither = [](const std::string& why) { return Verdict{why, why}; };
  if (text.empty()) {
    return neither("there is no seal (a ledger written by an older version, or a new one)");
  }
  // v1: VERSION SIZE ROOT SUM MAC; v2: VERSION SIZE ROOT SUM CPSUM MAC.
  std::vector<std::string> fields;
  for (std::size_t at = 0;;) {
    auto space = text.find(' ', at);
    fields.push_back(text.substr(at, space - at));
    if (space == std::string::npos) {
      break;
    }
    at = space + 1;
  }
  bool v1 = fields.size() == 5 && fields[0] == k_version_1;
  if (!v1 && !(fields.size() == 6 && fields[0] == k_version)) {
    return neither("the seal is not in a known format");
  }
  std::string body = text.substr(0, text.rfind(' '));
  auto mac = hash_from_hex(fields.back());
  Hash expected_mac = hasher.mac(std::string(k_mac_label) + body);
  if (!mac || !constant_time_equal(
                  std::string_view(reinterpret_cast<const char*>(mac->data()), mac->size()),
                  std::string_view(reinterpret_cast<const char*>(expected_mac.data()),
                                   expected_mac.size()))) {
    return neither("the seal is not signed by this daemon's checkpoint key");
  }
  if (fields[1] != std::to_string(size)) {
    return neither("the seal covers " + fields[1] + " entries, the ledger has " +
                   std::to_string(size));
  }
  if (fields[2] != to_hex(root)) {
    return neither("the seal was made for another tree");
  }
  Verdict verdict;
  if (fields[3] != derived.hex()) {
    verdict.derived = "the derived tables changed since the daemon sealed them";
  }
  if (v1) {
    verdict.checkpoints = "the seal does not cover the checkpoints (written by an older version)";
  } else if (fields[4] != checkpoints.hex()) {
    verdict.checkpoints = "the checkpoints changed since the daemon sealed them";
  }
  return verdict;
}

} // namespace dg::ledger::seal
