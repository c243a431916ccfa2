// digestgate evidence: a record built from the tools' own outputs (tests/data/intake) with the
// real CLI, recorded and promoted through the real daemon; and the CI workflow of
// docs/ci-integration.md run step by step with the composite actions under actions/.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/registry.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace dg::test;

namespace {

const std::string k_root = DG_SOURCE_DIR;
const std::string k_digest =
    "sha256:b53939966ae385754eafab809e1425c6ca936098e885e3ca480f8b49a1c290bd";
const std::string k_image = std::string(k_repo) + "@" + k_digest;
// Before every time written in the tools' outputs of tests/data/intake.
const std::string k_pushed_at = "2026-11-20T10:00:00Z";

// The GitHub Actions variables of a tag build of acme/app.
const std::map<std::string, std::string> k_github_env = {
    {"GITHUB_ACTIONS", "true"},
    {"GITHUB_SERVER_URL", "https://github.com"},
    {"GITHUB_REPOSITORY", "acme/app"},
    {"GITHUB_SHA", k_commit},
    {"GITHUB_REF", "refs/tags/v1.4.2"},
    {"GITHUB_RUN_ID", "1234567"},
    {"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.4.2"},
};

// strict_policy() without the evidence age (the outputs are dated) and with arm64/v8, as
// BuildKit names it.
json policy_for(const OpensslSigner& signer) {
  json policy = strict_policy(signer.public_key_pem());
  for (const char* env : {"staging", "production"}) {
    policy["environments"][env].erase("max_evidence_age");
    policy["environments"][env]["require_platforms"] = {"linux/amd64", "linux/arm64/v8"};
  }
  return policy;
}

// A directory holding the tools' outputs, where a CI job would have written them.
class Workspace {
public:
  explicit Workspace(const OpensslSigner& signer) {
    for (const auto& entry : std::filesystem::directory_iterator(k_root + "/tests/data/intake")) {
      std::filesystem::copy_file(entry.path(),
                                 m_dir.path() + "/" + entry.path().filename().string());
    }
    // `cosign download signature` and `cosign download attestation`: one JSON line each.
    json sig = cosign_signature(signer, k_repo, k_digest);
    json line = {{"Base64Signature", sig["signature"]},
                 {"Payload", sig["payload"]},
                 {"Cert", nullptr},
                 {"Chain", nullptr}};
    write("signatures.jsonl", line.dump() + "\n");
    write("attestations.jsonl", slsa_attestation(signer, k_digest)["envelope"].dump() + "\n");
  }

  void write(const std::string& name, const std::string& content) const {
    REQUIRE(dg::write_file_atomic(path(name), content).ok());
  }
  std::string path(const std::string& name) const { return m_dir.path() + "/" + name; }
  const std::string& dir() const { return m_dir.path(); }

private:
  TempDir m_dir;
};

// The CLI with the CI's variables, in `ws`, on the working file there.
CliResult evidence(const Daemon& daemon, const Workspace& ws, std::vector<std::string> args) {
  std::vector<std::string> argv = {DG_CLI_PATH, "--url", daemon.url()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = k_github_env;
  env["DIGESTGATE_EVIDENCE"] = ws.path("digestgate-evidence.json");
  env["DIGESTGATE_TOKEN"] = k_admin_token;
  env["DIGESTGATE_URL"] = "";
  return run_process(argv, env);
}

void build_record(const Daemon& daemon, const Workspace& ws) {
  std::vector<std::vector<std::string>> steps = {
      {"evidence", "init", "--image", "ghcr.io/acme/app:v1.4.2@" + k_digest, "--manifest",
       ws.path("buildx-index.json"), "--pushed-at", k_pushed_at, "--mirror", "docker.io/acme/app",
       "--label", std::string("org.opencontainers.image.revision=") + k_commit, "--base-image",
       "docker.io/library/node@sha256:" + std::string(64, 'f')},
      {"evidence", "gate", "--name", "vuln-scan", "--trivy", ws.path("trivy.json")},
      {"evidence", "gate", "--name", "sbom", "--syft", ws.path("syft.spdx.json")},
      {"evidence", "gate", "--name", "e2e", "--junit", ws.path("junit.xml"), "--tool", "pytest",
       "--tool-version", "8.3.3"},
      {"evidence", "sign", "--cosign-download", ws.path("signatures.jsonl")},
      {"evidence", "sign", "--attestation", ws.path("attestations.jsonl")},
  };
  for (const auto& step : steps) {
    CliResult r = evidence(daemon, ws, step);
    INFO(step[1] << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
}

} // namespace

TEST_SUITE_BEGIN("e2e: evidence");

TEST_CASE("A record built from the tools' outputs with digestgate evidence is recorded and "
          "approved") {
  OpensslSigner signer;
  Daemon daemon(policy_for(signer));
  Workspace ws(signer);
  build_record(daemon, ws);

  json record = json::parse(dg::read_file(ws.path("digestgate-evidence.json")).value());
  CHECK(record["subject"]["platforms"].size() == 2);
  CHECK(record["subject"]["tags"] == json::array({"v1.4.2"}));
  CHECK(record["source"]["commit"] == k_commit);
  CHECK(record["build"]["builder_id"] == k_builder);
  CHECK(record["gates"].size() == 3);

  CliResult show = evidence(daemon, ws, {"evidence", "show", "--env", "staging"});
  INFO(show.out << show.err);
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("the evidence meets staging's policy") != std::string::npos);

  CliResult rec =
      daemon.cli({"record", "--evidence", ws.path("digestgate-evidence.json")}, k_recorder_token);
  INFO(rec.out << rec.err);
  REQUIRE(rec.exit_code == 0);
  CliResult promoted =
      daemon.cli({"promote", "--env", "staging", "--ref", k_image}, k_promoter_token);
  INFO(promoted.out << promoted.err);
  CHECK(promoted.exit_code == 0);
  CHECK(promoted.out.find("approved") != std::string::npos);
}

TEST_CASE("evidence show judges the working record against a policy before it is sent") {
  OpensslSigner signer;
  Daemon daemon(policy_for(signer));
  Workspace ws(signer);
  build_record(daemon, ws);
  // A later, failing e2e run replaces the passing one.
  CliResult failed =
      evidence(daemon, ws,
               {"evidence", "gate", "--name", "e2e", "--junit", ws.path("junit-failed.xml"),
                "--tool", "pytest", "--tool-version", "8.3.3"});
  REQUIRE(failed.exit_code == 0);
  CliResult show = evidence(daemon, ws, {"--json", "evidence", "show", "--env", "staging"});
  CHECK(show.exit_code == 1);
  json reasons = show.json()["reasons"];
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0]["code"] == "gate-failed");
  CHECK(reasons[0]["gate"] == "e2e");

  SUBCASE("an environment the policy lacks") {
    CliResult r = evidence(daemon, ws, {"evidence", "show", "--env", "nowhere"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the policy has no environment 'nowhere'") != std::string::npos);
  }
}

TEST_CASE("digestgate evidence refuses what cannot become evidence, and changes nothing") {
  OpensslSigner signer;
  Daemon daemon(policy_for(signer));
  Workspace ws(signer);
  build_record(daemon, ws);
  std::string before = dg::read_file(ws.path("digestgate-evidence.json")).value();

  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"evidence", "gate", "--name", "vuln-scan", "--trivy", ws.path("trivy-tag.json")},
            1,
            "the trivy report is about 'ghcr.io/acme/app:v1.4.2', a tag, not the digest"},
           {{"evidence", "gate", "--name", "vuln-scan", "--trivy", ws.path("grype.json")},
            1,
            "trivy report: this is a grype report, not a trivy report"},
           {{"evidence", "gate", "--name", "vuln-scan", "--trivy",
             ws.path("trivy-no-version.json")},
            1,
            "pass --tool NAME --tool-version VERSION"},
           {{"evidence", "gate", "--name", "x", "--trivy", ws.path("trivy.json"), "--grype",
             ws.path("grype.json")},
            2,
            "give one report: --trivy and --grype"},
           {{"evidence", "gate", "--name", "x"}, 2, "or --result pass|fail"},
           {{"evidence", "gate", "--name", "x", "--trivy", ws.path("missing.json")},
            2,
            "--trivy: cannot read"},
           {{"evidence", "sign", "--cosign-download", ws.path("trivy.json")},
            1,
            "lacks Payload or Base64Signature"},
           {{"evidence", "sign", "--bundle", ws.path("signatures.jsonl")},
            1,
            "is not a Sigstore bundle"},
       }) {
    CliResult r = evidence(daemon, ws, c.args);
    INFO(c.args[1] << " " << c.args[c.args.size() - 1] << ": " << r.out << r.err);
    CHECK(r.exit_code == c.exit_code);
    CHECK(r.err.find(c.message) != std::string::npos);
  }
  CHECK(dg::read_file(ws.path("digestgate-evidence.json")).value() == before);

  SUBCASE("init checks that the manifest is the image's") {
    CliResult r =
        evidence(daemon, ws,
                 {"evidence", "init", "--image", std::string(k_repo) + "@" + sample_digest(1),
                  "--manifest", ws.path("buildx-index.json"), "--file", ws.path("other.json")});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the manifest's digest is " + k_digest) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(ws.path("other.json")));
  }
  SUBCASE("a gate before init names the verb to run") {
    CliResult r = evidence(daemon, ws,
                           {"evidence", "gate", "--name", "x", "--trivy", ws.path("trivy.json"),
                            "--file", ws.path("none.json")});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("run `digestgate evidence init` first") != std::string::npos);
  }
}

TEST_CASE("The workflow of docs/ci-integration.md runs step by step with the composite actions") {
  OpensslSigner signer;
  json policy = {{"trusted_keys", {{"ci-signer", {{"public_key_pem", signer.public_key_pem()}}}}},
                 {"environments",
                  {{"production",
                    {{"repositories", {"ghcr.io/acme/*"}},
                     {"require_gates", {"vuln-scan", "sbom"}},
                     {"max_findings", {{"critical", 0}, {"high", 0}}},
                     {"require_signature", {{"keys", {"ci-signer"}}}}}}}}};
  Daemon daemon(policy);
  Workspace ws(signer);
  // What the workflow's own steps write: the raw index, trivy's and syft's reports, cosign's lines.
  std::filesystem::copy_file(ws.path("buildx-index.json"), ws.path("index.json"));
  std::filesystem::copy_file(ws.path("syft.spdx.json"), ws.path("sbom.spdx.json"));
  ws.write("docker-compose.yml", "services:\n  app:\n    image: ghcr.io/acme/app:latest\n");
  json values = {{"steps.push.outputs.image", k_image},
                 {"steps.push.outputs.pushed-at", k_pushed_at},
                 {"needs.build.outputs.image", k_image},
                 {"vars.DIGESTGATE_URL", daemon.url()},
                 {"vars.DIGESTGATE_DEB_URL", ""},
                 {"secrets.DIGESTGATE_RECORD_TOKEN", k_recorder_token},
                 {"secrets.DIGESTGATE_DEPLOY_TOKEN", k_promoter_token}};
  ws.write("values.json", values.dump());

  std::map<std::string, std::string> env = k_github_env;
  std::string cli_dir = std::filesystem::path(DG_CLI_PATH).parent_path().string();
  env["PATH"] = cli_dir + ":" + std::string(std::getenv("PATH"));
  env["DIGESTGATE_URL"] = "";
  env["DIGESTGATE_TOKEN"] = "";
  CliResult run =
      run_process({"sh", "-c", "cd \"$0\" && python3 \"$1\" \"$2\" values.json", ws.dir(),
                   k_root + "/tests/actions/run_workflow.py", k_root + "/docs/ci-integration.md"},
                  env, "", 120);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  std::string last = run.out.substr(run.out.rfind('\n', run.out.size() - 2) + 1);
  json report = json::parse(last);
  json jobs = report["jobs"];
  REQUIRE(jobs.contains("build"));
  REQUIRE(jobs.contains("deploy"));
  CHECK(jobs["deploy"].begin().value()["outputs"]["references"] == k_image);
  auto override_file = dg::read_file(ws.path("docker-compose.digestgate.yml"));
  REQUIRE(override_file.ok());
  CHECK(override_file->find("image: " + k_image) != std::string::npos);

  // The ledger agrees: one validation and one approval in production.
  CliResult env_now = daemon.cli({"--json", "env", "production"}, k_reader_token);
  CHECK(env_now.json()["repositories"][k_repo]["current"]["digest"] == k_digest);
}

TEST_CASE("evidence init reads the subject and its mirrors from real registries") {
  RegistryServer primary;
  RegistryServer mirror;
  TestImage image = make_image("evidence-init", {"linux/amd64", "linux/arm64"});
  push_image(primary, "acme/app", image, "v1");
  push_image(mirror, "acme/app", image, "v1");
  TempDir dir;
  std::string file = dir.path() + "/evidence.json";
  std::string subject = primary.host() + "/acme/app@" + image.index_digest;
  auto init = [&](std::vector<std::string> extra, const std::string& to) {
    std::vector<std::string> argv = {
        DG_CLI_PATH, "evidence",   "init",
        "--image",   subject,      "--file",
        to,          "--registry", primary.host() + "=" + primary.endpoint()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, {{"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}});
  };

  CliResult ok = init({"--mirror", mirror.host() + "/acme/app", "--registry",
                       mirror.host() + "=" + mirror.endpoint()},
                      file);
  INFO(ok.out << ok.err);
  REQUIRE(ok.exit_code == 0);
  json record = json::parse(dg::read_file(file).value());
  CHECK(record["subject"]["media_type"] == "application/vnd.oci.image.index.v1+json");
  json platforms = record["subject"]["platforms"];
  REQUIRE(platforms.size() == 2);
  CHECK(platforms[0]["digest"] == image.platforms.at(platforms[0]["platform"]));
  CHECK(platforms[1]["digest"] == image.platforms.at(platforms[1]["platform"]));
  CHECK(record["mirrors"][0]["name"] == mirror.host() + "/acme/app");
  CHECK(record["mirrors"][0]["digest"] == image.index_digest);
  CHECK(record["mirrors"][0]["platforms"] == platforms);

  SUBCASE("a mirror that lacks the digest is refused") {
    RegistryServer empty;
    CliResult r = init({"--mirror", empty.host() + "/acme/app", "--registry",
                        empty.host() + "=" + empty.endpoint()},
                       dir.path() + "/x.json");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(empty.host() + "/acme/app does not hold " + image.index_digest) !=
          std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() + "/x.json"));
  }
  SUBCASE("a registry that cannot be reached is exit 3, and nothing is written") {
    std::string down = "127.0.0.1:" + std::to_string(free_port());
    std::vector<std::string> argv = {DG_CLI_PATH,
                                     "evidence",
                                     "init",
                                     "--image",
                                     down + "/acme/app@" + image.index_digest,
                                     "--file",
                                     dir.path() + "/down.json",
                                     "--registry",
                                     down + "=http://" + down};
    CliResult r = run_process(argv);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot ask the registry of " + down + "/acme/app") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() + "/down.json"));
  }
}

TEST_SUITE_END();
