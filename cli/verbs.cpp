#include "cli/verbs.hpp"

#include <string_view>

namespace dg::cli {

namespace {

// The families of verbs. Adding a family is one line here (see cli/commands.hpp).
// One per line, so that families added at the same time merge without conflict.
// clang-format off
constexpr std::vector<VerbSpec> (*k_families[])() = {
    promotion_verbs,
    evidence_verbs,
    rollback_verbs,
    inspect_verbs,
    ledger_verbs,
    proof_verbs,
    policy_verbs,
    sigstore_verbs,
    token_verbs,
    observe_verbs,
    pin_verbs,
};
// clang-format on

std::string_view group_of(const VerbSpec& verb) {
  return verb.name.substr(0, verb.name.find(' '));
}

std::vector<VerbSpec> collect() {
  std::vector<VerbSpec> unordered;
  for (auto family : k_families) {
    for (auto& verb : family()) {
      unordered.push_back(std::move(verb));
    }
  }
  std::vector<VerbSpec> ordered;
  std::vector<bool> taken(unordered.size(), false);
  for (std::size_t i = 0; i < unordered.size(); ++i) {
    if (taken[i]) {
      continue;
    }
    const std::string_view group = group_of(unordered[i]);
    for (std::size_t j = i; j < unordered.size(); ++j) {
      if (!taken[j] && group_of(unordered[j]) == group) {
        ordered.push_back(unordered[j]);
        taken[j] = true;
      }
    }
  }
  return ordered;
}

} // namespace

const std::vector<VerbSpec>& all_verbs() {
  static const std::vector<VerbSpec> verbs = collect();
  return verbs;
}

} // namespace dg::cli
