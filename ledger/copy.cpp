// `ledger copy`: a ledger moved between backends unchanged, row by row.
#include "ledger/pg_ledger.hpp"
#include "ledger/sqlite_ledger.hpp"

namespace dg::ledger {

namespace {

struct KeyRow {
  std::string key;
  std::string added;
};

// Where the rows go. Every method runs inside one transaction (begin .. commit).
class Sink {
public:
  virtual ~Sink() = default;
  virtual std::int64_t entries() = 0;
  virtual void begin() = 0;
  virtual void add_key(const KeyRow& key) = 0;
  virtual void add_entry(const detail::EntryRow& row, const std::vector<Node>& nodes) = 0;
  virtual void add_checkpoint(const detail::StoredCheckpoint& cp) = 0;
  virtual void commit() = 0;
};

class SqliteSink final : public Sink {
public:
  explicit SqliteSink(sql::Connection& db) : m_db(db) {}
  std::int64_t entries() override {
    auto& s = m_db.prepare("SELECT COUNT(*) FROM entries");
    s.step();
    std::int64_t n = s.int64(0);
    s.reset();
    return n;
  }
  void begin() override { m_db.exec("BEGIN IMMEDIATE"); }
  void add_key(const KeyRow& key) override {
    m_db.prepare("INSERT INTO checkpoint_keys(public_key, added) VALUES(?, ?)")
        .bind_blob(1, key.key.data(), key.key.size())
        .bind(2, key.added)
        .run();
  }
  void add_entry(const detail::EntryRow& row, const std::vector<Node>& nodes) override {
    store::insert_entry(m_db, store::decode_entry(row.seq, row.bytes, row.leaf), nodes);
  }
  void add_checkpoint(const detail::StoredCheckpoint& cp) override {
    m_db.prepare("INSERT INTO checkpoints(size, root, note) VALUES(?, ?, ?)")
        .bind(1, cp.size)
        .bind_hash(2, cp.root)
        .bind(3, cp.note)
        .run();
  }
  void commit() override { m_db.exec("COMMIT"); }

private:
  sql::Connection& m_db;
};

class PgSink final : public Sink {
public:
  explicit PgSink(pg::Connection& db) : m_db(db) {}
  std::int64_t entries() override { return m_db.query("SELECT COUNT(*) FROM entries").int64(0, 0); }
  void begin() override {
    m_db.exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(pg_backend::k_lock_key) +
              ")");
  }
  void add_key(const KeyRow& key) override {
    m_db.query("INSERT INTO checkpoint_keys(public_key, added) VALUES($1, $2)",
               {pg::Param::bytes(key.key), key.added});
  }
  void add_entry(const detail::EntryRow& row, const std::vector<Node>& nodes) override {
    m_db.query("INSERT INTO entries(seq, kind, time, bytes, leaf) VALUES($1, $2, $3, $4, $5)",
               {row.seq, kind_of(row.bytes), time_of(row.bytes), pg::Param::bytes(row.bytes),
                pg::Param::hash(row.leaf)});
    for (const Node& n : nodes) {
      m_db.query("INSERT INTO tree_nodes(level, idx, hash) VALUES($1, $2, $3)",
                 {n.level, static_cast<std::int64_t>(n.index), pg::Param::hash(n.hash)});
    }
  }
  void add_checkpoint(const detail::StoredCheckpoint& cp) override {
    m_db.query("INSERT INTO checkpoints(size, root, note) VALUES($1, $2, $3)",
               {cp.size, pg::Param::hash(cp.root), cp.note});
  }
  void commit() override { m_db.exec("COMMIT"); }

private:
  static std::string kind_of(const std::string& bytes) {
    return store::decode_entry(0, bytes, Hash{}).kind;
  }
  static std::string time_of(const std::string& bytes) {
    return store::decode_entry(0, bytes, Hash{}).time;
  }
  pg::Connection& m_db;
};

std::vector<KeyRow> sqlite_keys(sql::Connection& db) {
  std::vector<KeyRow> out;
  auto& s = db.prepare("SELECT public_key, added FROM checkpoint_keys ORDER BY id");
  while (s.step()) {
    out.push_back(KeyRow{s.blob(0), s.text(1)});
  }
  s.reset();
  return out;
}

std::vector<KeyRow> pg_keys(pg::Connection& db) {
  std::vector<KeyRow> out;
  auto rows = db.query("SELECT public_key, added FROM checkpoint_keys ORDER BY id");
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(KeyRow{rows.text(i, 0), rows.text(i, 1)});
  }
  return out;
}

// Stream every row of `source` into `sink`, recomputing the tree nodes from the leaves (the
// verified source's nodes are exactly these).
CopyReport pour(detail::Stored& source, const std::vector<KeyRow>& keys, Sink& sink) {
  CopyReport report;
  sink.begin();
  for (const auto& key : keys) {
    sink.add_key(key);
  }
  CompactRange range;
  while (auto row = source.next_entry()) {
    sink.add_entry(*row, range.append(row->leaf));
    ++report.entries;
  }
  while (auto cp = source.next_checkpoint()) {
    sink.add_checkpoint(*cp);
    ++report.checkpoints;
  }
  sink.commit();
  report.root_hex = to_hex(range.root());
  return report;
}

// The target's side: schema, emptiness, then pour().
Result<CopyReport>
copy_into(const std::string& to, detail::Stored& source, const std::vector<KeyRow>& keys) {
  if (is_postgresql(to)) {
    auto conn = pg_backend::connect(to, "");
    if (!conn) {
      return conn.error();
    }
    pg_backend::create_schema(**conn, "");
    PgSink sink(**conn);
    if (sink.entries() > 0) {
      return make_error(Errc::conflict, "the target ledger already holds entries");
    }
    return pour(source, keys, sink);
  }
  DG_TRY(sqlite_backend::initialize(to, Bytes{}));
  auto conn = sql::Connection::open(to, false, false);
  if (!conn) {
    return conn.error();
  }
  SqliteSink sink(**conn);
  if (sink.entries() > 0) {
    return make_error(Errc::conflict, "the target ledger already holds entries");
  }
  return pour(source, keys, sink);
}

Result<CopyReport> copy_rows(const std::string& from, const std::string& to) {
  if (is_postgresql(from)) {
    auto conn = pg_backend::connect(from, "");
    if (!conn) {
      return conn.error();
    }
    (*conn)->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    auto keys = pg_keys(**conn);
    pg_backend::StoredRows rows(**conn);
    return copy_into(to, rows, keys);
  }
  auto conn = sql::Connection::open(from, false, true);
  if (!conn) {
    return conn.error();
  }
  (*conn)->exec("BEGIN");
  auto keys = sqlite_keys(**conn);
  Result<CopyReport> copied = make_error(Errc::internal, "not copied");
  {
    sqlite_backend::StoredRows rows(**conn);
    copied = copy_into(to, rows, keys);
  }
  (*conn)->exec("COMMIT");
  return copied;
}

} // namespace

Result<CopyReport> copy_ledger(const std::string& from, const std::string& to) {
  auto checked = verify_ledger(from, "");
  if (!checked) {
    return checked.error();
  }
  if (!checked->ok) {
    return make_error(Errc::corrupt, "the source ledger does not verify: " + checked->message);
  }
  Result<CopyReport> copied = make_error(Errc::internal, "not copied");
  try {
    copied = copy_rows(from, to);
  } catch (const StoreFailure& f) {
    return make_error(Errc::io, "the copy failed (nothing was committed): " + f.message);
  }
  if (!copied) {
    return copied;
  }
  auto again = verify_ledger(to, "");
  if (!again) {
    return again.error();
  }
  if (!again->ok || again->root_hex != checked->root_hex || again->entries != checked->entries) {
    return make_error(Errc::corrupt, "the copy does not verify as the source does: " +
                                         (again->ok ? std::string("other root") : again->message));
  }
  return copied;
}

} // namespace dg::ledger
