// The ledger: an append-only, tamper-evident log of everything digestgate decides, with derived
// tables that make every lookup an index lookup. Where it is stored (the backend) is named by one
// string, the ledger's database: a SQLite file path (WAL, synchronous=FULL), or a PostgreSQL URL
// ("postgresql://...", libpq's syntax) for a ledger that several daemons share. Nothing outside
// this room speaks SQL or knows the backend. The stored format is described in docs/ledger.md.
//
// Thread-safety: a Ledger may be used from any thread. Writes go through one writer thread that
// commits concurrent appends together (group commit); every append is acknowledged, on a
// completion thread, only once its own entry is durable. Reads run on pooled connections against
// a consistent snapshot.
//
// Errors: nothing in this interface throws on a database or file error; those come back as
// Result errors (Errc::io, Errc::corrupt for a failed integrity check, Errc::unavailable while
// closing). What does propagate is an exception thrown by the caller's own code: a read's `fn`
// (after its transaction is rolled back) and std::bad_alloc. A writer Step that throws fails its
// own entry only (Errc::internal), never the batch. A Done completion must not throw: one that
// does is caught, counted (callback_failures()) and reported through Options::on_callback_error,
// and the writer, the entry and the other completions are unaffected.
#pragma once

#include "ledger/checkpoint.hpp"
#include "ledger/merkle.hpp"
#include "util/crypto.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dg::ledger {

using json = nlohmann::json;

// Entry kinds.
inline constexpr const char* k_validation = "validation";
inline constexpr const char* k_promotion = "promotion";
inline constexpr const char* k_rollback = "rollback";
inline constexpr const char* k_deployment = "deployment";
inline constexpr const char* k_revocation = "revocation";
inline constexpr const char* k_policy = "policy";
inline constexpr const char* k_observation = "observation";

bool is_entry_kind(std::string_view kind);

// One ledger entry. Its stored bytes are the canonical JSON
// {"actor","body","kind","seq","time"} (keys sorted, no whitespace); its leaf hash is
// SHA-256(0x00 || bytes). `seq` is 1-based: the entry's leaf index in the tree is seq - 1.
struct Entry {
  std::int64_t seq = 0;
  std::string kind;
  std::string time;
  std::string actor;
  json body;
  std::string bytes;
  Hash leaf{};
};

// What a caller asks to append; seq and time are assigned by the writer.
struct Draft {
  std::string kind;
  std::string actor;
  json body;
};

// An environment's current digest for one repository.
struct Slot {
  std::string environment;
  std::string repository;
  std::string digest;
  std::int64_t seq = 0;
  std::string time;
};

// A digest that became current in an environment (an approved promotion or rollback).
struct Approval {
  std::string repository;
  std::string digest;
  std::int64_t seq = 0;
  std::string time;
  std::string kind; // promotion or rollback
};

struct Deployment {
  std::string digest;
  std::string status; // succeeded or failed
  bool drift = false;
  std::int64_t seq = 0;
};

struct Revocation {
  std::string digest;
  std::string reason;
  std::int64_t seq = 0;
  std::string time;
};

// Where one digest stands for one repository in one environment, for admission control.
struct DigestStanding {
  std::int64_t approved_seq = 0;    // the newest approval of the digest there; 0: never approved
  std::int64_t rolled_back_seq = 0; // the newest approved rollback away from it; 0: none
};

struct EntryFilter {
  std::int64_t after = 0;
  std::int64_t limit = 100;
  std::string kind;        // empty: any
  std::string digest;      // empty: any
  std::string environment; // empty: any
};

// Read-only queries over one consistent snapshot of the ledger. Obtained from Ledger::read or
// handed to a writer step; valid only during that call.
class View {
public:
  virtual ~View() = default;

  // Number of entries (the tree size).
  virtual std::int64_t size() = 0;
  virtual std::optional<Entry> entry(std::int64_t seq) = 0;
  // Entries matching `filter`, in seq order.
  virtual std::vector<Entry> entries(const EntryFilter& filter) = 0;
  // Entries that concern `digest` (of `kind` if not empty), in seq order.
  virtual std::vector<Entry> digest_entries(const std::string& digest, const std::string& kind) = 0;
  // The repository a digest was recorded under, if it was recorded.
  virtual std::optional<std::string> digest_repository(const std::string& digest) = 0;
  // Digests recorded under `repository`:`tag`, newest first.
  virtual std::vector<std::string> tag_digests(const std::string& repository,
                                               const std::string& tag) = 0;
  virtual std::optional<Revocation> revocation(const std::string& digest) = 0;
  // Current digests; every environment when `environment` is empty.
  virtual std::vector<Slot> slots(const std::string& environment) = 0;
  // Environments that have ever had an entry.
  virtual std::vector<std::string> environments() = 0;
  // True if `digest` was ever approved (promotion or rollback) in `environment`.
  virtual bool approved_in(const std::string& environment, const std::string& digest) = 0;
  // Approvals in (`environment`, `repository`), newest first.
  virtual std::vector<Approval> approvals(const std::string& environment,
                                          const std::string& repository) = 0;
  // Deployment reports in (`environment`, `repository`), newest first.
  virtual std::vector<Deployment> deployments(const std::string& environment,
                                              const std::string& repository) = 0;
  // True if an approved rollback in (`environment`, `repository`) moved away from `digest`.
  virtual bool rolled_back_from(const std::string& environment,
                                const std::string& repository,
                                const std::string& digest) = 0;
  // The newest approval of `digest` for `repository` in `environment`, and the newest approved
  // rollback there away from it. Two index lookups.
  virtual DigestStanding standing(const std::string& environment,
                                  const std::string& repository,
                                  const std::string& digest) = 0;
  // The environment's entries, newest first, optionally for one repository.
  virtual std::vector<Entry> environment_history(const std::string& environment,
                                                 const std::string& repository,
                                                 std::int64_t limit) = 0;
  // The newest policy entry.
  virtual std::optional<Entry> latest_policy() = 0;

  // Tree head and proofs over the first `size` entries.
  virtual Hash root_at(std::uint64_t size) = 0;
  virtual std::vector<Hash> inclusion_proof(std::uint64_t index, std::uint64_t size) = 0;
  virtual std::vector<Hash> consistency_proof(std::uint64_t size1, std::uint64_t size2) = 0;
};

struct Committed {
  Entry entry;
  std::string checkpoint; // the signed note covering the entry
};

// A writer step: runs on the writer thread with a view that reflects every earlier entry, and
// returns the entry to append, or nothing.
using Step = std::function<std::optional<Draft>(View& view)>;
// Called once the step's entry is durable (or with nullopt when the step appended nothing), or
// with an error if the commit failed; on the ledger's completion thread, in the order the steps
// ran, while the writer may already be committing later steps.
using Done = std::function<void(Result<std::optional<Committed>> result)>;

struct Options {
  std::string database;      // where the ledger is stored: a SQLite file or a PostgreSQL URL
  std::string password_file; // PostgreSQL: a file holding the password (first line); optional
  std::string origin;        // the checkpoint origin line and key name
  std::shared_ptr<const Ed25519PrivateKey> key;
  // A file outside the database where the newest checkpoint is kept, so that an older copy of
  // the database put back in place is detected. Empty: none.
  std::string witness_path;
  // Called after each group commit with the batch size and the commit latency (for metrics).
  std::function<void(std::size_t batch, double seconds)> on_commit;
  // Called, on the completion thread, with a description when a Done callback threw.
  std::function<void(const std::string& problem)> on_callback_error;
};

// The result of checking the stored ledger against itself and its checkpoints.
struct Integrity {
  bool ok = true;
  std::string message;
  std::int64_t first_bad_seq = 0; // 0 when not tied to one entry
};

// What the start-up check found and did.
struct StartReport {
  std::int64_t entries = 0;
  double seconds = 0;
  // The derived tables did not match their seal and were rebuilt from the entries (slow on a
  // large ledger); `derived_problem` says why.
  bool derived_rebuilt = false;
  std::string derived_problem;
  // The checkpoints did not match their seal, so every stored checkpoint's signature was
  // verified (slow on a large ledger) rather than only the newest one's; `checkpoints_problem`
  // says why.
  bool checkpoints_verified = false;
  std::string checkpoints_problem;
};

struct InitOptions {
  std::string database;
  std::string password_file;
  // PostgreSQL: the role the daemons connect as, granted SELECT and INSERT only. Empty: none.
  std::string app_role;
};

class Ledger {
public:
  static Result<void> initialize(const InitOptions& options, const Bytes& checkpoint_public_key);
  // Create the database and its schema if absent, and record `checkpoint_public_key` (raw
  // Ed25519) as a key whose signatures on checkpoints are trusted.
  static Result<void> initialize(const std::string& database, const Bytes& checkpoint_public_key);

  // Open an initialized database and start the writer. Checks the ledger's integrity against
  // its newest checkpoint; a mismatch does not fail the open but makes integrity() report it
  // and every later append fail (fail closed).
  static Result<std::unique_ptr<Ledger>> open(const Options& options);

  // For a deliberate restore or a key rotation: when the witness at `options.witness_path` is
  // missing, empty or not signed by `options.key`, check the whole ledger as open() does
  // (without the witness) and, if it is sound, write a new witness of its current head signed by
  // `options.key` (true). A witness signed by `options.key` is kept as it is (false). An empty
  // `options.origin` takes the origin of the newest stored checkpoint.
  static Result<bool> renew_witness(const Options& options);

  virtual ~Ledger() = default;

  // Queue `step`; `done` is called once its entry is durable. `done` must not throw (see the
  // top of this file).
  virtual void submit(Step step, Done done) = 0;
  // Append `draft` and wait until it is durable.
  virtual Result<Committed> append(Draft draft) = 0;
  // Run `fn` on a consistent read snapshot.
  virtual Result<void> read(const std::function<void(View&)>& fn) = 0;

  virtual std::string checkpoint() const = 0;
  virtual std::int64_t size() const = 0;
  virtual Integrity integrity() const = 0;
  virtual StartReport start_report() const = 0;
  // The checkpoint key's note verifier string.
  virtual std::string verifier() const = 0;
  // False while the database cannot be reached (PostgreSQL with no writable primary): writes
  // then fail with Errc::unavailable. Always true for SQLite.
  virtual bool available() const { return true; }
  // How many completion callbacks threw (each was caught).
  virtual std::uint64_t callback_failures() const = 0;

  // Stop accepting work, drain the queue and stop the writer.
  virtual void close() = 0;
};

// Serialize an entry as its canonical stored bytes.
std::string entry_bytes(std::int64_t seq,
                        const std::string& kind,
                        const std::string& time,
                        const std::string& actor,
                        const json& body);

// The result of verifying a ledger file offline.
struct VerifyReport {
  bool ok = true;
  std::int64_t entries = 0;
  std::int64_t checkpoints = 0;
  std::int64_t first_bad_seq = 0;
  std::string message;
  std::string root_hex;
};

// Verify the ledger stored in `database` offline from a consistent snapshot: every leaf from its
// stored bytes, the tree, and every stored checkpoint's root and signature (against `verifier`
// when given, else against the keys stored in the database).
Result<VerifyReport> verify_ledger(const std::string& database, const std::string& verifier);

// Whether `database` names a PostgreSQL ledger (else a SQLite file).
bool is_postgresql(std::string_view database);
// `database` with any password in it replaced by "***", for messages and logs.
std::string redact_database(const std::string& database);

struct CopyReport {
  std::int64_t entries = 0;
  std::int64_t checkpoints = 0;
  std::string root_hex;
};

// Copy the ledger in `from` into `to` (SQLite or PostgreSQL either way) unchanged: the same
// seqs, bytes, leaf and node hashes, checkpoints and trusted keys. `from` must verify; `to` must
// hold no entries (it gets the schema if it has none). The copy is verified before it returns.
Result<CopyReport> copy_ledger(const std::string& from, const std::string& to);

} // namespace dg::ledger
