#include "ledger/witness.hpp"

#include "util/files.hpp"

namespace dg::ledger::detail {

std::optional<Integrity> check_witness(const std::string& path,
                                       const Ed25519PrivateKey& key,
                                       std::int64_t size,
                                       View& view) {
  if (path.empty()) {
    return std::nullopt;
  }
  auto text = read_file(path);
  if (!text || text->empty()) {
    if (size > 0) {
      // The daemon writes the witness (synced) at its first start, before the ledger holds
      // anything, so a ledger with entries and no witness is one that somebody else handled:
      // a deliberate restore, or a rewritten ledger whose witness was removed with it.
      return Integrity{
          false,
          "the witness " + path + " is missing, but the ledger holds " + std::to_string(size) +
              " entries; if the database was restored or the key rotated on purpose, "
              "run `digestgated init --state-dir DIR` to check the ledger and accept it",
          0};
    }
    return std::nullopt;
  }
  // Only this daemon's own key counts here: a key added to the database's checkpoint_keys
  // (by someone who re-signed the ledger) must not vouch for the witness too.
  auto cp = parse_checkpoint(*text);
  Bytes own = key.public_key();
  if (!cp ||
      !open_checkpoint(*text, NoteVerifier{cp->origin, own, note_key_hash(cp->origin, own)})) {
    return Integrity{false,
                     "the newest checkpoint kept beside the database (" + path +
                         ") is not signed by this daemon's checkpoint key",
                     0};
  }
  if (static_cast<std::int64_t>(cp->size) > size) {
    return Integrity{false,
                     "the database holds " + std::to_string(size) +
                         " entries but this daemon signed a checkpoint of " +
                         std::to_string(cp->size) + ": an older copy of the ledger was put back",
                     size + 1};
  }
  if (cp->size > 0 && view.root_at(cp->size) != cp->root) {
    return Integrity{false,
                     "the ledger is not consistent with the checkpoint of size " +
                         std::to_string(cp->size) + " this daemon signed earlier",
                     0};
  }
  return std::nullopt;
}

void write_witness(const std::string& path, const std::string& note, bool sync) {
  if (!path.empty()) {
    std::ignore = write_file_atomic(path, note, 0600, sync); // best effort
  }
}

} // namespace dg::ledger::detail
