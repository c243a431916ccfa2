// The ledger's SQL schema, its derived-state indexer and the View over a connection. Private to
// the ledger room. The schema is described in docs/ledger.md.
#pragma once

#include "ledger/ledger.hpp"
#include "ledger/sqlite.hpp"
#include "ledger/verify.hpp"

namespace dg::ledger::store {

inline constexpr int k_schema_version = 1;

// Create every table and trigger that does not exist yet.
void create_schema(sql::Connection& db);

// Insert `entry` and its tree nodes, and update the derived tables. Runs inside the caller's
// transaction.
void insert_entry(sql::Connection& db, const Entry& entry, const std::vector<Node>& nodes);

// Update the derived tables for `entry` (the entry row itself already exists).
void index_entry(sql::Connection& db, const Entry& entry);

// The derived tables: every table that the entries determine (rebuilt from them, sealed).
const std::vector<std::string>& derived_tables();

// Empty every derived table (before rebuilding them from the entries).
void clear_derived(sql::Connection& db);

// Parse an entry row's stored bytes.
Entry decode_entry(std::int64_t seq, const std::string& bytes, const Hash& leaf);

// A value of the meta table ("" when absent), and its replacement.
std::string meta(sql::Connection& db, const std::string& key);
void set_meta(sql::Connection& db, const std::string& key, const std::string& value);

// Every trusted checkpoint public key (raw Ed25519), oldest first.
std::vector<Bytes> checkpoint_keys(sql::Connection& db);

using StoredCheckpoint = detail::StoredCheckpoint;
std::optional<StoredCheckpoint> latest_checkpoint(sql::Connection& db);

// Reads tree nodes from the database.
class SqlNodeReader : public NodeReader {
public:
  explicit SqlNodeReader(sql::Connection& db) : m_db(db) {}
  Hash node(int level, std::uint64_t index) const override;

private:
  sql::Connection& m_db;
};

class SqlView : public View {
public:
  explicit SqlView(sql::Connection& db) : m_db(db), m_nodes(db) {}

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
  std::vector<Entry> load_seqs(sql::Statement& stmt);

  sql::Connection& m_db;
  SqlNodeReader m_nodes;
};

} // namespace dg::ledger::store
