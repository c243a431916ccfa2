// The PostgreSQL ledger's writer: one batch of steps, one transaction under the ledger's advisory
// lock, one checkpoint; the answers only after COMMIT returned.
#include "ledger/pg_ledger.hpp"
#include "ledger/witness.hpp"
#include "util/time.hpp"

#include <chrono>

namespace dg::ledger::pg_backend {

bool PgLedger::reconnect() {
  if (m_writer->healthy()) {
    return true;
  }
  bool ok = m_writer->reset();
  m_available = ok;
  return ok;
}

void PgLedger::seen(std::int64_t size, const std::string& note) {
  m_size = size;
  {
    std::lock_guard lock(m_state_mutex);
    m_checkpoint = note;
  }
  detail::write_witness(m_options.witness_path, note, false);
}

bool PgLedger::sync_head() {
  auto head = pg_backend::latest_checkpoint(*m_writer);
  const std::int64_t size = head ? head->size : 0;
  const std::int64_t mine = m_size;
  if (size == mine && (size == 0 || head->root == m_range.root())) {
    return true;
  }
  // Another daemon appended, or the database is not the one this daemon saw (a promoted standby
  // that was behind, a restore): it must extend the tree this daemon saw last.
  PgNodeReader nodes(*m_writer);
  if (size < mine) {
    fail_closed("the ledger database holds " + std::to_string(size) +
                    " entries but this daemon saw a checkpoint of " + std::to_string(mine) +
                    " (a standby that was behind was promoted, or an older copy was restored)",
                mine);
    return false;
  }
  if (mine > 0 && root_at(nodes, static_cast<std::uint64_t>(mine)) != m_range.root()) {
    fail_closed("the ledger database is not consistent with the checkpoint of size " +
                    std::to_string(mine) + " this daemon saw",
                0);
    return false;
  }
  m_range = CompactRange::load(nodes, static_cast<std::uint64_t>(size));
  if (m_range.root() != head->root) {
    fail_closed("the stored tree does not match the newest checkpoint", 0);
    return false;
  }
  seen(size, head->note);
  return true;
}

Result<std::optional<Committed>>
PgLedger::run_step(detail::Job& job, View& view, std::int64_t& size) {
  CompactRange item_range = m_range;
  m_writer->exec("SAVEPOINT item");
  auto undo = [&] {
    m_writer->exec("ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item");
    m_range = item_range;
  };
  try {
    std::optional<Draft> draft = job.step(view);
    if (!draft) {
      m_writer->exec("RELEASE SAVEPOINT item");
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
    // One round trip: the entry (its trigger writes the derived rows) and its tree nodes.
    std::string sql = "WITH e AS (INSERT INTO entries(seq, kind, time, bytes, leaf) VALUES($1, "
                      "$2, $3, $4, $5)) INSERT INTO tree_nodes(level, idx, hash) VALUES ";
    std::vector<pg::Param> params{e.seq, e.kind, e.time, pg::Param::bytes(e.bytes),
                                  pg::Param::hash(e.leaf)};
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      std::size_t at = params.size();
      sql += (i ? ", ($" : "($") + std::to_string(at + 1) + "::integer, $" +
             std::to_string(at + 2) + "::bigint, $" + std::to_string(at + 3) + "::bytea)";
      params.emplace_back(nodes[i].level);
      params.emplace_back(static_cast<std::int64_t>(nodes[i].index));
      params.push_back(pg::Param::hash(nodes[i].hash));
    }
    m_writer->query(sql, params);
    m_writer->exec("RELEASE SAVEPOINT item");
    ++size;
    return std::optional<Committed>(Committed{std::move(e), {}});
  } catch (const StoreFailure& f) {
    if (f.code == pg::k_connection_lost) {
      throw; // the whole batch fails
    }
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

std::string PgLedger::append_checkpoint(std::int64_t size) {
  Checkpoint cp{m_options.origin, static_cast<std::uint64_t>(size), m_range.root()};
  std::string note = sign_checkpoint(cp, m_options.origin, *m_options.key);
  m_writer->query("INSERT INTO checkpoints(size, root, note) VALUES($1, $2, $3)",
                  {size, pg::Param::hash(cp.root), note});
  // Daemons that wait for news (none yet) could LISTEN; the head check before each batch and
  // each read is what makes every decision see every committed entry.
  return note;
}

void PgLedger::commit_batch(std::deque<detail::Job>& batch) {
  Integrity integrity = this->integrity();
  if (!integrity.ok) {
    m_batches.fail(batch, make_error(Errc::corrupt, "ledger integrity: " + integrity.message));
    return;
  }
  if (!reconnect()) {
    m_batches.fail(batch, make_error(Errc::unavailable, "the ledger database is unreachable"));
    return;
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<Result<std::optional<Committed>>> results;
  results.reserve(batch.size());
  CompactRange saved_range = m_range;
  const std::int64_t saved_size = m_size;
  std::int64_t size = 0;
  std::string note;
  try {
    m_writer->exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(k_lock_key) + ")");
    if (!sync_head()) {
      m_writer->exec("ROLLBACK");
      m_batches.fail(batch,
                     make_error(Errc::corrupt, "ledger integrity: " + this->integrity().message));
      return;
    }
    size = m_size;
    PgView view(*m_writer);
    for (auto& job : batch) {
      results.push_back(run_step(job, view, size));
    }
    if (size > m_size) {
      note = append_checkpoint(size);
    }
    m_writer->exec("COMMIT");
  } catch (const StoreFailure& f) {
    try {
      m_writer->exec("ROLLBACK");
    } catch (const StoreFailure&) {
      // the connection is gone: the server rolls back
    }
    m_range = saved_range;
    m_size = saved_size;
    m_available = m_writer->healthy();
    // Not acknowledged: committed or not, the client retries (a retried step is evaluated
    // again against what is then in the ledger).
    m_batches.fail(batch, make_error(Errc::unavailable, "ledger commit failed: " + f.message));
    return;
  }
  m_available = true;
  if (!note.empty()) {
    seen(size, note);
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
  m_batches.complete(std::move(completions));
}

} // namespace dg::ledger::pg_backend
