// Realistic signed evidence for the benchmarks, signed in-process: an index with two platforms,
// two registry mirrors, four digest-bound gates with artifacts, a cosign simple-signing signature
// and a DSSE envelope carrying SLSA provenance v1, as CI would record them.
#pragma once

#include "util/time.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::bench {

using json = nlohmann::json;

inline constexpr const char* k_repository = "ghcr.io/acme/app";
inline constexpr const char* k_commit = "0123456789abcdef0123456789abcdef01234567";
inline constexpr const char* k_builder =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";
inline constexpr const char* k_in_toto_type = "application/vnd.in-toto+json";

// An ECDSA P-256 key (what cosign makes) held by OpenSSL. Move-only.
class EcdsaKey {
public:
  static EcdsaKey generate();
  EcdsaKey(EcdsaKey&& other) noexcept;
  EcdsaKey& operator=(EcdsaKey&& other) noexcept;
  ~EcdsaKey();

  std::string public_key_pem() const;
  // The ASN.1 DER ECDSA-SHA256 signature over `data` (raw bytes, not base64).
  std::string sign(std::string_view data) const;
  // A bare OpenSSL verification of a DER ECDSA-SHA256 signature: EVP_DigestVerify with the key
  // already loaded, nothing else.
  bool verify(std::string_view data, std::string_view der_signature) const;

private:
  explicit EcdsaKey(void* pkey) : m_pkey(pkey) {}
  void* m_pkey = nullptr;
};

// The base64 signature of a message (cosign payload bytes or DSSE PAE bytes).
using SignFn = std::function<std::string(std::string_view message)>;

// "sha256:" + the hex SHA-256 of `seed`.
std::string digest_of(const std::string& seed);

// The DSSE v1 pre-authentication encoding of `payload`.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// RFC 3339 for `now` + `offset_seconds`.
std::string timestamp(TimeNs now, long long offset_seconds);

// A complete record for `digest` in `repository`, pushed an hour before `now`, that passes
// bench_policy() in "staging": 2 platforms, 2 mirrors, gates vuln-scan, sbom, e2e and
// unit-tests (each with an artifact), a cosign signature and an SLSA v1 provenance attestation.
json complete_evidence(const SignFn& sign,
                       const std::string& digest,
                       const std::string& repository,
                       TimeNs now);

// A later record of the same digest with only gate results (a scan or test job).
json gate_evidence(const std::string& digest,
                   const std::string& repository,
                   const std::vector<std::string>& gates,
                   TimeNs now);

// The policy the benchmarks promote under: "staging" requires everything the contract knows
// (gates, findings, parity, platforms, signature, provenance, source refs, stable semver, pinned
// base image, evidence age); "production" adds stage order after staging.
json bench_policy(const std::string& signer_pem);

} // namespace dg::bench
