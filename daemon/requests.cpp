#include "daemon/requests.hpp"

#include "policy/reference.hpp"

#include <initializer_list>
#include <set>
#include <string_view>

namespace dg::daemon {

using nlohmann::json;

namespace {

Error bad(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

// Refuse a member of `obj` that is not among `names`, naming it as `prefix` + its name.
Result<void> only_fields(const json& obj,
                         std::initializer_list<std::string_view> names,
                         const std::string& prefix = "") {
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (auto name : names) {
      known = known || key == name;
    }
    if (!known) {
      return bad("unknown field '" + prefix + key + "'");
    }
  }
  return {};
}

// The string member `key` of `obj`: "" when absent or null; an error when of another type.
Result<std::string> optional_string(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return bad(what);
  }
  return it->get<std::string>();
}

// {"reason": "..."} under `break_glass`, when present and not null.
Result<std::optional<std::string>> read_break_glass(const json& body) {
  auto it = body.find("break_glass");
  if (it == body.end() || it->is_null()) {
    return std::optional<std::string>();
  }
  const char* shape = "break_glass must be {\"reason\": \"...\"}";
  if (!it->is_object()) {
    return bad(shape);
  }
  DG_TRY(only_fields(*it, {"reason"}, "break_glass."));
  auto reason = optional_string(*it, "reason", shape);
  if (!reason || reason->empty()) {
    return bad(shape);
  }
  return std::optional<std::string>(*reason);
}

Result<void> read_references(const json& b, PromotionRequest& req) {
  bool has_one = b.contains("reference");
  if (has_one == b.contains("references")) {
    return bad("give either reference (a string) or references (a list)");
  }
  if (has_one) {
    if (!b["reference"].is_string()) {
      return bad("reference must be a string");
    }
    req.inputs.push_back(b["reference"].get<std::string>());
    return {};
  }
  const json& list = b["references"];
  if (!list.is_array() || list.empty() || list.size() > 100) {
    return bad("references must be a list of 1 to 100 strings");
  }
  for (const auto& r : list) {
    if (!r.is_string()) {
      return bad("references must be a list of strings");
    }
    req.inputs.push_back(r.get<std::string>());
  }
  req.bundle = true;
  std::set<std::string> repos;
  for (const auto& text : req.inputs) {
    auto ref = policy::parse_reference(text);
    if (ref && !repos.insert(ref->name()).second) {
      return bad("a bundle holds one reference per repository; " + ref->name() + " appears twice");
    }
  }
  return {};
}

} // namespace

Result<PromotionRequest> read_promotion_request(const json& b) {
  DG_TRY(only_fields(
      b, {"environment", "reference", "references", "dry_run", "deploy_commit", "break_glass"}));
  PromotionRequest req;
  auto env = optional_string(b, "environment", "environment is required (a string)");
  if (!env || env->empty()) {
    return bad("environment is required (a string)");
  }
  req.environment = *env;
  DG_TRY(read_references(b, req));
  if (b.contains("dry_run")) {
    if (!b["dry_run"].is_boolean()) {
      return bad("dry_run must be true or false");
    }
    req.dry_run = b["dry_run"].get<bool>();
  }
  auto commit = optional_string(b, "deploy_commit", "deploy_commit must be a string");
  if (!commit) {
    return commit.error();
  }
  req.deploy_commit = *commit;
  auto glass = read_break_glass(b);
  if (!glass) {
    return glass.error();
  }
  req.break_glass = *glass;
  return req;
}

Result<DeploymentRequest> read_deployment_request(const json& b) {
  DG_TRY(only_fields(b, {"digest", "status", "running_digest"}));
  DeploymentRequest req;
  auto digest = optional_string(b, "digest", "digest is required (sha256:<64 lowercase hex>)");
  if (!digest || !policy::is_sha256_digest(*digest)) {
    return bad("digest is required (sha256:<64 lowercase hex>)");
  }
  req.digest = *digest;
  auto status = optional_string(b, "status", "status must be \"succeeded\" or \"failed\"");
  if (!status || (*status != "succeeded" && *status != "failed")) {
    return bad("status must be \"succeeded\" or \"failed\"");
  }
  req.status = *status;
  const char* running_shape = "running_digest must be sha256:<64 lowercase hex>";
  auto running = optional_string(b, "running_digest", running_shape);
  if (!running || (!running->empty() && !policy::is_sha256_digest(*running))) {
    return bad(running_shape);
  }
  req.running_digest = *running;
  return req;
}

Result<RollbackRequest> read_rollback_request(const json& b) {
  DG_TRY(only_fields(b, {"reason", "repository", "to", "break_glass"}));
  RollbackRequest req;
  auto reason = optional_string(b, "reason", "reason is required (a non-empty string)");
  if (!reason || reason->empty()) {
    return bad("reason is required (a non-empty string)");
  }
  req.reason = *reason;
  auto repository = optional_string(b, "repository", "repository must be a string");
  if (!repository) {
    return repository.error();
  }
  if (!repository->empty()) {
    auto normalized = policy::normalize_repository(*repository);
    if (!normalized) {
      return bad("repository: " + normalized.error().message);
    }
    req.repository = *normalized;
  }
  const char* to_shape = "to must be a digest (sha256:<64 lowercase hex>)";
  auto to = optional_string(b, "to", to_shape);
  if (!to || (!to->empty() && !policy::is_sha256_digest(*to))) {
    return bad(to_shape);
  }
  req.to = *to;
  auto glass = read_break_glass(b);
  if (!glass) {
    return glass.error();
  }
  req.break_glass = *glass;
  return req;
}

Result<RevocationRequest> read_revocation_request(const json& b) {
  DG_TRY(only_fields(b, {"digest", "reason"}));
  RevocationRequest req;
  auto digest = optional_string(b, "digest", "digest is required (sha256:<64 lowercase hex>)");
  if (!digest || !policy::is_sha256_digest(*digest)) {
    return bad("digest is required (sha256:<64 lowercase hex>)");
  }
  req.digest = *digest;
  auto reason = optional_string(b, "reason", "reason is required (a non-empty string)");
  if (!reason || reason->empty()) {
    return bad("reason is required (a non-empty string)");
  }
  req.reason = *reason;
  return req;
}

Result<WhatIfRequest> read_what_if_request(const json& b) {
  DG_TRY(only_fields(b, {"policy"}));
  if (!b.contains("policy") || !b["policy"].is_object()) {
    return bad("policy is required (the proposed policy document)");
  }
  auto proposed = policy::parse_policy(b["policy"].dump());
  if (!proposed) {
    return bad(proposed.error().message);
  }
  return WhatIfRequest{std::move(*proposed)};
}

} // namespace dg::daemon
