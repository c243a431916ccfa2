// Rekor transparency-log entries: the signed entry timestamp, the inclusion proof and its signed
// checkpoint, and the entry body re-derived from the bundle (Rekor v1: hashedrekord 0.0.1, dsse
// 0.0.1, intoto 0.0.2; Rekor v2: hashedrekord 0.0.2, dsse 0.0.2). Follows sigstore-go's pkg/tlog
// and pkg/verify/tlog.go.
#include "policy/sigstore_rekor.hpp"

#include "policy/sigstore_openssl.hpp"
#include "util/rfc6962.hpp"

#include <openssl/evp.h>

namespace dg::policy::sigstore::detail {

namespace {

using json = nlohmann::json;

Error fail(std::string message) {
  return make_error(Errc::crypto, std::move(message));
}

std::string str(const json& v, std::initializer_list<const char*> path) {
  const json* at = &v;
  for (const char* key : path) {
    if (!at->is_object()) {
      return {};
    }
    auto it = at->find(key);
    if (it == at->end()) {
      return {};
    }
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : std::string();
}

std::string decoded(const std::string& b64) {
  auto out = base64_decode(b64);
  return out ? *out : std::string();
}

// The bundle's name of a digest algorithm ("SHA2_256") as Rekor writes it ("sha256").
std::string rekor_algorithm(const std::string& bundle_algorithm) {
  if (bundle_algorithm == "SHA2_256") {
    return "sha256";
  }
  if (bundle_algorithm == "SHA2_384") {
    return "sha384";
  }
  if (bundle_algorithm == "SHA2_512") {
    return "sha512";
  }
  return {};
}

Result<void>
same_signer(const std::string& pem_b64, const std::string& signature, const Bundle& bundle) {
  if (signature != bundle.signature) {
    return fail("the log entry holds another signature than the bundle's");
  }
  const std::string der = pem_certificate_der(decoded(pem_b64));
  if (der.empty() || der != bundle.leaf_der) {
    return fail("the log entry holds another certificate than the bundle's");
  }
  return {};
}

Result<void> payload_hash_matches(const json& hash, const Bundle& bundle) {
  const std::string algorithm = str(hash, {"algorithm"});
  if (algorithm != "sha256") {
    return fail("the log entry's payload hash is not SHA-256");
  }
  if (str(hash, {"value"}) != to_hex(sha256(bundle.payload))) {
    return fail("the log entry's payload hash is not the DSSE payload's");
  }
  return {};
}

Result<void> compare_hashedrekord(const json& spec, const Bundle& bundle) {
  if (bundle.dsse) {
    return fail("a hashedrekord log entry cannot log a DSSE envelope");
  }
  DG_TRY(same_signer(str(spec, {"signature", "publicKey", "content"}),
                     decoded(str(spec, {"signature", "content"})), bundle));
  if (str(spec, {"data", "hash", "algorithm"}) != rekor_algorithm(bundle.digest_algorithm) ||
      str(spec, {"data", "hash", "value"}) != to_hex(bundle.message_digest)) {
    return fail("the log entry's artifact digest is not the bundle's message digest");
  }
  return {};
}

// Rekor v2 (rekor-tiles) entries name the certificate by its DER bytes and hashes by the bundle's
// own algorithm names, base64.
Result<void> same_signer_v2(const json& signature, const Bundle& bundle) {
  if (decoded(str(signature, {"content"})) != bundle.signature) {
    return fail("the log entry holds another signature than the bundle's");
  }
  const std::string der = decoded(str(signature, {"verifier", "x509Certificate", "rawBytes"}));
  if (der.empty() || der != bundle.leaf_der) {
    return fail("the log entry holds another certificate than the bundle's");
  }
  return {};
}

Result<void> compare_hashedrekord_v2(const json& spec, const Bundle& bundle) {
  if (bundle.dsse) {
    return fail("a hashedrekord log entry cannot log a DSSE envelope");
  }
  const json v2 =
      spec.is_object() && spec.contains("hashedRekordV002") ? spec["hashedRekordV002"] : json();
  DG_TRY(same_signer_v2(v2.is_object() && v2.contains("signature") ? v2["signature"] : json(),
                        bundle));
  if (str(v2, {"data", "algorithm"}) != bundle.digest_algorithm ||
      decoded(str(v2, {"data", "digest"})) != bundle.message_digest) {
    return fail("the log entry's artifact digest is not the bundle's message digest");
  }
  return {};
}

Result<void> compare_dsse_v2(const json& spec, const Bundle& bundle) {
  if (!bundle.dsse) {
    return fail("a dsse log entry cannot log a message signature");
  }
  const json v2 = spec.is_object() && spec.contains("dsseV002") ? spec["dsseV002"] : json();
  const json* sigs = v2.is_object() && v2.contains("signatures") ? &v2["signatures"] : nullptr;
  if (sigs == nullptr || !sigs->is_array() || sigs->size() != 1) {
    return fail("the dsse log entry does not hold exactly one signature");
  }
  DG_TRY(same_signer_v2((*sigs)[0], bundle));
  if (str(v2, {"payloadHash", "algorithm"}) != "SHA2_256") {
    return fail("the log entry's payload hash is not SHA-256");
  }
  const Hash payload = sha256(bundle.payload);
  if (decoded(str(v2, {"payloadHash", "digest"})) != std::string(payload.begin(), payload.end())) {
    return fail("the log entry's payload hash is not the DSSE payload's");
  }
  return {};
}

Result<void> compare_dsse(const json& spec, const Bundle& bundle) {
  if (!bundle.dsse) {
    return fail("a dsse log entry cannot log a message signature");
  }
  const json* sigs =
      spec.is_object() && spec.contains("signatures") ? &spec["signatures"] : nullptr;
  if (sigs == nullptr || !sigs->is_array() || sigs->size() != 1) {
    return fail("the dsse log entry does not hold exactly one signature");
  }
  DG_TRY(
      same_signer(str((*sigs)[0], {"verifier"}), decoded(str((*sigs)[0], {"signature"})), bundle));
  return payload_hash_matches(spec.contains("payloadHash") ? spec["payloadHash"] : json(), bundle);
}

Result<void> compare_intoto(const json& spec, const Bundle& bundle) {
  if (!bundle.dsse) {
    return fail("an intoto log entry cannot log a message signature");
  }
  const json content = spec.is_object() && spec.contains("content") ? spec["content"] : json();
  const json envelope =
      content.is_object() && content.contains("envelope") ? content["envelope"] : json();
  const json* sigs =
      envelope.is_object() && envelope.contains("signatures") ? &envelope["signatures"] : nullptr;
  if (sigs == nullptr || !sigs->is_array() || sigs->size() != 1) {
    return fail("the intoto log entry does not hold exactly one signature");
  }
  // intoto 0.0.2 stores the DSSE signature base64-encoded once more.
  DG_TRY(same_signer(str((*sigs)[0], {"publicKey"}), decoded(decoded(str((*sigs)[0], {"sig"}))),
                     bundle));
  const std::string type = str(envelope, {"payloadType"});
  if (!type.empty() && type != bundle.payload_type) {
    return fail("the intoto log entry's payload type is not the envelope's");
  }
  return payload_hash_matches(content.contains("payloadHash") ? content["payloadHash"] : json(),
                              bundle);
}

struct Note {
  std::string text; // the signed text, up to and including its last newline
  std::string origin;
  std::string size;
  std::string root;
  std::vector<std::pair<std::string, std::string>> signatures; // name, decoded signature
};

Result<Note> parse_note(const std::string& envelope) {
  const std::size_t split = envelope.find("\n\n");
  if (split == std::string::npos) {
    return fail("the checkpoint is not a signed note");
  }
  Note note;
  note.text = envelope.substr(0, split + 1);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < note.text.size();) {
    const std::size_t end = note.text.find('\n', at);
    lines.push_back(note.text.substr(at, end - at));
    at = end + 1;
  }
  if (lines.size() < 3) {
    return fail("the checkpoint lacks its origin, size or root hash");
  }
  note.origin = lines[0];
  note.size = lines[1];
  note.root = lines[2];
  const std::string dash = "\xe2\x80\x94 "; // U+2014, then a space
  std::string rest = envelope.substr(split + 2);
  for (std::size_t at = 0; at < rest.size();) {
    std::size_t end = rest.find('\n', at);
    if (end == std::string::npos) {
      end = rest.size();
    }
    const std::string line = rest.substr(at, end - at);
    at = end + 1;
    if (line.empty()) {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    if (line.rfind(dash, 0) != 0 || space == std::string::npos || space < dash.size()) {
      return fail("the checkpoint has a malformed signature line");
    }
    note.signatures.emplace_back(line.substr(dash.size(), space - dash.size()),
                                 decoded(line.substr(space + 1)));
  }
  return note;
}

} // namespace

std::string set_payload(const TlogEntry& entry) {
  json payload = {{"body", base64_encode(entry.canonicalized_body)},
                  {"integratedTime", entry.integrated_time},
                  {"logID", to_hex(entry.log_id)},
                  {"logIndex", entry.log_index}};
  return payload.dump(); // keys sorted, no whitespace: RFC 8785 for this shape
}

Result<void> verify_set(const TlogEntry& entry, const LogKey& log) {
  if (!log.valid.contains(entry.integrated_time)) {
    return fail("the transparency log's key was not valid at the entry's integrated time");
  }
  if (!entry.signed_entry_timestamp ||
      !verify_message(log.key.get(), set_payload(entry), *entry.signed_entry_timestamp,
                      EVP_sha256())) {
    return fail("the log entry's signed entry timestamp does not verify under its log's key");
  }
  return {};
}

Result<void> verify_inclusion(const TlogEntry& entry, const LogKey& log) {
  const InclusionProof& proof = *entry.inclusion_proof;
  const Hash leaf = rfc6962::leaf_hash(entry.canonicalized_body);
  if (!rfc6962::verify_inclusion(leaf, static_cast<std::uint64_t>(proof.log_index),
                                 static_cast<std::uint64_t>(proof.tree_size), proof.hashes,
                                 proof.root_hash)) {
    return fail("the log entry's inclusion proof does not lead to its root hash");
  }
  auto note = parse_note(proof.checkpoint);
  if (!note) {
    return note.error();
  }
  // The note's key hint: the first 4 bytes of the log's id. That is the SHA-256 of the key's DER
  // for a Rekor v1 log, and the C2SP note key id (SHA-256 of the origin, a newline, the key type
  // and the key) for a Rekor v2 log; a v1 log whose id is something else is still found by its
  // key's hash.
  const Hash key_hash = sha256(log.spki_der);
  const std::string hint(key_hash.begin(), key_hash.begin() + 4);
  const std::string id_hint =
      log.log_id.size() >= 4 ? std::string(log.log_id.begin(), log.log_id.begin() + 4) : hint;
  bool signed_by_log = false;
  for (const auto& [name, signature] : note->signatures) {
    if (signature.size() > 4 &&
        (signature.compare(0, 4, hint) == 0 || signature.compare(0, 4, id_hint) == 0) &&
        verify_message(log.key.get(), note->text, signature.substr(4),
                       default_digest(log.key.get()))) {
      signed_by_log = true;
    }
  }
  if (!signed_by_log) {
    return fail("the checkpoint is not signed by the entry's transparency log");
  }
  if (note->size != std::to_string(proof.tree_size) ||
      decoded(note->root) != std::string(proof.root_hash.begin(), proof.root_hash.end())) {
    return fail("the signed checkpoint is for another tree than the inclusion proof's");
  }
  return {};
}

Result<void> compare_body(const TlogEntry& entry, const Bundle& bundle) {
  const json body = json::parse(entry.canonicalized_body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return fail("the log entry's body is not JSON");
  }
  if (str(body, {"kind"}) != entry.kind || str(body, {"apiVersion"}) != entry.version) {
    return fail("the log entry's body is not of the kind and version its kindVersion names");
  }
  const json spec = body.contains("spec") ? body["spec"] : json();
  if (entry.kind == "hashedrekord" && entry.version == "0.0.1") {
    return compare_hashedrekord(spec, bundle);
  }
  if (entry.kind == "dsse" && entry.version == "0.0.1") {
    return compare_dsse(spec, bundle);
  }
  if (entry.kind == "intoto" && entry.version == "0.0.2") {
    return compare_intoto(spec, bundle);
  }
  if (entry.kind == "hashedrekord" && entry.version == "0.0.2") {
    return compare_hashedrekord_v2(spec, bundle);
  }
  if (entry.kind == "dsse" && entry.version == "0.0.2") {
    return compare_dsse_v2(spec, bundle);
  }
  return fail("log entries of kind " + entry.kind + " " + entry.version +
              " are not supported (hashedrekord 0.0.1 and 0.0.2, dsse 0.0.1 and 0.0.2, intoto "
              "0.0.2 are)");
}

} // namespace dg::policy::sigstore::detail
