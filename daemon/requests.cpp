#include "daemon/requests.hpp"

#include "policy/reference.hpp"
#include "util/fields.hpp"

#include <map>
#include <set>

namespace dg::daemon {

using nlohmann::json;

namespace {

constexpr const char* k_digest_shape = "sha256:<64 lowercase hex>";

// Read `body` strictly with `fn`; a null field reads as absent.
Result<void> read_strictly(const json& body, const FieldReader::Body& fn) {
  return FieldReader::read(body, "", fn, FieldReader::Nulls::absent);
}

// A required non-empty string field.
Result<std::string> non_empty(FieldReader& r, std::string_view key, std::string_view what) {
  if (!r.has(key)) {
    return r.missing(key, what);
  }
  std::string value;
  DG_ASSIGN(value, r.string(key));
  if (value.empty()) {
    return r.error(key, "must not be empty (" + std::string(what) + ")");
  }
  return value;
}

// An optional digest field: "" when absent.
Result<std::string> optional_digest(FieldReader& r, std::string_view key) {
  std::optional<std::string> value;
  DG_ASSIGN(value, r.optional_string(key));
  if (value && !policy::is_sha256_digest(*value)) {
    return r.error(key, std::string("must be a digest (") + k_digest_shape + ")");
  }
  return value.value_or(std::string());
}

// A required digest field.
Result<std::string> digest(FieldReader& r, std::string_view key) {
  if (!r.has(key)) {
    return r.missing(key, k_digest_shape);
  }
  return optional_digest(r, key);
}

// `break_glass`: {"reason": "..."}, when present.
Result<std::optional<std::string>> break_glass(FieldReader& r) {
  std::optional<std::string> reason;
  DG_TRY(r.optional_object("break_glass", [&](FieldReader& glass) -> Result<void> {
    DG_ASSIGN(reason, non_empty(glass, "reason", "why the policy is overridden"));
    return {};
  }));
  return reason;
}

// `reference` (one) or `references` (a bundle of 1 to 100, one per repository).
Result<void> references(FieldReader& r, PromotionRequest& req) {
  bool one = r.has("reference");
  bool many = r.has("references");
  if (!one && !many) {
    return r.missing("reference", "or references, a list");
  }
  if (one && many) {
    return r.error("references", "give either reference (a string) or references (a list)");
  }
  if (one) {
    std::string input;
    DG_ASSIGN(input, r.string("reference"));
    req.inputs.push_back(std::move(input));
    return {};
  }
  DG_ASSIGN(req.inputs, r.strings("references"));
  if (req.inputs.empty() || req.inputs.size() > 100) {
    return r.error("references", "must be a list of 1 to 100 strings");
  }
  req.bundle = true;
  std::set<std::string> repos;
  for (const auto& text : req.inputs) {
    auto ref = policy::parse_reference(text);
    if (ref && !repos.insert(ref->name()).second) {
      return r.error("references", "a bundle holds one reference per repository; " + ref->name() +
                                       " appears twice");
    }
  }
  return {};
}

} // namespace

Result<PromotionRequest> read_promotion_request(const json& body) {
  PromotionRequest req;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    DG_ASSIGN(req.environment, non_empty(r, "environment", "a string"));
    DG_TRY(references(r, req));
    std::optional<bool> dry_run;
    DG_ASSIGN(dry_run, r.optional_boolean("dry_run"));
    req.dry_run = dry_run.value_or(false);
    std::optional<std::string> commit;
    DG_ASSIGN(commit, r.optional_string("deploy_commit"));
    req.deploy_commit = commit.value_or(std::string());
    DG_ASSIGN(req.break_glass, break_glass(r));
    return {};
  }));
  return req;
}

Result<DeploymentRequest> read_deployment_request(const json& body) {
  DeploymentRequest req;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    DG_ASSIGN(req.digest, digest(r, "digest"));
    DG_ASSIGN(req.status, non_empty(r, "status", "succeeded or failed"));
    if (req.status != "succeeded" && req.status != "failed") {
      return r.error("status", "must be \"succeeded\" or \"failed\"");
    }
    DG_ASSIGN(req.running_digest, optional_digest(r, "running_digest"));
    return {};
  }));
  return req;
}

Result<RollbackRequest> read_rollback_request(const json& body) {
  RollbackRequest req;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    DG_ASSIGN(req.reason, non_empty(r, "reason", "why the environment is rolled back"));
    std::optional<std::string> repository;
    DG_ASSIGN(repository, r.optional_string("repository"));
    if (repository) {
      auto normalized = policy::normalize_repository(*repository);
      if (!normalized) {
        return r.error("repository", normalized.error().message);
      }
      req.repository = *normalized;
    }
    DG_ASSIGN(req.to, optional_digest(r, "to"));
    DG_ASSIGN(req.break_glass, break_glass(r));
    return {};
  }));
  return req;
}

Result<RevocationRequest> read_revocation_request(const json& body) {
  RevocationRequest req;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    DG_ASSIGN(req.digest, digest(r, "digest"));
    DG_ASSIGN(req.reason, non_empty(r, "reason", "why the digest is revoked"));
    return {};
  }));
  return req;
}

Result<ObservationRequest> read_observation_request(const json& body) {
  ObservationRequest req;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    DG_ASSIGN(req.digest, digest(r, "digest"));
    auto names = r.optional_strings("names");
    if (!names) {
      return names.error();
    }
    if (!names->has_value()) {
      return {};
    }
    if ((*names)->size() > 32) {
      return r.error("names", "at most 32 repositories");
    }
    for (std::size_t k = 0; k < (*names)->size(); ++k) {
      auto normalized = policy::normalize_repository((**names)[k]);
      if (!normalized) {
        return r.error("names[" + std::to_string(k) + "]", normalized.error().message);
      }
      req.names.push_back(std::move(*normalized));
    }
    return {};
  }));
  return req;
}

Result<WhatIfRequest> read_what_if_request(const json& body) {
  std::optional<policy::Policy> proposed;
  DG_TRY(read_strictly(body, [&](FieldReader& r) -> Result<void> {
    // The trust roots the proposed policy names, by the file name it gives them: the daemon
    // reads no file a request names.
    std::map<std::string, std::string> roots;
    DG_TRY(r.optional_object("trusted_roots", [&](FieldReader& files) -> Result<void> {
      for (const auto& file : files.keys()) {
        std::string text;
        DG_ASSIGN(text, files.string(file));
        roots.emplace(file, std::move(text));
      }
      return {};
    }));
    const json* doc = r.raw("policy");
    if (doc == nullptr) {
      return r.missing("policy", "the proposed policy document");
    }
    if (!doc->is_object()) {
      return r.error("policy", "must be an object (the proposed policy document)");
    }
    auto load = [&](const std::string& file) -> Result<std::string> {
      auto it = roots.find(file);
      if (it == roots.end()) {
        return make_error(Errc::invalid_argument, "the request carries no trust root for '" + file +
                                                      "' (give its text in trusted_roots[\"" +
                                                      file + "\"])");
      }
      return it->second;
    };
    // The policy document is read strictly by the policy's own reader; its paths are under it.
    auto parsed = policy::parse_policy(doc->dump(), load);
    if (!parsed) {
      return r.error("policy", parsed.error().message);
    }
    proposed = std::move(*parsed);
    return {};
  }));
  return WhatIfRequest{std::move(*proposed)};
}

} // namespace dg::daemon
