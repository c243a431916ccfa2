// The SQLite ledger's writer: one batch of steps, one transaction, one checkpoint.
#include "ledger/sqlite_ledger.hpp"
#include "util/time.hpp"

#include <sqlite3.h>

#include <chrono>

namespace dg::ledger::sqlite_backend {

namespace {
// The meta row that holds the derived-state seal.
constexpr const char* k_seal_key = "derived_seal";
} // namespace

// Run one step inside its own savepoint: a step that fails (or throws) undoes only its own rows.
Result<std::optional<Committed>>
SqliteLedger::run_step(detail::Job& job, View& view, std::int64_t& size) {
  CompactRange item_range = m_range;
  seal::Sum item_sum = m_sum;
  m_writer->prepare("SAVEPOINT item").run(); // cached: runs once per entry
  auto undo = [&] {
    m_writer->exec("ROLLBACK TO item; RELEASE item");
    m_range = item_range;
    m_sum = item_sum;
  };
  try {
    std::optional<Draft> draft = job.step(view);
    if (!draft) {
      m_writer->prepare("RELEASE item").run();
      return std::optional<Committed>();
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
    return std::optional<Committed>(Committed{std::move(e), {}});
  } catch (const sql::Failure& f) {
    undo();
    return make_error(Errc::io, "ledger write failed: " + f.message);
  } catch (const std::exception& ex) {
    undo();
    return make_error(Errc::internal, ex.what());
  } catch (...) {
    undo();
    return make_error(Errc::internal, "a ledger step threw");
  }
}

// Sign and store the checkpoint of the tree of `size` entries, and seal it with the derived
// tables.
std::string SqliteLedger::append_checkpoint(std::int64_t size) {
  Checkpoint cp{m_options.origin, static_cast<std::uint64_t>(size), m_range.root()};
  std::string note = sign_checkpoint(cp, m_options.origin, *m_options.key);
  m_writer->prepare("INSERT INTO checkpoints(size, root, note) VALUES(?, ?, ?)")
      .bind(1, size)
      .bind_hash(2, cp.root)
      .bind(3, note)
      .run();
  m_checkpoint_sum.add(m_hasher->checkpoint(size, cp.root, note));
  store::set_meta(*m_writer, k_seal_key,
                  seal::make(size, cp.root, m_sum, m_checkpoint_sum, *m_hasher));
  return note;
}

void SqliteLedger::commit_batch(std::deque<detail::Job>& batch) {
  Integrity integrity = this->integrity();
  if (!integrity.ok) {
    m_batches.fail(batch, make_error(Errc::corrupt, "ledger integrity: " + integrity.message));
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
  try {
    m_writer->exec("BEGIN IMMEDIATE");
    store::SqlView view(*m_writer);
    for (auto& job : batch) {
      results.push_back(run_step(job, view, size));
    }
    if (size > m_size) {
      note = append_checkpoint(size);
    }
    m_writer->exec("COMMIT");
  } catch (const sql::Failure& f) {
    std::ignore = sqlite3_exec(m_writer->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    m_range = saved_range;
    m_sum = saved_sum;
    m_checkpoint_sum = saved_checkpoint_sum;
    fail_closed("a commit failed (" + f.message + "); the ledger refuses writes until restarted",
                0);
    m_batches.fail(batch, make_error(Errc::io, "ledger commit failed: " + f.message));
    return;
  }
  bool grew = size > m_size;
  if (grew) {
    m_size = size;
    std::lock_guard lock(m_state_mutex);
    m_checkpoint = note;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (m_options.on_commit) {
    m_options.on_commit(batch.size(), seconds);
  }
  std::vector<detail::Completion> completions;
  completions.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (results[i] && results[i]->has_value()) {
      (*results[i])->checkpoint = note;
    }
    completions.emplace_back(std::move(batch[i].done), std::move(results[i]));
  }
  // The witness is rewritten on the completion thread, after the answers: its rename costs the
  // writer about a millisecond on ext4. When later commits queued behind this one, the newest of
  // them writes it (a witness behind the database is accepted at start, never one ahead).
  std::function<void()> witness;
  if (grew) {
    witness = [this, size] {
      if (size == m_size.load()) {
        write_witness();
      }
    };
  }
  m_batches.complete(std::move(completions), std::move(witness));
}

} // namespace dg::ledger::sqlite_backend
