// Certificates, chains, Fulcio extensions, SCTs (RFC 6962 3.2), RFC 3161 timestamps and
// signatures for the Sigstore verifier, all through OpenSSL 3.
#include "policy/sigstore_openssl.hpp"

#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

namespace dg::policy::sigstore::detail {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using TsRespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP, TS_RESP_free>>;
using TsCtxPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX, TS_VERIFY_CTX_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
struct SctStackFree {
  void operator()(STACK_OF(SCT) * s) const { SCT_LIST_free(s); }
};
using SctStackPtr = std::unique_ptr<STACK_OF(SCT), SctStackFree>;

Error fail(std::string message) {
  return make_error(Errc::crypto, std::move(message));
}

std::string format_time(Seconds t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::optional<Seconds> seconds_of(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::nullopt;
  }
  return static_cast<Seconds>(timegm(&tm));
}

std::string string_of(const ASN1_STRING* s) {
  if (s == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// The value of the extension `oid` of `cert`: raw (`der` false, the Fulcio v1 extensions) or a DER
// UTF8String (the v2 extensions); empty when absent or malformed.
std::string extension_value(X509* cert, const char* oid, bool der) {
  ObjPtr obj(OBJ_txt2obj(oid, 1));
  if (!obj) {
    return {};
  }
  const int index = X509_get_ext_by_OBJ(cert, obj.get(), -1);
  if (index < 0) {
    return {};
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
  const std::string raw = string_of(data);
  if (!der) {
    return raw;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ASN1_UTF8STRING* text = d2i_ASN1_UTF8STRING(nullptr, &p, static_cast<long>(raw.size()));
  if (text == nullptr) {
    return {};
  }
  std::string out = string_of(text);
  ASN1_UTF8STRING_free(text);
  return out;
}

// The certificate among the authorities' chains that issued `cert`, or nullptr.
X509* find_issuer(X509* cert, const std::vector<Authority>& authorities) {
  for (const Authority& authority : authorities) {
    for (const auto& candidate : authority.chain) {
      if (X509_check_issued(candidate.get(), cert) == X509_V_OK) {
        return candidate.get();
      }
    }
  }
  return nullptr;
}

std::string spki_der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The precertificate TBSCertificate of RFC 6962 3.2: the leaf's TBS without its SCT list.
std::string precert_tbs(X509* leaf) {
  std::unique_ptr<X509, Deleter<X509, X509_free>> copy(X509_dup(leaf));
  if (!copy) {
    return {};
  }
  const int index = X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1);
  if (index >= 0) {
    X509_EXTENSION_free(X509_delete_ext(copy.get(), index));
  }
  unsigned char* der = nullptr;
  const int len = i2d_re_X509_tbs(copy.get(), &der);
  if (len <= 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// The signed data of an SCT over a precertificate entry (RFC 6962 3.2).
std::string
sct_signed_data(const SCT* sct, const std::string& issuer_key_hash, const std::string& tbs) {
  std::string out;
  out.push_back(0); // v1
  out.push_back(0); // certificate_timestamp
  put_be(out, SCT_get_timestamp(sct), 8);
  put_be(out, 1, 2); // precert_entry
  out += issuer_key_hash;
  put_be(out, tbs.size(), 3);
  out += tbs;
  unsigned char* ext = nullptr;
  const std::size_t ext_len = SCT_get0_extensions(sct, &ext);
  put_be(out, ext_len, 2);
  out.append(reinterpret_cast<const char*>(ext), ext_len);
  return out;
}

} // namespace

Result<X509Ptr> parse_certificate(std::string_view der, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    X509_free(cert);
    return make_error(Errc::invalid_argument, what + " is not a DER X.509 certificate");
  }
  return X509Ptr(cert, X509_free);
}

std::string pem_certificate_der(std::string_view pem) {
  // The block's bytes as they are, not parsed as a certificate: a caller compares them with a
  // certificate it parsed already, and parsing one again (its key through OpenSSL 3's decoders)
  // costs more than the rest of a log entry's checks.
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  for (int block = 0; bio && block < 16; ++block) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();
      return {};
    }
    const bool certificate =
        std::strcmp(name, PEM_STRING_X509) == 0 || std::strcmp(name, PEM_STRING_X509_OLD) == 0;
    std::string der = certificate && len > 0 ? std::string(reinterpret_cast<char*>(data),
                                                           static_cast<std::size_t>(len))
                                             : std::string();
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (certificate) {
      return der;
    }
  }
  return {};
}

Result<KeyPtr> parse_public_key(std::string_view der, const std::string& what, bool pkcs1) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* key = pkcs1 ? d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()))
                        : d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (key == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    EVP_PKEY_free(key);
    return make_error(Errc::invalid_argument, what + " is not a DER public key");
  }
  return KeyPtr(key, EVP_PKEY_free);
}

std::string public_key_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string certificate_der(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool self_signed(X509* cert) {
  return X509_check_issued(cert, cert) == X509_V_OK;
}

Seconds not_before(X509* cert) {
  return seconds_of(X509_get0_notBefore(cert)).value_or(0);
}

Seconds not_after(X509* cert) {
  return seconds_of(X509_get0_notAfter(cert)).value_or(0);
}

// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: shortest form, no
// surrogates, at most U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t n = 0;
  std::uint32_t cp = 0;
  std::uint32_t min = 0;
  if ((lead & 0xE0) == 0xC0) {
    n = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD; `clean` tells
// whether there was none. A certificate's strings are bytes: they reach JSON answers, ledger
// entries and logs only as valid UTF-8.
std::string utf8_or_replaced(const std::string& text, bool& clean) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      clean = false;
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

CertificateIdentity read_identity(X509* cert) {
  CertificateIdentity id;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && id.subject.empty(); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI) {
      id.subject = string_of(name->d.uniformResourceIdentifier);
    } else if (name->type == GEN_EMAIL) {
      id.subject = string_of(name->d.rfc822Name);
    }
  }
  GENERAL_NAMES_free(names);
  id.issuer = extension_value(cert, "1.3.6.1.4.1.57264.1.8", true);
  if (id.issuer.empty()) {
    id.issuer = extension_value(cert, "1.3.6.1.4.1.57264.1.1", false);
  }
  id.github_workflow_trigger = extension_value(cert, "1.3.6.1.4.1.57264.1.2", false);
  id.github_workflow_sha = extension_value(cert, "1.3.6.1.4.1.57264.1.3", false);
  id.github_workflow_name = extension_value(cert, "1.3.6.1.4.1.57264.1.4", false);
  id.github_workflow_repository = extension_value(cert, "1.3.6.1.4.1.57264.1.5", false);
  id.github_workflow_ref = extension_value(cert, "1.3.6.1.4.1.57264.1.6", false);
  id.build_signer_uri = extension_value(cert, "1.3.6.1.4.1.57264.1.9", true);
  id.source_repository_uri = extension_value(cert, "1.3.6.1.4.1.57264.1.12", true);
  id.source_repository_digest = extension_value(cert, "1.3.6.1.4.1.57264.1.13", true);
  id.source_repository_ref = extension_value(cert, "1.3.6.1.4.1.57264.1.14", true);
  id.run_invocation_uri = extension_value(cert, "1.3.6.1.4.1.57264.1.21", true);
  bool clean = true;
  id.subject = utf8_or_replaced(id.subject, clean);
  id.issuer = utf8_or_replaced(id.issuer, clean);
  id.malformed = !clean;
  for (std::string* field :
       {&id.github_workflow_trigger, &id.github_workflow_sha, &id.github_workflow_name,
        &id.github_workflow_repository, &id.github_workflow_ref, &id.build_signer_uri,
        &id.source_repository_uri, &id.source_repository_digest, &id.source_repository_ref,
        &id.run_invocation_uri}) {
    bool ignored = true;
    *field = utf8_or_replaced(*field, ignored);
  }
  return id;
}

Result<void> verify_chain(X509* leaf, const TrustedRoot& root, Seconds t) {
  const std::uint32_t usage = X509_get_extended_key_usage(leaf);
  if (usage == UINT32_MAX || (usage & XKU_CODE_SIGN) == 0) {
    return fail("the signing certificate is not for code signing (extended key usage)");
  }
  std::string last = "no certificate authority of the trust root is valid at " + format_time(t);
  for (const Authority& ca : root.certificate_authorities) {
    if (!ca.valid.contains(t) || ca.chain.empty()) {
      continue;
    }
    StorePtr store(X509_STORE_new());
    X509StackPtr untrusted(sk_X509_new_null());
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!store || !untrusted || !ctx ||
        X509_STORE_add_cert(store.get(), ca.chain.back().get()) != 1) {
      return fail("out of memory verifying the certificate chain");
    }
    for (std::size_t i = 0; i + 1 < ca.chain.size(); ++i) {
      sk_X509_push(untrusted.get(), ca.chain[i].get());
    }
    if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1) {
      return fail("out of memory verifying the certificate chain");
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, static_cast<std::time_t>(t));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_verify_cert(ctx.get()) == 1) {
      return {};
    }
    last = std::string("the signing certificate does not chain to a certificate authority of "
                       "the trust root at ") +
           format_time(t) + ": " +
           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  return fail(last);
}

Result<void> verify_embedded_sct(X509* leaf, const TrustedRoot& root) {
  SctStackPtr scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf, NID_ct_precert_scts, nullptr, nullptr)));
  if (!scts || sk_SCT_num(scts.get()) == 0) {
    return fail("the signing certificate has no embedded SCT");
  }
  X509* issuer = find_issuer(leaf, root.certificate_authorities);
  if (issuer == nullptr) {
    return fail("the issuer of the signing certificate is not in the trust root, so its SCT "
                "cannot be checked");
  }
  const Hash key_hash = sha256(spki_der_of(issuer));
  const std::string issuer_key_hash(key_hash.begin(), key_hash.end());
  const std::string tbs = precert_tbs(leaf);
  bool known_log = false;
  bool log_valid = false;
  Seconds expired_at = 0;
  for (int i = 0; i < sk_SCT_num(scts.get()); ++i) {
    const SCT* sct = sk_SCT_value(scts.get(), i);
    unsigned char* id = nullptr;
    const std::size_t id_len = SCT_get0_log_id(sct, &id);
    const Seconds when = static_cast<Seconds>(SCT_get_timestamp(sct) / 1000);
    for (const LogKey& log : root.ctlogs) {
      if (log.log_id.size() != id_len || std::memcmp(log.log_id.data(), id, id_len) != 0) {
        continue;
      }
      known_log = true;
      if (SCT_get_version(sct) != SCT_VERSION_V1) {
        continue;
      }
      if (!log.valid.contains(when)) {
        expired_at = when;
        continue;
      }
      log_valid = true;
      unsigned char* sig = nullptr;
      const std::size_t sig_len = SCT_get0_signature(sct, &sig);
      const std::string data = sct_signed_data(sct, issuer_key_hash, tbs);
      if (verify_message(log.key.get(), data,
                         std::string_view(reinterpret_cast<const char*>(sig), sig_len),
                         EVP_sha256())) {
        return {};
      }
    }
  }
  if (!known_log) {
    return fail("the embedded SCT is from no CT log of the trust root");
  }
  if (!log_valid) {
    return fail("the embedded SCT's CT log key was not valid at the SCT's time, " +
                format_time(expired_at));
  }
  return fail("the embedded SCT does not verify under its CT log of the trust root");
}

Result<Seconds>
verify_timestamp(std::string_view der, std::string_view signature, const TrustedRoot& root) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) {
    return fail("an RFC 3161 timestamp is not a DER TimeStampResp");
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp.get());
  const auto when = info != nullptr ? seconds_of(TS_TST_INFO_get_time(info)) : std::nullopt;
  if (!when) {
    return fail("an RFC 3161 timestamp carries no time");
  }
  std::string last = "no timestamp authority of the trust root is valid at " + format_time(*when);
  for (const Authority& tsa : root.timestamp_authorities) {
    if (!tsa.valid.contains(*when) || tsa.chain.empty()) {
      continue;
    }
    TsCtxPtr ctx(TS_VERIFY_CTX_new());
    X509_STORE* store = X509_STORE_new();
    STACK_OF(X509)* certs = sk_X509_new_null();
    BIO* data = BIO_new_mem_buf(signature.data(), static_cast<int>(signature.size()));
    if (!ctx || store == nullptr || certs == nullptr || data == nullptr) {
      X509_STORE_free(store);
      sk_X509_free(certs);
      BIO_free(data);
      return fail("out of memory verifying a timestamp");
    }
    // The context owns the store, the certificates and the data from here on.
    TS_VERIFY_CTX_set_store(ctx.get(), store);
    TS_VERIFY_CTX_set_certs(ctx.get(), certs);
    TS_VERIFY_CTX_set_data(ctx.get(), data);
    X509_STORE_add_cert(store, tsa.chain.back().get());
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), static_cast<std::time_t>(*when));
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    for (const auto& cert : tsa.chain) {
      X509_up_ref(cert.get());
      sk_X509_push(certs, cert.get());
    }
    TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
    if (TS_RESP_verify_response(ctx.get(), resp.get()) == 1) {
      return *when;
    }
    last = "an RFC 3161 timestamp does not verify under a timestamp authority of the trust root "
           "(over this signature, at " +
           format_time(*when) + ")";
  }
  return fail(last);
}

Result<void> check_signing_key(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_ED25519:
    return {};
  case EVP_PKEY_RSA:
    if (EVP_PKEY_get_bits(key) >= 2048) {
      return {};
    }
    return fail("the signing key is RSA of " + std::to_string(EVP_PKEY_get_bits(key)) +
                " bits; at least 2048 are required");
  case EVP_PKEY_EC: {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "secp384r1") == 0)) {
      return {};
    }
    return fail(std::string("the signing key is ECDSA on curve ") + group +
                "; only P-256 and P-384 are accepted");
  }
  default:
    return fail("the signing key is neither ECDSA P-256/P-384, Ed25519 nor RSA");
  }
}

const void* default_digest(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    return nullptr;
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) == 384) {
    return EVP_sha384();
  }
  return EVP_sha256();
}

bool verify_message(EVP_PKEY* key,
                    std::string_view message,
                    std::string_view signature,
                    const void* md) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || key == nullptr) {
    return false;
  }
  const EVP_MD* digest =
      EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? nullptr : static_cast<const EVP_MD*>(md);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

bool verify_digest(EVP_PKEY* key,
                   std::string_view digest,
                   std::string_view signature,
                   const void* md) {
  if (key == nullptr || md == nullptr || EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
    return false;
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  return ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), static_cast<const EVP_MD*>(md)) == 1 &&
         EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), reinterpret_cast<const unsigned char*>(digest.data()),
                         digest.size()) == 1;
}

const void* digest_by_name(std::string_view name) {
  if (name == "sha256") {
    return EVP_sha256();
  }
  if (name == "sha384") {
    return EVP_sha384();
  }
  if (name == "sha512") {
    return EVP_sha512();
  }
  return nullptr;
}

std::string digest_of(std::string_view data, const void* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, static_cast<const EVP_MD*>(md), nullptr) !=
      1) {
    return {};
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

} // namespace dg::policy::sigstore::detail
