// Hashing, encodings and signatures on top of OpenSSL 3.
//
// All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dg {

using Bytes = std::vector<std::uint8_t>;
using Hash = std::array<std::uint8_t, 32>;

// SHA-256 of `data`.
Hash sha256(std::string_view data);
Hash sha256(const std::uint8_t* data, std::size_t size);

// Incremental SHA-256.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Hash finish();

private:
  void* m_ctx;
};

// Lowercase hex of `size` bytes at `data`.
std::string to_hex(const std::uint8_t* data, std::size_t size);
inline std::string to_hex(const Hash& h) {
  return to_hex(h.data(), h.size());
}
inline std::string to_hex(const Bytes& b) {
  return to_hex(b.data(), b.size());
}
inline std::string to_hex(std::string_view s) {
  return to_hex(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
// The value of one hex digit (either case), or -1.
int hex_value(char c);
// Decode hex (either case). Fails on odd length or a non-hex character.
Result<Bytes> from_hex(std::string_view hex);
// Decode exactly 32 bytes of hex.
Result<Hash> hash_from_hex(std::string_view hex);
// True if `s` is exactly `n` lowercase hex characters.
bool is_lower_hex(std::string_view s, std::size_t n);

// Standard base64 with padding.
std::string base64_encode(std::string_view data);
inline std::string base64_encode(const Bytes& b) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}
// Accepts the standard and the URL-safe alphabets, with or without padding.
Result<std::string> base64_decode(std::string_view text);

// Constant-time equality; the time depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from the OpenSSL CSPRNG.
Bytes random_bytes(std::size_t n);

// An Ed25519 private key. Move-only.
class Ed25519PrivateKey {
public:
  Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&& other) noexcept;
  ~Ed25519PrivateKey();

  static Result<Ed25519PrivateKey> generate();
  static Result<Ed25519PrivateKey> from_pem(std::string_view pem);

  std::string to_pem() const;
  // The 32-byte raw public key.
  Bytes public_key() const;
  std::string public_key_pem() const;
  Bytes sign(std::string_view message) const;

private:
  explicit Ed25519PrivateKey(void* pkey) : m_pkey(pkey) {}
  void* m_pkey = nullptr;
};

// Verify an Ed25519 signature with a raw 32-byte public key.
bool ed25519_verify(const Bytes& public_key, std::string_view message, std::string_view signature);

// A PEM public key (ECDSA P-256 or Ed25519) to verify signatures with. Move-only.
class PublicKey {
public:
  PublicKey(PublicKey&& other) noexcept;
  PublicKey& operator=(PublicKey&& other) noexcept;
  ~PublicKey();

  // Fails unless the PEM holds an ECDSA P-256 or Ed25519 public key.
  static Result<PublicKey> from_pem(std::string_view pem);

  // "ecdsa-p256" or "ed25519".
  const char* algorithm() const;
  // SHA-256 of the DER SubjectPublicKeyInfo, hex.
  std::string fingerprint() const;
  // ECDSA: SHA-256 digest, signature in ASN.1 DER or raw 64-byte r||s. Ed25519: pure.
  bool verify(std::string_view message, std::string_view signature) const;

private:
  explicit PublicKey(void* pkey, bool ed) : m_pkey(pkey), m_ed25519(ed) {}
  void* m_pkey = nullptr;
  bool m_ed25519 = false;
};

} // namespace dg
