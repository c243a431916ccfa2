#include "policy/evidence.hpp"
#include "policy/policy.hpp"

#include <doctest/doctest.h>

using namespace dg;
using namespace dg::policy;

TEST_SUITE_BEGIN("policy file");

TEST_CASE("A minimal policy parses with the documented defaults") {
  auto p = parse_policy(R"({"environments": {"staging": {}}})");
  REQUIRE(p);
  const EnvironmentPolicy* env = p->environment("staging");
  REQUIRE(env != nullptr);
  CHECK(env->require_complete_evidence);
  CHECK_FALSE(env->require_registry_parity);
  CHECK_FALSE(env->stable_semver_only);
  CHECK_FALSE(env->max_evidence_age_ns);
  CHECK(p->environment("production") == nullptr);
  CHECK(p->sha256.size() == 64);
}

TEST_CASE("A bad policy is refused with a message that names its place") {
  struct Row {
    const char* text;
    const char* place;
  };
  const Row rows[] = {
      {"not json", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"environments": {}})", "environments"},
      {R"({"environmentz": {"a": {}}})", "environmentz: unknown field"},
      {R"({"environments": {"a": {"require_gatez": []}}})",
       "environments.a.require_gatez: unknown field"},
      {R"({"environments": {"a": {"max_findings": {"critical": -1}}}})",
       "environments.a.max_findings.critical"},
      {R"({"environments": {"a": {"max_evidence_age": "7 days"}}})",
       "environments.a.max_evidence_age"},
      {R"({"environments": {"a": {"repositories": ["ghcr.io/[ab]/*"]}}})",
       "environments.a.repositories[0]"},
      {R"({"environments": {"a": {"require_signature": {"keys": ["nobody"]}}}})",
       "environments.a.require_signature.keys[0]: unknown key 'nobody'"},
      {R"({"environments": {"a": {"after": ["b"]}}})", "environments.a.after[0]"},
      {R"({"environments": {"a": {"after": ["b"]}, "b": {"after": ["a"]}}})",
       "the stage order loops"},
      {R"({"environments": {"a": {"stable_semver_only": "yes"}}})",
       "environments.a.stable_semver_only"},
      {R"({"trusted_keys": {"k": {"public_key_pem": "garbage"}}, "environments": {"a": {}}})",
       "trusted_keys.k.public_key_pem"},
      {R"({"environments": {"Prod!": {}}})", "environments.Prod!"},
      {R"({"trusted_keys": {"k": {"public_key": "x"}}, "environments": {"a": {}}})",
       "trusted_keys.k.public_key: unknown field"},
      {R"({"environments": {"a": {"require_provenance": {"keys": [], "builder_idz": []}}}})",
       "environments.a.require_provenance.builder_idz: unknown field"},
      {R"({"environments": {"a": {"require_signature": {}}}})",
       "environments.a.require_signature.keys: is required"},
      {R"({"environments": {"a": {"require_gates": ["scan", ""]}}})",
       "environments.a.require_gates[1]: must be a non-empty string"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    auto p = parse_policy(row.text);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::invalid_argument);
    CHECK_MESSAGE(p.error().message.find(row.place) != std::string::npos, p.error().message);
  }
}

TEST_CASE("Stable SemVer means no pre-release; build metadata is allowed") {
  for (const char* ok : {"v1.2.0", "1.2.0", "v10.20.30", "v1.2.0+build.5", "0.0.1"}) {
    CAPTURE(ok);
    CHECK(is_stable_semver(ok));
  }
  for (const char* bad :
       {"v1.2.0-rc.1", "v1.2", "v1.2.0-beta", "v01.2.0", "latest", "v1.2.0.4", "v1.2.0+", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(is_stable_semver(bad));
  }
  CHECK(tag_of_ref("refs/tags/v1.2.0") == "v1.2.0");
  CHECK(tag_of_ref("refs/heads/main").empty());
}

TEST_SUITE_END();
