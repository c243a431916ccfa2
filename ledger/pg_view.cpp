// The PostgreSQL ledger's reads: the View's queries, and pooled connections that each read in a
// REPEATABLE READ snapshot.
#include "ledger/pg_ledger.hpp"

namespace dg::ledger::pg_backend {

namespace {

constexpr std::size_t k_read_pool = 8;

Entry decode(const pg::Rows& rows, int i) {
  Entry e;
  e.seq = rows.int64(i, 0);
  e.bytes = rows.text(i, 1);
  e.leaf = rows.hash(i, 2);
  json j = json::parse(e.bytes, nullptr, false);
  if (j.is_object()) {
    auto str = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    e.kind = str("kind");
    e.time = str("time");
    e.actor = str("actor");
    if (auto it = j.find("body"); it != j.end()) {
      e.body = std::move(*it);
    }
  }
  return e;
}

std::vector<std::string> column(const pg::Rows& rows) {
  std::vector<std::string> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(rows.text(i, 0));
  }
  return out;
}

} // namespace

std::vector<Entry> PgView::load(const std::string& sql, const std::vector<pg::Param>& params) {
  auto rows = m_db.query(sql, params);
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(decode(rows, i));
  }
  return out;
}

std::int64_t PgView::size() {
  return m_db.query("SELECT COALESCE(MAX(seq), 0) FROM entries").int64(0, 0);
}

std::optional<Entry> PgView::entry(std::int64_t seq) {
  auto v = load("SELECT seq, bytes, leaf FROM entries WHERE seq = $1", {seq});
  if (v.empty()) {
    return std::nullopt;
  }
  return std::move(v.front());
}

std::vector<Entry> PgView::entries(const EntryFilter& f) {
  std::string sql = "SELECT e.seq, e.bytes, e.leaf FROM entries e";
  if (!f.digest.empty()) {
    sql += " JOIN digest_entries d ON d.seq = e.seq AND d.digest = $3";
  }
  if (!f.environment.empty()) {
    sql += " JOIN (SELECT DISTINCT seq FROM env_entries WHERE environment = $4) v ON v.seq = e.seq";
  }
  sql += " WHERE e.seq > $1";
  if (!f.kind.empty()) {
    sql += " AND e.kind = $2";
  }
  sql += " AND $2::text IS NOT NULL AND $3::text IS NOT NULL AND $4::text IS NOT NULL"
         " ORDER BY e.seq LIMIT $5";
  return load(sql, {f.after, f.kind, f.digest, f.environment, f.limit});
}

std::vector<Entry> PgView::digest_entries(const std::string& digest, const std::string& kind) {
  return load("SELECT e.seq, e.bytes, e.leaf FROM digest_entries d JOIN entries e ON e.seq = "
              "d.seq WHERE d.digest = $1 AND ($2 = '' OR d.kind = $2) ORDER BY d.seq",
              {digest, kind});
}

std::optional<std::string> PgView::digest_repository(const std::string& digest) {
  auto rows = m_db.query("SELECT repository FROM digests WHERE digest = $1", {digest});
  if (rows.size() == 0) {
    return std::nullopt;
  }
  return rows.text(0, 0);
}

std::vector<std::string> PgView::tag_digests(const std::string& repository,
                                             const std::string& tag) {
  return column(m_db.query("SELECT digest FROM tags WHERE repository = $1 AND tag = $2 ORDER BY "
                           "seq DESC LIMIT 20",
                           {repository, tag}));
}

std::optional<Revocation> PgView::revocation(const std::string& digest) {
  auto rows = m_db.query("SELECT seq, reason, time FROM revocations WHERE digest = $1", {digest});
  if (rows.size() == 0) {
    return std::nullopt;
  }
  return Revocation{digest, rows.text(0, 1), rows.int64(0, 0), rows.text(0, 2)};
}

std::vector<Slot> PgView::slots(const std::string& environment) {
  auto rows =
      m_db.query("SELECT environment, repository, digest, seq, time FROM slots WHERE "
                 "$1 = '' OR environment = $1 ORDER BY environment COLLATE \"C\", repository "
                 "COLLATE \"C\"",
                 {environment});
  std::vector<Slot> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(
        Slot{rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), rows.int64(i, 3), rows.text(i, 4)});
  }
  return out;
}

std::vector<std::string> PgView::environments() {
  return column(m_db.query("SELECT environment FROM env_entries GROUP BY environment ORDER BY "
                           "environment COLLATE \"C\""));
}

bool PgView::approved_in(const std::string& environment, const std::string& digest) {
  return m_db.query("SELECT 1 FROM approvals WHERE environment = $1 AND digest = $2 LIMIT 1",
                    {environment, digest})
             .size() > 0;
}

std::vector<Approval> PgView::approvals(const std::string& environment,
                                        const std::string& repository) {
  auto rows = m_db.query("SELECT repository, digest, seq, time, kind FROM approvals WHERE "
                         "environment = $1 AND repository = $2 ORDER BY seq DESC",
                         {environment, repository});
  std::vector<Approval> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(Approval{rows.text(i, 0), rows.text(i, 1), rows.int64(i, 2), rows.text(i, 3),
                           rows.text(i, 4)});
  }
  return out;
}

std::vector<Deployment> PgView::deployments(const std::string& environment,
                                            const std::string& repository) {
  auto rows = m_db.query("SELECT digest, status, drift, seq FROM deployments WHERE "
                         "environment = $1 AND repository = $2 ORDER BY seq DESC",
                         {environment, repository});
  std::vector<Deployment> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(
        Deployment{rows.text(i, 0), rows.text(i, 1), rows.int64(i, 2) != 0, rows.int64(i, 3)});
  }
  return out;
}

bool PgView::rolled_back_from(const std::string& environment,
                              const std::string& repository,
                              const std::string& digest) {
  return m_db.query("SELECT 1 FROM rollbacks WHERE environment = $1 AND repository = $2 AND "
                    "from_digest = $3 LIMIT 1",
                    {environment, repository, digest})
             .size() > 0;
}

DigestStanding PgView::standing(const std::string& environment,
                                const std::string& repository,
                                const std::string& digest) {
  auto rows = m_db.query(
      "SELECT COALESCE((SELECT max(seq) FROM approvals WHERE environment = $1 AND digest = $3 AND "
      "repository = $2), 0), COALESCE((SELECT max(seq) FROM rollbacks WHERE environment = $1 AND "
      "repository = $2 AND from_digest = $3), 0)",
      {environment, repository, digest});
  DigestStanding out;
  if (rows.size() > 0) {
    out.approved_seq = rows.int64(0, 0);
    out.rolled_back_seq = rows.int64(0, 1);
  }
  return out;
}

std::vector<Entry> PgView::environment_history(const std::string& environment,
                                               const std::string& repository,
                                               std::int64_t limit) {
  return load("SELECT e.seq, e.bytes, e.leaf FROM entries e WHERE e.seq IN (SELECT seq FROM "
              "env_entries WHERE environment = $1 AND ($2 = '' OR repository = $2 OR repository "
              "= '')) ORDER BY e.seq DESC LIMIT $3",
              {environment, repository, limit});
}

std::optional<Entry> PgView::latest_policy() {
  auto v = load("SELECT e.seq, e.bytes, e.leaf FROM policies p JOIN entries e ON e.seq = p.seq "
                "ORDER BY p.seq DESC LIMIT 1",
                {});
  if (v.empty()) {
    return std::nullopt;
  }
  return std::move(v.front());
}

Hash PgView::root_at(std::uint64_t size) {
  return ledger::root_at(m_nodes, size);
}

std::vector<Hash> PgView::inclusion_proof(std::uint64_t index, std::uint64_t size) {
  return ledger::inclusion_proof(m_nodes, index, size);
}

std::vector<Hash> PgView::consistency_proof(std::uint64_t size1, std::uint64_t size2) {
  return ledger::consistency_proof(m_nodes, size1, size2);
}

std::unique_ptr<pg::Connection> PgLedger::borrow() const {
  {
    std::lock_guard lock(m_pool_mutex);
    if (!m_pool.empty()) {
      auto conn = std::move(m_pool.back());
      m_pool.pop_back();
      return conn;
    }
  }
  auto opened = pg::Connection::open(m_options.database, m_password);
  return opened ? std::move(*opened) : nullptr;
}

void PgLedger::give_back(std::unique_ptr<pg::Connection> conn) const {
  if (!conn->healthy()) {
    return; // dropped: the next read connects again (to whichever server is the primary)
  }
  std::lock_guard lock(m_pool_mutex);
  if (m_pool.size() < k_read_pool) {
    m_pool.push_back(std::move(conn));
  }
}

Result<void> PgLedger::read(const std::function<void(View&)>& fn) {
  auto conn = borrow();
  if (!conn) {
    return make_error(Errc::unavailable, "the ledger database is unreachable");
  }
  Result<void> result;
  try {
    conn->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PgView view(*conn);
    fn(view);
    conn->exec("COMMIT");
  } catch (const StoreFailure& f) {
    try {
      conn->exec("ROLLBACK");
    } catch (const StoreFailure&) {
    }
    result = make_error(f.code == pg::k_connection_lost ? Errc::unavailable : Errc::io,
                        "ledger read failed: " + f.message);
  } catch (...) {
    try {
      conn->exec("ROLLBACK");
    } catch (const StoreFailure&) {
    }
    give_back(std::move(conn));
    throw;
  }
  give_back(std::move(conn));
  return result;
}

// The database's size, not a count this daemon keeps: other daemons append too.
std::int64_t PgLedger::size() const {
  auto conn = borrow();
  if (!conn) {
    return m_size.load();
  }
  std::int64_t n = m_size.load();
  try {
    n = conn->query("SELECT COALESCE(MAX(size), 0) FROM checkpoints").int64(0, 0);
  } catch (const StoreFailure&) {
    // unreachable: the last size seen
  }
  give_back(std::move(conn));
  return n;
}

std::string PgLedger::checkpoint() const {
  std::string note;
  {
    std::lock_guard lock(m_state_mutex);
    note = m_checkpoint;
  }
  auto conn = borrow();
  if (!conn) {
    return note;
  }
  try {
    auto newest = pg_backend::latest_checkpoint(*conn);
    auto mine = parse_checkpoint(note);
    if (newest && (!mine || static_cast<std::int64_t>(mine->size) < newest->size)) {
      note = newest->note;
    }
  } catch (const StoreFailure&) {
  }
  give_back(std::move(conn));
  return note;
}

} // namespace dg::ledger::pg_backend
