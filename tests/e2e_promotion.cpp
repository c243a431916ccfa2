// End-to-end: evidence is recorded and promotions decided by the real daemon, over raw HTTP.
// Every reason code of the contract is provoked here, each by the smallest change to evidence that
// otherwise passes a policy requiring everything.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/gatekeeper.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <set>

using namespace dg::test;
using nlohmann::json;

namespace {} // namespace

TEST_SUITE_BEGIN("E2E promotion");

TEST_CASE("Complete evidence is approved in staging, then production, with the pinned reference") {
  Gatekeeper g;
  std::string digest = sample_digest(1);
  auto recorded = g.record_evidence(complete_evidence(g.signer, digest));
  REQUIRE_MESSAGE(recorded.status == 201, recorded.body);
  json rec = recorded.json();
  CHECK(rec["digest"] == digest);
  CHECK(rec["seq"].get<int>() >= 1);
  for (const auto& item : rec["checks"].items()) {
    // CAPTURE keeps a reference in a lambda, which clang 14 refuses for a structured binding.
    const std::string& name = item.key();
    CAPTURE(name);
    CHECK(item.value()["ok"] == true);
  }
  CHECK(rec["checkpoint"].get<std::string>().find("digestgate.test/ledger\n") == 0);

  auto staged = g.promote(pinned(digest), "staging");
  REQUIRE_MESSAGE(staged.status == 200, staged.body);
  json s = staged.json();
  CHECK(s["decision"] == "approved");
  CHECK(s["environment"] == "staging");
  CHECK(s["digest"] == digest);
  CHECK(s["reference"] == pinned(digest));
  CHECK(s["previous_digest"].is_null());
  CHECK(s["policy_sha256"].get<std::string>().size() == 64);
  CHECK(s["seq"].get<int>() == rec["seq"].get<int>() + 1);

  auto prod = g.promote(pinned(digest), "production");
  REQUIRE_MESSAGE(prod.status == 200, prod.body);
  CHECK(prod.json()["decision"] == "approved");

  SUBCASE("A later digest reports the one it replaced") {
    std::string next = sample_digest(2);
    g.record(next);
    auto r = g.promote(pinned(next), "staging");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.json()["previous_digest"] == digest);
  }
  SUBCASE("The tag in a reference with a digest is informational") {
    auto r = g.promote(std::string(k_repo) + ":whatever@" + digest, "staging");
    CHECK_MESSAGE(r.status == 200, r.body);
    CHECK(r.json()["reference"] == pinned(digest));
  }
}

TEST_CASE(
    "Each reason code about the evidence is given alone for the smallest change that causes it") {
  Gatekeeper g;
  struct Row {
    const char* code;
    std::function<void(json&, const std::string& digest)> mutate;
    std::string repository = k_repo;
  };
  auto gate_named = [](json& e, const std::string& name) -> json& {
    for (auto& gate : e["gates"]) {
      if (gate["name"] == name) {
        return gate;
      }
    }
    throw std::runtime_error("no gate " + name);
  };
  std::string other = sample_digest(999);
  std::vector<Row> rows = {
      {"gate-missing",
       [&](json& e, const std::string&) {
         json kept = json::array();
         for (auto& gate : e["gates"]) {
           if (gate["name"] != "e2e") {
             kept.push_back(gate);
           }
         }
         e["gates"] = kept;
       }},
      {"gate-failed",
       [&](json& e, const std::string&) { gate_named(e, "e2e")["result"] = "fail"; }},
      {"findings-over-threshold",
       [&](json& e, const std::string&) {
         gate_named(e, "vuln-scan")["findings"]["critical"] = 1;
       }},
      {"scan-not-digest-bound",
       [&](json& e, const std::string&) {
         gate_named(e, "vuln-scan")["target"] = std::string(k_repo) + ":v1.4.2";
       }},
      {"artifact-not-fresh",
       [&](json& e, const std::string&) {
         gate_named(e, "sbom")["artifacts"][0]["created_at"] = timestamp(-7200);
       }},
      {"registry-parity-mismatch",
       [&](json& e, const std::string&) { e["mirrors"][1]["digest"] = other; }},
      {"platform-missing",
       [&](json& e, const std::string&) {
         json amd64 = json::array({e["subject"]["platforms"][0]});
         e["subject"]["platforms"] = amd64;
         e["mirrors"][0]["platforms"] = amd64;
         e["mirrors"][1]["platforms"] = amd64;
       }},
      {"evidence-incomplete", [&](json& e, const std::string&) { e["subject"].erase("tags"); }},
      {"revision-mismatch",
       [&](json& e, const std::string&) {
         e["subject"]["labels"]["org.opencontainers.image.revision"] =
             "fedcba9876543210fedcba9876543210fedcba98";
       }},
      {"signature-missing", [&](json& e, const std::string&) { e.erase("signatures"); }},
      {"signature-invalid",
       [&](json& e, const std::string&) {
         e["signatures"] = json::array({cosign_signature(g.signer, k_repo, other)});
       }},
      {"provenance-missing", [&](json& e, const std::string&) { e.erase("attestations"); }},
      {"provenance-invalid",
       [&](json& e, const std::string&) {
         e["attestations"] = json::array({slsa_attestation(g.signer, other)});
       }},
      {"provenance-mismatch",
       [&](json& e, const std::string& d) {
         Provenance evil;
         evil.builder_id = "https://evil.example/builder@v1";
         e["attestations"] = json::array({slsa_attestation(g.signer, d, evil)});
         e["build"]["builder_id"] = "https://evil.example/builder@v1";
       }},
      {"source-ref-not-allowed",
       [&](json& e, const std::string&) { e["source"]["ref"] = "refs/heads/main"; }},
      {"base-image-not-pinned",
       [&](json& e, const std::string&) { e["build"]["base_image"] = "node:22-slim"; }},
      {"evidence-stale",
       [&](json& e, const std::string&) { e["pushed_at"] = timestamp(-30 * 86400); }},
      {"repository-not-allowed", [&](json&, const std::string&) {}, "ghcr.io/evil/app"},
  };
  int n = 100;
  for (const auto& row : rows) {
    CAPTURE(row.code);
    std::string digest = sample_digest(++n);
    json evidence = complete_evidence(g.signer, digest, row.repository);
    row.mutate(evidence, digest);
    auto recorded = g.record_evidence(evidence);
    REQUIRE_MESSAGE(recorded.status == 201, recorded.body);
    g.expect_refused(pinned(digest, row.repository), "staging", {row.code});
  }
}

TEST_CASE("A stable-SemVer-only environment refuses a pre-release tag") {
  Gatekeeper g;
  std::string digest = sample_digest(7);
  json e = complete_evidence(g.signer, digest);
  e["source"]["ref"] = "refs/tags/v1.5.0-rc.1";
  REQUIRE(g.record_evidence(e).status == 201);
  auto r = g.promote(pinned(digest), "staging");
  CHECK(r.status == 403);
  auto reasons = r.json()["reasons"];
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0]["code"] == "source-ref-not-allowed");
  CHECK(reasons[0]["gate"] == "stable_semver_only");
}

TEST_CASE("Each reason code about the reference or the ledger state is provoked") {
  Gatekeeper g;
  std::string digest = sample_digest(3);
  g.record(digest);

  SUBCASE("malformed-reference") {
    g.expect_refused("ghcr.io/acme/App@" + digest, "staging", {"malformed-reference"});
    g.expect_refused("ghcr.io/acme/app@sha256:ABC", "staging", {"malformed-reference"});
  }
  SUBCASE("mutable-reference lists the digests recorded under the tag") {
    auto r = g.promote(std::string(k_repo) + ":v1.4.2", "staging");
    CHECK(r.status == 403);
    json j = r.json();
    CHECK(codes_of(j) == std::set<std::string>{"mutable-reference"});
    CHECK(j["reasons"][0]["message"].get<std::string>().find(pinned(digest)) != std::string::npos);
    g.expect_refused(k_repo, "staging", {"mutable-reference"});
  }
  SUBCASE("a 255-character name with a long tag, or an uppercase registry host, is mutable") {
    std::string name255;
    for (int i = 0; i < 127; ++i) {
      name255 += "a/";
    }
    name255 += "a";
    g.expect_refused(name255 + ":" + std::string(128, 't'), "staging", {"mutable-reference"});
    g.expect_refused("Docker/docker:v1", "staging", {"mutable-reference"});
    g.expect_refused("LOCALDOMAIN/library/debian", "staging", {"mutable-reference"});
  }
  SUBCASE("unsupported-digest-algorithm") {
    g.expect_refused(std::string(k_repo) + "@sha512:" + std::string(128, 'a'), "staging",
                     {"unsupported-digest-algorithm"});
  }
  SUBCASE("unknown-digest") {
    g.expect_refused(pinned(sample_digest(4)), "staging", {"unknown-digest"});
  }
  SUBCASE("repository-mismatch") {
    g.expect_refused(pinned(digest, "ghcr.io/acme/other"), "staging", {"repository-mismatch"});
  }
  SUBCASE("unknown-environment") {
    g.expect_refused(pinned(digest), "nowhere", {"unknown-environment"});
  }
  SUBCASE("stage-order") {
    g.expect_refused(pinned(digest), "production", {"stage-order"});
  }
  SUBCASE("revoked") {
    auto rev = g.daemon.http("POST", "/v1/revocations",
                             json{{"digest", digest}, {"reason", "CVE-2026-0001"}}.dump(),
                             k_operator_token);
    REQUIRE_MESSAGE(rev.status == 201, rev.body);
    g.expect_refused(pinned(digest), "staging", {"revoked"});
    json glass = promotion_body(pinned(digest), "staging");
    glass["break_glass"] = {{"reason", "ship it anyway"}};
    auto r = g.daemon.http("POST", "/v1/promotions", glass.dump(), k_operator_token);
    CHECK_MESSAGE(r.status == 403, r.body);
    CHECK(codes_of(r.json()) == std::set<std::string>{"revoked"});
  }
  SUBCASE("several failing reasons are all given") {
    std::string d = sample_digest(5);
    json e = complete_evidence(g.signer, d);
    e["build"]["base_image"] = "node:22-slim";
    e["source"]["ref"] = "refs/heads/main";
    REQUIRE(g.record_evidence(e).status == 201);
    g.expect_refused(pinned(d), "production",
                     {"base-image-not-pinned", "source-ref-not-allowed", "stage-order"});
  }
}

TEST_CASE("A later failing gate result overrides an earlier pass") {
  Gatekeeper g;
  std::string digest = sample_digest(6);
  json e = complete_evidence(g.signer, digest);
  REQUIRE(g.record_evidence(e).status == 201);
  CHECK(g.promote(pinned(digest), "staging", true).status == 200);
  json rescan = {{"subject", {{"name", k_repo}, {"digest", digest}}}, {"gates", {e["gates"][0]}}};
  rescan["gates"][0]["findings"]["critical"] = 2;
  rescan["gates"][0]["result"] = "fail";
  REQUIRE(g.record_evidence(rescan).status == 201);
  g.expect_refused(pinned(digest), "staging", {"gate-failed", "findings-over-threshold"});
}

TEST_CASE("A record that contradicts the ledgered build facts is a 409 and ledgers nothing") {
  Gatekeeper g;
  std::string digest = sample_digest(8);
  json e = complete_evidence(g.signer, digest);
  REQUIRE(g.record_evidence(e).status == 201);
  auto before = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"].size();
  for (auto mutate : std::vector<std::function<void(json&)>>{
           [](json& x) { x["source"]["commit"] = "ffffffffffffffffffffffffffffffffffffffff"; },
           [](json& x) { x["pushed_at"] = timestamp(-100); },
           [](json& x) { x["subject"]["name"] = "ghcr.io/acme/other"; },
           [](json& x) { x["subject"]["platforms"][0]["digest"] = sample_digest(77); },
           [](json& x) { x["build"]["run_id"] = "999"; }}) {
    json changed = e;
    mutate(changed);
    auto r = g.record_evidence(changed);
    CHECK_MESSAGE(r.status == 409, r.body);
    CHECK(r.json()["error"] == "evidence-conflict");
  }
  auto after = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"].size();
  CHECK(after == before);
}

TEST_CASE("A dry run is decided and answered but not ledgered") {
  Gatekeeper g;
  std::string digest = sample_digest(9);
  g.record(digest);
  auto before = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"].size();
  auto ok = g.promote(pinned(digest), "staging", true);
  CHECK(ok.status == 200);
  CHECK(ok.json()["dry_run"] == true);
  CHECK(ok.json()["seq"].is_null());
  auto refused = g.promote(pinned(digest), "production", true);
  CHECK(refused.status == 403);
  CHECK(codes_of(refused.json()) == std::set<std::string>{"stage-order"});
  auto after = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"].size();
  CHECK(after == before);
  auto env = g.daemon.http("GET", "/v1/environments/staging", "", k_reader_token).json();
  CHECK(env["repositories"].empty());
}

TEST_CASE("Bad requests get 400 and ledger nothing; a bad reference is a refusal, not a 400") {
  Gatekeeper g;
  auto count = [&] {
    return g.daemon.http("GET", "/v1/entries?limit=1000", "", k_reader_token)
        .json()["entries"]
        .size();
  };
  auto before = count();
  struct Bad {
    const char* path;
    std::string body;
  };
  std::string digest = sample_digest(10);
  for (const auto& bad : std::vector<Bad>{
           {"/v1/validations", "{not json"},
           {"/v1/validations", "[]"},
           {"/v1/validations", R"({"subject": {"name": "ghcr.io/acme/app"}})"},
           {"/v1/validations", R"({"subject": {"digest": ")" + digest + R"("}})"},
           {"/v1/validations",
            R"({"subject": {"name": "ghcr.io/acme/app", "digest": "sha256:abc"}})"},
           {"/v1/validations", R"({"subject": {"name": "ghcr.io/acme/app", "digest": ")" + digest +
                                   R"("}, "pushed_at": "yesterday"})"},
           {"/v1/validations",
            R"({"subject": {"name": "Ghcr.io/Acme/App", "digest": ")" + digest + R"("}})"},
           {"/v1/promotions", "{not json"},
           {"/v1/promotions", R"({"reference": "ghcr.io/acme/app@)" + digest + R"("})"},
           {"/v1/promotions", R"({"environment": "staging"})"},
           {"/v1/promotions", R"({"environment": "staging", "reference": 42})"},
       }) {
    CAPTURE(bad.body);
    std::string token =
        std::string(bad.path) == "/v1/validations" ? k_recorder_token : k_promoter_token;
    auto r = g.daemon.http("POST", bad.path, bad.body, token);
    CHECK_MESSAGE(r.status == 400, r.body);
    CHECK(r.json()["error"].is_string());
    CHECK(r.json()["message"].is_string());
  }
  CHECK(count() == before);
  auto refused = g.promote("not a reference!", "staging");
  CHECK(refused.status == 403);
  CHECK(codes_of(refused.json()) == std::set<std::string>{"malformed-reference"});
  CHECK(count() == before + 1);
}

TEST_CASE("Roles: 401 without a valid token, 403 forbidden for a missing role") {
  Gatekeeper g;
  std::string digest = sample_digest(11);
  json evidence = complete_evidence(g.signer, digest);
  std::string promotion = promotion_body(pinned(digest), "staging").dump();
  CHECK(g.daemon.http("POST", "/v1/validations", evidence.dump()).status == 401);
  CHECK(g.daemon.http("POST", "/v1/validations", evidence.dump(), "wrong").status == 401);
  for (const char* token : {k_promoter_token, k_operator_token, k_reader_token}) {
    auto r = g.daemon.http("POST", "/v1/validations", evidence.dump(), token);
    CHECK(r.status == 403);
    CHECK(r.json()["error"] == "forbidden");
  }
  REQUIRE(g.record_evidence(evidence).status == 201);
  for (const char* token : {k_recorder_token, k_operator_token, k_reader_token}) {
    auto r = g.daemon.http("POST", "/v1/promotions", promotion, token);
    CHECK(r.status == 403);
    CHECK(r.json()["error"] == "forbidden");
  }
  for (const char* path : {"/v1/entries", "/v1/environments", "/v1/checkpoint", "/v1/policy"}) {
    CAPTURE(path);
    CHECK(g.daemon.http("GET", path, "", k_reader_token).status == 200);
    CHECK(g.daemon.http("GET", path).status == 401);
  }
  CHECK(g.daemon.http("GET", "/v1/digests/" + digest, "", k_reader_token).status == 200);
}

TEST_CASE("Break glass approves despite failing reasons for an operator, and is forbidden to a "
          "promoter") {
  Gatekeeper g;
  std::string digest = sample_digest(12);
  json e = complete_evidence(g.signer, digest);

  for (auto& gate : e["gates"]) {
    if (gate["name"] == "e2e") {
      gate["result"] = "fail";
    }
  }
  REQUIRE(g.record_evidence(e).status == 201);
  json body = promotion_body(pinned(digest), "staging");
  body["break_glass"] = {{"reason", "hotfix for incident 42"}};
  auto forbidden = g.daemon.http("POST", "/v1/promotions", body.dump(), k_promoter_token);
  CHECK(forbidden.status == 403);
  CHECK(forbidden.json()["error"] == "forbidden");
  auto approved = g.daemon.http("POST", "/v1/promotions", body.dump(), k_operator_token);
  REQUIRE_MESSAGE(approved.status == 200, approved.body);
  json j = approved.json();
  CHECK(j["decision"] == "approved");
  CHECK(j["break_glass"]["reason"] == "hotfix for incident 42");
  CHECK(j["break_glass"]["overridden"][0]["code"] == "gate-failed");
  auto entry =
      g.daemon.http("GET", "/v1/entries/" + std::to_string(j["seq"].get<int>()), "", k_reader_token)
          .json()["entry"];
  CHECK(entry["body"]["break_glass"]["reason"] == "hotfix for incident 42");
  CHECK(entry["body"]["reasons"][0]["code"] == "gate-failed");
  CHECK(entry["actor"] == "operator");
  SUBCASE("a mutable reference is refused even with break glass") {
    body["reference"] = std::string(k_repo) + ":v1.4.2";
    auto r = g.daemon.http("POST", "/v1/promotions", body.dump(), k_operator_token);
    CHECK(r.status == 403);
    CHECK(codes_of(r.json()) == std::set<std::string>{"mutable-reference"});
  }
}

TEST_CASE("A restart keeps every entry and every decision the same") {
  Gatekeeper g;
  std::string good = sample_digest(13), bad = sample_digest(14);
  g.record(good);
  json e = complete_evidence(g.signer, bad);
  e["build"]["base_image"] = "node:22-slim";
  REQUIRE(g.record_evidence(e).status == 201);
  REQUIRE(g.promote(pinned(good), "staging").status == 200);
  auto entries = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"];
  auto decide = [&] {
    return std::vector<std::string>{
        g.promote(pinned(good), "production", true).body,
        g.promote(pinned(bad), "staging", true).body,
        g.daemon.http("GET", "/v1/environments/staging", "", k_reader_token).body};
  };
  auto before = decide();
  REQUIRE(g.daemon.stop() == 0);
  g.daemon.start();
  auto after_entries = g.daemon.http("GET", "/v1/entries", "", k_reader_token).json()["entries"];
  CHECK(after_entries == entries);
  auto after = decide();
  CHECK(after[1] == before[1]);
  CHECK(after[2] == before[2]);
  CHECK(json::parse(after[0])["decision"] == json::parse(before[0])["decision"]);
  CHECK(g.daemon.http("GET", "/readyz").status == 200);
}

TEST_CASE("policy check validates offline and policy what-if reports without changing anything") {
  Gatekeeper g;
  std::string digest = sample_digest(15);
  g.record(digest);
  REQUIRE(g.promote(pinned(digest), "staging").status == 200);

  TempDir dir;
  json proposed = strict_policy(g.signer.public_key_pem());
  proposed["environments"]["staging"]["max_findings"]["medium"] = 0; // the scan found 2
  std::string proposed_path = dir.path() + "/proposed.json";
  std::string broken_path = dir.path() + "/broken.json";
  {
    std::ofstream(proposed_path) << proposed.dump(2);
    json broken = proposed;
    broken["environments"]["staging"]["max_findingz"] = json::object();
    std::ofstream(broken_path) << broken.dump(2);
  }
  auto ok = g.daemon.cli({"policy", "check", proposed_path});
  CHECK_MESSAGE(ok.exit_code == 0, ok.out << ok.err);
  auto bad = g.daemon.cli({"policy", "check", broken_path});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("environments.staging.max_findingz") != std::string::npos);

  auto policy_before = g.daemon.http("GET", "/v1/policy", "", k_reader_token).json();
  auto entries_before =
      g.daemon.http("GET", "/v1/entries?limit=1000", "", k_reader_token).json()["entries"].size();
  auto what_if = g.daemon.cli({"--json", "policy", "what-if", proposed_path}, k_reader_token);
  REQUIRE_MESSAGE(what_if.exit_code == 0, what_if.out << what_if.err);
  json report = what_if.json();
  CHECK(report["would_refuse"].get<int>() >= 1);
  bool found = false;
  for (const auto& r : report["results"]) {
    if (r["digest"] == digest && r["environment"] == "staging" && r["role"] == "current") {
      found = true;
      CHECK(r["decision"] == "refused");
      CHECK(codes_of(r) == std::set<std::string>{"findings-over-threshold"});
    }
  }
  CHECK(found);
  auto human = g.daemon.cli({"policy", "what-if", proposed_path}, k_reader_token);
  CHECK(human.exit_code == 0);
  CHECK(human.out.find("REFUSED") != std::string::npos);
  CHECK(g.daemon.http("GET", "/v1/policy", "", k_reader_token).json()["sha256"] ==
        policy_before["sha256"]);
  CHECK(
      g.daemon.http("GET", "/v1/entries?limit=1000", "", k_reader_token).json()["entries"].size() ==
      entries_before);
  CHECK(g.promote(pinned(digest), "staging", true).status == 200);
}

TEST_CASE("A deeply nested request body is refused before anything walks it") {
  Gatekeeper g;
  std::string deep = std::string(20000, '[') + std::string(20000, ']');
  for (const char* path : {"/v1/policy/what-if", "/v1/promotions", "/v1/validations"}) {
    CAPTURE(path);
    std::string body = std::string(R"({"policy": )") + deep + "}";
    auto r = g.daemon.http("POST", path, body, k_admin_token);
    CHECK_MESSAGE(r.status == 400, r.body);
    CHECK(r.json()["error"] == "bad-json");
  }
  CHECK(g.daemon.http("GET", "/healthz").status == 200);
}

TEST_SUITE_END();
