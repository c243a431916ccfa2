// Verification, shared by every backend: the scan that recomputes every leaf and the tree from the
// stored entries and compares them with the stored tree and checkpoints (at start and in
// `ledger verify`), and the signature checks of stored checkpoints. Private to the ledger room.
#pragma once

#include "ledger/ledger.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dg::ledger::detail {

struct StoredCheckpoint {
  std::int64_t size = 0;
  Hash root{};
  std::string note;
};

struct EntryRow {
  std::int64_t seq = 0;
  std::string bytes;
  Hash leaf{};
};

// What a scan reads, inside one consistent snapshot. Backends throw StoreFailure on errors.
class Stored {
public:
  virtual ~Stored() = default;
  virtual std::optional<StoredCheckpoint> latest_checkpoint() = 0;
  // The entry rows in seq order, one at a time (nullopt at the end).
  virtual std::optional<EntryRow> next_entry() = 0;
  // The checkpoint rows in size order, one at a time (nullopt at the end).
  virtual std::optional<StoredCheckpoint> next_checkpoint() = 0;
  // Every checkpoint row of size 1..`max_size`, in size order, until `fn` returns false.
  virtual void each_checkpoint(std::int64_t max_size,
                               const std::function<bool(const StoredCheckpoint&)>& fn) = 0;
  virtual const NodeReader& nodes() = 0;
};

using NoteCheck = std::function<bool(const std::string& note)>;

// Scan the whole ledger: recompute every leaf from its stored bytes, the tree, and compare with
// the stored leaves, the stored tree and the checkpoints. `verify_note` checks one stored note's
// signature; `all_signatures` selects whether every checkpoint's signature or only the newest is
// checked (roots are always checked for every checkpoint). `on_checkpoint`, when set, sees every
// stored checkpoint row once, in size order.
VerifyReport scan(Stored& stored,
                  const NoteCheck& verify_note,
                  bool all_signatures,
                  const std::function<void(const StoredCheckpoint&)>& on_checkpoint = {});

// The checkpoints' pass that scan() leaves out at start: the note of every stored checkpoint of
// sizes 1..`report.entries` must be over its own row and signed by a key `verify_note` accepts.
// The first that is not fails `report`.
void check_every_note(Stored& stored, const NoteCheck& verify_note, VerifyReport& report);

// True if `note` is signed by one of `keys` (raw Ed25519) under its own origin.
bool note_verifies(const std::string& note, const std::vector<Bytes>& keys);

// The root a report computed (zero if it has none).
Hash report_root(const VerifyReport& report);

} // namespace dg::ledger::detail
