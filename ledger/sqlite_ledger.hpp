// The SQLite backend of the ledger: one database file, one writer connection on the writer
// thread, a pool of read connections. Private to the ledger room; the rest of the tree reaches it
// through Ledger (ledger.hpp).
//
//   sqlite_open.cpp    initialize, open and the start-up check (integrity, seal, witness)
//   sqlite_writer.cpp  the group commit of one batch of steps
//   wal_checkpointer   WAL checkpoints on a connection and a thread of their own
//   sqlite_reads.cpp   the read pool and offline verification of a file
#pragma once

#include "ledger/batches.hpp"
#include "ledger/ledger.hpp"
#include "ledger/seal.hpp"
#include "ledger/sqlite.hpp"
#include "ledger/store.hpp"
#include "ledger/verify.hpp"
#include "ledger/wal_checkpointer.hpp"

#include <atomic>
#include <mutex>

namespace dg::ledger::sqlite_backend {

Result<void> initialize(const std::string& path, const Bytes& checkpoint_public_key);
Result<std::unique_ptr<Ledger>> open(const Options& options);
Result<VerifyReport> verify(const std::string& path, const std::string& verifier);
// The newest stored checkpoint and the trusted keys, read without the start-up check.
Result<std::pair<std::optional<detail::StoredCheckpoint>, std::vector<Bytes>>>
head(const std::string& path);

// Reads a connection's entries and checkpoints for detail::scan(), inside the caller's
// transaction.
class StoredRows final : public detail::Stored {
public:
  explicit StoredRows(sql::Connection& db) : m_db(db), m_nodes(db) {}
  ~StoredRows() override;
  std::optional<detail::StoredCheckpoint> latest_checkpoint() override;
  std::optional<detail::EntryRow> next_entry() override;
  std::optional<detail::StoredCheckpoint> next_checkpoint() override;
  void each_checkpoint(std::int64_t max_size,
                       const std::function<bool(const detail::StoredCheckpoint&)>& fn) override;
  const NodeReader& nodes() override { return m_nodes; }

private:
  sql::Connection& m_db;
  store::SqlNodeReader m_nodes;
  sql::Statement* m_entries = nullptr;
  sql::Statement* m_checkpoints = nullptr;
};

class SqliteLedger final : public Ledger {
public:
  SqliteLedger(Options options, std::unique_ptr<sql::Connection> writer)
      : m_options(std::move(options)), m_writer(std::move(writer)) {}
  ~SqliteLedger() override { close(); }

  // The start-up check, then the writer.
  Result<void> start();

  void submit(Step step, Done done) override { m_batches.submit(std::move(step), std::move(done)); }
  Result<Committed> append(Draft draft) override {
    return detail::append_and_wait(*this, std::move(draft));
  }
  Result<void> read(const std::function<void(View&)>& fn) override;
  std::string checkpoint() const override;
  std::int64_t size() const override { return m_size.load(); }
  Integrity integrity() const override;
  StartReport start_report() const override { return m_start; }
  std::string verifier() const override;
  std::uint64_t callback_failures() const override { return m_batches.callback_failures(); }
  void close() override;

private:
  // What the start-up scan found: the report, and the seal's two sums as read.
  struct Checked {
    VerifyReport report;
    std::optional<seal::Sum> derived;
    std::string derived_error;
    seal::Sum checkpoints;
  };

  Checked check_stored(const detail::NoteCheck& verify, const Hash& seal_key);
  void apply_seal(Checked& checked, const detail::NoteCheck& verify);
  void rebuild_derived();
  void load_head(const VerifyReport& report);
  void fail_closed(const std::string& message, std::int64_t seq);
  void write_witness(bool sync = false);

  void commit_batch(std::deque<detail::Job>& batch);
  Result<std::optional<Committed>> run_step(detail::Job& job, View& view, std::int64_t& size);
  std::string append_checkpoint(std::int64_t size);

  Options m_options;
  std::unique_ptr<sql::Connection> m_writer;
  // Copies the WAL into the database file off the writer thread; stopped in close().
  std::unique_ptr<WalCheckpointer> m_checkpointer;
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

  std::mutex m_pool_mutex;
  std::vector<std::unique_ptr<sql::Connection>> m_pool;

  // Last: its threads stop (in close()) before the members above go away.
  detail::Batches m_batches;
};

} // namespace dg::ledger::sqlite_backend
