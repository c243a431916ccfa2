// Parsing of Sigstore bundles and trust roots in the protobuf-specs JSON mapping
// (github.com/sigstore/protobuf-specs: dev.sigstore.bundle.v1.Bundle and
// dev.sigstore.trustroot.v1.TrustedRoot). Field names are the camelCase JSON names; 64-bit
// integers may be strings or numbers; bytes are base64.
#include "policy/sigstore.hpp"
#include "policy/sigstore_openssl.hpp"
#include "util/time.hpp"

#include <algorithm>
#include <initializer_list>

namespace dg::policy::sigstore {

namespace {

using json = nlohmann::json;

constexpr const char* k_bundle_media_prefix = "application/vnd.dev.sigstore.bundle";

Error bad(const std::string& what, const std::string& problem) {
  return make_error(Errc::invalid_argument, what + " " + problem);
}

// Fails when `value` is not an object or has a member outside `known`.
Result<void>
only_fields(const json& value, const std::string& what, std::initializer_list<const char*> known) {
  if (!value.is_object()) {
    return bad(what, "is not an object");
  }
  for (const auto& item : value.items()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return item.key() == k; })) {
      return bad(what.empty() ? item.key() : what + "." + item.key(),
                 "is not a field this verifier understands");
    }
  }
  return {};
}

std::string path(const std::string& what, const char* field) {
  return what.empty() ? std::string(field) : what + "." + field;
}

// The member `field`, or nullptr when absent or null (protobuf JSON writes defaults as null).
const json* find(const json& object, const char* field) {
  auto it = object.find(field);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> text(const json& object, const std::string& what, const char* field) {
  const json* v = find(object, field);
  if (v == nullptr || !v->is_string()) {
    return bad(path(what, field), "is missing or not a string");
  }
  return v->get<std::string>();
}

Result<std::string>
bytes(const json& object, const std::string& what, const char* field, bool allow_empty = false) {
  auto encoded = text(object, what, field);
  if (!encoded) {
    return encoded.error();
  }
  auto decoded = base64_decode(*encoded);
  if (!decoded) {
    return bad(path(what, field), "is not base64");
  }
  if (decoded->empty() && !allow_empty) {
    return bad(path(what, field), "is empty");
  }
  return decoded;
}

// A protobuf JSON int64: a number or a decimal string, not negative.
Result<std::int64_t> count(const json& object, const std::string& what, const char* field) {
  const json* v = find(object, field);
  const std::string name = path(what, field);
  if (v == nullptr) {
    return bad(name, "is missing");
  }
  if (v->is_number_integer()) {
    if (v->get<std::int64_t>() < 0) {
      return bad(name, "is negative");
    }
    return v->get<std::int64_t>();
  }
  if (!v->is_string()) {
    return bad(name, "is not an integer");
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (!s.empty() && s[0] == '-') {
    return bad(name, "is negative");
  }
  if (s.empty() || s.size() > 18 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad(name, "is not an integer");
  }
  return static_cast<std::int64_t>(std::stoll(s));
}

Result<Hash> hash32(const std::string& raw, const std::string& what) {
  if (raw.size() != 32) {
    return bad(what, "is not 32 bytes");
  }
  Hash h{};
  std::copy(raw.begin(), raw.end(), h.begin());
  return h;
}

// --- bundle -----------------------------------------------------------------------------------

Result<InclusionProof> parse_proof(const json& v, const std::string& what) {
  DG_TRY(only_fields(v, what, {"logIndex", "rootHash", "treeSize", "hashes", "checkpoint"}));
  InclusionProof proof;
  auto index = count(v, what, "logIndex");
  auto size = count(v, what, "treeSize");
  auto root = bytes(v, what, "rootHash");
  if (!index || !size || !root) {
    return !index ? index.error() : !size ? size.error() : root.error();
  }
  proof.log_index = *index;
  proof.tree_size = *size;
  auto root_hash = hash32(*root, path(what, "rootHash"));
  if (!root_hash) {
    return root_hash.error();
  }
  proof.root_hash = *root_hash;
  const json* hashes = find(v, "hashes");
  if (hashes != nullptr) {
    if (!hashes->is_array() || hashes->size() > 64) {
      return bad(path(what, "hashes"), "is not a list of at most 64 hashes");
    }
    for (std::size_t i = 0; i < hashes->size(); ++i) {
      const std::string name = path(what, "hashes") + "[" + std::to_string(i) + "]";
      const json& h = (*hashes)[i];
      auto raw = h.is_string() ? base64_decode(h.get<std::string>())
                               : Result<std::string>(bad(name, "is not a string"));
      if (!raw) {
        return bad(name, "is not base64");
      }
      auto node = hash32(*raw, name);
      if (!node) {
        return node.error();
      }
      proof.hashes.push_back(*node);
    }
  }
  const json* checkpoint = find(v, "checkpoint");
  if (checkpoint == nullptr) {
    return bad(path(what, "checkpoint"), "is missing");
  }
  DG_TRY(only_fields(*checkpoint, path(what, "checkpoint"), {"envelope"}));
  auto envelope = text(*checkpoint, path(what, "checkpoint"), "envelope");
  if (!envelope || envelope->empty()) {
    return bad(path(what, "checkpoint.envelope"), "is missing or empty");
  }
  proof.checkpoint = *envelope;
  return proof;
}

Result<TlogEntry> parse_entry(const json& v, const std::string& what) {
  DG_TRY(only_fields(v, what,
                     {"logIndex", "logId", "kindVersion", "integratedTime", "inclusionPromise",
                      "inclusionProof", "canonicalizedBody"}));
  TlogEntry entry;
  auto index = count(v, what, "logIndex");
  if (!index) {
    return index.error();
  }
  entry.log_index = *index;
  const json* log_id = find(v, "logId");
  if (log_id == nullptr) {
    return bad(path(what, "logId"), "is missing");
  }
  DG_TRY(only_fields(*log_id, path(what, "logId"), {"keyId"}));
  auto key_id = bytes(*log_id, path(what, "logId"), "keyId");
  if (!key_id) {
    return key_id.error();
  }
  entry.log_id.assign(key_id->begin(), key_id->end());
  const json* kind = find(v, "kindVersion");
  if (kind == nullptr) {
    return bad(path(what, "kindVersion"), "is missing");
  }
  DG_TRY(only_fields(*kind, path(what, "kindVersion"), {"kind", "version"}));
  auto k = text(*kind, path(what, "kindVersion"), "kind");
  auto ver = text(*kind, path(what, "kindVersion"), "version");
  if (!k || !ver) {
    return !k ? k.error() : ver.error();
  }
  entry.kind = *k;
  entry.version = *ver;
  if (find(v, "integratedTime") != nullptr) {
    auto t = count(v, what, "integratedTime");
    if (!t) {
      return t.error();
    }
    entry.integrated_time = *t;
  }
  if (const json* promise = find(v, "inclusionPromise")) {
    DG_TRY(only_fields(*promise, path(what, "inclusionPromise"), {"signedEntryTimestamp"}));
    auto set = bytes(*promise, path(what, "inclusionPromise"), "signedEntryTimestamp");
    if (!set) {
      return set.error();
    }
    entry.signed_entry_timestamp = *set;
  }
  if (const json* proof = find(v, "inclusionProof")) {
    auto parsed = parse_proof(*proof, path(what, "inclusionProof"));
    if (!parsed) {
      return parsed.error();
    }
    entry.inclusion_proof = std::move(*parsed);
  }
  auto body = bytes(v, what, "canonicalizedBody");
  if (!body) {
    return body.error();
  }
  entry.canonicalized_body = std::move(*body);
  return entry;
}

Result<void> parse_material(const json& v, Bundle& bundle) {
  const std::string what = "verificationMaterial";
  DG_TRY(only_fields(v, what,
                     {"publicKey", "x509CertificateChain", "certificate", "tlogEntries",
                      "timestampVerificationData"}));
  const int kinds = (find(v, "publicKey") != nullptr) + (find(v, "certificate") != nullptr) +
                    (find(v, "x509CertificateChain") != nullptr);
  if (kinds != 1) {
    return bad(what, "must hold exactly one of certificate, x509CertificateChain, publicKey");
  }
  if (find(v, "publicKey") != nullptr) {
    return bad(what + ".publicKey",
               "names a managed key: only keyless (certificate) bundles are verified here");
  }
  if (const json* cert = find(v, "certificate")) {
    DG_TRY(only_fields(*cert, what + ".certificate", {"rawBytes"}));
    auto der = bytes(*cert, what + ".certificate", "rawBytes");
    if (!der) {
      return der.error();
    }
    bundle.leaf_der = std::move(*der);
  } else {
    if (bundle.minor_version >= 3) {
      return bad(what + ".x509CertificateChain", "is not allowed in a 0.3 bundle");
    }
    const json& chain = *find(v, "x509CertificateChain");
    DG_TRY(only_fields(chain, what + ".x509CertificateChain", {"certificates"}));
    const json* certs = find(chain, "certificates");
    if (certs == nullptr || !certs->is_array() || certs->empty() || certs->size() > 10) {
      return bad(what + ".x509CertificateChain.certificates", "is missing or empty");
    }
    for (std::size_t i = 0; i < certs->size(); ++i) {
      const std::string name =
          what + ".x509CertificateChain.certificates[" + std::to_string(i) + "]";
      DG_TRY(only_fields((*certs)[i], name, {"rawBytes"}));
      auto der = bytes((*certs)[i], name, "rawBytes");
      if (!der) {
        return der.error();
      }
      (i == 0 ? bundle.leaf_der : bundle.chain_der.emplace_back()) = std::move(*der);
    }
  }
  if (const json* entries = find(v, "tlogEntries")) {
    if (!entries->is_array() || entries->size() > k_max_entries) {
      return bad(what + ".tlogEntries", "is not a list of at most 32 entries");
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
      auto entry = parse_entry((*entries)[i], what + ".tlogEntries[" + std::to_string(i) + "]");
      if (!entry) {
        return entry.error();
      }
      bundle.tlog_entries.push_back(std::move(*entry));
    }
  }
  if (const json* data = find(v, "timestampVerificationData")) {
    const std::string name = what + ".timestampVerificationData";
    DG_TRY(only_fields(*data, name, {"rfc3161Timestamps"}));
    const json* list = find(*data, "rfc3161Timestamps");
    if (list != nullptr) {
      if (!list->is_array() || list->size() > k_max_entries) {
        return bad(name + ".rfc3161Timestamps", "is not a list of at most 32 timestamps");
      }
      for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string item = name + ".rfc3161Timestamps[" + std::to_string(i) + "]";
        DG_TRY(only_fields((*list)[i], item, {"signedTimestamp"}));
        auto der = bytes((*list)[i], item, "signedTimestamp");
        if (!der) {
          return der.error();
        }
        bundle.rfc3161_timestamps.push_back(std::move(*der));
      }
    }
  }
  return {};
}

Result<void> parse_content(const json& doc, Bundle& bundle) {
  const json* message = find(doc, "messageSignature");
  const json* envelope = find(doc, "dsseEnvelope");
  if ((message == nullptr) == (envelope == nullptr)) {
    return bad("bundle", "must hold exactly one of messageSignature and dsseEnvelope");
  }
  if (message != nullptr) {
    DG_TRY(only_fields(*message, "messageSignature", {"messageDigest", "signature"}));
    const json* digest = find(*message, "messageDigest");
    if (digest == nullptr) {
      return bad("messageSignature.messageDigest", "is missing");
    }
    DG_TRY(only_fields(*digest, "messageSignature.messageDigest", {"algorithm", "digest"}));
    auto algorithm = text(*digest, "messageSignature.messageDigest", "algorithm");
    auto value = bytes(*digest, "messageSignature.messageDigest", "digest");
    auto signature = bytes(*message, "messageSignature", "signature");
    if (!algorithm || !value || !signature) {
      return !algorithm ? algorithm.error() : !value ? value.error() : signature.error();
    }
    bundle.digest_algorithm = *algorithm;
    bundle.message_digest = std::move(*value);
    bundle.signature = std::move(*signature);
    return {};
  }
  bundle.dsse = true;
  DG_TRY(only_fields(*envelope, "dsseEnvelope", {"payload", "payloadType", "signatures"}));
  auto payload = bytes(*envelope, "dsseEnvelope", "payload");
  auto type = text(*envelope, "dsseEnvelope", "payloadType");
  if (!payload || !type) {
    return !payload ? payload.error() : type.error();
  }
  bundle.payload = std::move(*payload);
  bundle.payload_type = std::move(*type);
  const json* sigs = find(*envelope, "signatures");
  if (sigs == nullptr || !sigs->is_array() || sigs->size() != 1) {
    return bad("dsseEnvelope.signatures", "must hold exactly one signature");
  }
  DG_TRY(only_fields((*sigs)[0], "dsseEnvelope.signatures[0]", {"sig", "keyid"}));
  auto sig = bytes((*sigs)[0], "dsseEnvelope.signatures[0]", "sig");
  if (!sig) {
    return sig.error();
  }
  bundle.signature = std::move(*sig);
  return {};
}

int minor_of(const std::string& media_type) {
  const std::string base = k_bundle_media_prefix;
  if (media_type == base + "+json;version=0.1") {
    return 1;
  }
  if (media_type == base + "+json;version=0.2") {
    return 2;
  }
  if (media_type == base + "+json;version=0.3" || media_type == base + ".v0.3+json") {
    return 3;
  }
  return 0;
}

// --- trust root -------------------------------------------------------------------------------

// A protobuf Timestamp (RFC 3339); the start rounds up and the end down to whole seconds, so the
// window never grows.
Result<Validity> parse_validity(const json& owner, const std::string& what) {
  const json* v = find(owner, "validFor");
  const std::string name = path(what, "validFor");
  if (v == nullptr) {
    return bad(name, "is missing");
  }
  DG_TRY(only_fields(*v, name, {"start", "end"}));
  Validity validity;
  auto start = text(*v, name, "start");
  if (!start) {
    return bad(name + ".start", "is missing");
  }
  auto start_ns = parse_rfc3339(*start);
  if (!start_ns) {
    return bad(name + ".start", "is not an RFC 3339 time");
  }
  validity.start = *start_ns / 1'000'000'000 + (*start_ns % 1'000'000'000 > 0 ? 1 : 0);
  if (find(*v, "end") != nullptr) {
    auto end = text(*v, name, "end");
    auto end_ns = end ? parse_rfc3339(*end) : Result<TimeNs>(end.error());
    if (!end_ns) {
      return bad(name + ".end", "is not an RFC 3339 time");
    }
    validity.end = *end_ns / 1'000'000'000 - (*end_ns % 1'000'000'000 < 0 ? 1 : 0);
  }
  return validity;
}

Result<LogKey> parse_log(const json& v, const std::string& what) {
  DG_TRY(only_fields(
      v, what, {"baseUrl", "hashAlgorithm", "publicKey", "logId", "checkpointKeyId", "operator"}));
  LogKey log;
  if (const json* url = find(v, "baseUrl"); url != nullptr && url->is_string()) {
    log.base_url = url->get<std::string>();
  }
  const json* key = find(v, "publicKey");
  if (key == nullptr) {
    return bad(path(what, "publicKey"), "is missing");
  }
  const std::string key_path = path(what, "publicKey");
  DG_TRY(only_fields(*key, key_path, {"rawBytes", "keyDetails", "validFor"}));
  auto der = bytes(*key, key_path, "rawBytes");
  if (!der) {
    return der.error();
  }
  const json* details = find(*key, "keyDetails");
  const bool pkcs1 = details != nullptr && details->is_string() &&
                     details->get<std::string>().rfind("PKCS1_RSA", 0) == 0;
  auto parsed = detail::parse_public_key(*der, key_path + ".rawBytes", pkcs1);
  if (!parsed) {
    return parsed.error();
  }
  log.key = *parsed;
  log.spki_der = detail::public_key_der(log.key.get());
  auto validity = parse_validity(*key, key_path);
  if (!validity) {
    return validity.error();
  }
  log.valid = *validity;
  const json* id = find(v, "logId");
  if (id == nullptr) {
    return bad(path(what, "logId"), "is missing");
  }
  DG_TRY(only_fields(*id, path(what, "logId"), {"keyId"}));
  auto key_id = bytes(*id, path(what, "logId"), "keyId");
  if (!key_id) {
    return key_id.error();
  }
  log.log_id.assign(key_id->begin(), key_id->end());
  return log;
}

Result<Authority> parse_authority(const json& v, const std::string& what) {
  DG_TRY(only_fields(v, what, {"subject", "uri", "certChain", "validFor", "operator"}));
  Authority authority;
  if (const json* uri = find(v, "uri"); uri != nullptr && uri->is_string()) {
    authority.uri = uri->get<std::string>();
  }
  const json* chain = find(v, "certChain");
  if (chain == nullptr) {
    return bad(path(what, "certChain"), "is missing");
  }
  DG_TRY(only_fields(*chain, path(what, "certChain"), {"certificates"}));
  const json* certs = find(*chain, "certificates");
  if (certs == nullptr || !certs->is_array() || certs->empty()) {
    return bad(path(what, "certChain.certificates"), "is missing or empty");
  }
  for (std::size_t i = 0; i < certs->size(); ++i) {
    const std::string name = path(what, "certChain.certificates") + "[" + std::to_string(i) + "]";
    DG_TRY(only_fields((*certs)[i], name, {"rawBytes"}));
    auto der = bytes((*certs)[i], name, "rawBytes");
    if (!der) {
      return der.error();
    }
    auto cert = detail::parse_certificate(*der, name);
    if (!cert) {
      return cert.error();
    }
    authority.chain.push_back(*cert);
  }
  auto validity = parse_validity(v, what);
  if (!validity) {
    return validity.error();
  }
  authority.valid = *validity;
  return authority;
}

template <class T, class F>
Result<std::vector<T>> parse_list(const json& doc, const char* field, F parse_one) {
  std::vector<T> out;
  const json* list = find(doc, field);
  if (list == nullptr) {
    return out;
  }
  if (!list->is_array()) {
    return bad(field, "is not a list");
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto item = parse_one((*list)[i], std::string(field) + "[" + std::to_string(i) + "]");
    if (!item) {
      return item.error();
    }
    out.push_back(std::move(*item));
  }
  return out;
}

Result<json> parse_document(std::string_view text, const char* what) {
  if (text.size() > k_max_document_size) {
    return bad(what, "is larger than 4 MiB");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return bad(what, "is not JSON");
  }
  return doc;
}

} // namespace

Result<Bundle> parse_bundle(const json& doc) {
  DG_TRY(only_fields(doc, "",
                     {"mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"}));
  Bundle bundle;
  auto media_type = text(doc, "", "mediaType");
  if (!media_type) {
    return media_type.error();
  }
  bundle.media_type = *media_type;
  bundle.minor_version = minor_of(bundle.media_type);
  if (bundle.minor_version == 0) {
    return bad("mediaType", "\"" + bundle.media_type + "\" is not a supported bundle version");
  }
  const json* material = find(doc, "verificationMaterial");
  if (material == nullptr) {
    return bad("verificationMaterial", "is missing");
  }
  DG_TRY(parse_material(*material, bundle));
  DG_TRY(parse_content(doc, bundle));
  for (std::size_t i = 0; i < bundle.tlog_entries.size(); ++i) {
    const TlogEntry& entry = bundle.tlog_entries[i];
    const std::string name = "verificationMaterial.tlogEntries[" + std::to_string(i) + "]";
    if (bundle.minor_version == 1 && !entry.signed_entry_timestamp) {
      return bad(name, "has no inclusionPromise, which a 0.1 bundle requires");
    }
    if (bundle.minor_version >= 2 && !entry.inclusion_proof) {
      return bad(name, "has no inclusionProof, which bundles from 0.2 on require");
    }
  }
  return bundle;
}

Result<Bundle> parse_bundle_text(std::string_view text) {
  auto doc = parse_document(text, "bundle");
  if (!doc) {
    return doc.error();
  }
  return parse_bundle(*doc);
}

Result<TrustedRoot> parse_trusted_root(std::string_view text) {
  auto doc = parse_document(text, "trusted root");
  if (!doc) {
    return doc.error();
  }
  DG_TRY(only_fields(
      *doc, "",
      {"mediaType", "tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"}));
  if (const json* media = find(*doc, "mediaType")) {
    if (!media->is_string() ||
        (*media != "application/vnd.dev.sigstore.trustedroot+json;version=0.1" &&
         *media != "application/vnd.dev.sigstore.trustedroot.v0.1+json")) {
      return bad("mediaType", "is not a supported trusted root version");
    }
  }
  TrustedRoot root;
  auto tlogs = parse_list<LogKey>(*doc, "tlogs", parse_log);
  auto ctlogs = parse_list<LogKey>(*doc, "ctlogs", parse_log);
  auto cas = parse_list<Authority>(*doc, "certificateAuthorities", parse_authority);
  auto tsas = parse_list<Authority>(*doc, "timestampAuthorities", parse_authority);
  if (!tlogs || !ctlogs || !cas || !tsas) {
    return !tlogs ? tlogs.error() : !ctlogs ? ctlogs.error() : !cas ? cas.error() : tsas.error();
  }
  root.tlogs = std::move(*tlogs);
  root.ctlogs = std::move(*ctlogs);
  root.certificate_authorities = std::move(*cas);
  root.timestamp_authorities = std::move(*tsas);
  if (root.certificate_authorities.empty()) {
    return bad("certificateAuthorities", "is empty: nothing could issue a signing certificate");
  }
  return root;
}

} // namespace dg::policy::sigstore
