// The PostgreSQL backend of the ledger: several daemons append to one database. Each batch is one
// transaction that first takes a transaction-scoped advisory lock (one total order, no gap, no
// duplicate), then reads the tree head other daemons may have moved and checks that it extends
// what this daemon saw last (a promoted standby that lacks entries is refused). Reads run in
// REPEATABLE READ snapshots on pooled connections. Private to the ledger room; see
// docs/ledger.md.
//
//   pg_schema.cpp  the schema, its triggers and the grants
//   pg_open.cpp    initialize, open and the start-up check, offline verification, copy targets
//   pg_writer.cpp  the group commit of one batch of steps
//   pg_view.cpp    the View and the read pool
#pragma once

#include "ledger/batches.hpp"
#include "ledger/ledger.hpp"
#include "ledger/pg.hpp"
#include "ledger/verify.hpp"

#include <atomic>
#include <mutex>

namespace dg::ledger::pg_backend {

inline constexpr int store_schema_version = 1;
// The advisory lock every appending transaction takes (and `init`).
inline constexpr std::int64_t k_lock_key = 0x6467'6c65'6467'6572; // "dgledger"

bool has_schema(pg::Connection& db);
// Create the schema if absent (a no-op on a ledger that exists) and grant `app_role` (if any)
// SELECT on every table and INSERT on entries, tree_nodes and checkpoints.
void create_schema(pg::Connection& db, const std::string& app_role);
void add_key(pg::Connection& db, const Bytes& key);
std::vector<Bytes> checkpoint_keys(pg::Connection& db);

Result<std::unique_ptr<pg::Connection>> connect(const std::string& url,
                                                const std::string& password_file);
Result<void> initialize(const InitOptions& options, const Bytes& checkpoint_public_key);
Result<std::unique_ptr<Ledger>> open(const Options& options);
Result<VerifyReport> verify(const std::string& url, const std::string& verifier);
Result<std::pair<std::optional<detail::StoredCheckpoint>, std::vector<Bytes>>>
head(const std::string& url, const std::string& password_file);

class PgNodeReader final : public NodeReader {
public:
  explicit PgNodeReader(pg::Connection& db) : m_db(db) {}
  Hash node(int level, std::uint64_t index) const override;

private:
  pg::Connection& m_db;
};

std::optional<detail::StoredCheckpoint> latest_checkpoint(pg::Connection& db);

// Streams entries and checkpoints through cursors, inside the caller's transaction.
class StoredRows final : public detail::Stored {
public:
  explicit StoredRows(pg::Connection& db) : m_db(db), m_nodes(db) {}
  std::optional<detail::StoredCheckpoint> latest_checkpoint() override;
  std::optional<detail::EntryRow> next_entry() override;
  std::optional<detail::StoredCheckpoint> next_checkpoint() override;
  void each_checkpoint(std::int64_t max_size,
                       const std::function<bool(const detail::StoredCheckpoint&)>& fn) override;
  const NodeReader& nodes() override { return m_nodes; }

private:
  pg::Connection& m_db;
  PgNodeReader m_nodes;
  bool m_entries_open = false;
  bool m_checkpoints_open = false;
  std::unique_ptr<pg::Rows> m_entry_rows;
  int m_entry_at = 0;
  std::unique_ptr<pg::Rows> m_cp_rows;
  int m_cp_at = 0;
};

class PgView final : public View {
public:
  explicit PgView(pg::Connection& db) : m_db(db), m_nodes(db) {}

  std::int64_t size() override;
  std::optional<Entry> entry(std::int64_t seq) override;
  std::vector<Entry> entries(const EntryFilter& filter) override;
  std::vector<Entry> digest_entries(const std::string& digest, const std::string& kind) override;
  std::optional<std::string> digest_repository(const std::string& digest) override;
  std::vector<std::string> tag_digests(const std::string& repository,
                                       const std::string& tag) override;
  std::optional<Revocation> revocation(const std::string& digest) override;
  std::vector<Slot> slots(const std::string& environment) override;
  std::vector<std::string> environments() override;
  bool approved_in(const std::string& environment, const std::string& digest) override;
  std::vector<Approval> approvals(const std::string& environment,
                                  const std::string& repository) override;
  std::vector<Deployment> deployments(const std::string& environment,
                                      const std::string& repository) override;
  bool rolled_back_from(const std::string& environment,
                        const std::string& repository,
                        const std::string& digest) override;
  DigestStanding standing(const std::string& environment,
                          const std::string& repository,
                          const std::string& digest) override;
  std::vector<Entry> environment_history(const std::string& environment,
                                         const std::string& repository,
                                         std::int64_t limit) override;
  std::optional<Entry> latest_policy() override;
  Hash root_at(std::uint64_t size) override;
  std::vector<Hash> inclusion_proof(std::uint64_t index, std::uint64_t size) override;
  std::vector<Hash> consistency_proof(std::uint64_t size1, std::uint64_t size2) override;

private:
  std::vector<Entry> load(const std::string& sql, const std::vector<pg::Param>& params);

  pg::Connection& m_db;
  PgNodeReader m_nodes;
};

class PgLedger final : public Ledger {
public:
  PgLedger(Options options, std::string password, std::unique_ptr<pg::Connection> writer)
      : m_options(std::move(options)), m_password(std::move(password)),
        m_writer(std::move(writer)) {}
  ~PgLedger() override { close(); }

  Result<void> start();

  void submit(Step step, Done done) override { m_batches.submit(std::move(step), std::move(done)); }
  Result<Committed> append(Draft draft) override {
    return detail::append_and_wait(*this, std::move(draft));
  }
  Result<void> read(const std::function<void(View&)>& fn) override;
  std::string checkpoint() const override;
  std::int64_t size() const override;
  Integrity integrity() const override;
  bool available() const override { return m_available.load(); }
  StartReport start_report() const override { return m_start; }
  std::string verifier() const override;
  std::uint64_t callback_failures() const override { return m_batches.callback_failures(); }
  void close() override { m_batches.close(); }

private:
  void load_head(const VerifyReport& report);
  void fail_closed(const std::string& message, std::int64_t seq);
  // Take the database's head, after checking it extends what this daemon saw (inside the
  // appending transaction). False if it does not (the ledger then fails closed).
  bool sync_head();
  void commit_batch(std::deque<detail::Job>& batch);
  bool reconnect();
  Result<std::optional<Committed>> run_step(detail::Job& job, View& view, std::int64_t& size);
  std::string append_checkpoint(std::int64_t size);
  void seen(std::int64_t size, const std::string& note);
  std::unique_ptr<pg::Connection> borrow() const;
  void give_back(std::unique_ptr<pg::Connection> conn) const;

  Options m_options;
  std::string m_password;
  std::unique_ptr<pg::Connection> m_writer;
  CompactRange m_range; // the writer's: the tree this daemon saw last
  StartReport m_start;
  std::atomic<std::int64_t> m_size{0};
  std::atomic<bool> m_available{true};

  mutable std::mutex m_state_mutex;
  std::string m_checkpoint;
  Integrity m_integrity;

  mutable std::mutex m_pool_mutex;
  mutable std::vector<std::unique_ptr<pg::Connection>> m_pool;

  detail::Batches m_batches;
};

} // namespace dg::ledger::pg_backend
