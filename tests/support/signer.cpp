#include "tests/support/signer.hpp"

#include "tests/support/process.hpp"
#include "util/files.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <stdexcept>
#include <utility>

namespace dg::test {

namespace {

EVP_PKEY* pkey(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

} // namespace

KeySigner KeySigner::ed25519() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) {
    throw std::runtime_error("cannot generate an Ed25519 key");
  }
  return KeySigner(key, true);
}

KeySigner KeySigner::ed25519(std::string_view private_pem) {
  BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key =
      bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw std::runtime_error("not an Ed25519 private key in PEM");
  }
  return KeySigner(key, true);
}

KeySigner KeySigner::ecdsa_p256() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    throw std::runtime_error("cannot generate an ECDSA P-256 key");
  }
  return KeySigner(key, false);
}

KeySigner::KeySigner(KeySigner&& other) noexcept
    : m_pkey(std::exchange(other.m_pkey, nullptr)), m_ed25519(other.m_ed25519) {}

KeySigner& KeySigner::operator=(KeySigner&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey(m_pkey));
    m_pkey = std::exchange(other.m_pkey, nullptr);
    m_ed25519 = other.m_ed25519;
  }
  return *this;
}

KeySigner::~KeySigner() {
  EVP_PKEY_free(pkey(m_pkey));
}

std::string KeySigner::public_key_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey(m_pkey));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string KeySigner::sign_raw(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md = m_ed25519 ? nullptr : EVP_sha256();
  std::size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, md, nullptr, pkey(m_pkey)) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, bytes(data), data.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(data),
                       data.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty()) {
    throw std::runtime_error("signing failed");
  }
  return sig;
}

std::string KeySigner::sign(std::string_view data) const {
  return base64_encode(sign_raw(data));
}

bool KeySigner::verify(std::string_view data, std::string_view raw_signature) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md = m_ed25519 ? nullptr : EVP_sha256();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey(m_pkey)) == 1 &&
            EVP_DigestVerify(ctx, bytes(raw_signature), raw_signature.size(), bytes(data),
                             data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

OpensslSigner::OpensslSigner() {
  std::string key = m_dir.file("key.pem");
  std::string pub = m_dir.file("key.pub");
  auto gen =
      run_process({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key});
  auto out = run_process({"openssl", "ec", "-in", key, "-pubout", "-out", pub});
  if (gen.exit_code != 0 || out.exit_code != 0) {
    throw std::runtime_error("openssl could not make a key: " + gen.err + out.err);
  }
  m_public_pem = read_file(pub).value();
}

std::string OpensslSigner::sign(std::string_view data) const {
  static std::atomic<int> counter = 0;
  std::string in = m_dir.file("data" + std::to_string(++counter));
  std::string sig = in + ".sig";
  if (!write_file_atomic(in, std::string(data))) {
    throw std::runtime_error("cannot write " + in);
  }
  auto r =
      run_process({"openssl", "dgst", "-sha256", "-sign", m_dir.file("key.pem"), "-out", sig, in});
  if (r.exit_code != 0) {
    throw std::runtime_error("openssl dgst failed: " + r.err);
  }
  return base64_encode(read_file(sig).value());
}

} // namespace dg::test
