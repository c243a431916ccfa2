// Signatures, attestations and Sigstore bundles from the files cosign and gh write: the lines of
// `cosign download signature` and `cosign download attestation`, a bundle from `cosign sign
// --bundle` / `cosign attest --bundle`, and the JSON-lines file of `gh attestation download`.
// Each becomes the evidence record's `signatures`, `attestations` or `bundles` items.
//
// All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dg::intake {

// `cosign download signature` output: one JSON object a line with Base64Signature and Payload.
// Returns the record's signature items, [{"payload","signature"}]. Lines with no Payload or no
// signature are refused; a file with no line is refused.
Result<nlohmann::json> read_cosign_signatures(std::string_view text);

// DSSE envelopes, one JSON object a line (`cosign download attestation`) or one envelope in the
// file. Returns the record's attestation items, [{"envelope": {"payloadType","payload",
// "signatures":[{"keyid","sig"}]}}].
Result<nlohmann::json> read_dsse_envelopes(std::string_view text);

// Sigstore bundles: one bundle in the file or one a line. `payload`, base64, is the signed
// artifact of a message-signature bundle (a cosign simple-signing payload); it is refused for
// DSSE bundles, which carry their own. Returns the record's bundle items, [{"bundle", "payload"?}].
Result<nlohmann::json> read_bundles(std::string_view text,
                                    const std::optional<std::string>& payload);

} // namespace dg::intake
