#include "intake/ci_env.hpp"
#include "intake/manifest.hpp"
#include "intake/record.hpp"
#include "intake/reports.hpp"
#include "intake/signing.hpp"

#include "util/files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

using dg::intake::GateOptions;
using dg::intake::ReportKind;
using nlohmann::json;

namespace {

const std::string k_digest =
    "sha256:b53939966ae385754eafab809e1425c6ca936098e885e3ca480f8b49a1c290bd";
const std::string k_subject = "ghcr.io/acme/app@" + k_digest;

std::string data(const std::string& name) {
  auto content = dg::read_file(std::string(DG_SOURCE_DIR) + "/tests/data/intake/" + name);
  REQUIRE_MESSAGE(content.ok(), name);
  return *content;
}

GateOptions options(const std::string& name) {
  GateOptions o;
  o.name = name;
  o.subject = k_subject;
  o.artifact = "report";
  o.artifact_sha256 = std::string(64, 'a');
  return o;
}

json gate_of(ReportKind kind, const std::string& file, const GateOptions& o) {
  auto report = dg::intake::read_report(kind, data(file));
  REQUIRE_MESSAGE(report.ok(), report.error().message);
  auto gate = dg::intake::make_gate(*report, o);
  REQUIRE_MESSAGE(gate.ok(), gate.error().message);
  return *gate;
}

dg::intake::Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

} // namespace

TEST_SUITE_BEGIN("Intake");

TEST_CASE("An index's digest is the hash of its bytes, and attestation manifests are no platform") {
  auto m = dg::intake::read_manifest(data("buildx-index.json"));
  REQUIRE(m.ok());
  CHECK(m->digest == k_digest);
  CHECK(m->is_index);
  CHECK(m->media_type == "application/vnd.oci.image.index.v1+json");
  REQUIRE(m->platforms.size() == 2);
  CHECK(m->platforms[0].platform == "linux/amd64");
  CHECK(m->platforms[1].platform == "linux/arm64/v8");
  CHECK(m->platforms[1].digest ==
        "sha256:aa38e7fa832aba1c62ffb4aa85422c0f6a2dcaa68e37cb0191c8b7f8d0417055");
}

TEST_CASE("A single-platform manifest, a schema 1 manifest and a scan report") {
  std::string single = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.)"
                       R"(manifest.v2+json","config":{},"layers":[]})";
  auto m = dg::intake::read_manifest(single);
  REQUIRE(m.ok());
  CHECK_FALSE(m->is_index);
  CHECK(m->platforms.empty());
  CHECK(m->media_type == "application/vnd.docker.distribution.manifest.v2+json");

  auto v1 = dg::intake::read_manifest(R"({"schemaVersion":1,"name":"x","fsLayers":[]})");
  REQUIRE_FALSE(v1.ok());
  CHECK(v1.error().message == "manifest: schemaVersion must be 2");

  auto report = dg::intake::read_manifest(data("trivy.json"));
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().message == "manifest: schemaVersion must be 2");
}

TEST_CASE("An index of attestation manifests only has no runnable platform") {
  std::string only = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                     R"("manifests":[{"digest":"sha256:)" +
                     std::string(64, 'b') +
                     R"(","platform":{"os":"unknown","architecture":"unknown"}}]})";
  auto m = dg::intake::read_manifest(only);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message == "manifest: the index lists no runnable platform");
}

TEST_CASE("A trivy JSON report becomes a digest-bound gate with its findings") {
  json gate = gate_of(ReportKind::trivy, "trivy.json", options("vuln-scan"));
  CHECK(gate["name"] == "vuln-scan");
  CHECK(gate["tool"] == json{{"name", "trivy"}, {"version", "0.58.1"}});
  CHECK(gate["target"] == k_subject);
  CHECK(gate["result"] == "pass");
  CHECK(gate["started_at"] == "2026-11-20T10:20:31.123456789Z");
  CHECK(gate["findings"] == json{{"critical", 0}, {"high", 0}, {"medium", 2}, {"low", 1}});
  CHECK(gate["artifacts"][0]["name"] == "report");
  CHECK(gate["artifacts"][0]["created_at"] == "2026-11-20T10:20:31.123456789Z");
}

TEST_CASE("A scan of a tag is refused: it says nothing about the digest") {
  auto report = dg::intake::read_report(ReportKind::trivy, data("trivy-tag.json"));
  REQUIRE(report.ok());
  auto gate = dg::intake::make_gate(*report, options("vuln-scan"));
  REQUIRE_FALSE(gate.ok());
  CHECK(gate.error().message ==
        "the trivy report is about 'ghcr.io/acme/app:v1.4.2', a tag, not the digest: run it on " +
            k_subject + " so the result is bound to what is promoted");

  SUBCASE("and a scan of another digest too") {
    GateOptions o = options("vuln-scan");
    o.subject = "ghcr.io/acme/app@sha256:" + std::string(64, 'c');
    auto other =
        dg::intake::make_gate(*dg::intake::read_report(ReportKind::trivy, data("trivy.json")), o);
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().message ==
          "the trivy report is about " + k_digest + ", not sha256:" + std::string(64, 'c'));
  }
}

TEST_CASE("A trivy report without its version needs --tool-version") {
  auto report = dg::intake::read_report(ReportKind::trivy, data("trivy-no-version.json"));
  REQUIRE(report.ok());
  auto gate = dg::intake::make_gate(*report, options("vuln-scan"));
  REQUIRE_FALSE(gate.ok());
  CHECK(gate.error().message == "the trivy report does not say which tool (and version) made "
                                "it; pass --tool NAME --tool-version VERSION");
  GateOptions o = options("vuln-scan");
  o.tool_version = "0.49.1";
  auto fixed = dg::intake::make_gate(*report, o);
  REQUIRE(fixed.ok());
  CHECK((*fixed)["tool"]["version"] == "0.49.1");
}

TEST_CASE("SARIF severities come from the rule's tags, its CVSS score or the level") {
  json gate = gate_of(ReportKind::sarif, "trivy.sarif", options("vuln-scan"));
  CHECK(gate["tool"] == json{{"name", "trivy"}, {"version", "0.58.1"}});
  CHECK(gate["findings"] == json{{"critical", 1}, {"high", 0}, {"medium", 1}, {"low", 0}});
  CHECK(gate["started_at"] == "2026-11-20T10:20:00Z");
  CHECK(gate["finished_at"] == "2026-11-20T10:20:31Z");

  SUBCASE("without tags or scores, error is high and note is low") {
    json sarif = json::parse(data("trivy.sarif"));
    sarif["runs"][0]["tool"]["driver"].erase("rules");
    sarif["runs"][0]["results"][1]["level"] = "note";
    auto report = dg::intake::read_report(ReportKind::sarif, sarif.dump());
    REQUIRE(report.ok());
    CHECK(report->findings == std::map<std::string, std::int64_t>{{"high", 1}, {"low", 1}});
  }
}

TEST_CASE("A grype report counts each match by its severity") {
  json gate = gate_of(ReportKind::grype, "grype.json", options("vuln-scan"));
  CHECK(gate["tool"] == json{{"name", "grype"}, {"version", "0.84.0"}});
  CHECK(gate["findings"] ==
        json{{"critical", 0}, {"high", 1}, {"medium", 0}, {"low", 0}, {"negligible", 1}});
  CHECK(gate["started_at"] == "2026-11-20T10:21:05.5+00:00");
}

TEST_CASE("SBOMs name their generator and the image they describe") {
  SUBCASE("SPDX from syft") {
    json gate = gate_of(ReportKind::spdx, "syft.spdx.json", options("sbom"));
    CHECK(gate["tool"] == json{{"name", "syft"}, {"version", "1.18.1"}});
    CHECK(gate["target"] == k_subject);
    CHECK_FALSE(gate.contains("findings"));
    CHECK(gate["result"] == "pass");
  }
  SUBCASE("SPDX whose name is no reference: the image package's purl pins it") {
    json spdx = json::parse(data("syft.spdx.json"));
    spdx["name"] = "ghcr.io/acme/app";
    auto report = dg::intake::read_report(ReportKind::spdx, spdx.dump());
    REQUIRE(report.ok());
    CHECK(report->target == k_subject);
  }
  SUBCASE("CycloneDX 1.6 from syft") {
    json gate = gate_of(ReportKind::cyclonedx, "syft.cdx.json", options("sbom"));
    CHECK(gate["tool"] == json{{"name", "syft"}, {"version", "1.18.1"}});
    CHECK(gate["target"] == k_subject);
  }
  SUBCASE("CycloneDX 1.4 lists its tools as an array") {
    json cdx = json::parse(data("syft.cdx.json"));
    cdx["metadata"]["tools"] =
        json::array({{{"vendor", "aquasecurity"}, {"name", "trivy"}, {"version", "0.58.1"}}});
    auto report = dg::intake::read_report(ReportKind::cyclonedx, cdx.dump());
    REQUIRE(report.ok());
    CHECK(report->tool_name == "trivy");
    CHECK(report->tool_version == "0.58.1");
  }
}

TEST_CASE("JUnit reports decide pass or fail and take the subject as their target") {
  GateOptions o = options("e2e");
  o.tool_name = "pytest";
  o.tool_version = "8.3.3";
  json gate = gate_of(ReportKind::junit, "junit.xml", o);
  CHECK(gate["result"] == "pass");
  CHECK(gate["target"] == k_subject);
  CHECK(gate["started_at"] == "2026-11-20T10:30:00.000000Z");
  CHECK(gate["finished_at"] == "2026-11-20T10:30:42.500000Z");

  json failed = gate_of(ReportKind::junit, "junit-failed.xml", o);
  CHECK(failed["result"] == "fail");

  auto no_tool = dg::intake::make_gate(
      *dg::intake::read_report(ReportKind::junit, data("junit.xml")), options("e2e"));
  REQUIRE_FALSE(no_tool.ok());
  CHECK(no_tool.error().message == "the junit report does not say which tool (and version) made "
                                   "it; pass --tool NAME --tool-version VERSION");
}

TEST_CASE("Each reader refuses another tool's file and says what it is") {
  struct Case {
    ReportKind kind;
    const char* file;
    const char* message;
  };
  for (const Case& c : {
           Case{ReportKind::trivy, "grype.json",
                "trivy report: this is a grype report, not a trivy report"},
           Case{ReportKind::grype, "trivy.json",
                "grype report: this is a trivy report, not a grype report"},
           Case{ReportKind::sarif, "syft.spdx.json",
                "sarif report: this is a spdx report, not a sarif report"},
           Case{ReportKind::spdx, "syft.cdx.json",
                "spdx report: this is a cyclonedx report, not a spdx report"},
           Case{ReportKind::cyclonedx, "junit.xml",
                "cyclonedx report: this is a junit report, not a cyclonedx report"},
           Case{ReportKind::junit, "trivy.sarif",
                "junit report: this is a sarif report, not a junit report"},
           Case{ReportKind::trivy, "buildx-index.json",
                "trivy report: not a report of this kind (its identifying fields are missing)"},
       }) {
    CAPTURE(c.file);
    auto report = dg::intake::read_report(c.kind, data(c.file));
    REQUIRE_FALSE(report.ok());
    CHECK(report.error().message == c.message);
  }
  auto xml = dg::intake::read_report(ReportKind::junit, "<html><body/></html>");
  REQUIRE_FALSE(xml.ok());
  CHECK(xml.error().message ==
        "junit report: the root element is <html>, not <testsuites> or <testsuite>");
}

TEST_CASE("A gate without a report needs every fact given") {
  GateOptions o = options("pentest");
  o.artifact.clear();
  CHECK(dg::intake::make_generic_gate(o).error().message ==
        "a gate without a report needs --result pass|fail");
  o.result = "pass";
  CHECK(dg::intake::make_generic_gate(o).error().message ==
        "the gate does not say which tool (and version) made it; pass --tool NAME "
        "--tool-version VERSION");
  o.tool_name = "zap";
  o.tool_version = "2.15.0";
  CHECK(dg::intake::make_generic_gate(o).error().message ==
        "the gate does not say when it ran; pass --started and --finished");
  o.started_at = "2026-11-20T11:00:00Z";
  o.finished_at = "2026-11-20T11:30:00Z";
  auto gate = dg::intake::make_generic_gate(o);
  REQUIRE(gate.ok());
  CHECK(*gate == json{{"name", "pentest"},
                      {"tool", {{"name", "zap"}, {"version", "2.15.0"}}},
                      {"target", k_subject},
                      {"started_at", "2026-11-20T11:00:00Z"},
                      {"finished_at", "2026-11-20T11:30:00Z"},
                      {"result", "pass"}});
}

TEST_CASE("GitHub Actions and Forgejo variables give source and build facts") {
  auto facts = dg::intake::read_ci_environment(env_of({
      {"GITHUB_ACTIONS", "true"},
      {"GITHUB_SERVER_URL", "https://github.com"},
      {"GITHUB_REPOSITORY", "acme/app"},
      {"GITHUB_SHA", std::string(40, 'd')},
      {"GITHUB_REF", "refs/tags/v1.4.2"},
      {"GITHUB_RUN_ID", "1234567"},
      {"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.4.2"},
  }));
  CHECK(facts.system == "github");
  CHECK(facts.source == json{{"repository", "https://github.com/acme/app"},
                             {"commit", std::string(40, 'd')},
                             {"ref", "refs/tags/v1.4.2"}});
  CHECK(facts.build ==
        json{{"builder_id",
              "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2"},
             {"run_id", "1234567"},
             {"run_url", "https://github.com/acme/app/actions/runs/1234567"}});

  auto forgejo =
      dg::intake::read_ci_environment(env_of({{"GITHUB_ACTIONS", "true"},
                                              {"FORGEJO_ACTIONS", "true"},
                                              {"GITHUB_SERVER_URL", "https://code.example.org/"},
                                              {"GITHUB_REPOSITORY", "acme/app"}}));
  CHECK(forgejo.source["repository"] == "https://code.example.org/acme/app");
}

TEST_CASE("GitLab CI variables give source and build facts; elsewhere nothing is guessed") {
  auto facts = dg::intake::read_ci_environment(env_of({
      {"GITLAB_CI", "true"},
      {"CI_PROJECT_URL", "https://gitlab.com/acme/app"},
      {"CI_COMMIT_SHA", std::string(40, 'e')},
      {"CI_COMMIT_TAG", "v1.4.2"},
      {"CI_PIPELINE_ID", "99"},
      {"CI_PIPELINE_URL", "https://gitlab.com/acme/app/-/pipelines/99"},
  }));
  CHECK(facts.system == "gitlab");
  CHECK(facts.source["ref"] == "refs/tags/v1.4.2");
  CHECK(facts.build["builder_id"] == "https://gitlab.com/acme/app/-/blob/v1.4.2/.gitlab-ci.yml");
  CHECK(facts.build["run_url"] == "https://gitlab.com/acme/app/-/pipelines/99");

  auto none = dg::intake::read_ci_environment(env_of({{"HOME", "/root"}}));
  CHECK(none.system.empty());
  CHECK(none.source.empty());
  CHECK(none.build.empty());
}

TEST_CASE("cosign download lines become signatures and attestations") {
  std::string sigs =
      R"({"Base64Signature":"c2ln","Payload":"cGF5bG9hZA==","Cert":null,"Chain":null,"Bundle":{"SignedEntryTimestamp":"x"}})"
      "\n"
      R"({"Base64Signature":"c2lnMg==","Payload":"cGF5bG9hZDI=","Cert":null,"Chain":null})"
      "\n";
  auto parsed = dg::intake::read_cosign_signatures(sigs);
  REQUIRE(parsed.ok());
  CHECK(*parsed == json::array({{{"payload", "cGF5bG9hZA=="}, {"signature", "c2ln"}},
                                {{"payload", "cGF5bG9hZDI="}, {"signature", "c2lnMg=="}}}));
  auto bad = dg::intake::read_cosign_signatures(R"({"payloadType":"x"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "cosign signatures: item 1 lacks Payload or Base64Signature (is "
                               "this `cosign download signature` output?)");

  std::string atts =
      R"({"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"c2ln"}]})";
  auto envelopes = dg::intake::read_dsse_envelopes(atts);
  REQUIRE(envelopes.ok());
  CHECK((*envelopes)[0]["envelope"]["signatures"][0] == json{{"keyid", ""}, {"sig", "c2ln"}});
  CHECK(dg::intake::read_dsse_envelopes("").error().message ==
        "attestations: the file holds nothing");
}

TEST_CASE("Sigstore bundles: DSSE bundles carry their payload, message signatures need one") {
  json dsse = {{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
               {"verificationMaterial", json::object()},
               {"dsseEnvelope", json::object()}};
  json message = {{"mediaType", "application/vnd.dev.sigstore.bundle+json;version=0.2"},
                  {"verificationMaterial", json::object()},
                  {"messageSignature", json::object()}};
  auto lines = dg::intake::read_bundles(dsse.dump() + "\n" + dsse.dump() + "\n", std::nullopt);
  REQUIRE(lines.ok());
  CHECK(lines->size() == 2);
  CHECK(dg::intake::read_bundles(message.dump(), std::nullopt).error().message ==
        "bundles: item 1 is a message signature: give the signed payload with --payload");
  auto with_payload = dg::intake::read_bundles(message.dump(), std::string("cGF5bG9hZA=="));
  REQUIRE(with_payload.ok());
  CHECK((*with_payload)[0]["payload"] == "cGF5bG9hZA==");
  CHECK(dg::intake::read_bundles(R"({"mediaType":"text/plain"})", std::nullopt).error().message ==
        "bundles: item 1 is not a Sigstore bundle (its mediaType is 'text/plain')");
  CHECK(dg::intake::read_dsse_envelopes(dsse.dump()).error().message ==
        "attestations: item 1 is a Sigstore bundle: give it with --bundle");
}

TEST_CASE("A working record starts from the image, its index and the CI's facts") {
  dg::intake::InitOptions o;
  o.image = "ghcr.io/acme/app:v1.4.2@" + k_digest;
  o.manifest = *dg::intake::read_manifest(data("buildx-index.json"));
  o.pushed_at = "2026-11-20T10:00:00Z";
  o.observed_at = "2026-11-20T10:01:00Z";
  o.tags = {"latest"};
  o.labels = {{"org.opencontainers.image.revision", std::string(40, 'd')}};
  o.mirrors = {{"docker.io/acme/app", std::nullopt}};
  o.base_image = "docker.io/library/node@sha256:" + std::string(64, 'f');
  dg::intake::CiFacts ci;
  ci.source = {{"repository", "https://github.com/acme/app"},
               {"commit", std::string(40, 'd')},
               {"ref", "refs/tags/v1.4.2"}};
  ci.build = {{"run_id", "7"}};
  auto record = dg::intake::init_record(o, ci);
  REQUIRE_MESSAGE(record.ok(), record.error().message);
  const json& subject = (*record)["subject"];
  CHECK(subject["name"] == "ghcr.io/acme/app");
  CHECK(subject["digest"] == k_digest);
  CHECK(subject["media_type"] == "application/vnd.oci.image.index.v1+json");
  CHECK(subject["platforms"].size() == 2);
  CHECK(subject["tags"] == json::array({"v1.4.2", "latest"}));
  CHECK((*record)["build"]["base_image"] == o.base_image);
  CHECK((*record)["mirrors"][0]["digest"] == k_digest);
  CHECK((*record)["mirrors"][0]["platforms"] == subject["platforms"]);
  CHECK(*dg::intake::subject_reference(*record) == k_subject);

  SUBCASE("a manifest of another image is refused") {
    o.image = "ghcr.io/acme/app@sha256:" + std::string(64, 'c');
    auto other = dg::intake::init_record(o, ci);
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().message.find("the manifest's digest is " + k_digest) == 0);
  }
  SUBCASE("a tag alone is refused") {
    o.image = "ghcr.io/acme/app:v1.4.2";
    CHECK(dg::intake::init_record(o, ci).error().message ==
          "--image 'ghcr.io/acme/app:v1.4.2' is not a name@sha256:<64 hex> reference");
  }
}

TEST_CASE("Gates replace their namesake; signatures are added once") {
  json record = {{"subject", {{"name", "ghcr.io/acme/app"}, {"digest", k_digest}}}};
  dg::intake::put_gate(record, {{"name", "vuln-scan"}, {"result", "pass"}});
  dg::intake::put_gate(record, {{"name", "sbom"}, {"result", "pass"}});
  dg::intake::put_gate(record, {{"name", "vuln-scan"}, {"result", "fail"}});
  CHECK(record["gates"] == json::array({{{"name", "vuln-scan"}, {"result", "fail"}},
                                        {{"name", "sbom"}, {"result", "pass"}}}));
  json sig = json::array({{{"payload", "cA=="}, {"signature", "cw=="}}});
  CHECK(dg::intake::add_items(record, "signatures", sig) == 1);
  CHECK(dg::intake::add_items(record, "signatures", sig) == 0);
  CHECK(record["signatures"].size() == 1);
  CHECK_FALSE(dg::intake::subject_reference(json::object()).ok());
}

TEST_SUITE_END();
