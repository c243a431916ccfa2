// The gatekeeper as an end-to-end test meets it: the real digestgated (Daemon) under a policy that
// trusts an `openssl` signer, and the requests of the contract in its own words, so that a test
// reads like the specification it checks:
//
//   Gatekeeper g;
//   g.record(sample_digest(1));
//   g.approve(sample_digest(1), "staging");
//   g.expect_refused(pinned(sample_digest(1)), "production", {"stage-order"});
//
// The helpers check with doctest (REQUIRE/CHECK), so they are for doctest test binaries only.
#pragma once

#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace dg::test {

// `repository`@`digest`.
std::string pinned(const std::string& digest, const std::string& repository = k_repo);

// The body of POST /v1/promotions for one reference.
nlohmann::json
promotion_body(const std::string& reference, const std::string& env, bool dry_run = false);

// The reason codes of a decision.
std::set<std::string> codes_of(const nlohmann::json& decision);
// The codes, space-separated, for failure messages.
std::string describe(const std::set<std::string>& codes);

// Under DG_TEST_LEDGER=postgresql (see on_postgresql()), says that the case is skipped there and
// why (a case about the SQLite file itself), and returns true; else returns false:
//   if (skipped_on_postgresql("edits the SQLite file")) return;
bool skipped_on_postgresql(const std::string& why);

// The last non-empty line of `text`.
std::string last_line(const std::string& text);

struct Gatekeeper {
  // The daemon under `make_policy(signer.public_key_pem())`: strict_policy() unless told.
  explicit Gatekeeper(
      const std::function<nlohmann::json(const std::string&)>& make_policy = strict_policy);

  OpensslSigner signer;
  Daemon daemon;

  // POST /v1/validations as the recorder.
  HttpResponse record_evidence(const nlohmann::json& evidence) const;
  // Records complete_evidence() for `digest` in `repository`, requires 201, returns `digest`.
  std::string record(const std::string& digest, const std::string& repository = k_repo) const;
  // Evidence goes through record_evidence(): json would otherwise convert to a digest string.
  std::string record(const nlohmann::json& evidence,
                     const std::string& repository = k_repo) const = delete;

  // POST /v1/promotions as the promoter.
  HttpResponse promote(const nlohmann::json& body) const;
  HttpResponse
  promote(const std::string& reference, const std::string& env, bool dry_run = false) const;
  // Promotes `repository`@`digest` to `env` and requires an approval.
  void approve(const std::string& digest,
               const std::string& env,
               const std::string& repository = k_repo) const;
  // Promotes `reference` to `env` and checks a refusal (403, decision "refused", a sequence
  // number) whose reasons are exactly `codes`, each with a message.
  void expect_refused(const std::string& reference,
                      const std::string& env,
                      const std::set<std::string>& codes) const;
};

} // namespace dg::test
