// The typed request bodies of the daemon's endpoints, and their strict readers (util/fields.hpp).
// Every reader refuses a field that its shape does not name, at any level, with a message that
// names it by its path ("dryrun: unknown field", "break_glass.reasn: unknown field"): a typo must
// never change what a request does. A null field reads as absent. The readers take a parsed JSON
// object (Core::body_object answers 400 `bad-json` for anything else) and fail with
// Errc::invalid_argument, "<path>: <what is wrong>", which handlers answer as 400 `bad-request`.
//
// Thread-safety: pure functions.
#pragma once

#include "policy/policy.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace dg::daemon {

// POST /v1/promotions: {"environment", "reference" | "references", "dry_run"?, "deploy_commit"?,
// "break_glass"?: {"reason"}}.
struct PromotionRequest {
  std::string environment;
  std::vector<std::string> inputs;
  bool bundle = false;
  bool dry_run = false;
  std::string deploy_commit;
  std::optional<std::string> break_glass;
};

// POST /v1/environments/{env}/deployments: {"digest", "status", "running_digest"?}.
struct DeploymentRequest {
  std::string digest;
  std::string status; // succeeded or failed
  std::string running_digest;
};

// POST /v1/environments/{env}/rollback: {"reason", "repository"?, "to"?, "break_glass"?}.
struct RollbackRequest {
  std::string reason;
  std::string repository; // normalized; empty: the environment's only repository
  std::string to;         // empty: the last known-good digest
  std::optional<std::string> break_glass;
};

// POST /v1/revocations: {"digest", "reason"}.
struct RevocationRequest {
  std::string digest;
  std::string reason;
};

// POST /v1/observations: {"digest", "names"?: ["<extra repositories>"]}; names normalized.
struct ObservationRequest {
  std::string digest;
  std::vector<std::string> names;
};

// POST /v1/policy/what-if: {"policy": <a policy document>}.
// POST /v1/policy/what-if: {"policy": <a policy document>, "trusted_roots"?: {"<file>": "<text>"}}:
// the trust roots the policy names are given by the request, under the file name the policy gives
// each (the daemon reads no file a request names).
struct WhatIfRequest {
  policy::Policy policy;
};

Result<PromotionRequest> read_promotion_request(const nlohmann::json& body);
Result<DeploymentRequest> read_deployment_request(const nlohmann::json& body);
Result<ObservationRequest> read_observation_request(const nlohmann::json& body);
Result<RollbackRequest> read_rollback_request(const nlohmann::json& body);
Result<RevocationRequest> read_revocation_request(const nlohmann::json& body);
Result<WhatIfRequest> read_what_if_request(const nlohmann::json& body);

} // namespace dg::daemon
