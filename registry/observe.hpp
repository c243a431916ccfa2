// An observation: what the registries that should hold a digest serve for it now. The body is the
// ledger's `observation` entry body (see PRODUCT.md "Registries" and docs/operations.md):
//   {"digest", "observed_at",
//    "registries": [{"name", "present", "media_type", "platforms": [{"platform", "digest"}],
//                    "error", "tags": {"<recorded tag>": "<digest it points at there, or null>"}}],
//    "signatures": [...], "attestations": [...], "bundles": [...]}
// `error` is null when the registry answered (present or not), else "<failure kind>: <details>".
// Nothing is judged here: the policy room compares an observation with what was recorded.
#pragma once

#include "registry/client.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dg::registry {

struct ObservationRequest {
  std::string digest;
  std::vector<std::string> repositories; // "host/path" each, asked in this order
  std::vector<std::string> tags;         // recorded tags whose target is reported
  std::string observed_at;               // RFC 3339, written into the body
};

// Asks every repository of `request` (sequentially, each call bounded by the client's options).
nlohmann::json observe(Client& client, const ObservationRequest& request);

// The names of the registries of `body` that did not answer, in order.
std::vector<std::string> unanswered(const nlohmann::json& body);

} // namespace dg::registry
