// Fixed keys, evidence and policies shared by the fuzz targets and by the program that writes their
// seed corpora (make_seeds.cpp), so that seeds carry signatures the targets trust.
#pragma once

#include "policy/attestation.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/signer.hpp"
#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dg::fuzz {

using nlohmann::json;

// The subject of docs/examples/evidence.json: the test kit's repository and builder
// (tests/support/evidence.hpp), the example's own digest and commit.
inline constexpr const char* k_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";
inline constexpr const char* k_repository = test::k_repo;
inline constexpr const char* k_commit = "4f9c2d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e";
using test::k_builder;
// The checkpoint origin (and note key name) of the fuzzed ledgers and notes.
inline constexpr const char* k_origin = "digestgate.local/ledger";
// The policy's name for signing_key().
inline constexpr const char* k_signer = "fuzz-signer";
// "Now" for policy evaluation: a day after the example evidence was pushed.
inline constexpr const char* k_now = "2026-11-21T10:00:00Z";

// An Ed25519 key made for the fuzz targets and published in fixtures.cpp: it is trusted nowhere
// but in these targets.
const Ed25519PrivateKey& signing_key();
std::string signing_key_public_pem();
// signing_key() as the evidence builders' signer (tests/support/signer.hpp).
const test::KeySigner& signer();

// An unrelated Ed25519 key named "fuzz-other", then signing_key() named k_signer: the order makes
// the checks try a key that does not verify before the one that does.
std::vector<policy::TrustedKey> trusted_keys();

// A cosign simple-signing entry {"payload", "signature"} by signing_key() for `digest` in
// `repository`.
json cosign_signature(std::string_view digest, std::string_view repository);

// A DSSE entry {"envelope"} by signing_key() carrying an in-toto statement about `digest` with a
// SLSA provenance v1 predicate, or v0.2 when `v02`.
json slsa_attestation(std::string_view digest, bool v02 = false);

// docs/examples/evidence.json with a gate "e2e", one cosign signature and one SLSA v1
// attestation: it passes strict_policy() in staging at k_now.
json evidence();

// A policy that trusts signing_key() as k_signer: "staging" requires everything the policy
// language knows, "production" comes after it, "dev" requires nothing.
json strict_policy();

// The signed note of a checkpoint of `size` entries by signing_key() under k_origin.
std::string checkpoint_note(std::uint64_t size);

// Report a broken invariant on stderr and abort, which libFuzzer records as a crash.
[[noreturn]] void invariant_failed(const char* file, int line, std::string_view what);

} // namespace dg::fuzz

// Abort with `what` unless `condition` holds.
#define DG_FUZZ_CHECK(condition, what)                                                             \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      ::dg::fuzz::invariant_failed(__FILE__, __LINE__, what);                                      \
    }                                                                                              \
  } while (false)
