// Opening a PostgreSQL ledger and its start-up check; offline verification.
#include "ledger/pg_ledger.hpp"
#include "ledger/witness.hpp"

#include <chrono>

namespace dg::ledger::pg_backend {

namespace {
constexpr int k_fetch = 2000;
} // namespace

Result<std::unique_ptr<pg::Connection>> connect(const std::string& url,
                                                const std::string& password_file) {
  std::string password;
  if (!password_file.empty()) {
    auto read = pg::read_password_file(password_file);
    if (!read) {
      return read.error();
    }
    password = std::move(*read);
  }
  return pg::Connection::open(url, password);
}

Hash PgNodeReader::node(int level, std::uint64_t index) const {
  auto rows = m_db.query("SELECT hash FROM tree_nodes WHERE level = $1 AND idx = $2",
                         {level, static_cast<std::int64_t>(index)});
  if (rows.size() == 0) {
    throw StoreFailure{0, "tree node (" + std::to_string(level) + ", " + std::to_string(index) +
                              ") is missing"};
  }
  return rows.hash(0, 0);
}

std::optional<detail::StoredCheckpoint> latest_checkpoint(pg::Connection& db) {
  auto rows = db.query("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1");
  if (rows.size() == 0) {
    return std::nullopt;
  }
  return detail::StoredCheckpoint{rows.int64(0, 0), rows.hash(0, 1), rows.text(0, 2)};
}

std::optional<detail::StoredCheckpoint> StoredRows::latest_checkpoint() {
  return pg_backend::latest_checkpoint(m_db);
}

std::optional<detail::EntryRow> StoredRows::next_entry() {
  if (!m_entries_open) {
    m_db.exec("DECLARE dg_entries NO SCROLL CURSOR FOR SELECT seq, bytes, leaf FROM entries "
              "ORDER BY seq");
    m_entries_open = true;
  }
  if (!m_entry_rows || m_entry_at >= m_entry_rows->size()) {
    m_entry_rows = std::make_unique<pg::Rows>(
        m_db.query("FETCH " + std::to_string(k_fetch) + " FROM dg_entries"));
    m_entry_at = 0;
    if (m_entry_rows->size() == 0) {
      return std::nullopt;
    }
  }
  int i = m_entry_at++;
  return detail::EntryRow{m_entry_rows->int64(i, 0), m_entry_rows->text(i, 1),
                          m_entry_rows->hash(i, 2)};
}

std::optional<detail::StoredCheckpoint> StoredRows::next_checkpoint() {
  if (!m_checkpoints_open) {
    m_db.exec("DECLARE dg_checkpoints NO SCROLL CURSOR FOR SELECT size, root, note FROM "
              "checkpoints ORDER BY size");
    m_checkpoints_open = true;
  }
  if (!m_cp_rows || m_cp_at >= m_cp_rows->size()) {
    m_cp_rows = std::make_unique<pg::Rows>(
        m_db.query("FETCH " + std::to_string(k_fetch) + " FROM dg_checkpoints"));
    m_cp_at = 0;
    if (m_cp_rows->size() == 0) {
      return std::nullopt;
    }
  }
  int i = m_cp_at++;
  return detail::StoredCheckpoint{m_cp_rows->int64(i, 0), m_cp_rows->hash(i, 1),
                                  m_cp_rows->text(i, 2)};
}

void StoredRows::each_checkpoint(std::int64_t max_size,
                                 const std::function<bool(const detail::StoredCheckpoint&)>& fn) {
  for (std::int64_t after = 0;;) {
    auto rows = m_db.query("SELECT size, root, note FROM checkpoints WHERE size > $1 AND size "
                           "<= $2 ORDER BY size LIMIT " +
                               std::to_string(k_fetch),
                           {after, max_size});
    for (int i = 0; i < rows.size(); ++i) {
      after = rows.int64(i, 0);
      if (!fn(detail::StoredCheckpoint{after, rows.hash(i, 1), rows.text(i, 2)})) {
        return;
      }
    }
    if (rows.size() < k_fetch) {
      return;
    }
  }
}

Result<void> initialize(const InitOptions& options, const Bytes& checkpoint_public_key) {
  auto conn = connect(options.database, options.password_file);
  if (!conn) {
    return conn.error();
  }
  try {
    create_schema(**conn, options.app_role);
    add_key(**conn, checkpoint_public_key);
  } catch (const StoreFailure& f) {
    return make_error(Errc::io, "cannot initialize the ledger: " + f.message);
  }
  return {};
}

Result<std::unique_ptr<Ledger>> open(const Options& options) {
  std::string password;
  if (!options.password_file.empty()) {
    auto read = pg::read_password_file(options.password_file);
    if (!read) {
      return read.error();
    }
    password = std::move(*read);
  }
  auto conn = pg::Connection::open(options.database, password);
  if (!conn) {
    return conn.error();
  }
  try {
    if (!has_schema(**conn)) {
      return make_error(Errc::not_found,
                        "the ledger database has no digestgate schema (run `digestgated init "
                        "--state-dir DIR --ledger URL` first)");
    }
  } catch (const StoreFailure& f) {
    return make_error(Errc::io, "cannot read the ledger: " + f.message);
  }
  auto ledger = std::make_unique<PgLedger>(options, password, std::move(*conn));
  DG_TRY(ledger->start());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

Result<std::pair<std::optional<detail::StoredCheckpoint>, std::vector<Bytes>>>
head(const std::string& url, const std::string& password_file) {
  auto conn = connect(url, password_file);
  if (!conn) {
    return conn.error();
  }
  try {
    return std::make_pair(latest_checkpoint(**conn), checkpoint_keys(**conn));
  } catch (const StoreFailure& f) {
    return make_error(Errc::corrupt, "the ledger database is not a readable ledger: " + f.message);
  }
}

Result<void> PgLedger::start() {
  auto started = std::chrono::steady_clock::now();
  try {
    auto keys = checkpoint_keys(*m_writer);
    Bytes own = m_options.key->public_key();
    bool key_known = false;
    for (const auto& k : keys) {
      key_known = key_known || k == own;
    }
    auto verify = [&](const std::string& note) { return detail::note_verifies(note, keys); };
    // One snapshot for the whole check, while other daemons may append.
    m_writer->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    VerifyReport report;
    {
      StoredRows rows(*m_writer);
      report = detail::scan(rows, verify, false);
    }
    m_start.entries = report.entries;
    if (!report.ok) {
      fail_closed(report.message, report.first_bad_seq);
    } else if (!key_known) {
      fail_closed("the checkpoint key in the state directory is not a key of this ledger "
                  "(was it replaced?)",
                  0);
    }
    load_head(report);
    m_writer->exec("COMMIT");
  } catch (const StoreFailure& f) {
    return make_error(Errc::io, "cannot read the ledger: " + f.message);
  }
  m_start.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  m_batches.start([this](std::deque<detail::Job>& batch) { commit_batch(batch); },
                  m_options.on_callback_error);
  return {};
}

void PgLedger::load_head(const VerifyReport& report) {
  PgNodeReader nodes(*m_writer);
  try {
    m_range = CompactRange::load(nodes, static_cast<std::uint64_t>(report.entries));
  } catch (const StoreFailure& f) {
    fail_closed("the stored Merkle tree is incomplete: " + f.message, 0);
  }
  m_size = report.entries;
  if (auto cp = pg_backend::latest_checkpoint(*m_writer)) {
    m_checkpoint = cp->note;
  }
  if (m_integrity.ok) {
    PgView view(*m_writer);
    if (auto failed = detail::check_witness(m_options.witness_path, *m_options.key, m_size, view)) {
      fail_closed(failed->message, failed->first_bad_seq);
    }
  }
  auto current = parse_checkpoint(m_checkpoint);
  if (m_integrity.ok && (!current || current->origin != m_options.origin)) {
    m_checkpoint = sign_checkpoint(
        Checkpoint{m_options.origin, static_cast<std::uint64_t>(m_size), m_range.root()},
        m_options.origin, *m_options.key);
  }
  if (m_integrity.ok) {
    detail::write_witness(m_options.witness_path, m_checkpoint, true);
  }
}

void PgLedger::fail_closed(const std::string& message, std::int64_t seq) {
  std::lock_guard lock(m_state_mutex);
  if (m_integrity.ok) {
    m_integrity = Integrity{false, message, seq};
  }
}

Integrity PgLedger::integrity() const {
  std::lock_guard lock(m_state_mutex);
  return m_integrity;
}

std::string PgLedger::verifier() const {
  return verifier_string(m_options.origin, m_options.key->public_key());
}

Result<VerifyReport> verify(const std::string& url, const std::string& verifier) {
  std::optional<NoteVerifier> pinned;
  if (!verifier.empty()) {
    auto v = parse_verifier(verifier);
    if (!v) {
      return make_error(Errc::invalid_argument, "bad --key verifier: " + v.error().message);
    }
    pinned = std::move(*v);
  }
  auto conn = connect(url, "");
  if (!conn) {
    return conn.error();
  }
  try {
    if (!has_schema(**conn)) {
      return make_error(Errc::invalid_argument, "the database holds no digestgate ledger");
    }
    (*conn)->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    auto keys = checkpoint_keys(**conn);
    auto check = [&](const std::string& note) {
      if (pinned) {
        return static_cast<bool>(open_checkpoint(note, *pinned));
      }
      return detail::note_verifies(note, keys);
    };
    StoredRows rows(**conn);
    VerifyReport report = detail::scan(rows, check, true);
    (*conn)->exec("COMMIT");
    return report;
  } catch (const StoreFailure& f) {
    return make_error(Errc::invalid_argument, "not a readable digestgate ledger: " + f.message);
  }
}

} // namespace dg::ledger::pg_backend
