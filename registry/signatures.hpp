// What signs an image in a registry: cosign signatures (tag `sha256-<hex>.sig`), cosign
// attestations (`sha256-<hex>.att`) and the referrers of the digest (OCI 1.1 API or its tag
// fallback) that carry cosign signatures, DSSE envelopes or Sigstore bundles. The shapes returned
// are those of an evidence record, so what is found counts exactly as what CI records:
//   signatures:   {"payload": "<base64 of the simple-signing payload>", "signature": "<base64>"}
//   attestations: {"envelope": {"payloadType", "payload", "signatures": [...]}}
//   bundles:      the Sigstore bundle JSON as stored
// Nothing is verified here: verification is the policy room's business.
#pragma once

#include "registry/client.hpp"

#include <nlohmann/json.hpp>

namespace dg::registry {

inline constexpr const char* k_cosign_simplesigning =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr const char* k_dsse_envelope = "application/vnd.dsse.envelope.v1+json";
inline constexpr const char* k_cosign_signature_annotation = "dev.cosignproject.cosign/signature";

struct SigningMaterial {
  nlohmann::json signatures = nlohmann::json::array();
  nlohmann::json attestations = nlohmann::json::array();
  nlohmann::json bundles = nlohmann::json::array();
};

// Everything found for `digest` in `repository`. An absent `.sig`/`.att` tag or no referrers is
// not an error; any other failure (unreachable, a blob that does not match its digest) is.
Result<SigningMaterial>
fetch_signing_material(Client& client, const std::string& repository, const std::string& digest);

} // namespace dg::registry
