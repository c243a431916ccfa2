// Realistic evidence for end-to-end tests: a multi-platform image with mirrors, digest-bound
// gates with artifacts, a cosign signature and an SLSA v1 provenance attestation, signed by a key
// made with the `openssl` command line.
#pragma once

#include "tests/support/daemon.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace dg::test {

using nlohmann::json;

// An ECDSA P-256 signing key made with `openssl ecparam`; signatures made with `openssl dgst`.
class OpensslSigner {
public:
  OpensslSigner();
  const std::string& public_key_pem() const { return m_public_pem; }
  // Base64 of the ASN.1 DER ECDSA-SHA256 signature over `data`, as cosign writes it.
  std::string sign(const std::string& data) const;

private:
  TempDir m_dir;
  std::string m_public_pem;
};

inline constexpr const char* k_repo = "ghcr.io/acme/app";
inline constexpr const char* k_commit = "0123456789abcdef0123456789abcdef01234567";
inline constexpr const char* k_builder =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";

// The policy every reason-code test runs against: "staging" requires everything the contract
// knows; "production" comes after it.
json strict_policy(const std::string& signer_pem);

// A cosign simple-signing signature entry for `digest` in `repository`.
json cosign_signature(const OpensslSigner& signer,
                      const std::string& repository,
                      const std::string& digest);

// A DSSE envelope with an in-toto v1 statement carrying SLSA provenance v1.
json slsa_attestation(const OpensslSigner& signer,
                      const std::string& digest,
                      const std::string& builder_id = k_builder,
                      const std::string& source_repository = "https://github.com/acme/app",
                      const std::string& commit = k_commit);

// Evidence that passes strict_policy() for `digest`, pushed an hour ago.
json complete_evidence(const OpensslSigner& signer,
                       const std::string& digest,
                       const std::string& repository = k_repo);

// RFC 3339 for now + `offset_seconds`.
std::string timestamp(long long offset_seconds);

} // namespace dg::test
