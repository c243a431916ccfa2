// Kubernetes admission: AdmissionReviews of every kind with pods, as the API server sends them
// (tests/data/admission/), the images they would start, and the verdict on them.
#include "policy/admission.hpp"
#include "tests/support/files.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace dg::policy::admission;
using dg::test::source_file;
using nlohmann::json;

namespace {

const std::string k_app = "sha256:a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333";
const std::string k_web = "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";
const std::string k_migrate =
    "sha256:3bc801a33ea83df414e1aeb962a52412835be99db28668ec25de73fdd4733804";
const std::string k_agent =
    "sha256:d4f0bc5a29de06b510f9aa428f1eedba926012b591fef7a518e776a7c9bd1824";
const std::string k_wait_for =
    "sha256:e95223ed065e1ea8426841a503e6964475e9e32f82731f4fe73c26eb275b74a5";
const std::string k_report =
    "sha256:845e91831319e89c4d656bdb80c278ac09a7230d61e5dfd2e1b1fbb436ac8917";
const std::string k_fetch =
    "sha256:e7d3799ecc09f5cbc446aa0a79bb1fb9d0126395fa19a5903b7425f42e5e92e7";

std::string fixture(const std::string& name) {
  return source_file("tests/data/admission/" + name);
}

Review parsed(const std::string& name) {
  auto review = parse_review(fixture(name));
  REQUIRE_MESSAGE(review.ok(), review.error().message);
  return *review;
}

struct Expected {
  std::string path;
  std::string container;
  std::string image;
};

void check_images(const Review& review, const std::vector<Expected>& expected) {
  REQUIRE(review.images.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("image ", i);
    CHECK(review.images[i].path == expected[i].path);
    CHECK(review.images[i].container == expected[i].container);
    CHECK(review.images[i].image == expected[i].image);
  }
}

// A ledger in miniature: which (repository, digest) the environment approved, which it rolled
// back from, which digests are known and which are revoked. Counts the questions asked.
struct FakeLedger {
  std::set<std::pair<std::string, std::string>> approved;
  std::set<std::pair<std::string, std::string>> rolled_back;
  std::set<std::string> known;
  std::map<std::string, std::string> revoked;
  int asked = 0;

  StandingLookup lookup() {
    return [this](const std::string& repository, const std::string& digest) {
      ++asked;
      Standing s;
      s.approved = approved.count({repository, digest}) > 0;
      s.rolled_back_from = rolled_back.count({repository, digest}) > 0;
      s.known = known.count(digest) > 0;
      for (const auto& a : approved) {
        s.known = s.known || a.second == digest;
      }
      if (auto it = revoked.find(digest); it != revoked.end()) {
        s.revoked = it->second;
      }
      return s;
    };
  }
};

std::vector<std::string> codes(const ImageVerdict& v) {
  std::vector<std::string> out;
  for (const auto& r : v.reasons) {
    out.push_back(r.code);
  }
  return out;
}

using Codes = std::vector<std::string>;

// A Pod review around `containers`, built in code for the verdict tests.
Review pod_with(const std::vector<std::string>& images) {
  json containers = json::array();
  for (std::size_t i = 0; i < images.size(); ++i) {
    containers.push_back({{"name", "c" + std::to_string(i)}, {"image", images[i]}});
  }
  json doc = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "u-1"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"operation", "CREATE"},
        {"object",
         {{"apiVersion", "v1"}, {"kind", "Pod"}, {"spec", {{"containers", containers}}}}}}}};
  auto review = parse_review_json(doc);
  REQUIRE(review.ok());
  return *review;
}

} // namespace

TEST_SUITE_BEGIN("Admission");

TEST_CASE("A Pod's images come from containers, then initContainers, each in order") {
  const Review review = parsed("pod.json");
  CHECK(review.uid == "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
  CHECK(review.operation == "CREATE");
  CHECK(review.kind == "Pod");
  CHECK(review.namespace_name == "shop");
  CHECK_FALSE(review.dry_run);
  CHECK(review.has_pods);
  CHECK(review.pod_spec_path == "spec");
  check_images(review,
               {{"spec.containers[0]", "app", "ghcr.io/acme/app@" + k_app},
                {"spec.containers[1]", "proxy", "docker.io/envoyproxy/envoy:v1.31.2"},
                {"spec.initContainers[0]", "migrate", "ghcr.io/acme/migrate@" + k_migrate}});
}

TEST_CASE("kubectl debug's ephemeral container is judged with the pod's other images") {
  const Review review = parsed("pod-ephemeral.json");
  CHECK(review.operation == "UPDATE");
  check_images(review, {{"spec.containers[0]", "app", "ghcr.io/acme/app@" + k_app},
                        {"spec.containers[1]", "proxy", "docker.io/envoyproxy/envoy:v1.31.2"},
                        {"spec.initContainers[0]", "migrate", "ghcr.io/acme/migrate@" + k_migrate},
                        {"spec.ephemeralContainers[0]", "debugger-8kq2n", "busybox:1.36"}});
}

TEST_CASE("Every workload kind's pod template is found where the API puts it") {
  SUBCASE("Deployment (an update from Argo CD; the old object is not judged)") {
    const Review review = parsed("deployment.json");
    CHECK(review.kind == "Deployment");
    CHECK(review.operation == "UPDATE");
    CHECK(review.pod_spec_path == "spec.template.spec");
    check_images(review, {{"spec.template.spec.containers[0]", "app", "ghcr.io/acme/app@" + k_app},
                          {"spec.template.spec.containers[1]", "web", "ghcr.io/acme/web@" + k_web},
                          {"spec.template.spec.initContainers[0]", "migrate",
                           "ghcr.io/acme/migrate@" + k_migrate}});
  }
  SUBCASE("StatefulSet") {
    const Review review = parsed("statefulset.json");
    CHECK(review.kind == "StatefulSet");
    check_images(review,
                 {{"spec.template.spec.containers[0]", "queue", "ghcr.io/acme/queue:3.13"},
                  {"spec.template.spec.containers[1]", "exporter", "ghcr.io/acme/web@" + k_web},
                  {"spec.template.spec.initContainers[0]", "init-perms", "ghcr.io/acme/tools"}});
  }
  SUBCASE("DaemonSet") {
    const Review review = parsed("daemonset.json");
    CHECK(review.kind == "DaemonSet");
    CHECK(review.namespace_name == "kube-system");
    check_images(
        review,
        {{"spec.template.spec.containers[0]", "agent", "ghcr.io/acme/agent@" + k_agent},
         {"spec.template.spec.initContainers[0]", "setup", "ghcr.io/acme/agent@" + k_agent}});
  }
  SUBCASE("ReplicaSet (created by the deployment controller)") {
    const Review review = parsed("replicaset.json");
    CHECK(review.kind == "ReplicaSet");
    check_images(review, {{"spec.template.spec.containers[0]", "app", "ghcr.io/acme/app@" + k_app},
                          {"spec.template.spec.containers[1]", "web", "ghcr.io/acme/web@" + k_web},
                          {"spec.template.spec.initContainers[0]", "migrate",
                           "ghcr.io/acme/migrate@" + k_migrate}});
  }
  SUBCASE("Job") {
    const Review review = parsed("job.json");
    CHECK(review.kind == "Job");
    check_images(review, {{"spec.template.spec.containers[0]", "migrate",
                           "ghcr.io/acme/migrate@" + k_migrate},
                          {"spec.template.spec.initContainers[0]", "wait-db",
                           "ghcr.io/acme/wait-for@" + k_wait_for}});
  }
  SUBCASE("CronJob") {
    const Review review = parsed("cronjob.json");
    CHECK(review.kind == "CronJob");
    CHECK(review.pod_spec_path == "spec.jobTemplate.spec.template.spec");
    check_images(review, {{"spec.jobTemplate.spec.template.spec.containers[0]", "report",
                           "ghcr.io/acme/report@" + k_report},
                          {"spec.jobTemplate.spec.template.spec.initContainers[0]", "fetch",
                           "ghcr.io/acme/fetch@" + k_fetch}});
  }
}

TEST_CASE("A DELETE and an object without pods have no images and are allowed") {
  FakeLedger ledger;
  for (const char* name : {"pod-delete.json", "configmap.json"}) {
    INFO(name);
    const Review review = parsed(name);
    CHECK_FALSE(review.has_pods);
    CHECK(review.images.empty());
    const Verdict verdict = judge(review, "production", true, ledger.lookup());
    CHECK(verdict.allowed);
    const json out = answer(review, verdict);
    CHECK(out["response"]["allowed"] == true);
    CHECK(out["response"]["uid"] == review.uid);
    CHECK_FALSE(out["response"].contains("status"));
  }
  CHECK(ledger.asked == 0);
}

TEST_CASE("A kind this code does not name is judged when it has a pod template") {
  // An Argo Rollout keeps its pods where a Deployment does.
  json doc = json::parse(fixture("deployment.json"));
  doc["request"]["kind"] = {{"group", "argoproj.io"}, {"version", "v1alpha1"}, {"kind", "Rollout"}};
  doc["request"]["object"]["kind"] = "Rollout";
  auto review = parse_review_json(doc);
  REQUIRE(review.ok());
  CHECK(review->has_pods);
  CHECK(review->images.size() == 3);

  SUBCASE("A known kind without its pod spec is refused, not allowed") {
    json broken = json::parse(fixture("deployment.json"));
    broken["request"]["object"]["spec"].erase("template");
    auto r = parse_review_json(broken);
    REQUIRE(r.ok());
    FakeLedger ledger;
    const Verdict verdict = judge(*r, "production", true, ledger.lookup());
    CHECK_FALSE(verdict.allowed);
    CHECK(verdict.code == 400);
    CHECK(verdict.message.find("spec.template.spec") != std::string::npos);
  }
  SUBCASE("An image list that is not a list is refused") {
    json broken = json::parse(fixture("pod.json"));
    broken["request"]["object"]["spec"]["initContainers"] = "migrate";
    auto r = parse_review_json(broken);
    REQUIRE(r.ok());
    FakeLedger ledger;
    const Verdict verdict = judge(*r, "production", true, ledger.lookup());
    CHECK_FALSE(verdict.allowed);
    CHECK(verdict.message.find("spec.initContainers is not a list") != std::string::npos);
  }
}

TEST_CASE("Fields digestgate does not use are ignored; the fields it needs are checked") {
  json doc = json::parse(fixture("pod.json"));
  doc["request"]["somethingNew"] = {{"x", 1}};
  doc["extra"] = true;
  CHECK(parse_review_json(doc).ok());

  doc["request"]["dryRun"] = true;
  auto dry = parse_review_json(doc);
  REQUIRE(dry.ok());
  CHECK(dry->dry_run);

  struct Bad {
    std::string what;
    std::function<void(json&)> edit;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {"not an object", [](json& d) { d = json::array(); }, "a JSON object"},
      {"wrong kind", [](json& d) { d["kind"] = "Pod"; }, "kind"},
      {"v1beta1", [](json& d) { d["apiVersion"] = "admission.k8s.io/v1beta1"; }, "apiVersion"},
      {"no request", [](json& d) { d.erase("request"); }, "request"},
      {"no uid", [](json& d) { d["request"].erase("uid"); }, "request.uid"},
      {"empty uid", [](json& d) { d["request"]["uid"] = ""; }, "request.uid"},
      {"no operation", [](json& d) { d["request"].erase("operation"); }, "request.operation"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json d = json::parse(fixture("pod.json"));
    c.edit(d);
    auto r = parse_review_json(d);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == dg::Errc::invalid_argument);
    CHECK_MESSAGE(r.error().message.find(c.message) != std::string::npos, r.error().message);
  }
  CHECK_FALSE(parse_review(std::string_view("{\"kind\": ")).ok());
  CHECK_FALSE(parse_review(std::string_view("")).ok());
  std::string deep(200, '[');
  deep += std::string(200, ']');
  CHECK_FALSE(parse_review(std::string_view(deep)).ok());
}

TEST_CASE("An image is admitted only when approved here for its repository, unrevoked, never "
          "rolled back from") {
  const std::string app = "ghcr.io/acme/app@" + k_app;
  FakeLedger ledger;
  ledger.approved.insert({"ghcr.io/acme/app", k_app});
  ledger.known.insert(k_web);

  SUBCASE("approved") {
    const Verdict v = judge(pod_with({app, app}), "production", true, ledger.lookup());
    CHECK(v.allowed);
    CHECK(v.code == 0);
    CHECK(ledger.asked == 1); // the same image is looked up once
  }
  SUBCASE("a tag with a digest: the digest decides") {
    CHECK(judge(pod_with({"ghcr.io/acme/app:v1.4.2@" + k_app}), "production", true, ledger.lookup())
              .allowed);
  }
  SUBCASE("each reason code") {
    ledger.approved.insert({"ghcr.io/acme/old", k_migrate});
    ledger.rolled_back.insert({"ghcr.io/acme/old", k_migrate});
    ledger.approved.insert({"ghcr.io/acme/bad", k_agent});
    ledger.revoked[k_agent] = "CVE-2026-1234";
    const Review review = pod_with({
        app,                                                // admitted
        "ghcr.io/acme/app:latest",                          // a tag
        "ghcr.io/acme/app",                                 // a bare name is :latest
        "Ghcr.io/ACME/app@sha256:xyz",                      // not a reference
        "",                                                 // no image at all
        "ghcr.io/acme/web@" + k_web,                        // recorded, never approved here
        "ghcr.io/acme/web@" + k_report,                     // never recorded
        "docker.io/acme/app@" + k_app,                      // approved for another repository only
        "ghcr.io/acme/old@" + k_migrate,                    // rolled back from
        "ghcr.io/acme/bad@" + k_agent,                      // revoked
        "ghcr.io/acme/app@sha512:" + std::string(128, 'a'), // an algorithm never ledgered
    });
    const Verdict v = judge(review, "production", true, ledger.lookup());
    CHECK_FALSE(v.allowed);
    CHECK(v.code == 403);
    REQUIRE(v.images.size() == 11);
    CHECK(codes(v.images[0]).empty());
    CHECK(codes(v.images[1]) == Codes{"mutable-reference"});
    CHECK(codes(v.images[2]) == Codes{"mutable-reference"});
    CHECK(codes(v.images[3]) == Codes{"malformed-reference"});
    CHECK(codes(v.images[4]) == Codes{"malformed-reference"});
    CHECK(codes(v.images[5]) == Codes{"not-approved"});
    CHECK(codes(v.images[6]) == Codes{"unknown-digest"});
    CHECK(codes(v.images[7]) == Codes{"not-approved"});
    CHECK(codes(v.images[8]) == Codes{"not-approved"});
    CHECK(v.images[8].reasons[0].message.find("rolled") != std::string::npos);
    CHECK(codes(v.images[9]) == Codes{"revoked"});
    CHECK(v.images[9].reasons[0].message.find("CVE-2026-1234") != std::string::npos);
    CHECK(codes(v.images[10]) == Codes{"unknown-digest"});

    // The message lists each refused image with its codes, in the order of the spec.
    CHECK(v.message.find("10 of 11 images") != std::string::npos);
    CHECK(v.message.find("spec.containers[0]") == std::string::npos);
    std::size_t at = 0;
    for (std::size_t i = 1; i < v.images.size(); ++i) {
      INFO("image ", i);
      const std::string where = "spec.containers[" + std::to_string(i) + "] (c" +
                                std::to_string(i) + "): " + v.images[i].reasons[0].code;
      auto pos = v.message.find(where);
      REQUIRE(pos != std::string::npos);
      CHECK(pos > at);
      at = pos;
    }
    const json out = answer(review, v);
    CHECK(out["apiVersion"] == "admission.k8s.io/v1");
    CHECK(out["kind"] == "AdmissionReview");
    CHECK(out["response"]["uid"] == "u-1");
    CHECK(out["response"]["allowed"] == false);
    CHECK(out["response"]["status"]["code"] == 403);
    CHECK(out["response"]["status"]["message"] == v.message);
  }
  SUBCASE("a revoked digest that was never approved has both reasons") {
    ledger.known.insert(k_agent);
    ledger.revoked[k_agent] = "leaked key";
    const Verdict v =
        judge(pod_with({"ghcr.io/acme/bad@" + k_agent}), "production", true, ledger.lookup());
    CHECK(codes(v.images[0]) == Codes{"not-approved", "revoked"});
  }
  SUBCASE("an environment the policy does not define refuses every image") {
    const Verdict v =
        judge(pod_with({app, "ghcr.io/acme/app:latest"}), "prod", false, ledger.lookup());
    CHECK_FALSE(v.allowed);
    CHECK(codes(v.images[0]) == Codes{"unknown-environment"});
    CHECK(codes(v.images[1]) == Codes{"mutable-reference", "unknown-environment"});
    CHECK(ledger.asked == 0);
  }
  SUBCASE("the fixtures' images, with everything approved but the tags") {
    for (const auto& [repo, digest] :
         std::vector<std::pair<std::string, std::string>>{{"ghcr.io/acme/app", k_app},
                                                          {"ghcr.io/acme/web", k_web},
                                                          {"ghcr.io/acme/migrate", k_migrate},
                                                          {"ghcr.io/acme/agent", k_agent},
                                                          {"ghcr.io/acme/wait-for", k_wait_for},
                                                          {"ghcr.io/acme/report", k_report},
                                                          {"ghcr.io/acme/fetch", k_fetch}}) {
      ledger.approved.insert({repo, digest});
    }
    for (const char* name :
         {"deployment.json", "replicaset.json", "daemonset.json", "job.json", "cronjob.json"}) {
      INFO(name);
      CHECK(judge(parsed(name), "production", true, ledger.lookup()).allowed);
    }
    const Verdict sts = judge(parsed("statefulset.json"), "production", true, ledger.lookup());
    CHECK_FALSE(sts.allowed);
    CHECK(codes(sts.images[0]) == Codes{"mutable-reference"});
    CHECK(codes(sts.images[1]).empty());
    CHECK(codes(sts.images[2]) == Codes{"mutable-reference"});
    const Verdict pod = judge(parsed("pod.json"), "production", true, ledger.lookup());
    CHECK_FALSE(pod.allowed);
    CHECK(pod.message.find("docker.io/envoyproxy/envoy:v1.31.2") != std::string::npos);
  }
}

TEST_SUITE_END();
