#include "ledger/store.hpp"

#include <algorithm>

namespace dg::ledger::store {

namespace {

// Tables that hold the ledger itself are append-only: triggers abort any UPDATE or DELETE.
void append_only(std::string& sql, const std::string& table) {
  for (const char* op : {"UPDATE", "DELETE"}) {
    sql += "CREATE TRIGGER IF NOT EXISTS " + table + "_no_" + op + " BEFORE " + op + " ON " +
           table + " BEGIN SELECT RAISE(ABORT, 'ledger table " + table +
           " is append-only'); END;\n";
  }
}

std::string body_string(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

void create_schema(sql::Connection& db) {
  std::string sql = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_keys(id INTEGER PRIMARY KEY, public_key BLOB NOT NULL,
  added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,
  time TEXT NOT NULL, bytes BLOB NOT NULL, leaf BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_kind ON entries(kind, seq);
CREATE TABLE IF NOT EXISTS tree_nodes(level INTEGER NOT NULL, idx INTEGER NOT NULL,
  hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL,
  note TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS digests(digest TEXT PRIMARY KEY, repository TEXT NOT NULL,
  first_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digest_entries(digest TEXT NOT NULL, seq INTEGER NOT NULL,
  kind TEXT NOT NULL, PRIMARY KEY(digest, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags(repository TEXT NOT NULL, tag TEXT NOT NULL,
  digest TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(repository, tag, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS env_entries(environment TEXT NOT NULL, seq INTEGER NOT NULL,
  repository TEXT NOT NULL, PRIMARY KEY(environment, seq, repository)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS env_entries_repo ON env_entries(environment, repository, seq);
CREATE TABLE IF NOT EXISTS slots(environment TEXT NOT NULL, repository TEXT NOT NULL,
  digest TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL,
  PRIMARY KEY(environment, repository)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slots_digest ON slots(digest);
CREATE TABLE IF NOT EXISTS approvals(environment TEXT NOT NULL, repository TEXT NOT NULL,
  seq INTEGER NOT NULL, digest TEXT NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
  PRIMARY KEY(environment, repository, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS approvals_digest ON approvals(environment, digest);
CREATE TABLE IF NOT EXISTS deployments(environment TEXT NOT NULL, repository TEXT NOT NULL,
  seq INTEGER NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL, drift INTEGER NOT NULL,
  PRIMARY KEY(environment, repository, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollbacks(environment TEXT NOT NULL, repository TEXT NOT NULL,
  from_digest TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(environment, repository, from_digest, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revocations(digest TEXT PRIMARY KEY, seq INTEGER NOT NULL,
  reason TEXT NOT NULL, time TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS policies(seq INTEGER PRIMARY KEY, sha256 TEXT NOT NULL);
)sql";
  append_only(sql, "entries");
  append_only(sql, "tree_nodes");
  append_only(sql, "checkpoints");
  append_only(sql, "checkpoint_keys");
  db.exec(sql);
}

std::string meta(sql::Connection& db, const std::string& key) {
  auto& stmt = db.prepare("SELECT value FROM meta WHERE key = ?");
  stmt.bind(1, key);
  std::string value = stmt.step() ? stmt.text(0) : std::string();
  stmt.reset();
  return value;
}

void set_meta(sql::Connection& db, const std::string& key, const std::string& value) {
  db.prepare("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = "
             "excluded.value")
      .bind(1, key)
      .bind(2, value)
      .run();
}

const std::vector<std::string>& derived_tables() {
  static const std::vector<std::string> tables = {
      "digests",   "digest_entries", "tags",      "env_entries", "slots",
      "approvals", "deployments",    "rollbacks", "revocations", "policies"};
  return tables;
}

void clear_derived(sql::Connection& db) {
  std::string sql;
  for (const auto& table : derived_tables()) {
    sql += "DELETE FROM " + table + ";";
  }
  db.exec(sql);
}

Entry decode_entry(std::int64_t seq, const std::string& bytes, const Hash& leaf) {
  Entry e;
  e.seq = seq;
  e.bytes = bytes;
  e.leaf = leaf;
  json j = json::parse(bytes, nullptr, false);
  if (j.is_object()) {
    e.kind = body_string(j, "kind");
    e.time = body_string(j, "time");
    e.actor = body_string(j, "actor");
    auto it = j.find("body");
    if (it != j.end()) {
      e.body = std::move(*it);
    }
  }
  return e;
}

void insert_entry(sql::Connection& db, const Entry& entry, const std::vector<Node>& nodes) {
  db.prepare("INSERT INTO entries(seq, kind, time, bytes, leaf) VALUES(?, ?, ?, ?, ?)")
      .bind(1, entry.seq)
      .bind(2, entry.kind)
      .bind(3, entry.time)
      .bind_blob(4, entry.bytes.data(), entry.bytes.size())
      .bind_hash(5, entry.leaf)
      .run();
  auto& node_stmt = db.prepare("INSERT INTO tree_nodes(level, idx, hash) VALUES(?, ?, ?)");
  for (const Node& n : nodes) {
    node_stmt.reset();
    node_stmt.bind(1, n.level).bind(2, static_cast<std::int64_t>(n.index)).bind_hash(3, n.hash);
    node_stmt.run();
  }
  index_entry(db, entry);
}

namespace {

// Writes the derived rows of one entry, a method per kind.
class Indexer {
public:
  Indexer(sql::Connection& db, const Entry& entry) : m_db(db), m_e(entry), m_body(entry.body) {}

  void run() {
    if (m_e.kind == k_validation) {
      validation();
    } else if (m_e.kind == k_promotion) {
      promotion();
    } else if (m_e.kind == k_rollback) {
      rollback();
    } else if (m_e.kind == k_deployment) {
      deployment();
    } else if (m_e.kind == k_revocation) {
      revocation();
    } else if (m_e.kind == k_observation) {
      digest_entry(body_string(m_body, "digest"));
    } else if (m_e.kind == k_policy) {
      m_db.prepare("INSERT INTO policies(seq, sha256) VALUES(?, ?)")
          .bind(1, m_e.seq)
          .bind(2, body_string(m_body, "sha256"))
          .run();
    }
  }

private:
  bool approved() const { return body_string(m_body, "decision") == "approved"; }

  void digest_entry(const std::string& digest) {
    if (!digest.empty()) {
      m_db.prepare("INSERT OR IGNORE INTO digest_entries(digest, seq, kind) VALUES(?, ?, ?)")
          .bind(1, digest)
          .bind(2, m_e.seq)
          .bind(3, m_e.kind)
          .run();
    }
  }

  void env_entry(const std::string& env, const std::string& repository) {
    m_db.prepare("INSERT OR IGNORE INTO env_entries(environment, seq, repository) VALUES(?, ?, ?)")
        .bind(1, env)
        .bind(2, m_e.seq)
        .bind(3, repository)
        .run();
  }

  void
  make_current(const std::string& env, const std::string& repository, const std::string& digest) {
    m_db.prepare("INSERT INTO slots(environment, repository, digest, seq, time) VALUES(?, ?, ?, "
                 "?, ?) ON CONFLICT(environment, repository) DO UPDATE SET digest = "
                 "excluded.digest, seq = excluded.seq, time = excluded.time")
        .bind(1, env)
        .bind(2, repository)
        .bind(3, digest)
        .bind(4, m_e.seq)
        .bind(5, m_e.time)
        .run();
    m_db.prepare("INSERT INTO approvals(environment, repository, seq, digest, time, kind) "
                 "VALUES(?, ?, ?, ?, ?, ?)")
        .bind(1, env)
        .bind(2, repository)
        .bind(3, m_e.seq)
        .bind(4, digest)
        .bind(5, m_e.time)
        .bind(6, m_e.kind)
        .run();
  }

  void validation() {
    std::string digest = body_string(m_body, "digest");
    std::string repository = body_string(m_body, "repository");
    m_db.prepare("INSERT OR IGNORE INTO digests(digest, repository, first_seq) VALUES(?, ?, ?)")
        .bind(1, digest)
        .bind(2, repository)
        .bind(3, m_e.seq)
        .run();
    digest_entry(digest);
    auto tags = m_body.find("tags");
    if (tags == m_body.end() || !tags->is_array()) {
      return;
    }
    for (const auto& tag : *tags) {
      if (tag.is_string()) {
        m_db.prepare("INSERT OR IGNORE INTO tags(repository, tag, digest, seq) VALUES(?, ?, ?, ?)")
            .bind(1, repository)
            .bind(2, tag.get<std::string>())
            .bind(3, digest)
            .bind(4, m_e.seq)
            .run();
      }
    }
  }

  void promotion() {
    std::string env = body_string(m_body, "environment");
    bool any = false;
    if (auto list = m_body.find("promotions"); list != m_body.end() && list->is_array()) {
      for (const auto& p : *list) {
        if (!p.is_object()) {
          continue;
        }
        std::string repository = body_string(p, "repository");
        std::string digest = body_string(p, "digest");
        digest_entry(digest);
        env_entry(env, repository);
        any = true;
        if (approved() && !repository.empty() && !digest.empty()) {
          make_current(env, repository, digest);
        }
      }
    }
    if (!any) {
      env_entry(env, "");
    }
  }

  void rollback() {
    std::string env = body_string(m_body, "environment");
    std::string repository = body_string(m_body, "repository");
    std::string digest = body_string(m_body, "digest");
    std::string from = body_string(m_body, "from_digest");
    env_entry(env, repository);
    digest_entry(digest);
    digest_entry(from);
    if (approved() && !repository.empty() && !digest.empty()) {
      make_current(env, repository, digest);
      m_db.prepare("INSERT OR IGNORE INTO rollbacks(environment, repository, from_digest, seq) "
                   "VALUES(?, ?, ?, ?)")
          .bind(1, env)
          .bind(2, repository)
          .bind(3, from)
          .bind(4, m_e.seq)
          .run();
    }
  }

  void deployment() {
    std::string env = body_string(m_body, "environment");
    std::string repository = body_string(m_body, "repository");
    std::string digest = body_string(m_body, "digest");
    env_entry(env, repository);
    digest_entry(digest);
    auto drift = m_body.find("drift");
    m_db.prepare("INSERT INTO deployments(environment, repository, seq, digest, status, drift) "
                 "VALUES(?, ?, ?, ?, ?, ?)")
        .bind(1, env)
        .bind(2, repository)
        .bind(3, m_e.seq)
        .bind(4, digest)
        .bind(5, body_string(m_body, "status"))
        .bind(6, drift != m_body.end() && drift->is_boolean() && drift->get<bool>() ? 1 : 0)
        .run();
  }

  void revocation() {
    std::string digest = body_string(m_body, "digest");
    digest_entry(digest);
    m_db.prepare("INSERT OR IGNORE INTO revocations(digest, seq, reason, time) VALUES(?, ?, ?, ?)")
        .bind(1, digest)
        .bind(2, m_e.seq)
        .bind(3, body_string(m_body, "reason"))
        .bind(4, m_e.time)
        .run();
  }

  sql::Connection& m_db;
  const Entry& m_e;
  const json& m_body;
};

} // namespace

void index_entry(sql::Connection& db, const Entry& entry) {
  Indexer(db, entry).run();
}

std::vector<Bytes> checkpoint_keys(sql::Connection& db) {
  std::vector<Bytes> keys;
  auto& stmt = db.prepare("SELECT public_key FROM checkpoint_keys ORDER BY id");
  while (stmt.step()) {
    std::string b = stmt.blob(0);
    keys.emplace_back(b.begin(), b.end());
  }
  return keys;
}

std::optional<StoredCheckpoint> latest_checkpoint(sql::Connection& db) {
  auto& stmt = db.prepare("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1");
  if (!stmt.step()) {
    return std::nullopt;
  }
  StoredCheckpoint c{stmt.int64(0), stmt.hash(1), stmt.text(2)};
  stmt.reset();
  return c;
}

Hash SqlNodeReader::node(int level, std::uint64_t index) const {
  auto& stmt = m_db.prepare("SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?");
  stmt.bind(1, level).bind(2, static_cast<std::int64_t>(index));
  if (!stmt.step()) {
    throw sql::Failure{0, "tree node (" + std::to_string(level) + ", " + std::to_string(index) +
                              ") is missing"};
  }
  Hash h = stmt.hash(0);
  stmt.reset();
  return h;
}

// --- SqlView ------------------------------------------------------------------------------

std::vector<Entry> SqlView::load_seqs(sql::Statement& stmt) {
  std::vector<Entry> out;
  while (stmt.step()) {
    out.push_back(decode_entry(stmt.int64(0), stmt.blob(1), stmt.hash(2)));
  }
  stmt.reset();
  return out;
}

std::int64_t SqlView::size() {
  auto& stmt = m_db.prepare("SELECT COALESCE(MAX(seq), 0) FROM entries");
  stmt.step();
  std::int64_t n = stmt.int64(0);
  stmt.reset();
  return n;
}

std::optional<Entry> SqlView::entry(std::int64_t seq) {
  auto& stmt = m_db.prepare("SELECT seq, bytes, leaf FROM entries WHERE seq = ?");
  stmt.bind(1, seq);
  auto v = load_seqs(stmt);
  if (v.empty()) {
    return std::nullopt;
  }
  return std::move(v.front());
}

std::vector<Entry> SqlView::entries(const EntryFilter& f) {
  std::string sql = "SELECT e.seq, e.bytes, e.leaf FROM entries e";
  if (!f.digest.empty()) {
    sql += " JOIN digest_entries d ON d.seq = e.seq AND d.digest = ?3";
  }
  if (!f.environment.empty()) {
    sql += " JOIN (SELECT DISTINCT seq FROM env_entries WHERE environment = ?4) v ON v.seq = e.seq";
  }
  sql += " WHERE e.seq > ?1";
  if (!f.kind.empty()) {
    sql += " AND e.kind = ?2";
  }
  sql += " ORDER BY e.seq LIMIT ?5";
  auto& stmt = m_db.prepare(sql);
  stmt.bind(1, f.after);
  if (!f.kind.empty()) {
    stmt.bind(2, f.kind);
  }
  if (!f.digest.empty()) {
    stmt.bind(3, f.digest);
  }
  if (!f.environment.empty()) {
    stmt.bind(4, f.environment);
  }
  stmt.bind(5, f.limit);
  return load_seqs(stmt);
}

std::vector<Entry> SqlView::digest_entries(const std::string& digest, const std::string& kind) {
  auto& stmt = m_db.prepare(
      "SELECT e.seq, e.bytes, e.leaf FROM digest_entries d JOIN entries e ON e.seq = d.seq "
      "WHERE d.digest = ?1 AND (?2 = '' OR d.kind = ?2) ORDER BY d.seq");
  stmt.bind(1, digest).bind(2, kind);
  return load_seqs(stmt);
}

std::optional<std::string> SqlView::digest_repository(const std::string& digest) {
  auto& stmt = m_db.prepare("SELECT repository FROM digests WHERE digest = ?");
  stmt.bind(1, digest);
  if (!stmt.step()) {
    return std::nullopt;
  }
  std::string r = stmt.text(0);
  stmt.reset();
  return r;
}

std::vector<std::string> SqlView::tag_digests(const std::string& repository,
                                              const std::string& tag) {
  auto& stmt = m_db.prepare(
      "SELECT digest FROM tags WHERE repository = ? AND tag = ? ORDER BY seq DESC LIMIT 20");
  stmt.bind(1, repository).bind(2, tag);
  std::vector<std::string> out;
  while (stmt.step()) {
    out.push_back(stmt.text(0));
  }
  stmt.reset();
  return out;
}

std::optional<Revocation> SqlView::revocation(const std::string& digest) {
  auto& stmt = m_db.prepare("SELECT seq, reason, time FROM revocations WHERE digest = ?");
  stmt.bind(1, digest);
  if (!stmt.step()) {
    return std::nullopt;
  }
  Revocation r{digest, stmt.text(1), stmt.int64(0), stmt.text(2)};
  stmt.reset();
  return r;
}

std::vector<Slot> SqlView::slots(const std::string& environment) {
  auto& stmt = m_db.prepare("SELECT environment, repository, digest, seq, time FROM slots WHERE "
                            "?1 = '' OR environment = ?1 ORDER BY environment, repository");
  stmt.bind(1, environment);
  std::vector<Slot> out;
  while (stmt.step()) {
    out.push_back(Slot{stmt.text(0), stmt.text(1), stmt.text(2), stmt.int64(3), stmt.text(4)});
  }
  stmt.reset();
  return out;
}

std::vector<std::string> SqlView::environments() {
  auto& stmt = m_db.prepare("SELECT DISTINCT environment FROM env_entries ORDER BY environment");
  std::vector<std::string> out;
  while (stmt.step()) {
    out.push_back(stmt.text(0));
  }
  stmt.reset();
  return out;
}

bool SqlView::approved_in(const std::string& environment, const std::string& digest) {
  auto& stmt = m_db.prepare("SELECT 1 FROM approvals WHERE environment = ? AND digest = ? LIMIT 1");
  stmt.bind(1, environment).bind(2, digest);
  bool found = stmt.step();
  stmt.reset();
  return found;
}

std::vector<Approval> SqlView::approvals(const std::string& environment,
                                         const std::string& repository) {
  auto& stmt = m_db.prepare("SELECT repository, digest, seq, time, kind FROM approvals WHERE "
                            "environment = ? AND repository = ? ORDER BY seq DESC");
  stmt.bind(1, environment).bind(2, repository);
  std::vector<Approval> out;
  while (stmt.step()) {
    out.push_back(Approval{stmt.text(0), stmt.text(1), stmt.int64(2), stmt.text(3), stmt.text(4)});
  }
  stmt.reset();
  return out;
}

std::vector<Deployment> SqlView::deployments(const std::string& environment,
                                             const std::string& repository) {
  auto& stmt = m_db.prepare("SELECT digest, status, drift, seq FROM deployments WHERE "
                            "environment = ? AND repository = ? ORDER BY seq DESC");
  stmt.bind(1, environment).bind(2, repository);
  std::vector<Deployment> out;
  while (stmt.step()) {
    out.push_back(Deployment{stmt.text(0), stmt.text(1), stmt.int64(2) != 0, stmt.int64(3)});
  }
  stmt.reset();
  return out;
}

bool SqlView::rolled_back_from(const std::string& environment,
                               const std::string& repository,
                               const std::string& digest) {
  auto& stmt = m_db.prepare("SELECT 1 FROM rollbacks WHERE environment = ? AND repository = ? "
                            "AND from_digest = ? LIMIT 1");
  stmt.bind(1, environment).bind(2, repository).bind(3, digest);
  bool found = stmt.step();
  stmt.reset();
  return found;
}

DigestStanding SqlView::standing(const std::string& environment,
                                 const std::string& repository,
                                 const std::string& digest) {
  auto& stmt = m_db.prepare(
      "SELECT (SELECT max(seq) FROM approvals WHERE environment = ?1 AND digest = ?3 AND "
      "repository = ?2), (SELECT max(seq) FROM rollbacks WHERE environment = ?1 AND "
      "repository = ?2 AND from_digest = ?3)");
  stmt.bind(1, environment).bind(2, repository).bind(3, digest);
  DigestStanding out;
  if (stmt.step()) {
    out.approved_seq = stmt.int64(0);
    out.rolled_back_seq = stmt.int64(1);
  }
  stmt.reset();
  return out;
}

std::vector<Entry> SqlView::environment_history(const std::string& environment,
                                                const std::string& repository,
                                                std::int64_t limit) {
  auto& stmt = m_db.prepare(
      "SELECT e.seq, e.bytes, e.leaf FROM entries e WHERE e.seq IN (SELECT seq FROM env_entries "
      "WHERE environment = ?1 AND (?2 = '' OR repository = ?2 OR repository = '')) "
      "ORDER BY e.seq DESC LIMIT ?3");
  stmt.bind(1, environment).bind(2, repository).bind(3, limit);
  return load_seqs(stmt);
}

std::optional<Entry> SqlView::latest_policy() {
  auto& stmt = m_db.prepare("SELECT e.seq, e.bytes, e.leaf FROM policies p JOIN entries e ON "
                            "e.seq = p.seq ORDER BY p.seq DESC LIMIT 1");
  auto v = load_seqs(stmt);
  if (v.empty()) {
    return std::nullopt;
  }
  return std::move(v.front());
}

Hash SqlView::root_at(std::uint64_t size) {
  return ledger::root_at(m_nodes, size);
}

std::vector<Hash> SqlView::inclusion_proof(std::uint64_t index, std::uint64_t size) {
  return ledger::inclusion_proof(m_nodes, index, size);
}

std::vector<Hash> SqlView::consistency_proof(std::uint64_t size1, std::uint64_t size2) {
  return ledger::consistency_proof(m_nodes, size1, size2);
}

} // namespace dg::ledger::store
