#include "intake/ci_env.hpp"

#include <cstdlib>

namespace dg::intake {
namespace {

void set_if(nlohmann::json& obj, const char* key, const std::optional<std::string>& value) {
  if (value && !value->empty()) {
    obj[key] = *value;
  }
}

CiFacts github(const Getenv& env) {
  CiFacts out;
  out.system = "github";
  std::string server = env("GITHUB_SERVER_URL").value_or("https://github.com");
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  auto repo = env("GITHUB_REPOSITORY");
  std::optional<std::string> repository;
  if (repo) {
    repository = server + "/" + *repo;
  }
  set_if(out.source, "repository", repository);
  set_if(out.source, "commit", env("GITHUB_SHA"));
  set_if(out.source, "ref", env("GITHUB_REF"));
  if (auto workflow_ref = env("GITHUB_WORKFLOW_REF")) {
    out.build["builder_id"] = server + "/" + *workflow_ref;
  }
  auto run_id = env("GITHUB_RUN_ID");
  set_if(out.build, "run_id", run_id);
  if (repository && run_id) {
    out.build["run_url"] = *repository + "/actions/runs/" + *run_id;
  }
  return out;
}

CiFacts gitlab(const Getenv& env) {
  CiFacts out;
  out.system = "gitlab";
  auto project = env("CI_PROJECT_URL");
  set_if(out.source, "repository", project);
  set_if(out.source, "commit", env("CI_COMMIT_SHA"));
  std::optional<std::string> ref_name;
  if (auto tag = env("CI_COMMIT_TAG")) {
    out.source["ref"] = "refs/tags/" + *tag;
    ref_name = tag;
  } else if (auto branch = env("CI_COMMIT_BRANCH")) {
    out.source["ref"] = "refs/heads/" + *branch;
    ref_name = branch;
  }
  auto config = env("CI_CONFIG_PATH");
  if (project && ref_name) {
    out.build["builder_id"] =
        *project + "/-/blob/" + *ref_name + "/" + config.value_or(".gitlab-ci.yml");
  }
  set_if(out.build, "run_id", env("CI_PIPELINE_ID"));
  set_if(out.build, "run_url", env("CI_PIPELINE_URL"));
  return out;
}

} // namespace

Getenv process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name); // NOLINT(concurrency-mt-unsafe): read-only use
    if (value == nullptr || *value == '\0') {
      return std::nullopt;
    }
    return std::string(value);
  };
}

CiFacts read_ci_environment(const Getenv& getenv) {
  if (getenv("GITHUB_ACTIONS") || getenv("GITEA_ACTIONS") || getenv("FORGEJO_ACTIONS")) {
    return github(getenv);
  }
  if (getenv("GITLAB_CI")) {
    return gitlab(getenv);
  }
  return {};
}

} // namespace dg::intake
