#include "policy/decision.hpp"

#include "policy/glob.hpp"
#include "util/fields.hpp"

namespace dg::policy {

namespace {

std::string join(const std::vector<std::string>& items, const char* sep = "; ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) {
      out += sep;
    }
    out += s;
  }
  return out;
}

void add(Reasons& reasons, const char* code, std::string message, std::string gate = {}) {
  reasons.push_back(Reason{code, std::move(message), std::move(gate), {}});
}

} // namespace

Reasons reference_reasons(const Candidate& c) {
  Reasons reasons;
  if (!c.reference) {
    std::string message = "'";
    message += c.input.substr(0, 300);
    message += "' is not a valid image reference: ";
    message += c.reference.error().message;
    add(reasons, reason::malformed_reference, std::move(message));
    return reasons;
  }
  const Reference& ref = *c.reference;
  if (ref.digest.empty()) {
    std::string message = ref.name() + ":" + ref.familiar_tag() +
                          " is a mutable tag; promote an immutable name@sha256:... reference";
    if (c.tag_digests.empty()) {
      message += " (no digest is ledgered under this tag)";
    } else {
      message += ". Digests ledgered under this tag, newest first: ";
      std::vector<std::string> pinned;
      for (const auto& d : c.tag_digests) {
        pinned.push_back(ref.name() + "@" + d);
      }
      message += join(pinned, ", ");
    }
    add(reasons, reason::mutable_reference, std::move(message));
    return reasons;
  }
  if (ref.digest_algorithm() != "sha256") {
    add(reasons, reason::unsupported_digest_algorithm,
        "digest algorithm '" + ref.digest_algorithm() + "' is not supported; only sha256 is");
    return reasons;
  }
  if (!is_sha256_digest(ref.digest)) {
    add(reasons, reason::malformed_reference,
        "a sha256 digest is exactly 64 lowercase hex characters");
  }
  return reasons;
}

Reasons evaluate_evidence(const Policy& policy,
                          const EnvironmentPolicy& env,
                          const Facts& facts,
                          const EvaluationOptions& options) {
  Reasons reasons = evaluate_timeless_evidence(policy, env, facts);
  for (auto& r : evaluate_evidence_age(policy, env, facts, options)) {
    reasons.push_back(std::move(r));
  }
  return reasons;
}

Reasons
evaluate_timeless_evidence(const Policy& policy, const EnvironmentPolicy& env, const Facts& facts) {
  Reasons reasons;
  Checks checks = compute_checks(facts);

  for (const auto& gate : env.require_gates) {
    auto it = facts.gates.find(gate);
    if (it == facts.gates.end()) {
      add(reasons, reason::gate_missing, "no result recorded for required gate " + gate, gate);
    } else if (string_or_empty(it->second, "result") != "pass") {
      add(reasons, reason::gate_failed,
          "gate " + gate + " reported '" + string_or_empty(it->second, "result") + "' (entry " +
              std::to_string(it->second.value("seq", 0)) + ")",
          gate);
    }
  }
  for (const auto& [name, gate] : facts.gates) {
    const json findings = gate.value("findings", json());
    if (!findings.is_object()) {
      continue;
    }
    for (const auto& [severity, max] : env.max_findings) {
      auto count = findings.find(severity);
      if (count != findings.end() && count->is_number_integer() &&
          count->get<std::int64_t>() > max) {
        add(reasons, reason::findings_over_threshold,
            "gate " + name + " found " + std::to_string(count->get<std::int64_t>()) + " " +
                severity + " (at most " + std::to_string(max) + " allowed)",
            name);
      }
    }
  }
  for (const auto& problem : checks.digest_bound.problems) {
    std::string gate = problem.substr(5, problem.find(' ', 5) - 5);
    add(reasons, reason::scan_not_digest_bound, problem, gate);
  }
  for (const auto& problem : checks.artifact_freshness.problems) {
    add(reasons, reason::artifact_not_fresh, problem);
  }
  if (env.require_registry_parity && !checks.registry_parity.ok) {
    add(reasons, reason::registry_parity_mismatch, join(checks.registry_parity.problems),
        "require_registry_parity");
  }
  for (const auto& platform : env.require_platforms) {
    bool found = false;
    if (facts.platforms.is_array()) {
      for (const auto& p : facts.platforms) {
        found = found || string_or_empty(p, "platform") == platform;
      }
    }
    if (!found) {
      add(reasons, reason::platform_missing, "no digest recorded for platform " + platform,
          "require_platforms");
    }
  }
  if (env.require_complete_evidence && !checks.evidence_complete.ok) {
    add(reasons, reason::evidence_incomplete, join(checks.evidence_complete.problems),
        "require_complete_evidence");
  }
  if (!checks.revision_label.ok) {
    add(reasons, reason::revision_mismatch, join(checks.revision_label.problems), "source.commit");
  }
  std::string recorded_commit = string_or_empty(facts.source, "commit");
  std::string recorded_builder = string_or_empty(facts.build, "builder_id");
  std::vector<BundleFinding> bundles;
  if ((env.require_signature && !env.require_signature->identities.empty()) ||
      (env.require_provenance && !env.require_provenance->identities.empty())) {
    for (const auto& b : facts.bundles) {
      bundles.push_back(check_bundle(b, policy.trusted_roots, facts.digest, facts.repository));
    }
  }
  if (env.require_signature) {
    std::vector<SignatureFinding> findings;
    auto keys = policy.keys(env.require_signature->keys);
    for (const auto& s : facts.signatures) {
      findings.push_back(check_cosign_signature(s, keys, facts.digest, facts.repository));
    }
    for (auto& r : evaluate_signature_requirement(*env.require_signature, findings, bundles)) {
      reasons.push_back(std::move(r));
    }
  }
  if (env.require_provenance) {
    std::vector<ProvenanceFinding> findings;
    auto keys = policy.keys(env.require_provenance->keys);
    for (const auto& a : facts.attestations) {
      findings.push_back(check_attestation(a, keys, facts.digest));
    }
    for (auto& r : evaluate_provenance_requirement(*env.require_provenance, findings, bundles,
                                                   recorded_commit, recorded_builder)) {
      reasons.push_back(std::move(r));
    }
  }
  std::string source_ref = string_or_empty(facts.source, "ref");
  if (!env.source_refs.empty()) {
    bool allowed = false;
    for (const auto& pattern : env.source_refs) {
      allowed = allowed || glob_match(pattern, source_ref);
    }
    if (!allowed) {
      add(reasons, reason::source_ref_not_allowed,
          source_ref.empty()
              ? "no source.ref recorded; allowed: " + join(env.source_refs, ", ")
              : "source ref " + source_ref + " is not one of " + join(env.source_refs, ", "),
          "source_refs");
    }
  }
  if (env.stable_semver_only) {
    std::string tag = tag_of_ref(source_ref);
    if (tag.empty()) {
      add(reasons, reason::source_ref_not_allowed,
          "stable releases only: source ref '" + source_ref + "' is not a release tag",
          "stable_semver_only");
    } else if (!is_stable_semver(tag)) {
      add(reasons, reason::source_ref_not_allowed,
          "stable releases only: " + tag + " is not a stable SemVer version (pre-release?)",
          "stable_semver_only");
    }
  }
  if (env.require_pinned_base_image) {
    std::string base = string_or_empty(facts.build, "base_image");
    auto ref = parse_reference(base);
    if (base.empty()) {
      add(reasons, reason::base_image_not_pinned, "no build.base_image recorded",
          "require_pinned_base_image");
    } else if (!ref || !is_sha256_digest(ref->digest)) {
      add(reasons, reason::base_image_not_pinned,
          "base image " + base + " is not pinned by a sha256 digest", "require_pinned_base_image");
    }
  }
  return reasons;
}

Reasons evaluate_evidence_age(const Policy& policy,
                              const EnvironmentPolicy& env,
                              const Facts& facts,
                              const EvaluationOptions& options) {
  Reasons reasons;
  if (env.max_evidence_age_ns && !options.skip_evidence_age) {
    std::optional<TimeNs> pushed;
    if (facts.pushed_at.is_string()) {
      if (auto t = parse_rfc3339(facts.pushed_at.get<std::string>())) {
        pushed = *t;
      }
    }
    if (!pushed) {
      add(reasons, reason::evidence_stale, "no pushed_at recorded to count the evidence's age from",
          "max_evidence_age");
    } else if (options.now - *pushed > *env.max_evidence_age_ns) {
      add(reasons, reason::evidence_stale,
          "the image was pushed at " + facts.pushed_at.get<std::string>() +
              ", longer ago than max_evidence_age " +
              policy.document["environments"][env.name]["max_evidence_age"].get<std::string>(),
          "max_evidence_age");
    }
  }
  if (env.require_observation_max_age_ns) {
    const std::string max_age =
        policy.document["environments"][env.name]["require_observation"]["max_age"]
            .get<std::string>();
    const json& newest = facts.observation;
    std::optional<TimeNs> observed;
    if (newest.is_object() && newest["body"].contains("observed_at") &&
        newest["body"]["observed_at"].is_string()) {
      if (auto t = parse_rfc3339(newest["body"]["observed_at"].get<std::string>())) {
        observed = *t;
      }
    }
    if (!newest.is_object() || !observed) {
      add(reasons, reason::registry_not_observed,
          facts.digest + " has never been observed in its registries", "require_observation");
    } else if (options.now - *observed > *env.require_observation_max_age_ns) {
      add(reasons, reason::registry_not_observed,
          "the newest observation of " + facts.digest + " (seq " + newest["seq"].dump() + ", " +
              newest["body"]["observed_at"].get<std::string>() + ") is older than " + max_age,
          "require_observation");
    } else {
      const ObservationFindings findings = judge_observation(facts, newest["body"]);
      for (const auto& problem : findings.unanswered) {
        add(reasons, reason::registry_not_observed, problem, "require_observation");
      }
      for (const auto& problem : findings.parity) {
        add(reasons, reason::registry_parity_mismatch, problem, "require_observation");
      }
    }
  }
  return reasons;
}

Reasons evaluate(const Policy& policy,
                 const std::string& environment,
                 const Candidate& c,
                 const ApprovedIn& approved_in,
                 const EvaluationOptions& options) {
  return evaluate(policy, environment, c, c.facts ? &*c.facts : nullptr, approved_in, options,
                  [&policy](const EnvironmentPolicy& env, const Facts& facts) {
                    return evaluate_timeless_evidence(policy, env, facts);
                  });
}

Reasons evaluate(const Policy& policy,
                 const std::string& environment,
                 const Candidate& c,
                 const Facts* recorded,
                 const ApprovedIn& approved_in,
                 const EvaluationOptions& options,
                 const TimelessEvidence& timeless) {
  Reasons reasons;
  const EnvironmentPolicy* env = policy.environment(environment);
  if (env == nullptr) {
    std::vector<std::string> names;
    for (const auto& [name, e] : policy.environments) {
      names.push_back(name);
    }
    add(reasons, reason::unknown_environment,
        "environment '" + environment + "' is not in the policy (known: " + join(names, ", ") +
            ")");
  }
  Reasons ref_reasons = reference_reasons(c);
  if (!ref_reasons.empty()) {
    for (auto& r : ref_reasons) {
      reasons.push_back(std::move(r));
    }
    return reasons;
  }
  const Reference& ref = *c.reference;
  if (env != nullptr && !env->repositories.empty()) {
    bool allowed = false;
    for (const auto& pattern : env->repositories) {
      allowed = allowed || glob_match(pattern, ref.name());
    }
    if (!allowed) {
      add(reasons, reason::repository_not_allowed,
          ref.name() + " may not be promoted to " + environment +
              " (allowed: " + join(env->repositories, ", ") + ")",
          "repositories");
    }
  }
  if (c.revoked) {
    add(reasons, reason::revoked, ref.digest + " was revoked: " + *c.revoked);
  }
  if (recorded == nullptr) {
    add(reasons, reason::unknown_digest,
        ref.digest + " has no recorded evidence; record it with POST /v1/validations first");
    return reasons;
  }
  const Facts& facts = *recorded;
  if (!facts.repositories().count(ref.name())) {
    add(reasons, reason::repository_mismatch,
        ref.digest + " was recorded for " + facts.repository + ", not " + ref.name());
  }
  if (env == nullptr) {
    return reasons;
  }
  if (!options.skip_stage_order) {
    for (const auto& earlier : env->after) {
      if (!approved_in(earlier, ref.digest)) {
        add(reasons, reason::stage_order,
            ref.digest + " has not been approved in " + earlier + " (required before " +
                environment + ")",
            "after");
      }
    }
  }
  for (auto& r : timeless(*env, facts)) {
    reasons.push_back(std::move(r));
  }
  for (auto& r : evaluate_evidence_age(policy, *env, facts, options)) {
    reasons.push_back(std::move(r));
  }
  return reasons;
}

} // namespace dg::policy
