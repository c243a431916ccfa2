// Opening a SQLite ledger and its start-up check.
#include "ledger/sqlite_ledger.hpp"
#include "ledger/witness.hpp"
#include "util/time.hpp"

#include <chrono>
#include <sys/stat.h>
#include <thread>

namespace dg::ledger::sqlite_backend {

namespace {

// The meta row that holds the derived-state seal.
constexpr const char* k_seal_key = "derived_seal";

void configure(sql::Connection& db) {
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; "
          "PRAGMA cache_size=-16000;");
}

// The derived tables' seal sum, read through a second (read-only) connection.
void sum_derived(const std::string& path,
                 const Hash& seal_key,
                 std::optional<seal::Sum>& derived,
                 std::string& error) {
  try {
    auto conn = sql::Connection::open(path, false, true);
    if (!conn) {
      error = conn.error().message;
      return;
    }
    (*conn)->exec("BEGIN");
    seal::RowHasher hasher(seal_key);
    derived = seal::scan(**conn, hasher);
    (*conn)->exec("COMMIT");
  } catch (const sql::Failure& f) {
    error = f.message;
  } catch (const std::exception& ex) {
    error = ex.what();
  }
}

} // namespace

StoredRows::~StoredRows() {
  if (m_entries != nullptr) {
    m_entries->reset();
  }
  if (m_checkpoints != nullptr) {
    m_checkpoints->reset();
  }
}

std::optional<detail::StoredCheckpoint> StoredRows::latest_checkpoint() {
  return store::latest_checkpoint(m_db);
}

std::optional<detail::EntryRow> StoredRows::next_entry() {
  if (m_entries == nullptr) {
    m_entries = &m_db.prepare("SELECT seq, bytes, leaf FROM entries ORDER BY seq");
  }
  if (!m_entries->step()) {
    return std::nullopt;
  }
  return detail::EntryRow{m_entries->int64(0), m_entries->blob(1), m_entries->hash(2)};
}

std::optional<detail::StoredCheckpoint> StoredRows::next_checkpoint() {
  if (m_checkpoints == nullptr) {
    m_checkpoints = &m_db.prepare("SELECT size, root, note FROM checkpoints ORDER BY size");
  }
  if (!m_checkpoints->step()) {
    return std::nullopt;
  }
  return detail::StoredCheckpoint{m_checkpoints->int64(0), m_checkpoints->hash(1),
                                  m_checkpoints->text(2)};
}

void StoredRows::each_checkpoint(std::int64_t max_size,
                                 const std::function<bool(const detail::StoredCheckpoint&)>& fn) {
  auto& cps = m_db.prepare(
      "SELECT size, root, note FROM checkpoints WHERE size BETWEEN 1 AND ? ORDER BY size");
  cps.bind(1, max_size);
  while (cps.step()) {
    if (!fn(detail::StoredCheckpoint{cps.int64(0), cps.hash(1), cps.text(2)})) {
      break;
    }
  }
  cps.reset();
}

Result<void> initialize(const std::string& path, const Bytes& checkpoint_public_key) {
  auto conn = sql::Connection::open(path, true, false);
  if (!conn) {
    return conn.error();
  }
  try {
    configure(**conn);
    (*conn)->exec("BEGIN IMMEDIATE");
    store::create_schema(**conn);
    auto& ver = (*conn)->prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('schema', ?)");
    ver.bind(1, std::to_string(store::k_schema_version)).run();
    bool known = false;
    for (const auto& k : store::checkpoint_keys(**conn)) {
      known = known || k == checkpoint_public_key;
    }
    if (!known && !checkpoint_public_key.empty()) {
      (*conn)
          ->prepare("INSERT INTO checkpoint_keys(public_key, added) VALUES(?, ?)")
          .bind_blob(1, checkpoint_public_key.data(), checkpoint_public_key.size())
          .bind(2, format_rfc3339(now_ns()))
          .run();
    }
    (*conn)->exec("COMMIT");
  } catch (const sql::Failure& f) {
    return make_error(Errc::io, "cannot initialize the ledger " + path + ": " + f.message);
  }
  ::chmod(path.c_str(), 0600);
  return {};
}

Result<std::unique_ptr<Ledger>> open(const Options& options) {
  struct stat st {};
  if (::stat(options.database.c_str(), &st) != 0) {
    return make_error(Errc::not_found, "no ledger at " + options.database +
                                           " (run `digestgated init --state-dir DIR` first)");
  }
  auto conn = sql::Connection::open(options.database, false, false);
  if (!conn) {
    return conn.error();
  }
  try {
    auto& stmt = (*conn)->prepare("SELECT value FROM meta WHERE key = 'schema'");
    if (!stmt.step()) {
      return make_error(Errc::corrupt, options.database + " is not a digestgate ledger");
    }
    stmt.reset();
  } catch (const sql::Failure& f) {
    return make_error(Errc::corrupt,
                      options.database + " is not a digestgate ledger: " + f.message);
  }
  auto ledger = std::make_unique<SqliteLedger>(options, std::move(*conn));
  DG_TRY(ledger->start());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

Result<std::pair<std::optional<detail::StoredCheckpoint>, std::vector<Bytes>>>
head(const std::string& path) {
  auto conn = sql::Connection::open(path, false, true);
  if (!conn) {
    return conn.error();
  }
  try {
    StoredRows rows(**conn);
    return std::make_pair(rows.latest_checkpoint(), store::checkpoint_keys(**conn));
  } catch (const sql::Failure& f) {
    return make_error(Errc::corrupt, path + " is not a readable ledger: " + f.message);
  }
}

Result<void> SqliteLedger::start() {
  auto started = std::chrono::steady_clock::now();
  try {
    configure(*m_writer);
    auto keys = store::checkpoint_keys(*m_writer);
    Bytes own = m_options.key->public_key();
    bool key_known = false;
    for (const auto& k : keys) {
      key_known = key_known || k == own;
    }
    auto verify = [&](const std::string& note) { return detail::note_verifies(note, keys); };
    Hash seal_key = seal::derive_key(*m_options.key);
    m_hasher = std::make_unique<seal::RowHasher>(seal_key);

    // The write lock is held throughout, so the second connection reads the same state.
    m_writer->exec("BEGIN IMMEDIATE");
    Checked checked = check_stored(verify, seal_key);
    m_start.entries = checked.report.entries;
    if (checked.report.ok && key_known) {
      apply_seal(checked, verify);
    }
    m_writer->exec(checked.report.ok && key_known ? "COMMIT" : "ROLLBACK");
    if (!checked.report.ok) {
      fail_closed(checked.report.message, checked.report.first_bad_seq);
    } else if (!key_known) {
      fail_closed("the checkpoint key in the state directory is not a key of this ledger "
                  "(was it replaced?)",
                  0);
    }
    load_head(checked.report);
  } catch (const sql::Failure& f) {
    return make_error(Errc::io, "cannot read the ledger: " + f.message);
  }
  m_start.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  m_checkpointer = std::make_unique<WalCheckpointer>(*m_writer, m_options.database);
  m_batches.start([this](std::deque<detail::Job>& batch) { commit_batch(batch); },
                  m_options.on_callback_error);
  return {};
}

// While this thread recomputes every leaf and the tree, a second one sums the derived tables'
// rows for the seal check; the checkpoints' sum is taken as the scan streams them.
SqliteLedger::Checked SqliteLedger::check_stored(const detail::NoteCheck& verify,
                                                 const Hash& seal_key) {
  Checked checked;
  std::thread summer(
      [&] { sum_derived(m_options.database, seal_key, checked.derived, checked.derived_error); });
  auto add_checkpoint = [&](const detail::StoredCheckpoint& cp) {
    checked.checkpoints.add(m_hasher->checkpoint(cp.size, cp.root, cp.note));
  };
  try {
    StoredRows rows(*m_writer);
    checked.report = detail::scan(rows, verify, false, add_checkpoint);
  } catch (...) {
    summer.join();
    throw;
  }
  summer.join();
  return checked;
}

// Compare the sums with the stored seal; verify every checkpoint or rebuild the derived tables
// where it does not vouch for them, and seal anew.
void SqliteLedger::apply_seal(Checked& checked, const detail::NoteCheck& verify) {
  VerifyReport& report = checked.report;
  seal::Verdict verdict =
      seal::check(store::meta(*m_writer, k_seal_key), report.entries, detail::report_root(report),
                  checked.derived ? *checked.derived : seal::Sum{}, checked.checkpoints, *m_hasher);
  if (!checked.derived) {
    verdict.derived = "cannot read them: " + checked.derived_error;
  }
  if (verdict.checkpoints) {
    // The seal does not vouch for the checkpoints as this key's holder wrote them: every
    // stored signature is checked once, and the new seal below then vouches for them.
    m_start.checkpoints_verified = true;
    m_start.checkpoints_problem = *verdict.checkpoints;
    StoredRows rows(*m_writer);
    detail::check_every_note(rows, verify, report);
  }
  if (!report.ok) {
    return;
  }
  if (verdict.derived) {
    // The derived tables are rebuilt from the verified entries: whatever was done to them
    // outside the daemon is undone, and they agree with the signed tree again.
    m_start.derived_rebuilt = true;
    m_start.derived_problem = *verdict.derived;
    rebuild_derived();
  } else {
    m_sum = *checked.derived;
  }
  m_checkpoint_sum = checked.checkpoints;
  if (verdict.derived || verdict.checkpoints) {
    store::set_meta(*m_writer, k_seal_key,
                    seal::make(report.entries, detail::report_root(report), m_sum, m_checkpoint_sum,
                               *m_hasher));
  }
}

void SqliteLedger::rebuild_derived() {
  store::clear_derived(*m_writer);
  auto& stmt = m_writer->prepare("SELECT seq, bytes, leaf FROM entries ORDER BY seq");
  while (stmt.step()) {
    store::index_entry(*m_writer, store::decode_entry(stmt.int64(0), stmt.blob(1), stmt.hash(2)));
  }
  stmt.reset();
  m_sum = seal::scan(*m_writer, *m_hasher);
}

// The writer's state from the checked head: the tree's right edge, the size, the newest
// checkpoint (signed anew under the configured origin if it differs), and the witness.
void SqliteLedger::load_head(const VerifyReport& report) {
  // Each append runs in a savepoint, which copies every page it changes to a statement journal;
  // in memory, not in a temporary file written page by page (a tenth of the writer's time).
  // Set before the seal's TEMP triggers: changing temp_store drops them.
  m_writer->exec("PRAGMA temp_store=MEMORY");
  seal::track(*m_writer, m_sum, *m_hasher);
  store::SqlNodeReader nodes(*m_writer);
  try {
    m_range = CompactRange::load(nodes, static_cast<std::uint64_t>(report.entries));
  } catch (const sql::Failure& f) {
    fail_closed("the stored Merkle tree is incomplete: " + f.message, 0);
  }
  m_size = report.entries;
  if (auto cp = store::latest_checkpoint(*m_writer)) {
    m_checkpoint = cp->note;
  }
  if (m_integrity.ok) {
    store::SqlView view(*m_writer);
    if (auto failed = detail::check_witness(m_options.witness_path, *m_options.key, m_size, view)) {
      fail_closed(failed->message, failed->first_bad_seq);
    }
  }
  auto current = parse_checkpoint(m_checkpoint);
  if (m_integrity.ok && (!current || current->origin != m_options.origin)) {
    // Sign the current head under the configured origin, so responses carry a checkpoint
    // from the first request on (stored only when the ledger grows).
    m_checkpoint = sign_checkpoint(
        Checkpoint{m_options.origin, static_cast<std::uint64_t>(m_size), m_range.root()},
        m_options.origin, *m_options.key);
  }
  if (m_integrity.ok) {
    write_witness(true);
  }
}

// The writer commits what is queued and stops; then the checkpointer, which it wakes.
void SqliteLedger::close() {
  m_batches.close();
  if (m_checkpointer) {
    m_checkpointer->stop();
  }
}

void SqliteLedger::fail_closed(const std::string& message, std::int64_t seq) {
  std::lock_guard lock(m_state_mutex);
  if (m_integrity.ok) {
    m_integrity = Integrity{false, message, seq};
  }
}

// `sync`: at start, make sure the witness is on disk before anything is appended (after each
// commit the rename alone is enough: a witness one commit behind is accepted).
void SqliteLedger::write_witness(bool sync) {
  detail::write_witness(m_options.witness_path, checkpoint(), sync);
}

std::string SqliteLedger::checkpoint() const {
  std::lock_guard lock(m_state_mutex);
  return m_checkpoint;
}

Integrity SqliteLedger::integrity() const {
  std::lock_guard lock(m_state_mutex);
  return m_integrity;
}

std::string SqliteLedger::verifier() const {
  return verifier_string(m_options.origin, m_options.key->public_key());
}

} // namespace dg::ledger::sqlite_backend
