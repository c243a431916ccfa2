#include "ledger/ledger.hpp"

#include "ledger/seal.hpp"
#include "ledger/sqlite.hpp"
#include "ledger/store.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <sys/stat.h>
#include <thread>

namespace dg::ledger {

bool is_entry_kind(std::string_view kind) {
  return kind == k_validation || kind == k_promotion || kind == k_rollback ||
         kind == k_deployment || kind == k_revocation || kind == k_policy;
}

std::string entry_bytes(std::int64_t seq,
                        const std::string& kind,
                        const std::string& time,
                        const std::string& actor,
                        const json& body) {
  // nlohmann::json objects keep their keys sorted, so dump() is canonical for our entries.
  json j = {{"seq", seq}, {"kind", kind}, {"time", time}, {"actor", actor}, {"body", body}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

constexpr std::size_t k_max_batch = 4096;
constexpr std::size_t k_read_pool = 8;
// The meta row that holds the derived-state seal.
constexpr const char* k_seal_key = "derived_seal";

Hash range_root(const VerifyReport& report) {
  auto root = hash_from_hex(report.root_hex);
  return root ? *root : Hash{};
}

void configure(sql::Connection& db) {
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; "
          "PRAGMA cache_size=-16000;");
}

// True when stored checkpoint `cp`'s note parses and is over the row's own size and root.
bool note_matches_row(const store::StoredCheckpoint& cp) {
  auto parsed = parse_checkpoint(cp.note);
  return parsed && static_cast<std::int64_t>(parsed->size) == cp.size && parsed->root == cp.root;
}

std::string mismatched_note(std::int64_t size) {
  return "checkpoint at size " + std::to_string(size) + " does not match its stored root and size";
}

std::string untrusted_note(std::int64_t size) {
  return "checkpoint at size " + std::to_string(size) + " is not signed by a trusted ledger key";
}

// Scan the whole ledger: recompute every leaf from its stored bytes, the tree, and compare with
// the stored leaves, the stored tree and the checkpoints. `verify_note` checks one stored note's
// signature; `all_signatures` selects whether every checkpoint's signature or only the newest is
// checked (roots are always checked for every checkpoint). `on_entry`, when set, sees every
// entry whose bytes match its leaf, in order. `on_checkpoint`, when set, sees every stored
// checkpoint row once, in size order.
VerifyReport
scan(sql::Connection& db,
     const std::function<bool(const std::string&)>& verify_note,
     bool all_signatures,
     const std::function<void(std::int64_t, const std::string&, const Hash&)>& on_entry = {},
     const std::function<void(const store::StoredCheckpoint&)>& on_checkpoint = {}) {
  VerifyReport report;
  auto bad = [&](std::int64_t seq, std::string message) {
    if (report.ok) {
      report.ok = false;
      report.first_bad_seq = seq;
      report.message = std::move(message);
    }
  };

  // Checkpoints are streamed alongside the entries (one per commit: there may be as many as
  // entries), so memory stays flat whatever the ledger's size.
  std::optional<store::StoredCheckpoint> newest = store::latest_checkpoint(db);
  auto& cps = db.prepare("SELECT size, root, note FROM checkpoints ORDER BY size");
  std::optional<store::StoredCheckpoint> next_cp;
  auto advance = [&] {
    next_cp.reset();
    if (cps.step()) {
      next_cp = store::StoredCheckpoint{cps.int64(0), cps.hash(1), cps.text(2)};
      ++report.checkpoints;
      if (on_checkpoint) {
        on_checkpoint(*next_cp);
      }
    }
  };
  advance();

  CompactRange range;
  auto check_checkpoints_at = [&](std::int64_t size) {
    while (next_cp && next_cp->size <= size) {
      const auto& cp = *next_cp;
      if (cp.size == size) {
        bool is_newest = newest && newest->size == cp.size;
        bool check_note = all_signatures || is_newest;
        if (check_note && !note_matches_row(cp)) {
          bad(cp.size, mismatched_note(cp.size));
        } else if (cp.root != range.root()) {
          bad(cp.size, "entry " + std::to_string(cp.size) + ": the tree over entries 1.." +
                           std::to_string(cp.size) +
                           " does not match the signed checkpoint at that size");
        } else if (check_note && !verify_note(cp.note)) {
          bad(cp.size, untrusted_note(cp.size));
        }
      }
      advance();
    }
  };

  auto& stmt = db.prepare("SELECT seq, bytes, leaf FROM entries ORDER BY seq");
  std::int64_t expected = 1;
  while (stmt.step()) {
    std::int64_t seq = stmt.int64(0);
    std::string bytes = stmt.blob(1);
    Hash stored_leaf = stmt.hash(2);
    if (seq != expected) {
      bad(expected, "entry " + std::to_string(expected) + " is missing (next stored entry is " +
                        std::to_string(seq) + ")");
      break;
    }
    Hash leaf = leaf_hash(bytes);
    if (leaf != stored_leaf) {
      bad(seq, "entry " + std::to_string(seq) + ": its bytes do not hash to its stored leaf hash");
    }
    // Canonical bytes end with ,"seq":N,"time":"..."} (keys sorted): the last ,"seq": is the
    // entry's own.
    std::string expected_seq = ",\"seq\":" + std::to_string(seq) + ",\"time\":\"";
    auto at = bytes.rfind(",\"seq\":");
    if (at == std::string::npos || bytes.compare(at, expected_seq.size(), expected_seq) != 0) {
      bad(seq,
          "entry " + std::to_string(seq) + ": its bytes do not name seq " + std::to_string(seq));
    }
    range.append(leaf);
    if (on_entry && report.ok) {
      on_entry(seq, bytes, leaf);
    }
    check_checkpoints_at(seq);
    ++expected;
  }
  while (on_checkpoint && next_cp) {
    advance(); // rows beyond the entries (the report then fails) are seen too
  }
  stmt.reset();
  cps.reset();
  report.entries = expected - 1;
  report.root_hex = to_hex(range.root());
  if (report.ok && newest && newest->size != report.entries) {
    if (newest->size > report.entries) {
      bad(report.entries + 1, "the newest checkpoint covers " + std::to_string(newest->size) +
                                  " entries but only " + std::to_string(report.entries) +
                                  " are stored (entries were removed)");
    } else {
      bad(newest->size + 1,
          "entry " + std::to_string(newest->size + 1) +
              ": entries after the newest checkpoint were added outside the daemon");
    }
  }
  if (report.ok && !newest && report.entries > 0) {
    bad(1, "the ledger has entries but no checkpoint");
  }
  if (report.ok && report.entries > 0) {
    store::SqlNodeReader nodes(db);
    try {
      if (root_at(nodes, static_cast<std::uint64_t>(report.entries)) != range.root()) {
        bad(0, "the stored Merkle tree does not match the entries");
      }
    } catch (const sql::Failure& f) {
      bad(0, "the stored Merkle tree is incomplete: " + f.message);
    }
  }
  return report;
}

// The checkpoints' pass that scan() leaves out at start: the note of every stored checkpoint of
// sizes 1..`report.entries` (those whose roots scan() compared with the tree) must be over its
// own row and signed by a key `verify_note` accepts. The first that is not fails `report`.
void check_every_note(sql::Connection& db,
                      const std::function<bool(const std::string&)>& verify_note,
                      VerifyReport& report) {
  auto& cps = db.prepare(
      "SELECT size, root, note FROM checkpoints WHERE size BETWEEN 1 AND ? ORDER BY size");
  cps.bind(1, report.entries);
  auto bad = [&](std::int64_t size, std::string message) {
    report.ok = false;
    report.first_bad_seq = size;
    report.message = std::move(message);
  };
  while (report.ok && cps.step()) {
    store::StoredCheckpoint cp{cps.int64(0), cps.hash(1), cps.text(2)};
    if (!note_matches_row(cp)) {
      bad(cp.size, mismatched_note(cp.size));
    } else if (!verify_note(cp.note)) {
      bad(cp.size, untrusted_note(cp.size));
    }
  }
  cps.reset();
}

bool note_verifies(const std::string& note, const std::vector<Bytes>& keys) {
  auto parsed = parse_checkpoint(note);
  if (!parsed) {
    return false;
  }
  for (const Bytes& key : keys) {
    NoteVerifier v{parsed->origin, key, note_key_hash(parsed->origin, key)};
    if (open_checkpoint(note, v)) {
      return true;
    }
  }
  return false;
}

struct Job {
  Step step;
  Done done;
};

class LedgerImpl final : public Ledger {
public:
  LedgerImpl(Options options, std::unique_ptr<sql::Connection> writer)
      : m_options(std::move(options)), m_writer(std::move(writer)) {}

  ~LedgerImpl() override { close(); }

  Result<void> start() {
    auto started = std::chrono::steady_clock::now();
    try {
      configure(*m_writer);
      store::SqlNodeReader nodes(*m_writer);
      store::SqlView view(*m_writer);
      auto keys = store::checkpoint_keys(*m_writer);
      Bytes own = m_options.key->public_key();
      bool key_known = false;
      for (const auto& k : keys) {
        key_known = key_known || k == own;
      }
      auto verify = [&](const std::string& note) { return note_verifies(note, keys); };
      Hash seal_key = seal::derive_key(*m_options.key);
      m_hasher = std::make_unique<seal::RowHasher>(seal_key);

      // The write lock is held throughout, so the second connection below reads the same state.
      m_writer->exec("BEGIN IMMEDIATE");
      // While this thread recomputes every leaf and the tree, a second one sums the derived
      // tables' rows for the seal check.
      std::optional<seal::Sum> derived;
      std::string derived_error;
      std::thread summer([&] {
        try {
          auto conn = sql::Connection::open(m_options.path, false, true);
          if (!conn) {
            derived_error = conn.error().message;
            return;
          }
          (*conn)->exec("BEGIN");
          seal::RowHasher hasher(seal_key);
          derived = seal::scan(**conn, hasher);
          (*conn)->exec("COMMIT");
        } catch (const sql::Failure& f) {
          derived_error = f.message;
        } catch (const std::exception& ex) {
          derived_error = ex.what();
        }
      });
      // The checkpoints' sum is taken as the scan streams them, to be compared with the seal's.
      seal::Sum checkpoints;
      auto add_checkpoint = [&](const store::StoredCheckpoint& cp) {
        checkpoints.add(m_hasher->checkpoint(cp.size, cp.root, cp.note));
      };
      VerifyReport report;
      try {
        report = scan(*m_writer, verify, false, {}, add_checkpoint);
      } catch (...) {
        summer.join();
        throw;
      }
      summer.join();

      m_start.entries = report.entries;
      seal::Verdict verdict;
      if (report.ok && key_known) {
        verdict =
            seal::check(store::meta(*m_writer, k_seal_key), report.entries, range_root(report),
                        derived ? *derived : seal::Sum{}, checkpoints, *m_hasher);
        if (!derived) {
          verdict.derived = "cannot read them: " + derived_error;
        }
        if (verdict.checkpoints) {
          // The seal does not vouch for the checkpoints as this key's holder wrote them: every
          // stored signature is checked once, and the new seal below then vouches for them.
          m_start.checkpoints_verified = true;
          m_start.checkpoints_problem = *verdict.checkpoints;
          check_every_note(*m_writer, verify, report);
        }
      }
      if (report.ok && key_known) {
        if (verdict.derived) {
          // The derived tables are rebuilt from the verified entries: whatever was done to
          // them outside the daemon is undone, and they agree with the signed tree again.
          m_start.derived_rebuilt = true;
          m_start.derived_problem = *verdict.derived;
          store::clear_derived(*m_writer);
          auto& stmt = m_writer->prepare("SELECT seq, bytes, leaf FROM entries ORDER BY seq");
          while (stmt.step()) {
            store::index_entry(*m_writer,
                               store::decode_entry(stmt.int64(0), stmt.blob(1), stmt.hash(2)));
          }
          stmt.reset();
          m_sum = seal::scan(*m_writer, *m_hasher);
        } else {
          m_sum = *derived;
        }
        m_checkpoint_sum = checkpoints;
        if (verdict.derived || verdict.checkpoints) {
          store::set_meta(
              *m_writer, k_seal_key,
              seal::make(report.entries, range_root(report), m_sum, m_checkpoint_sum, *m_hasher));
        }
        m_writer->exec("COMMIT");
      } else {
        m_writer->exec("ROLLBACK");
      }
      if (!report.ok) {
        fail_closed(report.message, report.first_bad_seq);
      } else if (!key_known) {
        fail_closed("the checkpoint key in the state directory is not a key of this ledger "
                    "(was it replaced?)",
                    0);
      }
      seal::track(*m_writer, m_sum, *m_hasher);
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
        check_witness(view);
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
    } catch (const sql::Failure& f) {
      return make_error(Errc::io, "cannot read the ledger: " + f.message);
    }
    m_start.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m_completer = std::thread([this] { run_completions(); });
    m_thread = std::thread([this] { run(); });
    return {};
  }

  void submit(Step step, Done done) override {
    {
      std::lock_guard lock(m_mutex);
      if (!m_stopping) {
        m_queue.push_back(Job{std::move(step), std::move(done)});
        m_cv.notify_one();
        return;
      }
    }
    done(make_error(Errc::unavailable, "the ledger is closing"));
  }

  Result<Committed> append(Draft draft) override {
    std::promise<Result<std::optional<Committed>>> promise;
    auto future = promise.get_future();
    submit([d = std::move(draft)](View&) -> std::optional<Draft> { return d; },
           [&promise](Result<std::optional<Committed>> r) { promise.set_value(std::move(r)); });
    auto r = future.get();
    if (!r) {
      return r.error();
    }
    return std::move(**r);
  }

  Result<void> read(const std::function<void(View&)>& fn) override {
    std::unique_ptr<sql::Connection> conn;
    {
      std::lock_guard lock(m_pool_mutex);
      if (!m_pool.empty()) {
        conn = std::move(m_pool.back());
        m_pool.pop_back();
      }
    }
    if (!conn) {
      auto opened = sql::Connection::open(m_options.path, false, false);
      if (!opened) {
        return opened.error();
      }
      conn = std::move(*opened);
    }
    Result<void> result;
    try {
      // Cached statements: on a short read, parsing BEGIN and COMMIT anew costs more than
      // running them.
      conn->prepare("BEGIN").run();
      store::SqlView view(*conn);
      fn(view);
      conn->prepare("COMMIT").run();
    } catch (const sql::Failure& f) {
      std::ignore = sqlite3_exec(conn->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      result = make_error(Errc::io, "ledger read failed: " + f.message);
    }
    std::lock_guard lock(m_pool_mutex);
    if (m_pool.size() < k_read_pool) {
      m_pool.push_back(std::move(conn));
    }
    return result;
  }

  std::string checkpoint() const override {
    std::lock_guard lock(m_state_mutex);
    return m_checkpoint;
  }

  std::int64_t size() const override { return m_size.load(); }

  StartReport start_report() const override { return m_start; }

  Integrity integrity() const override {
    std::lock_guard lock(m_state_mutex);
    return m_integrity;
  }

  std::string verifier() const override {
    return verifier_string(m_options.origin, m_options.key->public_key());
  }

  void close() override {
    {
      std::lock_guard lock(m_mutex);
      if (m_stopping) {
        return;
      }
      m_stopping = true;
      m_cv.notify_all();
    }
    if (m_thread.joinable()) {
      m_thread.join();
    }
    // The writer has handed over its last batch: drain the completions, then stop.
    {
      std::lock_guard lock(m_completion_mutex);
      m_completions_closed = true;
      m_completion_cv.notify_all();
    }
    if (m_completer.joinable()) {
      m_completer.join();
    }
  }

private:
  void fail_closed(const std::string& message, std::int64_t seq) {
    std::lock_guard lock(m_state_mutex);
    if (m_integrity.ok) {
      m_integrity = Integrity{false, message, seq};
    }
  }

  void check_witness(store::SqlView& view) {
    if (m_options.witness_path.empty()) {
      return;
    }
    auto text = read_file(m_options.witness_path);
    if (!text || text->empty()) {
      if (m_size > 0) {
        // The daemon writes the witness (synced) at its first start, before the ledger holds
        // anything, so a ledger with entries and no witness is one that somebody else handled:
        // a deliberate restore, or a rewritten ledger whose witness was removed with it.
        fail_closed("the witness " + m_options.witness_path + " is missing, but the ledger holds " +
                        std::to_string(m_size.load()) +
                        " entries; if the database was restored or the key rotated on purpose, "
                        "run `digestgated init --state-dir DIR` to check the ledger and accept it",
                    0);
      }
      return;
    }
    // Only this daemon's own key counts here: a key added to the database's checkpoint_keys
    // (by someone who re-signed the ledger) must not vouch for the witness too.
    auto cp = parse_checkpoint(*text);
    Bytes own = m_options.key->public_key();
    if (!cp ||
        !open_checkpoint(*text, NoteVerifier{cp->origin, own, note_key_hash(cp->origin, own)})) {
      fail_closed("the newest checkpoint kept beside the database (" + m_options.witness_path +
                      ") is not signed by this daemon's checkpoint key",
                  0);
      return;
    }
    if (static_cast<std::int64_t>(cp->size) > m_size) {
      fail_closed("the database holds " + std::to_string(m_size.load()) +
                      " entries but this daemon signed a checkpoint of " +
                      std::to_string(cp->size) + ": an older copy of the ledger was put back",
                  m_size + 1);
      return;
    }
    if (cp->size > 0 && view.root_at(cp->size) != cp->root) {
      fail_closed("the ledger is not consistent with the checkpoint of size " +
                      std::to_string(cp->size) + " this daemon signed earlier",
                  0);
    }
  }

  // `sync`: at start, make sure the witness is on disk before anything is appended (after each
  // commit the rename alone is enough: a witness one commit behind is accepted).
  void write_witness(bool sync = false) {
    if (!m_options.witness_path.empty()) {
      std::string note = checkpoint();
      std::ignore = write_file_atomic(m_options.witness_path, note, 0600, sync); // best effort
    }
  }

  void run() {
    for (;;) {
      std::deque<Job> batch;
      {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
        if (m_queue.empty()) {
          return; // stopping and drained
        }
        while (!m_queue.empty() && batch.size() < k_max_batch) {
          batch.push_back(std::move(m_queue.front()));
          m_queue.pop_front();
        }
      }
      commit_batch(batch);
    }
  }

  void commit_batch(std::deque<Job>& batch) {
    Integrity integrity = this->integrity();
    if (!integrity.ok) {
      fail_batch(batch, make_error(Errc::corrupt, "ledger integrity: " + integrity.message));
      return;
    }
    auto started = std::chrono::steady_clock::now();
    std::vector<Result<std::optional<Committed>>> results;
    results.reserve(batch.size());
    CompactRange saved_range = m_range;
    seal::Sum saved_sum = m_sum;
    seal::Sum saved_checkpoint_sum = m_checkpoint_sum;
    std::int64_t size = m_size;
    std::string note;
    bool appended = false;
    try {
      m_writer->exec("BEGIN IMMEDIATE");
      store::SqlView view(*m_writer);
      for (auto& job : batch) {
        CompactRange item_range = m_range;
        seal::Sum item_sum = m_sum;
        m_writer->prepare("SAVEPOINT item").run(); // cached: runs once per entry
        try {
          std::optional<Draft> draft = job.step(view);
          if (!draft) {
            m_writer->prepare("RELEASE item").run();
            results.emplace_back(std::optional<Committed>());
            continue;
          }
          Entry e;
          e.seq = size + 1;
          e.kind = std::move(draft->kind);
          e.time = format_rfc3339(now_ns());
          e.actor = std::move(draft->actor);
          e.body = std::move(draft->body);
          e.bytes = entry_bytes(e.seq, e.kind, e.time, e.actor, e.body);
          e.leaf = leaf_hash(e.bytes);
          auto nodes = m_range.append(e.leaf);
          store::insert_entry(*m_writer, e, nodes);
          m_writer->prepare("RELEASE item").run();
          ++size;
          appended = true;
          results.emplace_back(std::optional<Committed>(Committed{std::move(e), {}}));
        } catch (const sql::Failure& f) {
          m_writer->exec("ROLLBACK TO item; RELEASE item");
          m_range = item_range;
          m_sum = item_sum;
          results.emplace_back(make_error(Errc::io, "ledger write failed: " + f.message));
        } catch (const std::exception& ex) {
          m_writer->exec("ROLLBACK TO item; RELEASE item");
          m_range = item_range;
          m_sum = item_sum;
          results.emplace_back(make_error(Errc::internal, ex.what()));
        }
      }
      if (appended) {
        Checkpoint cp{m_options.origin, static_cast<std::uint64_t>(size), m_range.root()};
        note = sign_checkpoint(cp, m_options.origin, *m_options.key);
        m_writer->prepare("INSERT INTO checkpoints(size, root, note) VALUES(?, ?, ?)")
            .bind(1, size)
            .bind_hash(2, cp.root)
            .bind(3, note)
            .run();
        m_checkpoint_sum.add(m_hasher->checkpoint(size, cp.root, note));
        store::set_meta(*m_writer, k_seal_key,
                        seal::make(size, cp.root, m_sum, m_checkpoint_sum, *m_hasher));
      }
      m_writer->exec("COMMIT");
    } catch (const sql::Failure& f) {
      std::ignore = sqlite3_exec(m_writer->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      m_range = saved_range;
      m_sum = saved_sum;
      m_checkpoint_sum = saved_checkpoint_sum;
      fail_closed("a commit failed (" + f.message + "); the ledger refuses writes until restarted",
                  0);
      fail_batch(batch, make_error(Errc::io, "ledger commit failed: " + f.message));
      return;
    }
    if (appended) {
      m_size = size;
      {
        std::lock_guard lock(m_state_mutex);
        m_checkpoint = note;
      }
      write_witness();
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (m_options.on_commit) {
      m_options.on_commit(batch.size(), seconds);
    }
    std::vector<Completion> completions;
    completions.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (results[i] && results[i]->has_value()) {
        (*results[i])->checkpoint = note;
      }
      completions.emplace_back(std::move(batch[i].done), std::move(results[i]));
    }
    complete(std::move(completions));
  }

  using Completion = std::pair<Done, Result<std::optional<Committed>>>;

  // Answer every job of `batch` with `error`.
  void fail_batch(std::deque<Job>& batch, const Error& error) {
    std::vector<Completion> failed;
    for (auto& job : batch) {
      failed.emplace_back(std::move(job.done), error);
    }
    complete(std::move(failed));
  }

  // Hand one batch's completions to the completion thread, which calls them in order while the
  // writer goes on with the next batch: answering a request (building its response, say) never
  // holds up the next commit.
  void complete(std::vector<Completion> completions) {
    std::lock_guard lock(m_completion_mutex);
    m_completions.push_back(std::move(completions));
    m_completion_cv.notify_one();
  }

  void run_completions() {
    for (;;) {
      std::vector<Completion> next;
      {
        std::unique_lock lock(m_completion_mutex);
        m_completion_cv.wait(lock, [&] { return m_completions_closed || !m_completions.empty(); });
        if (m_completions.empty()) {
          return; // closed and drained
        }
        next = std::move(m_completions.front());
        m_completions.pop_front();
      }
      for (auto& [done, result] : next) {
        done(std::move(result));
      }
    }
  }

  Options m_options;
  std::unique_ptr<sql::Connection> m_writer;
  CompactRange m_range;
  // The derived tables' row sum, kept by the writer connection's triggers; the checkpoints' row
  // sum, kept by commit_batch; and their hasher.
  seal::Sum m_sum;
  seal::Sum m_checkpoint_sum;
  std::unique_ptr<seal::RowHasher> m_hasher;
  StartReport m_start;
  std::atomic<std::int64_t> m_size{0};

  mutable std::mutex m_state_mutex;
  std::string m_checkpoint;
  Integrity m_integrity;

  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<Job> m_queue;
  bool m_stopping = false;
  std::thread m_thread;

  // Batches of completions, in commit order, for m_completer.
  std::mutex m_completion_mutex;
  std::condition_variable m_completion_cv;
  std::deque<std::vector<Completion>> m_completions;
  bool m_completions_closed = false;
  std::thread m_completer;

  std::mutex m_pool_mutex;
  std::vector<std::unique_ptr<sql::Connection>> m_pool;
};

} // namespace

Result<void> Ledger::initialize(const std::string& path, const Bytes& checkpoint_public_key) {
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
    if (!known) {
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

Result<std::unique_ptr<Ledger>> Ledger::open(const Options& options) {
  if (!options.key) {
    return make_error(Errc::invalid_argument, "no checkpoint key");
  }
  struct stat st {};
  if (::stat(options.path.c_str(), &st) != 0) {
    return make_error(Errc::not_found, "no ledger at " + options.path +
                                           " (run `digestgated init --state-dir DIR` first)");
  }
  auto conn = sql::Connection::open(options.path, false, false);
  if (!conn) {
    return conn.error();
  }
  try {
    auto& stmt = (*conn)->prepare("SELECT value FROM meta WHERE key = 'schema'");
    if (!stmt.step()) {
      return make_error(Errc::corrupt, options.path + " is not a digestgate ledger");
    }
    stmt.reset();
  } catch (const sql::Failure& f) {
    return make_error(Errc::corrupt, options.path + " is not a digestgate ledger: " + f.message);
  }
  auto ledger = std::make_unique<LedgerImpl>(options, std::move(*conn));
  DG_TRY(ledger->start());
  return std::unique_ptr<Ledger>(std::move(ledger));
}

Result<bool> Ledger::renew_witness(const Options& options) {
  if (!options.key || options.witness_path.empty()) {
    return make_error(Errc::invalid_argument, "no checkpoint key or witness path");
  }
  Bytes own = options.key->public_key();
  auto signed_by = [](const std::string& note, const Bytes& key) {
    auto cp = parse_checkpoint(note);
    return cp &&
           open_checkpoint(note, NoteVerifier{cp->origin, key, note_key_hash(cp->origin, key)});
  };
  std::optional<Checkpoint> witness;
  auto read_witness = read_file(options.witness_path);
  std::string witness_text = read_witness ? *read_witness : std::string();
  if (!witness_text.empty() && signed_by(witness_text, own)) {
    return false; // this key's own witness: it still guards against an older copy put back
  }

  // What the database says about itself, before the full check.
  std::optional<store::StoredCheckpoint> newest;
  std::vector<Bytes> keys;
  {
    auto conn = sql::Connection::open(options.path, false, true);
    if (!conn) {
      return conn.error();
    }
    try {
      newest = store::latest_checkpoint(**conn);
      keys = store::checkpoint_keys(**conn);
    } catch (const sql::Failure& f) {
      return make_error(Errc::corrupt, options.path + " is not a readable ledger: " + f.message);
    }
  }
  if (!newest) {
    return false; // nothing to witness yet: the daemon witnesses an empty ledger at its start
  }
  bool rotated = false;
  if (!witness_text.empty()) {
    // A key rotation: the witness of a key the ledger trusts, which the ledger must extend.
    for (const Bytes& key : keys) {
      if (key != own && signed_by(witness_text, key)) {
        witness = parse_checkpoint(witness_text).value();
        rotated = true;
      }
    }
  }
  if (!rotated && !signed_by(newest->note, own)) {
    // No usable witness (a restore): only a head this key signed can be vouched for. A ledger
    // re-signed with a key added to checkpoint_keys stops here.
    return make_error(Errc::corrupt,
                      "the newest checkpoint (size " + std::to_string(newest->size) +
                          ") is not signed by this checkpoint key; after a key rotation, keep "
                          "the previous key's witness in place when running init");
  }

  Options unwitnessed = options;
  unwitnessed.witness_path.clear();
  if (unwitnessed.origin.empty()) {
    if (auto cp = parse_checkpoint(newest->note)) {
      unwitnessed.origin = cp->origin;
    }
  }
  auto opened = open(unwitnessed);
  if (!opened) {
    return opened.error();
  }
  Integrity integrity = (*opened)->integrity();
  if (!integrity.ok) {
    return make_error(Errc::corrupt, integrity.message);
  }
  std::int64_t size = (*opened)->size();
  Hash root{};
  Hash witnessed_root{};
  auto read = (*opened)->read([&](View& view) {
    root = view.root_at(static_cast<std::uint64_t>(size));
    if (witness && witness->size > 0 && static_cast<std::int64_t>(witness->size) <= size) {
      witnessed_root = view.root_at(witness->size);
    }
  });
  (*opened)->close();
  if (!read) {
    return read.error();
  }
  if (witness && (static_cast<std::int64_t>(witness->size) > size ||
                  (witness->size > 0 && witnessed_root != witness->root))) {
    return make_error(Errc::corrupt, "the ledger does not extend the checkpoint of size " +
                                         std::to_string(witness->size) + " in the witness");
  }
  std::string note =
      sign_checkpoint(Checkpoint{unwitnessed.origin, static_cast<std::uint64_t>(size), root},
                      unwitnessed.origin, *options.key);
  DG_TRY(write_file_atomic(options.witness_path, note, 0600, true));
  return true;
}

Result<VerifyReport> verify_file(const std::string& path, const std::string& verifier) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(Errc::not_found, "no such file: " + path);
  }
  std::optional<NoteVerifier> pinned;
  if (!verifier.empty()) {
    auto v = parse_verifier(verifier);
    if (!v) {
      return make_error(Errc::invalid_argument, "bad --key verifier: " + v.error().message);
    }
    pinned = std::move(*v);
  }
  auto conn = sql::Connection::open(path, false, true);
  if (!conn) {
    return conn.error();
  }
  try {
    // One read transaction: a consistent snapshot even while the daemon appends.
    (*conn)->exec("BEGIN");
    auto& stmt = (*conn)->prepare("SELECT value FROM meta WHERE key = 'schema'");
    if (!stmt.step()) {
      return make_error(Errc::invalid_argument, path + " is not a digestgate ledger");
    }
    stmt.reset();
    auto keys = store::checkpoint_keys(**conn);
    auto verify = [&](const std::string& note) {
      if (pinned) {
        return static_cast<bool>(open_checkpoint(note, *pinned));
      }
      return note_verifies(note, keys);
    };
    VerifyReport report = scan(**conn, verify, true);
    (*conn)->exec("COMMIT");
    return report;
  } catch (const sql::Failure& f) {
    return make_error(Errc::invalid_argument,
                      path + " is not a readable digestgate ledger: " + f.message);
  }
}

} // namespace dg::ledger
