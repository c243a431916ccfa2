// End-to-end: `digestgate pin` through the real CLI against a real daemon. Manifests shaped like
// real ones (a Deployment with an init container, a CronJob, a kustomization, comments and
// quoting) are pinned to the environment's current digests with everything else kept; an image
// without a current digest changes no file (exit 1); YAML that is not Kubernetes is refused
// (exit 2).
#include "tests/support/daemon.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <vector>

using namespace dg::test;
using nlohmann::json;

namespace {

const std::string k_examples = std::string(DG_SOURCE_DIR) + "/docs/examples";
const std::string k_data = std::string(DG_SOURCE_DIR) + "/tests/data/k8s";
const std::string k_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";

const std::string k_deployment = R"(# The API: migrations run first, in an init container.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: ghcr.io/acme/app:v1.4.2  # same image, other entrypoint
      containers:
      - name: api
        image: "ghcr.io/acme/app"
---
# An empty document follows.
---
)";

const std::string k_kustomization = R"(resources:
- deployment.yaml
images:
- name: ghcr.io/acme/app  # the application
  newTag: v1.4.2
)";

// A daemon with the example evidence recorded and ghcr.io/acme/app@k_digest current in staging.
struct Staged {
  Daemon daemon{json::parse(dg::read_file(k_examples + "/demo-policy.json").value())};
  TempDir dir;

  Staged() {
    auto recorded = cli({"record", "--evidence", k_examples + "/evidence.json"});
    REQUIRE_MESSAGE(recorded.exit_code == 0, recorded.err);
    auto staged = cli({"promote", "--env", "staging", "--ref", "ghcr.io/acme/app@" + k_digest});
    REQUIRE_MESSAGE(staged.exit_code == 0, staged.out << staged.err);
  }
  CliResult cli(const std::vector<std::string>& args) const {
    return daemon.cli(args, k_admin_token);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = dir.path() + "/" + name;
    REQUIRE(dg::write_file_atomic(path, text, 0600).ok());
    return path;
  }
};

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

std::string slurp(const std::string& path) {
  return dg::read_file(path).value();
}

} // namespace

TEST_SUITE_BEGIN("E2E pin");

TEST_CASE("pin rewrites a Deployment, a CronJob and a kustomization to the current digests") {
  Staged s;
  const std::string deployment = s.write("deployment.yaml", k_deployment);
  const std::string cronjob = s.write("cronjob.yaml", slurp(k_data + "/cronjob.yaml"));
  const std::string kustomization = s.write("kustomization.yaml", k_kustomization);

  auto pinned = s.cli({"pin", "--env", "staging", deployment, cronjob, kustomization});
  REQUIRE_MESSAGE(pinned.exit_code == 0, pinned.out << pinned.err);
  CHECK(pinned.out.find("ghcr.io/acme/app:v1.4.2 -> ghcr.io/acme/app@" + k_digest) !=
        std::string::npos);

  std::string expected = replaced(k_deployment, "image: ghcr.io/acme/app:v1.4.2  #",
                                  "image: ghcr.io/acme/app@" + k_digest + "  #");
  expected = replaced(expected, "image: \"ghcr.io/acme/app\"",
                      "image: \"ghcr.io/acme/app@" + k_digest + "\"");
  CHECK(slurp(deployment) == expected);
  CHECK(slurp(cronjob) == replaced(slurp(k_data + "/cronjob.yaml"),
                                   "@sha256:" + std::string(64, '0'), "@" + k_digest));
  CHECK(slurp(kustomization) == replaced(k_kustomization, "newTag: v1.4.2", "digest: " + k_digest));
  struct stat info {};
  REQUIRE(::stat(deployment.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  // Pinned files stay as they are; --json lists what changed: nothing.
  auto again = s.cli({"pin", "--env", "staging", "--json", deployment, cronjob, kustomization});
  REQUIRE_MESSAGE(again.exit_code == 0, again.out << again.err);
  const json report = again.json();
  CHECK(report["environment"] == "staging");
  REQUIRE(report["files"].size() == 3);
  for (const auto& file : report["files"]) {
    CHECK(file["changed"] == false);
    CHECK(file["changes"].empty());
  }
  CHECK(report["files"][2]["kind"] == "kustomization");
  CHECK(slurp(deployment) == expected);
}

TEST_CASE("pin --json lists each change") {
  Staged s;
  const std::string deployment = s.write("deployment.yaml", k_deployment);
  auto pinned = s.cli({"pin", "--env", "staging", "--json", deployment});
  REQUIRE_MESSAGE(pinned.exit_code == 0, pinned.out << pinned.err);
  const json report = pinned.json();
  CHECK(report["written"] == true);
  REQUIRE(report["files"].size() == 1);
  CHECK(report["files"][0]["changed"] == true);
  const json changes = report["files"][0]["changes"];
  REQUIRE(changes.size() == 2);
  CHECK(changes[0]["where"] == "Deployment/api spec.template.spec.initContainers[0].image");
  CHECK(changes[0]["from"] == "ghcr.io/acme/app:v1.4.2");
  CHECK(changes[0]["to"] == "ghcr.io/acme/app@" + k_digest);
  CHECK(changes[1]["where"] == "Deployment/api spec.template.spec.containers[0].image");
  CHECK(changes[1]["from"] == "ghcr.io/acme/app");
  CHECK(report["missing"].empty());
}

TEST_CASE("pin exits 1 and changes no file when an image has no current digest") {
  Staged s;
  const std::string good = s.write("api.yaml", k_deployment);
  const std::string web = s.write("web.yaml", slurp(k_data + "/deployment.yaml"));

  auto refused = s.cli({"pin", "--env", "staging", good, web});
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.err.find("nginx:1.25: no current digest for docker.io/library/nginx in "
                                 "staging") != std::string::npos,
                refused.err);
  CHECK(refused.err.find("no file was changed") != std::string::npos);
  CHECK(slurp(good) == k_deployment);
  CHECK(slurp(web) == slurp(k_data + "/deployment.yaml"));

  auto json_refusal = s.cli({"pin", "--env", "staging", "--json", good, web});
  CHECK(json_refusal.exit_code == 1);
  const json report = json_refusal.json();
  CHECK(report["written"] == false);
  REQUIRE(report["missing"].size() == 1);
  CHECK(report["missing"][0]["file"] == web);
  CHECK(report["missing"][0]["image"] == "nginx:1.25");

  // Nothing is current in production yet; an unknown environment is refused by the daemon.
  CHECK(s.cli({"pin", "--env", "production", good}).exit_code == 1);
  auto unknown = s.cli({"pin", "--env", "nowhere", good});
  CHECK(unknown.exit_code == 1);
  CHECK(slurp(good) == k_deployment);
}

TEST_CASE("pin refuses a file that is not a Kubernetes manifest or kustomization with exit 2") {
  Staged s;
  const std::string good = s.write("api.yaml", k_deployment);
  const std::string workflow = s.write("workflow.yaml", slurp(k_data + "/workflow.yaml"));
  auto refused = s.cli({"pin", "--env", "staging", good, workflow});
  CHECK(refused.exit_code == 2);
  CHECK_MESSAGE(refused.err.find(workflow + " is not a Kubernetes manifest or kustomization: "
                                            "document 1 is not a Kubernetes object") !=
                    std::string::npos,
                refused.err);
  CHECK(slurp(good) == k_deployment);

  const std::string broken = s.write("broken.yaml", "apiVersion: v1\nkind: [Pod\n");
  auto not_yaml = s.cli({"pin", "--env", "staging", broken});
  CHECK(not_yaml.exit_code == 2);
  CHECK(not_yaml.err.find("not YAML: line ") != std::string::npos);

  auto missing_file = s.cli({"pin", "--env", "staging", s.dir.path() + "/absent.yaml"});
  CHECK(missing_file.exit_code == 2);
  CHECK(s.cli({"pin", "--env", "staging"}).exit_code == 2);
}

TEST_SUITE_END();
