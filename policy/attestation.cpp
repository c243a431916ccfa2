#include "policy/attestation.hpp"

#include "policy/glob.hpp"
#include "policy/reference.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>

namespace dg::policy {

namespace {

using nlohmann::json;

// Legitimate statements nest about ten levels; anything far deeper is refused before parsing so
// that no later recursive walk can exhaust the stack.
constexpr std::size_t k_max_nesting = 64;
// A DER ECDSA P-256 signature is at most 72 bytes and an Ed25519 one 64; base64 text beyond this
// is not a signature of a supported key.
constexpr std::size_t k_max_signature_size = 512;
// Bounds the verification work one envelope can demand (signatures x trusted keys).
constexpr std::size_t k_max_envelope_signatures = 16;
// Untrusted text quoted in messages is cut to this many bytes.
constexpr std::size_t k_max_quoted = 200;

constexpr const char* k_gate_signature = "require_signature";
constexpr const char* k_gate_provenance = "require_provenance";

// `text` in double quotes, made safe for a message: bytes outside printable ASCII become '?' (so
// the message stays valid UTF-8 whatever the cut) and long text is cut.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < k_max_quoted; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > k_max_quoted) {
    out += "...";
  }
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  quoted.reserve(items.size());
  for (const auto& item : items) {
    quoted.push_back(quote(item));
  }
  return join(quoted, ", ");
}

// The member `key` of `value`, or nullptr when `value` is not an object or lacks it.
const json* member(const json* value, const char* key) {
  if (value == nullptr || !value->is_object()) {
    return nullptr;
  }
  const auto it = value->find(key);
  return it == value->end() ? nullptr : &*it;
}

// The value at `keys` below `value` (objects only), or nullptr.
const json* member_at(const json* value, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    value = member(value, key);
  }
  return value;
}

// The string `value` holds, or an empty string for anything else.
std::string string_of(const json* value) {
  return value != nullptr && value->is_string() ? value->get_ref<const std::string&>()
                                                : std::string();
}

// True when the brackets of JSON `text` nest at most `limit` deep. Brackets inside strings do
// not count; the text need not be valid JSON.
bool nesting_within(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Parse untrusted JSON `text`; on failure returns an error message naming `what`.
dg::Result<json> parse_untrusted_json(std::string_view text, const char* what) {
  if (!nesting_within(text, k_max_nesting)) {
    return dg::make_error(dg::Errc::invalid_argument, std::string(what) + " nests deeper than " +
                                                          std::to_string(k_max_nesting) +
                                                          " levels");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return dg::make_error(dg::Errc::invalid_argument, std::string(what) + " is not JSON");
  }
  return doc;
}

// Decode base64 `text` (standard or URL-safe alphabet) of at most `max_size` decoded bytes; on
// failure returns an error message naming `what`.
dg::Result<std::string>
decode_bounded(std::string_view text, std::size_t max_size, const std::string& what) {
  // Refuse oversized text before spending memory on decoding it.
  if (text.size() > (max_size + 2) / 3 * 4) {
    return dg::make_error(dg::Errc::invalid_argument,
                          what + " exceeds " + std::to_string(max_size) + " bytes");
  }
  auto decoded = dg::base64_decode(text);
  if (!decoded) {
    return dg::make_error(dg::Errc::invalid_argument, what + " is not base64");
  }
  if (decoded->size() > max_size) {
    return dg::make_error(dg::Errc::invalid_argument,
                          what + " exceeds " + std::to_string(max_size) + " bytes");
  }
  if (decoded->empty()) {
    return dg::make_error(dg::Errc::invalid_argument, what + " is empty");
  }
  return decoded;
}

// The name of the first key of `keys`, in order, that verifies one of `signatures` over
// `message`; nullopt if none does.
std::optional<std::string> first_verifying_key(const std::vector<TrustedKey>& keys,
                                               std::string_view message,
                                               const std::vector<std::string>& signatures) {
  for (const auto& trusted : keys) {
    if (!trusted.key) {
      continue;
    }
    for (const auto& signature : signatures) {
      if (trusted.key->verify(message, signature)) {
        return trusted.name;
      }
    }
  }
  return std::nullopt;
}

// "git+https://github.com/a/b@refs/heads/main" -> "https://github.com/a/b". An '@' inside the
// URI's authority (user info, as in ssh://git@host/...) is kept.
std::string normalize_source_uri(std::string_view uri) {
  if (uri.starts_with("git+")) {
    uri.remove_prefix(4);
  }
  std::size_t path_start = 0;
  if (const auto scheme_end = uri.find("://"); scheme_end != std::string_view::npos) {
    path_start = uri.find('/', scheme_end + 3);
    if (path_start == std::string_view::npos) {
      path_start = uri.size();
    }
  }
  if (const auto at = uri.find('@', path_start); at != std::string_view::npos) {
    uri = uri.substr(0, at);
  }
  return std::string(uri);
}

// The git commit of a resource descriptor's or config source's `digest` object.
std::string commit_of(const json* digest) {
  std::string commit = string_of(member(digest, "gitCommit"));
  if (commit.empty()) {
    commit = string_of(member(digest, "sha1"));
  }
  return commit;
}

// Fill the builder and source of `finding` from a SLSA provenance v1 `predicate`.
void read_slsa_v1(const json* predicate,
                  ProvenanceFinding& finding,
                  std::vector<std::string>& errors) {
  if (predicate == nullptr || !predicate->is_object()) {
    errors.emplace_back("SLSA provenance v1 statement has no predicate object");
    return;
  }
  finding.builder_id = string_of(member_at(predicate, {"runDetails", "builder", "id"}));
  if (finding.builder_id.empty()) {
    errors.emplace_back("SLSA provenance v1 predicate has no runDetails.builder.id");
  }
  const json* definition = member(predicate, "buildDefinition");
  const json* dependencies = member(definition, "resolvedDependencies");
  if (dependencies != nullptr && !dependencies->is_array()) {
    dependencies = nullptr;
  }
  const std::string workflow_repository =
      string_of(member_at(definition, {"externalParameters", "workflow", "repository"}));
  if (!workflow_repository.empty()) {
    finding.source_repository = normalize_source_uri(workflow_repository);
  } else if (dependencies != nullptr && !dependencies->empty()) {
    const std::string uri = string_of(member(&dependencies->front(), "uri"));
    finding.source_repository = uri.empty() ? std::string() : normalize_source_uri(uri);
  }
  if (dependencies == nullptr) {
    return;
  }
  // The commit of the dependency that is the source repository, else the first commit listed.
  for (const auto& dependency : *dependencies) {
    const std::string commit = commit_of(member(&dependency, "digest"));
    if (commit.empty()) {
      continue;
    }
    const std::string uri = string_of(member(&dependency, "uri"));
    if (!finding.source_repository.empty() && !uri.empty() &&
        normalize_source_uri(uri) == finding.source_repository) {
      finding.source_commit = commit;
      break;
    }
    if (finding.source_commit.empty()) {
      finding.source_commit = commit;
    }
  }
}

// Fill the builder and source of `finding` from a SLSA provenance v0.2 `predicate`.
void read_slsa_v02(const json* predicate,
                   ProvenanceFinding& finding,
                   std::vector<std::string>& errors) {
  if (predicate == nullptr || !predicate->is_object()) {
    errors.emplace_back("SLSA provenance v0.2 statement has no predicate object");
    return;
  }
  finding.builder_id = string_of(member_at(predicate, {"builder", "id"}));
  if (finding.builder_id.empty()) {
    errors.emplace_back("SLSA provenance v0.2 predicate has no builder.id");
  }
  const json* config_source = member_at(predicate, {"invocation", "configSource"});
  const std::string uri = string_of(member(config_source, "uri"));
  if (!uri.empty()) {
    finding.source_repository = normalize_source_uri(uri);
  }
  finding.source_commit = commit_of(member(config_source, "digest"));
}

// Read the in-toto statement `doc` into `finding`.
void read_statement(const json& doc,
                    std::string_view digest,
                    ProvenanceFinding& finding,
                    std::vector<std::string>& errors) {
  if (!doc.is_object()) {
    errors.emplace_back("statement is not a JSON object");
    return;
  }
  finding.statement_type = string_of(member(&doc, "_type"));
  if (finding.statement_type.empty()) {
    errors.emplace_back("statement has no _type");
  } else if (finding.statement_type != k_in_toto_statement_v1 &&
             finding.statement_type != k_in_toto_statement_v01) {
    errors.push_back("statement _type " + quote(finding.statement_type) +
                     " is not an in-toto Statement v1 or v0.1");
  }

  const json* subjects = member(&doc, "subject");
  if (subjects == nullptr || !subjects->is_array() || subjects->empty()) {
    errors.emplace_back("statement has no subject list");
  } else if (!is_sha256_digest(digest)) {
    errors.push_back("digest " + quote(digest) + " is not a sha256 digest");
  } else {
    const std::string_view hex = digest.substr(7);
    finding.subject_matches =
        std::any_of(subjects->begin(), subjects->end(), [&](const json& subject) {
          const json* sha256 = member_at(&subject, {"digest", "sha256"});
          return sha256 != nullptr && sha256->is_string() &&
                 sha256->get_ref<const std::string&>() == hex;
        });
    if (!finding.subject_matches) {
      errors.push_back("statement subjects do not include " + std::string(digest));
    }
  }

  finding.predicate_type = string_of(member(&doc, "predicateType"));
  const json* predicate = member(&doc, "predicate");
  if (finding.predicate_type.empty()) {
    errors.emplace_back("statement has no predicateType");
  } else if (finding.predicate_type == k_slsa_provenance_v1) {
    read_slsa_v1(predicate, finding, errors);
  } else if (finding.predicate_type == k_slsa_provenance_v02) {
    read_slsa_v02(predicate, finding, errors);
  }
}

bool is_known_predicate(std::string_view predicate_type) {
  return predicate_type == k_slsa_provenance_v1 || predicate_type == k_slsa_provenance_v02;
}

// True when `key` is acceptable to a requirement listing `required` (empty: any trusted key).
bool key_required(const std::vector<std::string>& required, const std::string& key) {
  return required.empty() || std::find(required.begin(), required.end(), key) != required.end();
}

bool matches_any_glob(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return glob_match(pattern, text); });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether the cosign simple-signing `payload` binds `digest` in `repository`: sets the finding's
// binds, manifest_digest and docker_reference, and adds each problem to `errors`.
void read_cosign_payload(const std::string& payload,
                         std::string_view digest,
                         std::string_view repository,
                         SignatureFinding& finding,
                         std::vector<std::string>& errors) {
  auto doc = parse_untrusted_json(payload, "payload");
  if (!doc) {
    errors.push_back(doc.error().message);
    return;
  }
  const json* critical = member(&*doc, "critical");
  if (critical == nullptr || !critical->is_object()) {
    errors.emplace_back("payload has no \"critical\" object");
    return;
  }

  bool binds = true;
  const std::string type = string_of(member(critical, "type"));
  if (type != k_cosign_signature_type) {
    binds = false;
    errors.push_back(type.empty() ? std::string("payload has no critical.type")
                                  : "payload critical.type is " + quote(type) + ", not " +
                                        quote(k_cosign_signature_type));
  }

  finding.manifest_digest = string_of(member_at(critical, {"image", "docker-manifest-digest"}));
  if (finding.manifest_digest.empty()) {
    binds = false;
    errors.emplace_back("payload has no critical.image.docker-manifest-digest");
  } else if (finding.manifest_digest != digest) {
    binds = false;
    errors.push_back("payload names " + quote(finding.manifest_digest) + ", not this digest " +
                     std::string(digest));
  }

  finding.docker_reference = string_of(member_at(critical, {"identity", "docker-reference"}));
  if (finding.docker_reference.empty()) {
    binds = false;
    errors.emplace_back("payload has no critical.identity.docker-reference");
  } else {
    const auto named = parse_reference(finding.docker_reference);
    const auto wanted = parse_reference(repository);
    if (!wanted) {
      binds = false;
      errors.push_back("repository " + quote(repository) + " is malformed");
    } else if (!named) {
      binds = false;
      errors.push_back("payload names malformed repository " + quote(finding.docker_reference));
    } else if (named->name() != wanted->name()) {
      binds = false;
      errors.push_back("payload names repository " + quote(finding.docker_reference) + ", not " +
                       quote(wanted->name()));
    } else if (!named->digest.empty() && named->digest != digest) {
      binds = false;
      errors.push_back("payload docker-reference " + quote(finding.docker_reference) +
                       " pins another digest than " + std::string(digest));
    }
  }
  finding.binds = binds;
}

} // namespace

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

SignatureFinding check_cosign_signature(const nlohmann::json& signature,
                                        const std::vector<TrustedKey>& keys,
                                        std::string_view digest,
                                        std::string_view repository) {
  SignatureFinding finding;
  const json* payload_text = member(&signature, "payload");
  const json* signature_text = member(&signature, "signature");
  if (payload_text == nullptr || !payload_text->is_string() || signature_text == nullptr ||
      !signature_text->is_string()) {
    finding.error = "signature entry is not an object with string fields \"payload\" and "
                    "\"signature\"";
    return finding;
  }
  auto payload = decode_bounded(payload_text->get_ref<const std::string&>(), k_max_payload_size,
                                "signature payload");
  if (!payload) {
    finding.error = payload.error().message;
    return finding;
  }
  auto signature_bytes = decode_bounded(signature_text->get_ref<const std::string&>(),
                                        k_max_signature_size, "signature");
  if (!signature_bytes) {
    finding.error = signature_bytes.error().message;
    return finding;
  }

  std::vector<std::string> errors;
  if (auto key = first_verifying_key(keys, *payload, {*signature_bytes})) {
    finding.key = std::move(*key);
    finding.verified = true;
  } else {
    errors.emplace_back("signature does not verify with any trusted key");
  }

  read_cosign_payload(*payload, digest, repository, finding, errors);
  finding.error = join(errors, "; ");
  return finding;
}

ProvenanceFinding check_attestation(const nlohmann::json& attestation,
                                    const std::vector<TrustedKey>& keys,
                                    std::string_view digest) {
  ProvenanceFinding finding;
  const json* envelope = member(&attestation, "envelope");
  if (envelope == nullptr || !envelope->is_object()) {
    finding.error = "attestation has no \"envelope\" object";
    return finding;
  }
  const json* payload_type = member(envelope, "payloadType");
  if (payload_type == nullptr || !payload_type->is_string()) {
    finding.error = "envelope has no string payloadType";
    return finding;
  }
  const std::string& type = payload_type->get_ref<const std::string&>();
  if (type != k_in_toto_payload_type) {
    finding.error =
        "envelope payloadType " + quote(type) + " is not " + quote(k_in_toto_payload_type);
    return finding;
  }
  const json* payload_text = member(envelope, "payload");
  if (payload_text == nullptr || !payload_text->is_string()) {
    finding.error = "envelope has no string payload";
    return finding;
  }
  auto payload = decode_bounded(payload_text->get_ref<const std::string&>(), k_max_payload_size,
                                "envelope payload");
  if (!payload) {
    finding.error = payload.error().message;
    return finding;
  }
  const json* signatures = member(envelope, "signatures");
  if (signatures == nullptr || !signatures->is_array() || signatures->empty()) {
    finding.error = "envelope has no signatures";
    return finding;
  }
  if (signatures->size() > k_max_envelope_signatures) {
    finding.error =
        "envelope has more than " + std::to_string(k_max_envelope_signatures) + " signatures";
    return finding;
  }

  // Malformed entries cannot verify; they are named only when no signature verifies.
  std::vector<std::string> signature_bytes;
  std::vector<std::string> signature_problems;
  for (std::size_t i = 0; i < signatures->size(); ++i) {
    const json* sig = member(&(*signatures)[i], "sig");
    const std::string label = "envelope signature " + std::to_string(i + 1);
    if (sig == nullptr || !sig->is_string()) {
      signature_problems.push_back(label + " has no string \"sig\"");
      continue;
    }
    auto decoded = decode_bounded(sig->get_ref<const std::string&>(), k_max_signature_size, label);
    if (!decoded) {
      signature_problems.push_back(decoded.error().message);
      continue;
    }
    signature_bytes.push_back(std::move(*decoded));
  }

  std::vector<std::string> errors;
  if (auto key = first_verifying_key(keys, dsse_pae(type, *payload), signature_bytes)) {
    finding.key = std::move(*key);
    finding.verified = true;
  } else {
    errors.emplace_back("no envelope signature verifies over the DSSE PAE with any trusted key");
    errors.insert(errors.end(), signature_problems.begin(), signature_problems.end());
  }

  auto doc = parse_untrusted_json(*payload, "statement");
  if (!doc) {
    errors.push_back(doc.error().message);
  } else {
    read_statement(*doc, digest, finding, errors);
  }
  finding.error = join(errors, "; ");
  return finding;
}

Reasons evaluate_signatures(const SignatureRequirement& requirement,
                            const std::vector<SignatureFinding>& findings) {
  if (findings.empty()) {
    return {Reason{
        reason::signature_missing, "the evidence carries no signature", k_gate_signature, {}}};
  }
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& finding = findings[i];
    const std::string label = "signature " + std::to_string(i + 1) + ": ";
    if (!finding.verified || !finding.binds) {
      std::string error = finding.error;
      if (error.empty()) {
        error = !finding.verified ? "signature does not verify with any trusted key"
                                  : "payload does not bind this image";
      }
      failures.push_back(label + error);
    } else if (!key_required(requirement.keys, finding.key)) {
      failures.push_back(label + "signed by key " + quote(finding.key) +
                         ", which is not one of the required keys (" +
                         quoted_list(requirement.keys) + ")");
    } else {
      return {};
    }
  }
  return {Reason{reason::signature_invalid,
                 "no signature verifies with a required key and binds this image: " +
                     join(failures, "; "),
                 k_gate_signature,
                 {}}};
}

Reasons evaluate_provenance(const ProvenanceRequirement& requirement,
                            const std::vector<ProvenanceFinding>& findings,
                            std::string_view recorded_commit,
                            std::string_view recorded_builder_id) {
  if (findings.empty()) {
    return {Reason{
        reason::provenance_missing, "the evidence carries no attestation", k_gate_provenance, {}}};
  }

  std::vector<std::size_t> acceptable;
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& finding = findings[i];
    const std::string label = "attestation " + std::to_string(i + 1) + ": ";
    if (!finding.error.empty()) {
      failures.push_back(label + finding.error);
    } else if (!finding.verified) {
      failures.push_back(label + "no envelope signature verifies with any trusted key");
    } else if (!finding.subject_matches) {
      failures.push_back(label + "statement subjects do not include this digest");
    } else if (!key_required(requirement.keys, finding.key)) {
      failures.push_back(label + "signed by key " + quote(finding.key) +
                         ", which is not one of the required keys (" +
                         quoted_list(requirement.keys) + ")");
    } else if (!is_known_predicate(finding.predicate_type)) {
      failures.push_back(label + "predicate type " + quote(finding.predicate_type) +
                         " is not SLSA provenance v1 or v0.2");
    } else {
      acceptable.push_back(i);
    }
  }
  if (acceptable.empty()) {
    return {Reason{reason::provenance_invalid,
                   "no attestation is SLSA provenance of this digest verified with a required "
                   "key: " +
                       join(failures, "; "),
                   k_gate_provenance,
                   {}}};
  }

  Reasons mismatches;
  for (std::size_t i : acceptable) {
    const auto& finding = findings[i];
    const std::string label = "attestation " + std::to_string(i + 1) + ": ";
    Reasons own;
    auto mismatch = [&](std::string message) {
      own.push_back(
          Reason{reason::provenance_mismatch, label + std::move(message), k_gate_provenance, {}});
    };
    if (!requirement.builder_ids.empty() &&
        !matches_any_glob(requirement.builder_ids, finding.builder_id)) {
      mismatch("builder id " + quote(finding.builder_id) +
               " matches none of the allowed builder ids (" + quoted_list(requirement.builder_ids) +
               ")");
    }
    if (!requirement.source_repositories.empty() &&
        !matches_any_glob(requirement.source_repositories, finding.source_repository)) {
      mismatch(finding.source_repository.empty()
                   ? "provenance names no source repository; allowed are " +
                         quoted_list(requirement.source_repositories)
                   : "source repository " + quote(finding.source_repository) +
                         " matches none of the allowed source repositories (" +
                         quoted_list(requirement.source_repositories) + ")");
    }
    if (!recorded_commit.empty() && !iequals(finding.source_commit, recorded_commit)) {
      mismatch(finding.source_commit.empty()
                   ? "provenance names no source commit; the record's source.commit is " +
                         quote(recorded_commit)
                   : "source commit " + quote(finding.source_commit) +
                         " differs from the record's source.commit " + quote(recorded_commit));
    }
    if (!recorded_builder_id.empty() && finding.builder_id != recorded_builder_id) {
      mismatch("builder id " + quote(finding.builder_id) +
               " differs from the record's build.builder_id " + quote(recorded_builder_id));
    }
    if (own.empty()) {
      return {};
    }
    mismatches.insert(mismatches.end(), own.begin(), own.end());
  }
  return mismatches;
}

SignatureFinding check_cosign_payload(std::string_view payload,
                                      std::string_view digest,
                                      std::string_view repository) {
  SignatureFinding finding;
  std::vector<std::string> errors;
  read_cosign_payload(std::string(payload), digest, repository, finding, errors);
  finding.error = join(errors, "; ");
  return finding;
}

ProvenanceFinding read_statement_payload(std::string_view payload, std::string_view digest) {
  ProvenanceFinding finding;
  std::vector<std::string> errors;
  auto doc = parse_untrusted_json(payload, "statement");
  if (!doc) {
    errors.push_back(doc.error().message);
  } else {
    read_statement(*doc, digest, finding, errors);
  }
  finding.error = join(errors, "; ");
  return finding;
}

} // namespace dg::policy
