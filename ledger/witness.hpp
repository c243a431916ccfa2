// The witness: the newest checkpoint a daemon signed, kept outside the database (in the state
// directory), so that an older copy of the ledger put back in place, or a database that lost
// entries the daemon checkpointed, is detected. Shared by every backend. Private to the ledger
// room.
#pragma once

#include "ledger/ledger.hpp"

#include <optional>
#include <string>

namespace dg::ledger::detail {

// Check the ledger seen through `view`, holding `size` entries, against the witness at `path`
// (signed by `key`). The failure, or nothing when it holds (or there is no witness to check and
// nothing to witness).
std::optional<Integrity>
check_witness(const std::string& path, const Ed25519PrivateKey& key, std::int64_t size, View& view);

// Write `note` as the witness at `path` (best effort; `sync` makes it durable before returning).
void write_witness(const std::string& path, const std::string& note, bool sync);

} // namespace dg::ledger::detail
