// OpenSSL pieces of the Sigstore verifier: certificates, chains, Fulcio extensions, SCTs, RFC 3161
// timestamps and signatures. Internal to policy/sigstore*.cpp.
#pragma once

#include "policy/sigstore.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace dg::policy::sigstore::detail {

using X509Ptr = std::shared_ptr<x509_st>;
using KeyPtr = std::shared_ptr<evp_pkey_st>;

// A DER certificate, or an error naming `what`.
Result<X509Ptr> parse_certificate(std::string_view der, const std::string& what);
// The first certificate of PEM text, as DER; empty when there is none.
std::string pem_certificate_der(std::string_view pem);
// A DER SubjectPublicKeyInfo (or, when `pkcs1`, a PKCS #1 RSAPublicKey), or an error naming
// `what`.
Result<KeyPtr> parse_public_key(std::string_view der, const std::string& what, bool pkcs1);
// The DER SubjectPublicKeyInfo of `key`.
std::string public_key_der(evp_pkey_st* key);
// The DER encoding of a certificate.
std::string certificate_der(x509_st* cert);
// True when `cert` is self-signed (a root).
bool self_signed(x509_st* cert);
// The certificate's notBefore and notAfter.
Seconds not_before(x509_st* cert);
Seconds not_after(x509_st* cert);

// The SAN and the Fulcio extensions of `cert`.
CertificateIdentity read_identity(x509_st* cert);

// Succeeds when `leaf` chains, at time `t`, to a certificate authority of `root` valid at `t`
// (the leaf and every certificate of the chain valid at `t`, the leaf for code signing).
Result<void> verify_chain(x509_st* leaf, const TrustedRoot& root, Seconds t);

// Succeeds when an SCT embedded in `leaf` verifies under a CT log of `root` valid at its
// timestamp; the issuer is found among the certificate authorities' certificates.
Result<void> verify_embedded_sct(x509_st* leaf, const TrustedRoot& root);

// The time of the RFC 3161 TimeStampResp `der` over `signature`, when it verifies under a
// timestamp authority of `root` valid at that time.
Result<Seconds>
verify_timestamp(std::string_view der, std::string_view signature, const TrustedRoot& root);

// Succeeds for an ECDSA P-256 or P-384, Ed25519 or RSA (2048 bits or more) key.
Result<void> check_signing_key(evp_pkey_st* key);
// The digest a signing key hashes with: SHA-256 for P-256 and RSA, SHA-384 for P-384, none
// (nullptr) for Ed25519.
const void* default_digest(evp_pkey_st* key);
// Verify `signature` over `message` under `key`, hashing with `md` (an EVP_MD*, nullptr for
// Ed25519). ECDSA signatures are ASN.1 DER.
bool verify_message(evp_pkey_st* key,
                    std::string_view message,
                    std::string_view signature,
                    const void* md);
// Verify `signature` over the precomputed `digest` made with `md`.
bool verify_digest(evp_pkey_st* key,
                   std::string_view digest,
                   std::string_view signature,
                   const void* md);
// The EVP_MD* for "sha256", "sha384", "sha512"; nullptr otherwise.
const void* digest_by_name(std::string_view name);
// The digest of `data` with `md`.
std::string digest_of(std::string_view data, const void* md);

} // namespace dg::policy::sigstore::detail
