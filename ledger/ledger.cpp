// The ledger's entry points: the entry format, and the choice of backend for a database.
#include "ledger/ledger.hpp"

#include "ledger/pg_ledger.hpp"
#include "ledger/sqlite_ledger.hpp"
#include "util/files.hpp"

namespace dg::ledger {

bool is_entry_kind(std::string_view kind) {
  return kind == k_validation || kind == k_promotion || kind == k_rollback ||
         kind == k_deployment || kind == k_revocation || kind == k_policy || kind == k_observation;
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

bool is_postgresql(std::string_view database) {
  return pg::is_url(database);
}

std::string redact_database(const std::string& database) {
  if (!is_postgresql(database)) {
    return database;
  }
  // postgresql://user:password@host...: the password ends at the last '@' of the authority.
  auto scheme = database.find("://") + 3;
  auto authority_end = database.find_first_of("/?", scheme);
  auto at =
      database.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at == std::string::npos || at < scheme) {
    return database;
  }
  auto colon = database.find(':', scheme);
  if (colon == std::string::npos || colon > at) {
    return database;
  }
  return database.substr(0, colon + 1) + "***" + database.substr(at);
}

Result<void> Ledger::initialize(const InitOptions& options, const Bytes& checkpoint_public_key) {
  if (is_postgresql(options.database)) {
    return pg_backend::initialize(options, checkpoint_public_key);
  }
  if (!options.app_role.empty()) {
    return make_error(Errc::invalid_argument, "an application role applies to PostgreSQL only");
  }
  return sqlite_backend::initialize(options.database, checkpoint_public_key);
}

Result<void> Ledger::initialize(const std::string& database, const Bytes& checkpoint_public_key) {
  return initialize(InitOptions{database, "", ""}, checkpoint_public_key);
}

Result<std::unique_ptr<Ledger>> Ledger::open(const Options& options) {
  if (!options.key) {
    return make_error(Errc::invalid_argument, "no checkpoint key");
  }
  if (is_postgresql(options.database)) {
    return pg_backend::open(options);
  }
  return sqlite_backend::open(options);
}

Result<VerifyReport> verify_ledger(const std::string& database, const std::string& verifier) {
  if (is_postgresql(database)) {
    return pg_backend::verify(database, verifier);
  }
  return sqlite_backend::verify(database, verifier);
}

namespace {

bool signed_by(const std::string& note, const Bytes& key) {
  auto cp = parse_checkpoint(note);
  return cp && open_checkpoint(note, NoteVerifier{cp->origin, key, note_key_hash(cp->origin, key)});
}

// Open the ledger without a witness (checking it whole), and sign a witness of its head, after
// making sure it extends `witness` (the previous key's, after a rotation) when there is one.
Result<bool> witness_head(Options unwitnessed,
                          const std::string& witness_path,
                          const std::optional<Checkpoint>& witness) {
  auto opened = Ledger::open(unwitnessed);
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
                      unwitnessed.origin, *unwitnessed.key);
  DG_TRY(write_file_atomic(witness_path, note, 0600, true));
  return true;
}

} // namespace

Result<bool> Ledger::renew_witness(const Options& options) {
  if (!options.key || options.witness_path.empty()) {
    return make_error(Errc::invalid_argument, "no checkpoint key or witness path");
  }
  Bytes own = options.key->public_key();
  auto read_witness = read_file(options.witness_path);
  std::string witness_text = read_witness ? *read_witness : std::string();
  if (!witness_text.empty() && signed_by(witness_text, own)) {
    return false; // this key's own witness: it still guards against an older copy put back
  }
  // What the database says about itself, before the full check.
  auto head = is_postgresql(options.database)
                  ? pg_backend::head(options.database, options.password_file)
                  : sqlite_backend::head(options.database);
  if (!head) {
    return head.error();
  }
  const auto& [newest, keys] = *head;
  if (!newest) {
    return false; // nothing to witness yet: the daemon witnesses an empty ledger at its start
  }
  std::optional<Checkpoint> witness;
  if (!witness_text.empty()) {
    // A key rotation: the witness of a key the ledger trusts, which the ledger must extend.
    for (const Bytes& key : keys) {
      if (key != own && signed_by(witness_text, key)) {
        witness = parse_checkpoint(witness_text).value();
      }
    }
  }
  if (!witness && !signed_by(newest->note, own)) {
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
  return witness_head(std::move(unwitnessed), options.witness_path, witness);
}

} // namespace dg::ledger
