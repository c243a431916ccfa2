// End-to-end: Kubernetes admission through the real daemon. AdmissionReviews of every kind with
// pods (tests/data/admission/, shaped as the API server sends them) are posted to
// /v1/admission/{environment}; the answers are judged from what promotions, rollbacks and
// revocations ledgered, and no review appends anything.
#include "tests/support/daemon.hpp"
#include "tests/support/files.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace dg::test;
using nlohmann::json;

namespace {

// The digests the fixtures pin, by repository.
const std::vector<std::pair<std::string, std::string>> k_fixture_images = {
    {"ghcr.io/acme/app", "sha256:a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333"},
    {"ghcr.io/acme/web", "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"},
    {"ghcr.io/acme/migrate",
     "sha256:3bc801a33ea83df414e1aeb962a52412835be99db28668ec25de73fdd4733804"},
    {"ghcr.io/acme/agent",
     "sha256:d4f0bc5a29de06b510f9aa428f1eedba926012b591fef7a518e776a7c9bd1824"},
    {"ghcr.io/acme/wait-for",
     "sha256:e95223ed065e1ea8426841a503e6964475e9e32f82731f4fe73c26eb275b74a5"},
    {"ghcr.io/acme/report",
     "sha256:845e91831319e89c4d656bdb80c278ac09a7230d61e5dfd2e1b1fbb436ac8917"},
    {"ghcr.io/acme/fetch",
     "sha256:e7d3799ecc09f5cbc446aa0a79bb1fb9d0126395fa19a5903b7425f42e5e92e7"},
};

// Staging and production accept any recorded digest of ghcr.io/acme/*; production comes after
// staging, as in a real pipeline.
json admission_policy() {
  json lenient = {{"repositories", {"ghcr.io/acme/*"}}, {"require_complete_evidence", false}};
  json production = lenient;
  production["after"] = {"staging"};
  return {{"environments", {{"staging", lenient}, {"production", production}}}};
}

std::string fixture(const std::string& name) {
  return source_file("tests/data/admission/" + name);
}

// A Pod review from the API server with these container images (uid `uid`).
json pod_review(const std::vector<std::string>& images, const std::string& uid = "pod-uid-1") {
  json review = json::parse(fixture("pod.json"));
  json& spec = review["request"]["object"]["spec"];
  spec.erase("initContainers");
  json containers = json::array();
  for (std::size_t i = 0; i < images.size(); ++i) {
    containers.push_back({{"name", "c" + std::to_string(i)},
                          {"image", images[i]},
                          {"imagePullPolicy", "IfNotPresent"}});
  }
  spec["containers"] = containers;
  review["request"]["uid"] = uid;
  return review;
}

struct Cluster {
  Daemon daemon{admission_policy()};

  void record(const std::string& repository, const std::string& digest) const {
    json evidence = {{"subject", {{"name", repository}, {"digest", digest}}}};
    auto r = daemon.http("POST", "/v1/validations", evidence.dump(), k_recorder_token);
    REQUIRE_MESSAGE(r.status == 201, r.body);
  }
  void
  approve(const std::string& repository, const std::string& digest, const std::string& env) const {
    json body = {{"reference", repository + "@" + digest}, {"environment", env}};
    auto r = daemon.http("POST", "/v1/promotions", body.dump(), k_promoter_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  // Record, then approve in staging and production.
  void release(const std::string& repository, const std::string& digest) const {
    record(repository, digest);
    approve(repository, digest, "staging");
    approve(repository, digest, "production");
  }
  HttpResponse review(const std::string& env,
                      const std::string& body,
                      const std::string& token = k_reader_token) const {
    return daemon.http("POST", "/v1/admission/" + env, body, token);
  }
  // Post `body` and return the AdmissionReview answered with HTTP 200.
  json answered(const std::string& env, const std::string& body) const {
    auto r = review(env, body);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    json out = r.json();
    REQUIRE(out.is_object());
    CHECK(out["apiVersion"] == "admission.k8s.io/v1");
    CHECK(out["kind"] == "AdmissionReview");
    return out["response"];
  }
  std::int64_t entries() const {
    auto r = daemon.http("GET", "/readyz");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json()["entries"].get<std::int64_t>();
  }
  std::string metrics() const { return daemon.http("GET", "/metrics").body; }
};

std::string message_of(const json& response) {
  return response["status"]["message"].get<std::string>();
}

} // namespace

TEST_SUITE_BEGIN("E2E admission");

TEST_CASE("Every workload kind is admitted when its images are approved, and only then") {
  Cluster cluster;
  for (const auto& [repository, digest] : k_fixture_images) {
    cluster.release(repository, digest);
  }
  const std::int64_t before = cluster.entries();

  for (const char* name :
       {"deployment.json", "replicaset.json", "daemonset.json", "job.json", "cronjob.json"}) {
    INFO(name);
    const std::string body = fixture(name);
    const json response = cluster.answered("production", body);
    CHECK(response["uid"] == json::parse(body)["request"]["uid"]);
    CHECK_MESSAGE(response["allowed"] == true, response.dump());
    CHECK_FALSE(response.contains("status"));
  }

  SUBCASE("A Pod with a tagged sidecar is refused, naming the tag") {
    const json response = cluster.answered("production", fixture("pod.json"));
    CHECK(response["uid"] == "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
    CHECK(response["allowed"] == false);
    CHECK(response["status"]["code"] == 403);
    const std::string message = message_of(response);
    CHECK(message.find("docker.io/envoyproxy/envoy:v1.31.2") != std::string::npos);
    CHECK(message.find("mutable-reference") != std::string::npos);
    CHECK(message.find("ghcr.io/acme/app@") == std::string::npos); // admitted images not listed
  }
  SUBCASE("A StatefulSet on tags and bare names is refused for each of them") {
    const json response = cluster.answered("production", fixture("statefulset.json"));
    CHECK(response["allowed"] == false);
    const std::string message = message_of(response);
    const auto queue = message.find("\"ghcr.io/acme/queue:3.13\"");
    const auto tools = message.find("\"ghcr.io/acme/tools\"");
    REQUIRE(queue != std::string::npos);
    REQUIRE(tools != std::string::npos);
    CHECK(queue < tools); // containers before initContainers
    CHECK(message.find("2 of 3 images") != std::string::npos);
  }
  SUBCASE("kubectl debug's ephemeral container is judged too") {
    const json response = cluster.answered("production", fixture("pod-ephemeral.json"));
    CHECK(response["allowed"] == false);
    CHECK(message_of(response).find("spec.ephemeralContainers[0] (debugger-8kq2n)") !=
          std::string::npos);
  }
  SUBCASE("A DELETE and an object without pods are allowed") {
    CHECK(cluster.answered("production", fixture("pod-delete.json"))["allowed"] == true);
    CHECK(cluster.answered("production", fixture("configmap.json"))["allowed"] == true);
  }
  // Admission reads the ledger and never writes it.
  CHECK(cluster.entries() == before);
}

TEST_CASE("A refused pod lists each image with its reason codes, in the order of the spec") {
  Cluster cluster;
  const std::string good = sample_digest(1), recorded = sample_digest(2),
                    revoked = sample_digest(3), old = sample_digest(4), bad = sample_digest(5),
                    staged = sample_digest(6), never = sample_digest(7);
  const std::string app = "ghcr.io/acme/app";
  cluster.release(app, good);
  cluster.record(app, recorded);
  cluster.release("ghcr.io/acme/worker", revoked);
  auto r = cluster.daemon.http("POST", "/v1/revocations",
                               json{{"digest", revoked}, {"reason", "CVE-2026-0001"}}.dump(),
                               k_operator_token);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  // ghcr.io/acme/api: `old` is good, `bad` was rolled out and rolled back from.
  cluster.release("ghcr.io/acme/api", old);
  cluster.release("ghcr.io/acme/api", bad);
  r = cluster.daemon.http("POST", "/v1/environments/production/rollback",
                          json{{"repository", "ghcr.io/acme/api"}, {"reason", "5xx"}}.dump(),
                          k_operator_token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  REQUIRE(r.json()["digest"] == old);
  cluster.record("ghcr.io/acme/web", staged);
  cluster.approve("ghcr.io/acme/web", staged, "staging");
  const std::int64_t before = cluster.entries();
  const std::string before_metrics = cluster.metrics();

  const std::vector<std::string> images = {
      app + "@" + good,                 // admitted
      app + ":v1.4.2",                  // a tag
      "nginx",                          // a bare name means :latest
      "ghcr.io/acme/app@sha256:12",     // not a reference
      app + "@" + recorded,             // recorded, never approved here
      app + "@" + never,                // never recorded
      "ghcr.io/acme/worker@" + revoked, // revoked
      "ghcr.io/acme/api@" + bad,        // rolled back from
      "ghcr.io/acme/web@" + staged,     // approved in staging only
      "ghcr.io/acme/api@" + old,        // admitted: the way back
      "docker.io/acme/app@" + good,     // approved for another repository
  };
  const std::vector<std::string> expected = {"",
                                             "mutable-reference",
                                             "mutable-reference",
                                             "malformed-reference",
                                             "not-approved",
                                             "unknown-digest",
                                             "revoked",
                                             "not-approved",
                                             "not-approved",
                                             "",
                                             "not-approved"};
  const json response =
      cluster.answered("production", pod_review(images, "uid-every-reason").dump());
  CHECK(response["uid"] == "uid-every-reason");
  CHECK(response["allowed"] == false);
  CHECK(response["status"]["code"] == 403);
  const std::string message = message_of(response);
  INFO(message);
  CHECK(message.find("9 of 11 images not admitted to production") != std::string::npos);
  std::size_t at = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string item = "\"" + images[i] + "\" in spec.containers[" + std::to_string(i) +
                             "] (c" + std::to_string(i) + "): " + expected[i];
    if (expected[i].empty()) {
      CHECK(message.find("\"" + images[i] + "\"") == std::string::npos);
      continue;
    }
    INFO(item);
    const auto pos = message.find(item);
    REQUIRE(pos != std::string::npos);
    CHECK(pos >= at);
    at = pos;
  }
  CHECK(message.find("CVE-2026-0001") != std::string::npos);

  SUBCASE("Staging admits what it approved") {
    const json staging = cluster.answered(
        "staging",
        pod_review({"ghcr.io/acme/web@" + staged, app + "@" + good, "ghcr.io/acme/api@" + old})
            .dump());
    CHECK_MESSAGE(staging["allowed"] == true, staging.dump());
  }
  SUBCASE("An environment the policy does not define admits nothing") {
    const json response2 = cluster.answered("prod", pod_review({app + "@" + good}).dump());
    CHECK(response2["allowed"] == false);
    CHECK(message_of(response2).find("unknown-environment") != std::string::npos);
  }
  SUBCASE("A digest promoted again after the rollback is admitted again") {
    cluster.approve("ghcr.io/acme/api", bad, "production");
    CHECK(cluster.answered("production",
                           pod_review({"ghcr.io/acme/api@" + bad}).dump())["allowed"] == true);
  }
  SUBCASE("A dry run is answered the same") {
    json dry = pod_review(images, "uid-dry");
    dry["request"]["dryRun"] = true;
    const json response2 = cluster.answered("production", dry.dump());
    CHECK(response2["uid"] == "uid-dry");
    CHECK(response2["allowed"] == false);
    CHECK(message_of(response2) == message);
  }
  SUBCASE("Refusals are counted in /metrics, and nothing is ledgered") {
    const std::string after = cluster.metrics();
    const std::string refused =
        "digestgate_admission_reviews_total{environment=\"production\",allowed=\"false\"}";
    CHECK(metric_sample(after, refused) == metric_sample(before_metrics, refused) + 1);
    for (const char* code : {"mutable-reference", "malformed-reference", "not-approved",
                             "unknown-digest", "revoked"}) {
      INFO(code);
      const std::string series = "digestgate_admission_refusals_total{environment=\"production\","
                                 "reason=\"" +
                                 std::string(code) + "\"}";
      CHECK(metric_sample(after, series) > metric_sample(before_metrics, series));
    }
    CHECK(metric_sample(after, "digestgate_admission_refusals_total{environment=\"production\","
                               "reason=\"mutable-reference\"}") == 2);
    CHECK(metric_sample(after, "digestgate_admission_seconds_count") >= 1);
    CHECK(cluster.entries() == before);
  }
}

TEST_CASE("The admission endpoint: bad reviews, huge bodies and authentication") {
  Cluster cluster;
  SUBCASE("A body that is not an AdmissionReview is a 400") {
    for (const std::string& body :
         {std::string("not json"), std::string("[]"), std::string("{}"),
          json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}}.dump(),
          json{{"apiVersion", "admission.k8s.io/v1beta1"},
               {"kind", "AdmissionReview"},
               {"request", {{"uid", "x"}, {"operation", "CREATE"}}}}
              .dump()}) {
      INFO(body);
      auto r = cluster.review("production", body);
      CHECK(r.status == 400);
      CHECK(r.json()["error"] == "bad-request");
    }
  }
  SUBCASE("A pod spec over the body limit is a 413") {
    std::vector<std::string> images(15000, "ghcr.io/acme/app@" + sample_digest(1));
    const std::string body = pod_review(images).dump();
    REQUIRE(body.size() > 1024 * 1024);
    auto r = cluster.review("production", body);
    CHECK(r.status == 413);
  }
  SUBCASE("Any role's token is enough; no token is a 401") {
    const std::string body = fixture("configmap.json");
    CHECK(cluster.review("production", body, k_reader_token).status == 200);
    CHECK(cluster.review("production", body, k_recorder_token).status == 200);
    CHECK(cluster.review("production", body, "").status == 401);
    CHECK(cluster.review("production", body, "wrong-token").status == 401);
    auto get = cluster.daemon.http("GET", "/v1/admission/production", "", k_reader_token);
    CHECK(get.status == 405);
  }
}

TEST_SUITE_END();
