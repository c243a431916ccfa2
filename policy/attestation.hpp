// Signature and provenance checks over the evidence of a record: cosign simple-signing
// signatures, DSSE envelopes carrying in-toto statements, and SLSA provenance predicates.
//
// Formats understood:
//   - cosign simple signing (github.com/sigstore/cosign specs/SIGNATURE_SPEC.md): the signature
//     is over the exact payload bytes, a JSON document whose "critical" object names the image
//     ("image": {"docker-manifest-digest"}), the repository ("identity": {"docker-reference"})
//     and the type "cosign container image signature".
//   - DSSE v1 (github.com/secure-systems-lab/dsse envelope.md, protocol.md): signatures are over
//     the pre-authentication encoding of payloadType and payload, never over the payload alone.
//   - in-toto Statement v1 and v0.1 with payloadType "application/vnd.in-toto+json".
//   - SLSA provenance v1 (https://slsa.dev/provenance/v1) and v0.2
//     (https://slsa.dev/provenance/v0.2).
//
// Every input is hostile: wrong JSON types anywhere, bad base64, oversized payloads and deep
// nesting produce a finding with an error, never an exception or a crash. Decoded payloads over
// k_max_payload_size bytes are refused unread.
//
// All functions are thread-safe.
#pragma once

#include "policy/reason.hpp"
#include "policy/sigstore.hpp"
#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dg::policy {

// The largest payload (after base64 decoding) a signature or attestation may carry.
inline constexpr std::size_t k_max_payload_size = 1024 * 1024;

inline constexpr const char* k_cosign_signature_type = "cosign container image signature";
inline constexpr const char* k_in_toto_payload_type = "application/vnd.in-toto+json";
inline constexpr const char* k_in_toto_statement_v1 = "https://in-toto.io/Statement/v1";
inline constexpr const char* k_in_toto_statement_v01 = "https://in-toto.io/Statement/v0.1";
inline constexpr const char* k_slsa_provenance_v1 = "https://slsa.dev/provenance/v1";
inline constexpr const char* k_slsa_provenance_v02 = "https://slsa.dev/provenance/v0.2";

// A policy's trusted key under its name in "trusted_keys".
struct TrustedKey {
  std::string name;
  std::shared_ptr<const dg::PublicKey> key;
};

// What one cosign simple-signing signature of the evidence proves.
struct SignatureFinding {
  // Name of the first trusted key (in the order given) whose signature verified; empty if none.
  std::string key;
  // The signature verifies over the exact payload bytes with `key`.
  bool verified = false;
  // The payload names the digest in critical.image.docker-manifest-digest, the repository in
  // critical.identity.docker-reference (both sides normalized), and critical.type is
  // "cosign container image signature".
  bool binds = false;
  // As found in the payload; empty when absent or not a string.
  std::string manifest_digest;
  std::string docker_reference;
  // Empty when `verified` && `binds`; otherwise every failure, separated by "; ".
  std::string error;
};

// Check `signature`, an evidence entry {"payload": base64, "signature": base64}, against `keys`,
// for the image `digest` ("sha256:<hex>") in `repository` (any form parse_reference accepts).
SignatureFinding check_cosign_signature(const nlohmann::json& signature,
                                        const std::vector<TrustedKey>& keys,
                                        std::string_view digest,
                                        std::string_view repository);

// What one DSSE attestation of the evidence proves.
struct ProvenanceFinding {
  // Name of the first trusted key (in the order given) that verified one of the envelope's
  // signatures over the PAE bytes; empty if none. The keyid of a signature is only a hint.
  std::string key;
  bool verified = false;
  // The statement lists the digest among its subjects (subject[].digest.sha256 == hex part).
  bool subject_matches = false;
  std::string statement_type; // "_type"
  std::string predicate_type; // "predicateType", e.g. https://slsa.dev/provenance/v1
  // SLSA v1: predicate.runDetails.builder.id; v0.2: predicate.builder.id.
  std::string builder_id;
  // SLSA v1: predicate.buildDefinition.externalParameters.workflow.repository, else
  // resolvedDependencies[0].uri; v0.2: predicate.invocation.configSource.uri. URIs lose a "git+"
  // prefix and an "@ref" suffix: "git+https://github.com/a/b@refs/heads/main" gives
  // "https://github.com/a/b".
  std::string source_repository;
  // SLSA v1: digest.gitCommit (or sha1) of the resolved dependency that is the source repository,
  // else of the first one that has one; v0.2: invocation.configSource.digest.sha1 (or gitCommit).
  std::string source_commit;
  // Empty when the envelope verified, the statement parses, its subjects include the digest and
  // a SLSA predicate has its required builder id; otherwise every failure, separated by "; ".
  // An unknown predicate type is not an error here: evaluate_provenance judges it.
  std::string error;
};

// Check `attestation`, an evidence entry {"envelope": {"payloadType", "payload",
// "signatures": [{"keyid", "sig"}]}}, against `keys` for the image `digest` ("sha256:<hex>").
ProvenanceFinding check_attestation(const nlohmann::json& attestation,
                                    const std::vector<TrustedKey>& keys,
                                    std::string_view digest);

// Whether the cosign simple-signing `payload` (its bytes, already verified by the caller, e.g. in
// a Sigstore bundle) names `digest` in `repository`: `binds`, `manifest_digest`,
// `docker_reference` and `error` as check_cosign_signature sets them; `verified` stays false.
SignatureFinding check_cosign_payload(std::string_view payload,
                                      std::string_view digest,
                                      std::string_view repository);

// The facts of the in-toto statement `payload` (its bytes, already verified by the caller) about
// `digest`, as check_attestation reads them; `verified` stays false and `error` names only the
// statement's problems.
ProvenanceFinding read_statement_payload(std::string_view payload, std::string_view digest);

// The DSSE v1 pre-authentication encoding:
// "DSSEv1 " + len(type) + " " + type + " " + len(body) + " " + body, lengths in ASCII decimal.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// A policy's "require_signature". An empty `keys` accepts any trusted key, unless `identities`
// are listed: then only they (and the keys listed) count.
struct SignatureRequirement {
  std::vector<std::string> keys;
  std::vector<sigstore::IdentityRule> identities = {};
};

// A policy's "require_provenance". Empty lists accept anything; `builder_ids` and
// `source_repositories` are globs (glob_match).
struct ProvenanceRequirement {
  std::vector<std::string> keys;
  std::vector<std::string> builder_ids;
  std::vector<std::string> source_repositories;
  std::vector<sigstore::IdentityRule> identities = {}; // see SignatureRequirement
};

// Reasons, with gate "require_signature", why `findings` do not satisfy `requirement`; empty when
// one signature verified with a required key and binds. No findings: signature-missing; none
// acceptable: one signature-invalid whose message names the failure of each signature.
Reasons evaluate_signatures(const SignatureRequirement& requirement,
                            const std::vector<SignatureFinding>& findings);

// Reasons, with gate "require_provenance", why `findings` do not satisfy `requirement`; empty when
// one attestation is acceptable and agrees with the requirement and the record. No findings:
// provenance-missing. None without error, verified by a required key, with a matching subject and
// a SLSA v1 or v0.2 predicate: one provenance-invalid naming the failure of each attestation.
// Otherwise, when no such attestation agrees: a provenance-mismatch per disagreeing field (builder
// id against `builder_ids`, source repository against `source_repositories`, source commit against
// `recorded_commit` and builder id against `recorded_builder_id`, the last two when non-empty).
Reasons evaluate_provenance(const ProvenanceRequirement& requirement,
                            const std::vector<ProvenanceFinding>& findings,
                            std::string_view recorded_commit,
                            std::string_view recorded_builder_id);

} // namespace dg::policy
