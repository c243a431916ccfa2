// Source and build facts from the environment a CI job runs in: GitHub Actions, Forgejo and
// Gitea Actions (which set the same GITHUB_* variables) and GitLab CI.
//
// All functions are thread-safe when `getenv` is.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

namespace dg::intake {

// Looks a variable up: its value, or nullopt when unset. Empty values count as unset.
using Getenv = std::function<std::optional<std::string>(const char*)>;

// The process environment as a Getenv.
Getenv process_environment();

struct CiFacts {
  std::string system;                               // "github", "gitlab", or empty when unknown
  nlohmann::json source = nlohmann::json::object(); // repository, commit, ref (those known)
  nlohmann::json build = nlohmann::json::object();  // builder_id, run_id, run_url (those known)
};

// What the CI's variables say. Unknown systems give empty objects; nothing is guessed.
//   GitHub / Forgejo: repository = GITHUB_SERVER_URL/GITHUB_REPOSITORY, commit = GITHUB_SHA,
//     ref = GITHUB_REF, run_id = GITHUB_RUN_ID, run_url = <repository>/actions/runs/<run_id>,
//     builder_id = GITHUB_SERVER_URL/GITHUB_WORKFLOW_REF (the workflow file at its ref).
//   GitLab: repository = CI_PROJECT_URL, commit = CI_COMMIT_SHA, ref = refs/tags/CI_COMMIT_TAG
//     or refs/heads/CI_COMMIT_BRANCH, run_id = CI_PIPELINE_ID, run_url = CI_PIPELINE_URL,
//     builder_id = CI_PROJECT_URL/-/blob/<ref name>/CI_CONFIG_PATH.
CiFacts read_ci_environment(const Getenv& getenv);

} // namespace dg::intake
