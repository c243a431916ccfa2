// JSON shapes shared by several endpoints: ledger entries, hash lists, reasons and environment
// slots. One definition of each, so that every answer that holds one spells it the same way.
#pragma once

#include "ledger/ledger.hpp"
#include "policy/decision.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dg::daemon {

// {"seq", "kind", "time", "actor", "body", "leaf_hash"}.
nlohmann::json entry_json(const ledger::Entry& e);
// Lowercase hex strings.
nlohmann::json hashes_json(const std::vector<Hash>& hashes);
// {"code", "message", "gate" (or null), "reference"?}.
nlohmann::json reason_json(const policy::Reason& r);
nlohmann::json reasons_json(const policy::Reasons& reasons);
// {"digest", "reference", "seq", "time"}.
nlohmann::json slot_json(const std::string& repository,
                         const std::string& digest,
                         std::int64_t seq,
                         const std::string& time);
// slot_json of a last known-good approval, or null.
nlohmann::json lkg_json(const std::optional<ledger::Approval>& a);

// `s` as a whole decimal integer, or nullopt.
std::optional<std::int64_t> to_int(const std::string& s);

} // namespace dg::daemon
