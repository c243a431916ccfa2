// require_observation: the newest ledgered observation judged against the recorded facts, with
// no network call; and what an observation adds to the facts.
#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>

using namespace dg;
using namespace dg::policy;
using nlohmann::json;

namespace {

const std::string k_digest = "sha256:" + std::string(64, 'a');
const std::string k_amd = "sha256:" + std::string(64, 'b');
const std::string k_arm = "sha256:" + std::string(64, 'c');
constexpr TimeNs k_hour = 3600LL * 1000000000LL;

Facts recorded_facts() {
  json record = {{"subject",
                  {{"name", "ghcr.io/acme/app"},
                   {"digest", k_digest},
                   {"platforms",
                    {{{"platform", "linux/amd64"}, {"digest", k_amd}},
                     {{"platform", "linux/arm64"}, {"digest", k_arm}}}}}},
                 {"mirrors", {{{"name", "docker.io/acme/app"}, {"digest", k_digest}}}}};
  auto parsed = parse_record(record);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  Facts facts;
  REQUIRE(merge_record(facts, *parsed, 1).ok());
  return facts;
}

json registry_entry(const std::string& name, bool present, const std::string& arm = k_arm) {
  return {{"name", name},
          {"present", present},
          {"media_type", present ? json("application/vnd.oci.image.index.v1+json") : json()},
          {"platforms", present ? json::array({{{"platform", "linux/amd64"}, {"digest", k_amd}},
                                               {{"platform", "linux/arm64"}, {"digest", arm}}})
                                : json::array()},
          {"error", nullptr}};
}

json observation(TimeNs at, json registries) {
  return {{"digest", k_digest},
          {"observed_at", format_rfc3339(at)},
          {"registries", std::move(registries)},
          {"signatures", json::array()},
          {"attestations", json::array()},
          {"bundles", json::array()}};
}

Reasons judge(const Facts& facts, TimeNs now) {
  auto policy = parse_policy(R"({"environments": {"prod": {"require_complete_evidence": false,
                                                  "require_observation": {"max_age": "24h"}}}})");
  REQUIRE(policy.ok());
  EvaluationOptions options;
  options.now = now;
  return evaluate_evidence_age(*policy, *policy->environment("prod"), facts, options);
}

std::vector<std::string> codes(const Reasons& reasons) {
  std::vector<std::string> out;
  for (const auto& r : reasons) {
    out.push_back(r.code);
  }
  return out;
}

} // namespace

TEST_SUITE_BEGIN("policy require_observation");

TEST_CASE("require_observation is parsed strictly") {
  auto ok = parse_policy(R"({"environments": {"a": {"require_observation": {"max_age": "24h"}}}})");
  REQUIRE(ok.ok());
  CHECK(ok->environment("a")->require_observation_max_age_ns == 24 * k_hour);
  for (const char* bad :
       {R"({"environments": {"a": {"require_observation": true}}})",
        R"({"environments": {"a": {"require_observation": {}}}})",
        R"({"environments": {"a": {"require_observation": {"max_age": "1 day"}}}})",
        R"({"environments": {"a": {"require_observation": {"max_age": "1h", "x": 1}}}})"}) {
    CAPTURE(bad);
    auto p = parse_policy(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message.find("environments.a.require_observation") != std::string::npos);
  }
}

TEST_CASE("The newest observation decides: none, too old, unanswered, lacking, other platforms") {
  const TimeNs now = now_ns();
  Facts facts = recorded_facts();
  CHECK(codes(judge(facts, now)) == std::vector<std::string>{"registry-not-observed"});

  SUBCASE("Fresh, both registries hold it with the recorded platforms") {
    merge_observation(facts,
                      observation(now - k_hour, {registry_entry("ghcr.io/acme/app", true),
                                                 registry_entry("docker.io/acme/app", true)}),
                      2, format_rfc3339(now));
    CHECK(judge(facts, now).empty());
    CHECK(judge_observation(facts, facts.observation["body"]).ok());
  }
  SUBCASE("Older than max_age") {
    merge_observation(facts,
                      observation(now - 25 * k_hour, {registry_entry("ghcr.io/acme/app", true),
                                                      registry_entry("docker.io/acme/app", true)}),
                      2, format_rfc3339(now));
    auto reasons = judge(facts, now);
    CHECK(codes(reasons) == std::vector<std::string>{"registry-not-observed"});
    CHECK(reasons[0].message.find("older than 24h") != std::string::npos);
  }
  SUBCASE("A registry did not answer, one was not asked") {
    json down = registry_entry("ghcr.io/acme/app", false);
    down["error"] = "unreachable: connect: Connection refused";
    merge_observation(facts, observation(now, json::array({down})), 2, format_rfc3339(now));
    auto reasons = judge(facts, now);
    CHECK(codes(reasons) ==
          std::vector<std::string>{"registry-not-observed", "registry-not-observed"});
    CHECK(reasons[0].message.find("Connection refused") != std::string::npos);
    CHECK(reasons[1].message.find("docker.io/acme/app was not asked") != std::string::npos);
  }
  SUBCASE("A mirror lacks the digest; another serves another arm64 digest") {
    merge_observation(facts,
                      observation(now, {registry_entry("ghcr.io/acme/app", true, k_amd),
                                        registry_entry("docker.io/acme/app", false)}),
                      2, format_rfc3339(now));
    auto reasons = judge(facts, now);
    CHECK(codes(reasons) ==
          std::vector<std::string>{"registry-parity-mismatch", "registry-parity-mismatch"});
    CHECK(reasons[0].message.find("linux/arm64") != std::string::npos);
    CHECK(reasons[1].message.find("docker.io/acme/app lacks") != std::string::npos);
  }
}

TEST_CASE("Signatures, attestations and bundles an observation found count as recorded") {
  Facts facts = recorded_facts();
  const std::size_t bundles_before = facts.bundles.size();
  json body = observation(now_ns(), json::array());
  body["signatures"] = json::array({{{"payload", "cA=="}, {"signature", "c2ln"}}});
  body["attestations"] = json::array({{{"envelope", {{"payloadType", "x"}}}}});
  const json bundle = {{"mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                       {"dsseEnvelope", {{"payloadType", "application/vnd.in-toto+json"}}}};
  body["bundles"] = json::array({bundle});
  merge_observation(facts, body, 2, "2026-01-01T00:00:00Z");
  merge_observation(facts, body, 3, "2026-01-01T00:00:01Z");
  CHECK(facts.signatures.size() == 1);
  CHECK(facts.attestations.size() == 1);
  REQUIRE(facts.bundles.size() == bundles_before + 1);
  CHECK(facts.bundles.back() == json{{"bundle", bundle}});
  CHECK(facts.observation["seq"] == 3);
}

TEST_SUITE_END();
