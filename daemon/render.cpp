#include "daemon/render.hpp"

#include "util/crypto.hpp"

#include <charconv>

namespace dg::daemon {

using nlohmann::json;

json entry_json(const ledger::Entry& e) {
  return json{{"seq", e.seq},     {"kind", e.kind}, {"time", e.time},
              {"actor", e.actor}, {"body", e.body}, {"leaf_hash", to_hex(e.leaf)}};
}

json hashes_json(const std::vector<Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) {
    out.push_back(to_hex(h));
  }
  return out;
}

json reason_json(const policy::Reason& r) {
  json j{{"code", r.code}, {"message", r.message}};
  j["gate"] = r.gate.empty() ? json(nullptr) : json(r.gate);
  if (!r.reference.empty()) {
    j["reference"] = r.reference;
  }
  return j;
}

json reasons_json(const policy::Reasons& reasons) {
  json out = json::array();
  for (const auto& r : reasons) {
    out.push_back(reason_json(r));
  }
  return out;
}

json slot_json(const std::string& repository,
               const std::string& digest,
               std::int64_t seq,
               const std::string& time) {
  return json{
      {"digest", digest}, {"reference", repository + "@" + digest}, {"seq", seq}, {"time", time}};
}

json lkg_json(const std::optional<ledger::Approval>& a) {
  if (!a) {
    return nullptr;
  }
  return slot_json(a->repository, a->digest, a->seq, a->time);
}

std::optional<std::int64_t> to_int(const std::string& s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

} // namespace dg::daemon
