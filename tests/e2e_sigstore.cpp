// Keyless signatures through the real daemon and CLI: records carrying Sigstore bundles from the
// test Sigstore (tests/support/sigstore_pki) satisfy require_signature and require_provenance by
// identity, and each failure refuses with its code.
#include "tests/support/daemon.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace {

using dg::test::Daemon;
using dg::test::SigstorePki;
using dg::test::TempDir;
using nlohmann::json;

const std::string k_repo = "ghcr.io/acme/app";
const std::string k_builder =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";
const std::string k_commit = "0123456789abcdef0123456789abcdef01234567";

const SigstorePki& pki() {
  static const SigstorePki instance;
  return instance;
}

std::string digest_of(const std::string& seed) {
  return "sha256:" + dg::to_hex(dg::sha256(seed));
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

json identity(const std::string& subject) {
  return json{
      {"trusted_root", "test"}, {"issuer", dg::test::k_sigstore_issuer}, {"subject", subject}};
}

json policy(const std::string& root_file) {
  const json allowed = json::array({identity("https://github.com/acme/app/.github/workflows/*")});
  return json{
      {"trusted_roots", {{"test", {{"file", root_file}}}}},
      {"environments",
       {{"signed",
         {{"require_complete_evidence", false}, {"require_signature", {{"identities", allowed}}}}},
        {"built",
         {{"require_complete_evidence", false},
          {"require_provenance",
           {{"identities", allowed},
            {"builder_ids", json::array({"https://github.com/acme/app/.github/workflows/*"})},
            {"source_repositories", json::array({"https://github.com/acme/app"})}}}}}}}};
}

json message_item(const std::string& digest, const SigstorePki::Options& options = {}) {
  const std::string payload = SigstorePki::cosign_payload(k_repo, digest);
  return json{{"bundle", pki().bundle(payload, options)}, {"payload", dg::base64_encode(payload)}};
}

json provenance_item(const std::string& digest, SigstorePki::Options options = {}) {
  options.dsse = true;
  return json{
      {"bundle", pki().bundle(SigstorePki::statement(digest, k_builder,
                                                     "https://github.com/acme/app", k_commit),
                              options)}};
}

void record(const Daemon& d, const std::string& digest, const json& bundles) {
  const json body = {
      {"subject", {{"name", k_repo}, {"digest", digest}}},
      {"source", {{"repository", "https://github.com/acme/app"}, {"commit", k_commit}}},
      {"bundles", bundles}};
  const auto r = d.http("POST", "/v1/validations", body.dump(), dg::test::k_recorder_token);
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

json promote(const Daemon& d, const std::string& digest, const std::string& env) {
  const json body = {{"reference", k_repo + "@" + digest}, {"environment", env}, {"dry_run", true}};
  return d.http("POST", "/v1/promotions", body.dump(), dg::test::k_promoter_token).json();
}

std::string codes(const json& decision) {
  std::string out;
  for (const auto& r : decision.value("reasons", json::array())) {
    out += r.value("code", "") + " ";
  }
  return out;
}

} // namespace

TEST_SUITE_BEGIN("e2e Sigstore");

TEST_CASE("Keyless bundles satisfy require_signature and require_provenance by identity") {
  TempDir roots;
  const std::string root_file = roots.path() + "/trusted_root.json";
  write(root_file, pki().trusted_root().dump());
  Daemon d(policy(root_file));

  SUBCASE("a cosign keyless image signature is a signature") {
    const std::string digest = digest_of("signed image");
    record(d, digest, json::array({message_item(digest)}));
    const json decision = promote(d, digest, "signed");
    CHECK_MESSAGE(decision.value("decision", "") == "approved", decision.dump());
    const json status = d.http("GET", "/v1/digests/" + digest, "", dg::test::k_reader_token).json();
    REQUIRE(status["bundles"].size() == 1);
    const json& shown = status["bundles"][0];
    CHECK(shown["verified"] == true);
    CHECK(shown["identity"] == dg::test::k_sigstore_subject);
    CHECK(shown["issuer"] == dg::test::k_sigstore_issuer);
    CHECK(shown["log_index"] == 1001);
    CHECK(shown["integrated_time"].get<std::string>().starts_with("2026-05-28T"));
    CHECK(shown["trusted_root"] == "test");
  }
  SUBCASE("an attest-build-provenance style bundle is provenance, and a signature") {
    const std::string digest = digest_of("built image");
    record(d, digest, json::array({provenance_item(digest)}));
    json decision = promote(d, digest, "built");
    CHECK_MESSAGE(decision.value("decision", "") == "approved", decision.dump());
    decision = promote(d, digest, "signed");
    CHECK_MESSAGE(decision.value("decision", "") == "approved", decision.dump());
  }
  SUBCASE("a bundle that fails verification is signature-invalid or provenance-invalid") {
    SigstorePki::Options bad;
    bad.bad_signature = true;
    const std::string digest = digest_of("tampered image");
    record(d, digest, json::array({message_item(digest, bad), provenance_item(digest, bad)}));
    json decision = promote(d, digest, "signed");
    CHECK(codes(decision) == "signature-invalid ");
    CHECK(decision["reasons"][0]["message"].get<std::string>().find(
              "signature: the message signature does not verify") != std::string::npos);
    decision = promote(d, digest, "built");
    CHECK(codes(decision) == "provenance-invalid ");
  }
  SUBCASE("a bundle from another identity is identity-mismatch, naming both") {
    SigstorePki::Options other;
    other.subject = "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main";
    const std::string digest = digest_of("foreign image");
    record(d, digest, json::array({message_item(digest, other), provenance_item(digest, other)}));
    json decision = promote(d, digest, "signed");
    REQUIRE(codes(decision) == "identity-mismatch ");
    const std::string message = decision["reasons"][0]["message"];
    CHECK(message.find(other.subject) != std::string::npos);
    CHECK(message.find("https://github.com/acme/app/.github/workflows/*") != std::string::npos);
    decision = promote(d, digest, "built");
    CHECK(codes(decision) == "identity-mismatch ");
  }
  SUBCASE("a bundle for another digest does not count") {
    const std::string digest = digest_of("unsigned image");
    record(d, digest, json::array({message_item(digest_of("some other image"))}));
    CHECK(codes(promote(d, digest, "signed")) == "signature-invalid ");
  }
  SUBCASE("no bundle at all is signature-missing and provenance-missing") {
    const std::string digest = digest_of("bare image");
    record(d, digest, json::array());
    CHECK(codes(promote(d, digest, "signed")) == "signature-missing ");
    CHECK(codes(promote(d, digest, "built")) == "provenance-missing ");
  }
}

TEST_CASE("Each broken part of a bundle refuses through the daemon naming its check") {
  TempDir roots;
  const std::string root_file = roots.path() + "/trusted_root.json";
  write(root_file, pki().trusted_root().dump());
  Daemon d(policy(root_file));
  for (const dg::test::BrokenBundle& b : dg::test::broken_bundles()) {
    CAPTURE(std::string(b.name));
    const std::string digest = digest_of(std::string("broken: ") + b.name);
    record(d, digest, json::array({message_item(digest, b.options)}));
    const json decision = promote(d, digest, "signed");
    REQUIRE(codes(decision) == "signature-invalid ");
    const std::string message = decision["reasons"][0]["message"];
    CAPTURE(message);
    CHECK(message.find(std::string(b.check) + ": ") != std::string::npos);
    CHECK(message.find(b.message) != std::string::npos);
    const json status = d.http("GET", "/v1/digests/" + digest, "", dg::test::k_reader_token).json();
    CHECK(status["bundles"][0]["verified"] == false);
  }
  // The same failures of a SLSA provenance bundle are provenance-invalid.
  SigstorePki::Options bad;
  bad.other_ca = true;
  const std::string digest = digest_of("broken provenance");
  record(d, digest, json::array({provenance_item(digest, bad)}));
  const json decision = promote(d, digest, "built");
  REQUIRE(codes(decision) == "provenance-invalid ");
  CHECK(decision["reasons"][0]["message"].get<std::string>().find("certificate: ") !=
        std::string::npos);
}

TEST_CASE("digestgate sigstore verify names the check each broken bundle fails") {
  TempDir dir;
  const std::string root_file = dir.path() + "/trusted_root.json";
  const std::string payload_file = dir.path() + "/payload.json";
  write(root_file, pki().trusted_root().dump());
  const std::string payload = SigstorePki::cosign_payload(k_repo, digest_of("cli broken image"));
  write(payload_file, payload);
  for (const dg::test::BrokenBundle& b : dg::test::broken_bundles()) {
    CAPTURE(std::string(b.name));
    const std::string bundle_file = dir.path() + "/bundle.json";
    write(bundle_file, pki().bundle(payload, b.options).dump());
    const auto r =
        dg::test::run_process({DG_CLI_PATH, "--json", "sigstore", "verify", "--bundle", bundle_file,
                               "--trusted-root", root_file, "--payload", payload_file});
    CHECK(r.exit_code == 1);
    const json out = r.json();
    CHECK(out["verified"] == false);
    CHECK(out["check"] == b.check);
    CHECK(out["error"].get<std::string>().find(b.message) != std::string::npos);
    CHECK(out["identity"]["subject"] == dg::test::k_sigstore_subject);
  }
}

TEST_CASE("A trust root that does not load stops the daemon, and a reload keeps the old one") {
  TempDir roots;
  const std::string root_file = roots.path() + "/trusted_root.json";
  write(root_file, "{\"certificateAuthorities\": []}");
  CHECK_THROWS(Daemon(policy(root_file)));

  write(root_file, pki().trusted_root().dump());
  Daemon d(policy(root_file));
  const std::string digest = digest_of("reloaded image");
  record(d, digest, json::array({message_item(digest)}));
  write(root_file, "not json");
  d.reload();
  json decision;
  // The reload fails; the old trust root stays in force.
  for (int i = 0; i < 50 && d.log().find("trusted_roots.test.file") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(d.log().find("trusted_roots.test.file") != std::string::npos);
  decision = promote(d, digest, "signed");
  CHECK(decision.value("decision", "") == "approved");
}

TEST_CASE("policy what-if judges bundles under the trust roots the proposed policy names") {
  TempDir roots;
  const std::string root_file = roots.path() + "/trusted_root.json";
  write(root_file, pki().trusted_root().dump());
  Daemon d(policy(root_file));
  const std::string digest = digest_of("what-if image");
  record(d, digest, json::array({message_item(digest)}));
  const json body = {{"reference", k_repo + "@" + digest}, {"environment", "signed"}};
  const auto promoted = d.http("POST", "/v1/promotions", body.dump(), dg::test::k_promoter_token);
  REQUIRE_MESSAGE(promoted.json().value("decision", "") == "approved", promoted.body);

  // A proposed policy beside its own trust root, named relative to it.
  TempDir proposal;
  const std::string proposed = proposal.path() + "/policy.json";
  auto what_if = [&](const json& root) {
    write(proposal.path() + "/trusted_root.json", root.dump());
    write(proposed, policy("trusted_root.json").dump());
    return d.cli({"--json", "policy", "what-if", proposed}, dg::test::k_reader_token);
  };
  auto decision_of = [&](const dg::test::CliResult& r) {
    const json out = r.json();
    for (const auto& item : out["results"]) {
      if (item["digest"] == digest && item["environment"] == "signed") {
        return item;
      }
    }
    return json();
  };
  SUBCASE("the same trust root: approved") {
    const auto r = what_if(pki().trusted_root());
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(decision_of(r)["decision"] == "approved");
  }
  SUBCASE("another Sigstore's trust root: the bundle no longer verifies") {
    const SigstorePki other;
    const auto r = what_if(other.trusted_root());
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const json item = decision_of(r);
    CHECK(item["decision"] == "refused");
    CHECK(item["reasons"][0]["code"] == "signature-invalid");
    CHECK(item["reasons"][0]["message"].get<std::string>().find("certificate: ") !=
          std::string::npos);
  }
  SUBCASE("a trust root file that does not load is the CLI's error") {
    write(proposal.path() + "/trusted_root.json", "{}");
    write(proposed, policy("trusted_root.json").dump());
    const auto r = d.cli({"policy", "what-if", proposed}, dg::test::k_reader_token);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("trusted_roots.test.file") != std::string::npos);
  }
  SUBCASE("a request without the trust root's text is refused naming it") {
    const json request = {{"policy", policy("trusted_root.json")}};
    const auto r = d.http("POST", "/v1/policy/what-if", request.dump(), dg::test::k_reader_token);
    CHECK(r.status == 400);
    CHECK(r.body.find("the request carries no trust root for 'trusted_root.json'") !=
          std::string::npos);
  }
}

TEST_CASE("A trust root replaced under an unchanged policy file is ledgered on reload") {
  TempDir roots;
  const std::string root_file = roots.path() + "/trusted_root.json";
  const std::string first = pki().trusted_root().dump();
  write(root_file, first);
  Daemon d(policy(root_file));
  auto policy_entries = [&] {
    return d.http("GET", "/v1/entries?kind=policy", "", dg::test::k_reader_token).json()["entries"];
  };
  REQUIRE(policy_entries().size() == 1);
  const json ledgered = policy_entries()[0]["body"];
  CHECK(ledgered["trusted_roots"]["test"]["file"] == root_file);
  CHECK(ledgered["trusted_roots"]["test"]["sha256"] == dg::to_hex(dg::sha256(first)));

  // A reload with nothing changed ledgers nothing.
  d.reload();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(policy_entries().size() == 1);

  const SigstorePki other;
  const std::string second = other.trusted_root().dump();
  write(root_file, second);
  d.reload();
  REQUIRE(dg::test::wait_until([&] { return policy_entries().size() == 2; }));
  const json entry = policy_entries()[1]["body"];
  CHECK(entry["sha256"] == ledgered["sha256"]);
  CHECK(entry["trusted_roots"]["test"]["sha256"] == dg::to_hex(dg::sha256(second)));
  // And the new trust root is in force: a bundle of the first Sigstore no longer verifies.
  const std::string digest = digest_of("re-rooted image");
  record(d, digest, json::array({message_item(digest)}));
  CHECK(codes(promote(d, digest, "signed")) == "signature-invalid ");
}

TEST_CASE("digestgate sigstore verify checks a bundle offline and prints the identity") {
  TempDir dir;
  const std::string root_file = dir.path() + "/trusted_root.json";
  const std::string bundle_file = dir.path() + "/bundle.json";
  const std::string payload_file = dir.path() + "/payload.json";
  write(root_file, pki().trusted_root().dump());
  const std::string payload = SigstorePki::cosign_payload(k_repo, digest_of("cli image"));
  write(payload_file, payload);
  write(bundle_file, pki().bundle(payload, {}).dump());
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), DG_CLI_PATH);
    return dg::test::run_process(args);
  };
  const auto ok = run({"sigstore", "verify", "--bundle", bundle_file, "--trusted-root", root_file,
                       "--payload", payload_file, "--issuer", dg::test::k_sigstore_issuer,
                       "--subject", "https://github.com/acme/*"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find(std::string("verified: ") + dg::test::k_sigstore_subject) == 0);
  const auto other = run({"sigstore", "verify", "--bundle", bundle_file, "--trusted-root",
                          root_file, "--payload", payload_file, "--issuer",
                          dg::test::k_sigstore_issuer, "--subject", "https://github.com/other/*"});
  CHECK(other.exit_code == 1);
  CHECK(other.out.find("NOT verified (identity)") == 0);
  const auto wrong = run({"--json", "sigstore", "verify", "--bundle", bundle_file, "--trusted-root",
                          root_file, "--digest", "sha256:" + dg::to_hex(dg::sha256("x"))});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.json()["check"] == "artifact");
  CHECK(wrong.json()["identity"]["subject"] == dg::test::k_sigstore_subject);
  const auto usage =
      run({"sigstore", "verify", "--bundle", bundle_file, "--trusted-root", root_file});
  CHECK(usage.exit_code == 2);
}

TEST_SUITE_END();
