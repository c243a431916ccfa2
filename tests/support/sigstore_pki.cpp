#include "tests/support/sigstore_pki.hpp"

#include "util/crypto.hpp"
#include "util/rfc6962.hpp"

#include <openssl/ct.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace dg::test {

namespace {

using json = nlohmann::json;
using Key = std::shared_ptr<EVP_PKEY>;
using Cert = std::shared_ptr<X509>;

constexpr std::int64_t k_t = SigstorePki::k_signing_time;

void need(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test PKI: ") + what);
  }
}

Key new_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  need(key != nullptr, "keygen");
  return Key(key, EVP_PKEY_free);
}

std::string spki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  need(len > 0, "i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  need(len > 0, "i2d_X509");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string sign(EVP_PKEY* key, std::string_view message) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  need(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1, "sign init");
  need(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                      message.size()) == 1,
       "sign size");
  std::string sig(len, '\0');
  need(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                      reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1,
       "sign");
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

std::string sign_ed25519(EVP_PKEY* key, std::string_view message) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 64;
  std::string sig(len, '\0');
  need(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
           EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1,
       "Ed25519 sign");
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  need(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void add_utf8_ext(X509* cert, const char* oid, const std::string& value) {
  ASN1_UTF8STRING* s = ASN1_UTF8STRING_new();
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_UTF8STRING(s, &der);
  ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(octets, der, len);
  ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, octets);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  ASN1_OBJECT_free(obj);
  ASN1_OCTET_STRING_free(octets);
  OPENSSL_free(der);
  ASN1_UTF8STRING_free(s);
}

// A certificate for `key` named `cn`, valid [from, to], issued by `issuer` (itself when null).
Cert make_cert(EVP_PKEY* key,
               const std::string& cn,
               std::int64_t from,
               std::int64_t to,
               X509* issuer,
               EVP_PKEY* issuer_key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial);
  ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(from));
  ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(to));
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("digestgate-test"), -1, -1, 0);
  if (!cn.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert, key);
  add_ext(cert, issuer != nullptr ? issuer : cert, NID_subject_key_identifier, "hash");
  (void)issuer_key;
  return Cert(cert, X509_free);
}

void sign_cert(X509* cert, EVP_PKEY* issuer_key) {
  need(X509_sign(cert, issuer_key, EVP_sha256()) > 0, "X509_sign");
}

struct Ca {
  Key root_key;
  Cert root;
  Key key;
  Cert intermediate;
};

Ca make_ca(const std::string& name, bool timestamping) {
  Ca ca;
  ca.root_key = new_key();
  ca.root = make_cert(ca.root_key.get(), name + " root", k_t - 86400 * 365, k_t + 86400 * 365,
                      nullptr, nullptr);
  add_ext(ca.root.get(), ca.root.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.root.get(), ca.root.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  sign_cert(ca.root.get(), ca.root_key.get());
  ca.key = new_key();
  ca.intermediate = make_cert(ca.key.get(), name + (timestamping ? " signer" : " intermediate"),
                              k_t - 86400 * 30, k_t + 86400 * 30, ca.root.get(), ca.root_key.get());
  if (timestamping) {
    add_ext(ca.intermediate.get(), ca.root.get(), NID_ext_key_usage, "critical,timeStamping");
    add_ext(ca.intermediate.get(), ca.root.get(), NID_key_usage, "critical,digitalSignature");
  } else {
    add_ext(ca.intermediate.get(), ca.root.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca.intermediate.get(), ca.root.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  add_ext(ca.intermediate.get(), ca.root.get(), NID_authority_key_identifier, "keyid:always");
  sign_cert(ca.intermediate.get(), ca.root_key.get());
  return ca;
}

std::string key_hash_prefix(EVP_PKEY* key) {
  const Hash h = sha256(spki(key));
  return std::string(h.begin(), h.begin() + 4);
}

std::string log_id(EVP_PKEY* key) {
  const Hash h = sha256(spki(key));
  return std::string(h.begin(), h.end());
}

std::string raw(const Hash& h) {
  return std::string(h.begin(), h.end());
}

json validity(std::int64_t from) {
  const std::time_t t = static_cast<std::time_t>(from);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return json{{"start", text}};
}

json log_json(EVP_PKEY* key, const std::string& url) {
  return json{{"baseUrl", url},
              {"hashAlgorithm", "SHA2_256"},
              {"publicKey",
               {{"rawBytes", base64_encode(spki(key))},
                {"keyDetails", "PKIX_ECDSA_P256_SHA_256"},
                {"validFor", validity(k_t - 86400 * 365)}}},
              {"logId", {{"keyId", base64_encode(log_id(key))}}}};
}

// The Rekor v2 log: its checkpoints are C2SP signed notes by an Ed25519 key, whose key id (the
// log's id) is the SHA-256 of the origin, a newline, the key type 0x01 and the raw key.
constexpr const char* k_v2_origin = "log2026.rekor.test";

std::string v2_log_id(EVP_PKEY* key) {
  unsigned char raw_key[32];
  std::size_t len = sizeof raw_key;
  need(EVP_PKEY_get_raw_public_key(key, raw_key, &len) == 1 && len == 32, "raw Ed25519 key");
  const Hash h = sha256(std::string(k_v2_origin) + "\n\x01" +
                        std::string(reinterpret_cast<char*>(raw_key), len));
  return std::string(h.begin(), h.end());
}

json v2_log_json(EVP_PKEY* key) {
  json log = log_json(key, std::string("https://") + k_v2_origin);
  log["publicKey"]["keyDetails"] = "PKIX_ED25519";
  log["logId"]["keyId"] = base64_encode(v2_log_id(key));
  return log;
}

json authority_json(const Ca& ca, const std::string& uri) {
  return json{
      {"subject", {{"organization", "digestgate-test"}, {"commonName", uri}}},
      {"uri", uri},
      {"certChain",
       {{"certificates", json::array({{{"rawBytes", base64_encode(der_of(ca.intermediate.get()))}},
                                      {{"rawBytes", base64_encode(der_of(ca.root.get()))}}})}}},
      {"validFor", validity(k_t - 86400 * 365)}};
}

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

int fixed_time(TS_RESP_CTX*, void*, long* sec, long* usec) {
  *sec = static_cast<long>(k_t + 5);
  *usec = 0;
  return 1;
}

std::string timestamp(const Ca& tsa, std::string_view signature) {
  const Hash imprint = sha256(signature);
  TS_REQ* req = TS_REQ_new();
  TS_REQ_set_version(req, 1);
  TS_MSG_IMPRINT* mi = TS_MSG_IMPRINT_new();
  X509_ALGOR* alg = X509_ALGOR_new();
  X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  TS_MSG_IMPRINT_set_algo(mi, alg);
  TS_MSG_IMPRINT_set_msg(mi, const_cast<unsigned char*>(imprint.data()), 32);
  TS_REQ_set_msg_imprint(req, mi);
  TS_REQ_set_cert_req(req, 1);
  BIO* req_bio = BIO_new(BIO_s_mem());
  i2d_TS_REQ_bio(req_bio, req);
  TS_RESP_CTX* ctx = TS_RESP_CTX_new();
  need(TS_RESP_CTX_set_signer_cert(ctx, tsa.intermediate.get()) == 1, "TSA signer cert");
  TS_RESP_CTX_set_signer_key(ctx, tsa.key.get());
  ASN1_OBJECT* policy = OBJ_txt2obj("1.3.6.1.4.1.57264.2", 1);
  TS_RESP_CTX_set_def_policy(ctx, policy);
  TS_RESP_CTX_add_md(ctx, EVP_sha256());
  TS_RESP_CTX_set_time_cb(ctx, fixed_time, nullptr);
  TS_RESP* resp = TS_RESP_create_response(ctx, req_bio);
  need(resp != nullptr, "TS_RESP_create_response");
  unsigned char* der = nullptr;
  const int len = i2d_TS_RESP(resp, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  TS_RESP_free(resp);
  TS_RESP_CTX_free(ctx);
  ASN1_OBJECT_free(policy);
  BIO_free(req_bio);
  TS_MSG_IMPRINT_free(mi);
  X509_ALGOR_free(alg);
  TS_REQ_free(req);
  return out;
}

} // namespace

struct SigstorePki::State {
  Ca fulcio = make_ca("fulcio", false);
  Ca other_fulcio = make_ca("other fulcio", false);
  Ca tsa = make_ca("tsa", true);
  Ca other_tsa = make_ca("other tsa", true);
  Key log = new_key();
  Key log_v2 = Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  Key ct = new_key();
  Key other = new_key();

  // A leaf for `key`, with an SCT from the CT log (or the other key) embedded.
  Cert leaf(EVP_PKEY* key, const Options& o) const {
    const Ca& ca = o.other_ca ? other_fulcio : fulcio;
    Cert cert = make_cert(key, "", k_t - 60, k_t + 540, ca.intermediate.get(), ca.key.get());
    X509* x = cert.get();
    add_ext(x, ca.intermediate.get(), NID_key_usage, "critical,digitalSignature");
    add_ext(x, ca.intermediate.get(), NID_ext_key_usage, "codeSigning");
    add_ext(x, ca.intermediate.get(), NID_authority_key_identifier, "keyid:always");
    add_ext(x, ca.intermediate.get(), NID_subject_alt_name, ("critical,URI:" + o.subject).c_str());
    add_utf8_ext(x, "1.3.6.1.4.1.57264.1.8", o.issuer);
    add_utf8_ext(x, "1.3.6.1.4.1.57264.1.12", "https://github.com/acme/app");
    sign_cert(x, ca.key.get());
    if (o.no_sct) {
      return cert;
    }
    // The SCT signs the TBS certificate as it is now, before the SCT list is added (RFC 6962 3.2).
    unsigned char* tbs_der = nullptr;
    const int tbs_len = i2d_re_X509_tbs(x, &tbs_der);
    const std::string tbs(reinterpret_cast<char*>(tbs_der), static_cast<std::size_t>(tbs_len));
    OPENSSL_free(tbs_der);
    unsigned char* issuer_spki = nullptr;
    const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca.intermediate.get()), &issuer_spki);
    const Hash issuer_hash =
        sha256(std::string_view(reinterpret_cast<char*>(issuer_spki), spki_len));
    OPENSSL_free(issuer_spki);
    const std::uint64_t when = static_cast<std::uint64_t>(k_t - 30) * 1000;
    std::string data;
    data.push_back(0);
    data.push_back(0);
    put_be(data, when, 8);
    put_be(data, 1, 2);
    data += raw(issuer_hash);
    put_be(data, tbs.size(), 3);
    data += tbs;
    put_be(data, 0, 2);
    const std::string sig = sign(o.bad_sct || o.unknown_ct_log ? other.get() : ct.get(), data);
    const std::string id = log_id(o.unknown_ct_log ? other.get() : ct.get());
    SCT* sct = SCT_new();
    SCT_set_version(sct, SCT_VERSION_V1);
    SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT);
    SCT_set1_log_id(sct, reinterpret_cast<const unsigned char*>(id.data()), id.size());
    SCT_set_timestamp(sct, when);
    SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256);
    SCT_set1_signature(sct, reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
    STACK_OF(SCT)* list = sk_SCT_new_null();
    sk_SCT_push(list, sct);
    need(X509_add1_ext_i2d(x, NID_ct_precert_scts, list, 0, X509V3_ADD_APPEND) == 1, "SCT ext");
    SCT_LIST_free(list);
    sign_cert(x, ca.key.get());
    return cert;
  }
};

SigstorePki::SigstorePki() : m_state(std::make_unique<State>()) {}
SigstorePki::~SigstorePki() = default;

json SigstorePki::trusted_root(bool tlogs, bool ctlogs, bool tsas) const {
  json root = {{"mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"},
               {"certificateAuthorities",
                json::array({authority_json(m_state->fulcio, "https://fulcio.test")})},
               {"tlogs", json::array()},
               {"ctlogs", json::array()},
               {"timestampAuthorities", json::array()}};
  if (tlogs) {
    root["tlogs"].push_back(log_json(m_state->log.get(), "https://rekor.test"));
    root["tlogs"].push_back(v2_log_json(m_state->log_v2.get()));
  }
  if (ctlogs) {
    root["ctlogs"].push_back(log_json(m_state->ct.get(), "https://ct.test"));
  }
  if (tsas) {
    root["timestampAuthorities"].push_back(authority_json(m_state->tsa, "https://tsa.test"));
  }
  return root;
}

json SigstorePki::bundle(std::string_view content, const Options& o) const {
  const State& s = *m_state;
  Key key = new_key();
  Cert leaf = s.leaf(key.get(), o);
  const std::string pem = pem_of(leaf.get());
  const std::string signed_bytes = o.dsse ? "DSSEv1 28 application/vnd.in-toto+json " +
                                                std::to_string(content.size()) + " " +
                                                std::string(content)
                                          : std::string(content);
  const std::string signature = sign(o.bad_signature ? s.other.get() : key.get(), signed_bytes);
  const std::string logged_signature =
      o.other_body ? sign(key.get(), std::string(signed_bytes) + "x") : signature;
  Cert logged_leaf = leaf;
  if (o.other_certificate_in_body) {
    Key other_key = new_key();
    logged_leaf = s.leaf(other_key.get(), o);
  }
  const std::string logged_pem = pem_of(logged_leaf.get());
  const Hash logged_digest =
      sha256(o.other_digest_in_body ? std::string(content) + "x" : std::string(content));
  const std::string logged_hash = to_hex(logged_digest);

  json body;
  if (o.rekor_v2) {
    const json signed_by = {
        {"content", base64_encode(logged_signature)},
        {"verifier",
         {{"x509Certificate", {{"rawBytes", base64_encode(der_of(logged_leaf.get()))}}},
          {"keyDetails", "PKIX_ECDSA_P256_SHA_256"}}}};
    const json hash = {{"algorithm", "SHA2_256"}, {"digest", base64_encode(raw(logged_digest))}};
    body = o.dsse
               ? json{{"apiVersion", "0.0.2"},
                      {"kind", "dsse"},
                      {"spec",
                       {{"dsseV002",
                         {{"payloadHash", hash}, {"signatures", json::array({signed_by})}}}}}}
               : json{{"apiVersion", "0.0.2"},
                      {"kind", "hashedrekord"},
                      {"spec", {{"hashedRekordV002", {{"data", hash}, {"signature", signed_by}}}}}};
  } else if (o.dsse) {
    body = {{"apiVersion", "0.0.1"},
            {"kind", "dsse"},
            {"spec",
             {{"payloadHash", {{"algorithm", "sha256"}, {"value", logged_hash}}},
              {"signatures", json::array({{{"signature", base64_encode(logged_signature)},
                                           {"verifier", base64_encode(logged_pem)}}})}}}};
  } else {
    body = {{"apiVersion", "0.0.1"},
            {"kind", "hashedrekord"},
            {"spec",
             {{"data", {{"hash", {{"algorithm", "sha256"}, {"value", logged_hash}}}}},
              {"signature",
               {{"content", base64_encode(logged_signature)},
                {"publicKey", {{"content", base64_encode(logged_pem)}}}}}}}};
  }
  const std::string body_text = body.dump();
  const std::int64_t integrated = o.expired_at_signing ? k_t + 3600 : k_t;
  const std::int64_t log_index = 1001;
  const std::string id = o.unknown_log ? log_id(s.other.get())
                         : o.rekor_v2  ? v2_log_id(s.log_v2.get())
                                       : log_id(s.log.get());

  // A tree of two leaves, the entry second.
  const Hash sibling = rfc6962::leaf_hash("another entry");
  Hash proof_hash = sibling;
  if (o.bad_proof) {
    proof_hash[0] ^= 1;
  }
  const Hash root = rfc6962::node_hash(sibling, rfc6962::leaf_hash(body_text));
  const std::string origin = o.rekor_v2 ? k_v2_origin : "rekor.test - 42";
  const std::string note =
      origin + "\n" + (o.other_tree_checkpoint ? "3\n" : "2\n") + base64_encode(raw(root)) + "\n";
  std::string note_sig;
  if (o.rekor_v2) {
    Key other_v2(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
    note_sig =
        id.substr(0, 4) + sign_ed25519(o.bad_checkpoint ? other_v2.get() : s.log_v2.get(), note);
  } else {
    EVP_PKEY* note_key = o.bad_checkpoint ? s.other.get() : s.log.get();
    note_sig = key_hash_prefix(s.log.get()) + sign(note_key, note);
  }
  const std::string checkpoint = note + "\n\xe2\x80\x94 " +
                                 (o.rekor_v2 ? std::string(k_v2_origin) : "rekor.test") + " " +
                                 base64_encode(note_sig) + "\n";

  const std::string set_text = "{\"body\":\"" + base64_encode(body_text) +
                               "\",\"integratedTime\":" + std::to_string(integrated) +
                               ",\"logID\":\"" + to_hex(id) +
                               "\",\"logIndex\":" + std::to_string(log_index) + "}";
  json entry = {{"logIndex", std::to_string(log_index)},
                {"logId", {{"keyId", base64_encode(id)}}},
                {"kindVersion", {{"kind", o.dsse ? "dsse" : "hashedrekord"}, {"version", "0.0.1"}}},
                {"integratedTime", std::to_string(integrated)},
                {"inclusionProof",
                 {{"logIndex", "1"},
                  {"rootHash", base64_encode(raw(root))},
                  {"treeSize", "2"},
                  {"hashes", json::array({base64_encode(raw(proof_hash))})},
                  {"checkpoint", {{"envelope", checkpoint}}}}},
                {"canonicalizedBody", base64_encode(body_text)}};
  if (o.rekor_v2) {
    // Rekor v2 entries have no integrated time and no signed entry timestamp.
    entry["kindVersion"]["version"] = "0.0.2";
    entry.erase("integratedTime");
  } else if (o.set) {
    entry["inclusionPromise"] = {
        {"signedEntryTimestamp",
         base64_encode(sign(o.bad_set ? s.other.get() : s.log.get(), set_text))}};
  }
  json material = {{"certificate", {{"rawBytes", base64_encode(der_of(leaf.get()))}}},
                   {"tlogEntries", json::array({entry})}};
  if (o.tsa || o.bad_tsa) {
    material["timestampVerificationData"] = {
        {"rfc3161Timestamps",
         json::array({{{"signedTimestamp",
                        base64_encode(timestamp(o.bad_tsa ? s.other_tsa : s.tsa, signature))}}})}};
  }
  json bundle = {{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                 {"verificationMaterial", material}};
  if (o.dsse) {
    bundle["dsseEnvelope"] = {
        {"payload", base64_encode(content)},
        {"payloadType", "application/vnd.in-toto+json"},
        {"signatures", json::array({{{"sig", base64_encode(signature)}, {"keyid", ""}}})}};
  } else {
    bundle["messageSignature"] = {
        {"messageDigest",
         {{"algorithm", "SHA2_256"}, {"digest", base64_encode(raw(sha256(content)))}}},
        {"signature", base64_encode(signature)}};
  }
  return bundle;
}

std::string SigstorePki::statement(std::string_view digest,
                                   std::string_view builder_id,
                                   std::string_view repository,
                                   std::string_view commit) {
  const std::string hex(digest.substr(digest.find(':') + 1));
  json st = {{"_type", "https://in-toto.io/Statement/v1"},
             {"subject", json::array({{{"name", "image"}, {"digest", {{"sha256", hex}}}}})}};
  if (builder_id.empty()) {
    st["predicateType"] = "https://sigstore.dev/cosign/sign/v1";
    st["predicate"] = json::object();
  } else {
    st["predicateType"] = "https://slsa.dev/provenance/v1";
    st["predicate"] = {
        {"buildDefinition",
         {{"buildType", "https://actions.github.io/buildtypes/workflow/v1"},
          {"externalParameters",
           {{"workflow",
             {{"ref", "refs/tags/v1.4.2"},
              {"repository", repository},
              {"path", ".github/workflows/release.yml"}}}}},
          {"resolvedDependencies",
           json::array({{{"uri", "git+" + std::string(repository) + "@refs/tags/v1.4.2"},
                         {"digest", {{"gitCommit", commit}}}}})}}},
        {"runDetails", {{"builder", {{"id", builder_id}}}}}};
  }
  return st.dump();
}

std::string SigstorePki::cosign_payload(std::string_view repository, std::string_view digest) {
  return json{{"critical",
               {{"identity", {{"docker-reference", repository}}},
                {"image", {{"docker-manifest-digest", digest}}},
                {"type", "cosign container image signature"}}},
              {"optional", nullptr}}
      .dump();
}

std::vector<BrokenBundle> broken_bundles() {
  auto with = [](auto set) {
    SigstorePki::Options o;
    set(o);
    return o;
  };
  return {
      {"leaf from another CA", with([](auto& o) { o.other_ca = true; }), "certificate",
       "does not chain to a certificate authority of the trust root"},
      {"integrated after the leaf expired", with([](auto& o) { o.expired_at_signing = true; }),
       "certificate", "outside the signing certificate's validity period"},
      {"no SET and no timestamp", with([](auto& o) { o.set = false; }), "signing-time",
       "no verified signing time: the bundle has no signed entry timestamp and no RFC 3161"},
      {"SET by another key", with([](auto& o) { o.bad_set = true; }), "signing-time",
       "signed entry timestamp does not verify under its log's key"},
      {"timestamp from another TSA", with([](auto& o) { o.bad_tsa = true; }), "signing-time",
       "does not verify under a timestamp authority of the trust root"},
      {"bad inclusion proof, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.bad_proof = true;
       }),
       "transparency-log", "inclusion proof does not lead to its root hash"},
      {"checkpoint by another key, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.bad_checkpoint = true;
       }),
       "transparency-log", "checkpoint is not signed by the entry's transparency log"},
      {"unknown log, dated by a TSA", with([](auto& o) {
         o.tsa = true;
         o.unknown_log = true;
       }),
       "transparency-log", "it is from no transparency log of the trust root"},
      {"entry logs another signature, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.other_body = true;
       }),
       "log-entry-body", "the log entry holds another signature than the bundle's"},
      {"SCT by another key", with([](auto& o) { o.bad_sct = true; }), "sct",
       "the embedded SCT does not verify under its CT log"},
      {"signature by another key", with([](auto& o) { o.bad_signature = true; }), "signature",
       "the message signature does not verify over the artifact"},
      {"entry logs another certificate, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.other_certificate_in_body = true;
       }),
       "log-entry-body", "the log entry holds another certificate than the bundle's"},
      {"entry logs another artifact digest, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.other_digest_in_body = true;
       }),
       "log-entry-body", "the log entry's artifact digest is not the bundle's message digest"},
      {"entry logs another certificate, with a SET",
       with([](auto& o) { o.other_certificate_in_body = true; }), "signing-time",
       "no verified signing time: log entry 0: the log entry holds another certificate"},
      {"checkpoint of another tree, dated by a TSA", with([](auto& o) {
         o.set = false;
         o.tsa = true;
         o.other_tree_checkpoint = true;
       }),
       "transparency-log", "the signed checkpoint is for another tree than the inclusion proof's"},
      {"no embedded SCT", with([](auto& o) { o.no_sct = true; }), "sct",
       "the signing certificate has no embedded SCT"},
      {"SCT from an unknown CT log", with([](auto& o) { o.unknown_ct_log = true; }), "sct",
       "the embedded SCT is from no CT log of the trust root"},
  };
}

} // namespace dg::test
