#include "policy/sigstore_policy.hpp"

#include "util/time.hpp"

#include <algorithm>

namespace dg::policy {

namespace {

using json = nlohmann::json;
namespace ss = sigstore;

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

std::string identity_text(const ss::CertificateIdentity& id) {
  return id.subject + " (issuer " + id.issuer + ")";
}

std::string rules_text(const std::vector<ss::IdentityRule>& rules) {
  std::vector<std::string> out;
  for (const auto& rule : rules) {
    out.push_back(rule.subject + " (issuer " + rule.issuer + ", trust root " + rule.trusted_root +
                  ")");
  }
  return join(out, ", ");
}

std::string failure_text(const ss::Verification& v) {
  return std::string(ss::to_string(v.failed)) + ": " + v.error;
}

// How one bundle fares against the identities of a requirement.
struct Judged {
  bool allowed = false;              // verified from an allowed identity
  std::vector<std::string> others;   // identities it verified from that are not allowed
  std::vector<std::string> failures; // why it did not verify under a named trust root
};

Judged judge(const BundleFinding& b, const std::vector<ss::IdentityRule>& rules) {
  Judged j;
  for (const auto& rule : rules) {
    auto it = b.by_root.find(rule.trusted_root);
    if (it == b.by_root.end()) {
      continue;
    }
    const ss::Verification& v = it->second;
    if (!v.verified) {
      j.failures.push_back(failure_text(v));
    } else if (ss::identity_matches(rule, v.identity)) {
      j.allowed = true;
      return j;
    } else {
      j.others.push_back(identity_text(v.identity));
    }
  }
  std::sort(j.others.begin(), j.others.end());
  j.others.erase(std::unique(j.others.begin(), j.others.end()), j.others.end());
  return j;
}

Reason make(const char* code, std::string message, const char* gate) {
  return Reason{code, std::move(message), gate, {}};
}

} // namespace

SigstoreTrust::SigstoreTrust(std::string name, ss::TrustedRoot root, std::string sha256)
    : m_name(std::move(name)), m_root(std::move(root)), m_sha256(std::move(sha256)) {}

ss::Verification SigstoreTrust::verify(const std::string& key,
                                       const ss::Bundle& bundle,
                                       const ss::Artifact& artifact) const {
  {
    std::lock_guard lock(m_mutex);
    auto it = m_memo.find(key);
    if (it != m_memo.end()) {
      return it->second;
    }
  }
  // Verified outside the lock; two threads may both verify the same bundle, with one result.
  ss::Verification v = ss::verify_bundle(bundle, m_root, artifact);
  std::lock_guard lock(m_mutex);
  if (m_memo.size() >= k_memo_size) {
    m_memo.clear();
  }
  m_memo.emplace(key, v);
  return v;
}

const ss::Verification* BundleFinding::shown(std::string* root_name) const {
  const std::pair<const std::string, ss::Verification>* pick = nullptr;
  for (const auto& entry : by_root) {
    if (entry.second.verified) {
      pick = &entry;
      break;
    }
    if (pick == nullptr) {
      pick = &entry;
    }
  }
  if (pick == nullptr) {
    return nullptr;
  }
  if (root_name != nullptr) {
    *root_name = pick->first;
  }
  return &pick->second;
}

BundleFinding check_bundle(const json& item,
                           const SigstoreTrusts& trusts,
                           std::string_view digest,
                           std::string_view repository) {
  BundleFinding f;
  const json* bundle_json = item.is_object() && item.contains("bundle") ? &item["bundle"] : nullptr;
  if (bundle_json == nullptr) {
    f.error = "the item has no \"bundle\"";
    return f;
  }
  auto bundle = ss::parse_bundle(*bundle_json);
  if (!bundle) {
    f.error = "bundle: " + bundle.error().message;
    return f;
  }
  f.dsse = bundle->dsse;
  ss::Artifact artifact;
  if (f.dsse) {
    f.statement = read_statement_payload(bundle->payload, digest);
    f.provenance = f.statement.predicate_type == k_slsa_provenance_v1 ||
                   f.statement.predicate_type == k_slsa_provenance_v02;
    if (!f.statement.subject_matches) {
      f.error = f.statement.error;
      return f;
    }
    auto by_digest = ss::artifact_from_digest(digest);
    if (!by_digest) {
      f.error = by_digest.error().message;
      return f;
    }
    artifact = std::move(*by_digest);
  } else {
    const json* payload = item.contains("payload") ? &item["payload"] : nullptr;
    auto decoded = payload != nullptr && payload->is_string()
                       ? base64_decode(payload->get<std::string>())
                       : Result<std::string>(make_error(Errc::invalid_argument, ""));
    if (!decoded || decoded->empty()) {
      f.error = "a message-signature bundle needs its signed payload (base64) beside it";
      return f;
    }
    const SignatureFinding binding = check_cosign_payload(*decoded, digest, repository);
    if (!binding.binds) {
      f.error = binding.error;
      return f;
    }
    artifact.bytes = std::move(*decoded);
  }
  const std::string key = to_hex(sha256(item.dump())) + " " + std::string(digest);
  for (const auto& [name, trust] : trusts) {
    f.by_root.emplace(name, trust->verify(key, *bundle, artifact));
  }
  return f;
}

json bundle_json(const BundleFinding& f) {
  std::string root;
  const ss::Verification* v = f.shown(&root);
  json out = {{"kind", f.dsse ? "dsse" : "message-signature"},
              {"verified", v != nullptr && v->verified && f.error.empty()},
              {"trusted_root", root.empty() ? json(nullptr) : json(root)},
              {"identity", nullptr},
              {"issuer", nullptr},
              {"log_index", nullptr},
              {"integrated_time", nullptr}};
  if (v != nullptr) {
    out["identity"] = v->identity.subject;
    out["issuer"] = v->identity.issuer;
    if (v->log_index) {
      out["log_index"] = *v->log_index;
    }
    if (v->integrated_time) {
      out["integrated_time"] = format_rfc3339(*v->integrated_time * 1'000'000'000);
    }
    const std::pair<const char*, const std::string*> github[] = {
        {"workflow_repository", &v->identity.github_workflow_repository},
        {"workflow_ref", &v->identity.github_workflow_ref},
        {"workflow_sha", &v->identity.github_workflow_sha},
        {"workflow_trigger", &v->identity.github_workflow_trigger},
        {"run_invocation_uri", &v->identity.run_invocation_uri}};
    json gh = json::object();
    for (const auto& [name, value] : github) {
      if (!value->empty()) {
        gh[name] = *value;
      }
    }
    if (!gh.empty()) {
      out["github"] = gh;
    }
  }
  if (f.dsse) {
    out["predicate_type"] = f.statement.predicate_type;
    out["builder_id"] = f.statement.builder_id;
    out["source_repository"] = f.statement.source_repository;
    out["source_commit"] = f.statement.source_commit;
  }
  const std::string error =
      !f.error.empty() ? f.error : (v != nullptr && !v->verified ? failure_text(*v) : "");
  out["error"] = error.empty() ? json(nullptr) : json(error);
  if (v == nullptr && f.error.empty()) {
    out["error"] = "the policy lists no trusted_roots to verify it with";
  }
  return out;
}

Reasons evaluate_signature_requirement(const SignatureRequirement& requirement,
                                       const std::vector<SignatureFinding>& signatures,
                                       const std::vector<BundleFinding>& bundles) {
  if (requirement.identities.empty()) {
    return evaluate_signatures(requirement, signatures);
  }
  Reasons by_key;
  if (!requirement.keys.empty()) {
    by_key = evaluate_signatures(requirement, signatures);
    if (by_key.empty()) {
      return {};
    }
  }
  std::vector<std::string> others;
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    const std::string name = "bundle " + std::to_string(i + 1) + ": ";
    if (!bundles[i].error.empty()) {
      failures.push_back(name + bundles[i].error);
      continue;
    }
    const Judged j = judge(bundles[i], requirement.identities);
    if (j.allowed) {
      return {};
    }
    others.insert(others.end(), j.others.begin(), j.others.end());
    for (const auto& failure : j.failures) {
      failures.push_back(name + failure);
    }
  }
  if (!others.empty()) {
    return {make(reason::identity_mismatch,
                 "signed by " + join(others, ", ") +
                     ", not by an allowed identity: " + rules_text(requirement.identities),
                 "require_signature")};
  }
  if (signatures.empty() && bundles.empty()) {
    return {make(reason::signature_missing, "no signature or Sigstore bundle is recorded",
                 "require_signature")};
  }
  for (const Reason& r : by_key) {
    if (r.code == reason::signature_invalid) {
      failures.insert(failures.begin(), r.message);
    }
  }
  return {make(reason::signature_invalid,
               "no signature verifies with a listed key or identity: " + join(failures, "; "),
               "require_signature")};
}

Reasons evaluate_provenance_requirement(const ProvenanceRequirement& requirement,
                                        const std::vector<ProvenanceFinding>& attestations,
                                        const std::vector<BundleFinding>& bundles,
                                        std::string_view recorded_commit,
                                        std::string_view recorded_builder_id) {
  if (requirement.identities.empty()) {
    return evaluate_provenance(requirement, attestations, recorded_commit, recorded_builder_id);
  }
  // Attestations count only when verified by a listed key; bundles when verified from an
  // allowed identity. The rest of the judgement is evaluate_provenance's, accepting any key.
  std::vector<ProvenanceFinding> findings;
  for (ProvenanceFinding f : attestations) {
    const auto& keys = requirement.keys;
    if (f.verified && std::find(keys.begin(), keys.end(), f.key) == keys.end()) {
      f.verified = false;
      f.error = "verified by key " + f.key + ", which require_provenance does not list" +
                (f.error.empty() ? "" : "; " + f.error);
    }
    findings.push_back(std::move(f));
  }
  std::vector<std::string> others;
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    const BundleFinding& b = bundles[i];
    if (!b.dsse || (b.error.empty() && !b.provenance)) {
      continue; // not provenance
    }
    ProvenanceFinding f = b.statement;
    const std::string name = "bundle " + std::to_string(i + 1) + ": ";
    if (!b.error.empty()) {
      f.error = name + b.error;
    } else {
      const Judged j = judge(b, requirement.identities);
      f.verified = j.allowed;
      f.key = j.allowed ? "sigstore" : "";
      others.insert(others.end(), j.others.begin(), j.others.end());
      if (!j.allowed) {
        f.error = name + (j.failures.empty() ? "verified from an identity not allowed"
                                             : join(j.failures, "; "));
      }
    }
    findings.push_back(std::move(f));
  }
  ProvenanceRequirement any_key = requirement;
  any_key.keys.clear();
  Reasons reasons = evaluate_provenance(any_key, findings, recorded_commit, recorded_builder_id);
  const bool unmet_for_want_of_one =
      !reasons.empty() && std::all_of(reasons.begin(), reasons.end(), [](const Reason& r) {
        return r.code == reason::provenance_invalid || r.code == reason::provenance_missing;
      });
  if (unmet_for_want_of_one && !others.empty()) {
    return {make(reason::identity_mismatch,
                 "provenance signed by " + join(others, ", ") +
                     ", not by an allowed identity: " + rules_text(requirement.identities),
                 "require_provenance")};
  }
  return reasons;
}

} // namespace dg::policy
