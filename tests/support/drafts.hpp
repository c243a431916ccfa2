// Ledger drafts for the ledger's unit tests, the same for SQLite and PostgreSQL. Header-only: the
// test kit does not link the ledger; the tests that include this do.
#pragma once

#include "ledger/ledger.hpp"
#include "util/crypto.hpp"

#include <string>

namespace dg::test {

// A validation of ghcr.io/acme/app@`digest` tagged `tag`, with empty evidence, by "ci".
inline ledger::Draft validation_draft(const std::string& digest, const std::string& tag = "v1") {
  return ledger::Draft{ledger::k_validation, "ci",
                       ledger::json{{"digest", digest},
                                    {"repository", "ghcr.io/acme/app"},
                                    {"tags", {tag}},
                                    {"evidence", ledger::json::object()}}};
}

// A promotion of ghcr.io/acme/app@`digest` to `env`, approved or refused, by "deploy".
inline ledger::Draft
promotion_draft(const std::string& env, const std::string& digest, bool approved) {
  return ledger::Draft{
      ledger::k_promotion, "deploy",
      ledger::json{{"environment", env},
                   {"decision", approved ? "approved" : "refused"},
                   {"promotions", {{{"repository", "ghcr.io/acme/app"}, {"digest", digest}}}}}};
}

// The `n`th of a series of distinct digests: "sha256:" and the hex SHA-256 of "d<n>".
inline std::string numbered_digest(int n) {
  return "sha256:" + to_hex(sha256("d" + std::to_string(n)));
}

} // namespace dg::test
