// The daemon's one route table. To add a route, add a line here and its handler in the file of
// its resource (see daemon/router.hpp).
#include "daemon/router.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

namespace {

// clang-format off
constexpr Route k_routes[] = {
  // method  pattern                                role                 handler
  {"GET",  "/healthz",                              "none",              get_healthz},
  {"GET",  "/readyz",                               "none",              get_readyz},
  {"GET",  "/metrics",                              "none",              get_metrics},
  {"GET",  "/ui",                                   "none",              get_ui},
  {"GET",  "/ui/{file*}",                           "none",              get_ui},
  {"GET",  "/v1/whoami",                            "any",               get_whoami},
  {"GET",  "/v1/entries",                           "any",               get_entries},
  {"GET",  "/v1/entries/{seq}",                     "any",               get_entry},
  {"GET",  "/v1/checkpoint",                        "any",               get_checkpoint},
  {"GET",  "/v1/proofs/consistency",                "any",               get_consistency},
  {"GET",  "/v1/keys",                              "any",               get_keys},
  {"GET",  "/v1/digests/{digest}",                  "any",               get_digest},
  {"GET",  "/v1/environments",                      "any",               get_environments},
  {"GET",  "/v1/environments/{env}",                "any",               get_environment},
  {"POST", "/v1/environments/{env}/deployments",    "promoter",          post_deployment},
  {"POST", "/v1/environments/{env}/rollback",       "operator",          post_rollback},
  {"GET",  "/v1/policy",                            "any",               get_policy},
  // Read-only: any role.
  {"POST", "/v1/policy/what-if",                    "any",               post_what_if},
  {"GET",  "/v1/schemas/validation",                "any",               get_validation_schema},
  {"POST", "/v1/validations",                       "recorder",          post_validation},
  // Break glass needs operator, not promoter: the handler checks which of the two it needs.
  {"POST", "/v1/promotions",                        "promoter|operator", post_promotion},
  {"POST", "/v1/revocations",                       "operator",          post_revocation},
  // Registry calls, on the observer's threads.
  {"POST", "/v1/observations",                      "recorder|operator", post_observation},
  {"GET",  "/v1/resolve",                           "any",               get_resolve},
  // Kubernetes' webhook client may authenticate with a client certificate instead of a token.
  {"POST", "/v1/admission/{environment}",           "any-or-certificate", post_admission},
};
// clang-format on

} // namespace

std::span<const Route> route_table() {
  return k_routes;
}

} // namespace dg::daemon
