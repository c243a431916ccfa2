// Signers of test evidence: one interface, two implementations.
//
// KeySigner signs in-process with OpenSSL (Ed25519 through util/crypto, or ECDSA P-256 as cosign
// makes it): fast, for unit tests, benchmarks and fuzz fixtures. OpensslSigner makes its key and
// its signatures with the `openssl` command line: a signer independent of the code under test, for
// the end-to-end tests.
#pragma once

#include "tests/support/tempdir.hpp"
#include "util/crypto.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace dg::test {

class Signer {
public:
  virtual ~Signer() = default;
  // The PEM SubjectPublicKeyInfo a policy's trusted_keys holds.
  virtual std::string public_key_pem() const = 0;
  // Base64 of the signature over `data` (ECDSA: ASN.1 DER over SHA-256, as cosign writes it;
  // Ed25519: pure).
  virtual std::string sign(std::string_view data) const = 0;

protected:
  Signer() = default;
  Signer(const Signer&) = default;
  Signer& operator=(const Signer&) = default;
};

// An in-process key. Move-only.
class KeySigner final : public Signer {
public:
  // A fresh Ed25519 key.
  static KeySigner ed25519();
  // An Ed25519 key from its PKCS#8 PEM; throws std::runtime_error when it does not parse.
  static KeySigner ed25519(std::string_view private_pem);
  // A fresh ECDSA P-256 key.
  static KeySigner ecdsa_p256();

  KeySigner(KeySigner&&) noexcept;
  KeySigner& operator=(KeySigner&&) noexcept;
  ~KeySigner() override;

  std::string public_key_pem() const override;
  std::string sign(std::string_view data) const override;
  // The raw signature bytes (not base64).
  std::string sign_raw(std::string_view data) const;
  // A bare OpenSSL verification of a signature made by this key (EVP_DigestVerify with the key
  // already loaded, nothing else): the benchmarks' baseline.
  bool verify(std::string_view data, std::string_view raw_signature) const;

private:
  explicit KeySigner(void* pkey, bool ed25519) : m_pkey(pkey), m_ed25519(ed25519) {}
  void* m_pkey = nullptr; // EVP_PKEY
  bool m_ed25519 = false;
};

// An ECDSA P-256 key made with `openssl ecparam`; signatures made with `openssl dgst`.
class OpensslSigner final : public Signer {
public:
  OpensslSigner();
  std::string public_key_pem() const override { return m_public_pem; }
  std::string sign(std::string_view data) const override;

private:
  TempDir m_dir;
  std::string m_public_pem;
};

// A signer that answers one fixed signature, whatever it is asked to sign: for filling ledgers
// with records whose signatures are never verified.
class FixedSigner final : public Signer {
public:
  FixedSigner(std::string public_key_pem, std::string signature)
      : m_pem(std::move(public_key_pem)), m_signature(std::move(signature)) {}
  std::string public_key_pem() const override { return m_pem; }
  std::string sign(std::string_view) const override { return m_signature; }

private:
  std::string m_pem;
  std::string m_signature;
};

} // namespace dg::test
