// Writes the seed corpora of the fuzz targets: `make_seeds REPO_ROOT` (re)writes
// REPO_ROOT/fuzz/corpus/<target>/ from the fixtures and from docs/examples/. Signatures are by the
// fixtures' key, so the seeds reach past signature checks; Ed25519 is deterministic, so running it
// again changes nothing unless the fixtures change.
#include "fuzz/fixtures.hpp"

#include "ledger/checkpoint.hpp"
#include "policy/attestation.hpp"
#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>

namespace {

namespace fs = std::filesystem;
using dg::fuzz::k_digest;
using dg::fuzz::k_repository;
using nlohmann::json;

fs::path g_corpus;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_corpus / ("fuzz_" + target));
  auto path = (g_corpus / ("fuzz_" + target) / name).string();
  if (auto r = dg::write_file_atomic(path, bytes, 0644); !r) {
    std::cerr << "make_seeds: " << r.error().message << "\n";
    std::exit(1);
  }
}

std::string read(const fs::path& path) {
  auto text = dg::read_file(path.string());
  if (!text) {
    std::cerr << "make_seeds: " << text.error().message << "\n";
    std::exit(1);
  }
  return *text;
}

// '0'..'5' choose the bearer token of fuzz_http ('0': the request's own header).
std::string request(char token,
                    const std::string& method,
                    const std::string& target,
                    const std::string& body = {},
                    const std::string& extra_headers = {}) {
  std::string text = std::string(1, token) + method + " " + target + " HTTP/1.1\r\n" +
                     "Host: digestgate.local\r\n" + extra_headers;
  if (!body.empty() || method == "POST") {
    text +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return text + "\r\n" + body;
}

void reference_seeds() {
  std::string hex(k_digest + 7);
  write("reference", "docker-hub-short", "ubuntu");
  write("reference", "tag", "ghcr.io/acme/app:v1.4.2");
  write("reference", "digest", std::string(k_repository) + "@" + k_digest);
  write("reference", "tag-and-digest",
        "docker.io/library/node:22-slim@sha256:"
        "dbc30fa0ebf6bfb054e7830f2448281a6f9d20c4e9cfec80db4e44af448e00da");
  write("reference", "ipv6-port", "[::1]:5000/team/app:1.0");
  write("reference", "localhost-sha512",
        "localhost:5000/a/b__c-d.e@sha512:" + hex + hex.substr(0, 32) + hex.substr(32));
  write("reference", "index-docker-io", "index.docker.io/library/ubuntu:22.04");
  write("reference", "glob-repository", "ghcr.io/acme/*\nghcr.io/acme/app");
  write("reference", "glob-ref", "refs/tags/v?.*\nrefs/tags/v1.4.2");
}

void evidence_seeds(const fs::path& root) {
  write("evidence", "example.json", read(root / "docs/examples/evidence.json"));
  write("evidence", "signed.json", dg::fuzz::evidence().dump(2));
  write("evidence", "minimal.json",
        json{{"subject", {{"name", "ubuntu"}, {"digest", k_digest}}}}.dump());
  json failing = {
      {"subject",
       {{"name", "docker.io/acme/app"},
        {"digest", k_digest},
        {"media_type", "application/vnd.oci.image.manifest.v1+json"},
        {"tags", {"main"}}}},
      {"source",
       {{"ref", "refs/heads/main"}, {"commit", "0123456789abcdef0123456789abcdef0123456"}}},
      {"pushed_at", "2026-11-20T10:00:00.5+01:00"},
      {"gates",
       {{{"name", "vuln-scan"},
         {"target", "docker.io/acme/app:main"},
         {"started_at", "2026-11-20T08:00:00Z"},
         {"result", "fail"},
         {"findings", {{"critical", 2}, {"high", 7}}},
         {"artifacts", {{{"name", "report.json"}, {"created_at", "2026-11-20T08:00:00Z"}}}}}}}};
  write("evidence", "failing-gate.json", failing.dump());
}

void policy_seeds(const fs::path& root) {
  write("policy", "demo-policy.json", read(root / "docs/examples/demo-policy.json"));
  write("policy", "strict.json", dg::fuzz::strict_policy().dump(2));
  write("policy", "minimal.json", R"({"environments": {"dev": {}}})");
}

void attestation_seeds() {
  write("attestation", "cosign-signature.json",
        dg::fuzz::cosign_signature(k_digest, k_repository).dump());
  write("attestation", "cosign-signature-tagged.json",
        dg::fuzz::cosign_signature(k_digest, "ghcr.io/acme/app:v1.4.2").dump());
  write("attestation", "slsa-v1.json", dg::fuzz::slsa_attestation(k_digest).dump());
  write("attestation", "slsa-v02.json", dg::fuzz::slsa_attestation(k_digest, true).dump());
  write("attestation", "checkpoint.note", dg::fuzz::checkpoint_note(42));
  dg::ledger::Checkpoint bare{dg::fuzz::k_origin, 7, dg::sha256("bare")};
  write("attestation", "checkpoint.txt", dg::ledger::checkpoint_text(bare));
  write("attestation", "verifier.txt",
        dg::ledger::verifier_string(dg::fuzz::k_origin, dg::fuzz::signing_key().public_key()));
  write("attestation", "pae.txt",
        std::string(dg::policy::k_in_toto_payload_type) + "\n{\"_type\":\"x\"}");
}

void http_seeds() {
  std::string pinned = std::string(k_repository) + "@" + k_digest;
  auto promote = [&](const std::string& env) {
    return json{{"reference", pinned}, {"environment", env}}.dump();
  };
  write("http", "00-healthz", request('0', "GET", "/healthz"));
  write("http", "01-readyz", request('0', "HEAD", "/readyz"));
  write("http", "02-metrics", request('0', "GET", "/metrics"));
  write("http", "03-validation",
        request('1', "POST", "/v1/validations", dg::fuzz::evidence().dump()));
  write("http", "04-promotion-dev", request('2', "POST", "/v1/promotions", promote("dev")));
  write("http", "05-promotion-staging", request('2', "POST", "/v1/promotions", promote("staging")));
  write("http", "06-promotion-bundle-dry-run",
        request('2', "POST", "/v1/promotions",
                json{{"references", {pinned, "ghcr.io/acme/web:v1"}},
                     {"environment", "production"},
                     {"dry_run", true},
                     {"deploy_commit", dg::fuzz::k_commit}}
                    .dump()));
  write("http", "07-promotion-break-glass",
        request('5', "POST", "/v1/promotions",
                json{{"reference", pinned},
                     {"environment", "production"},
                     {"break_glass", {{"reason", "incident 42"}}}}
                    .dump()));
  write("http", "08-deployment",
        request('2', "POST", "/v1/environments/dev/deployments",
                json{{"digest", k_digest},
                     {"status", "succeeded"},
                     {"running_digest", "sha256:" + std::string(64, 'a')}}
                    .dump()));
  write("http", "09-rollback",
        request('3', "POST", "/v1/environments/dev/rollback",
                json{{"repository", k_repository}, {"reason", "bad release"}}.dump()));
  write("http", "10-revocation",
        request('3', "POST", "/v1/revocations",
                json{{"digest", k_digest}, {"reason", "CVE-2026-0001"}}.dump()));
  write("http", "11-what-if",
        request('4', "POST", "/v1/policy/what-if",
                json{{"policy", dg::fuzz::strict_policy()}}.dump()));
  write("http", "12-entries", request('4', "GET", "/v1/entries?after=0&limit=5&kind=promotion"));
  write("http", "13-entry", request('4', "GET", "/v1/entries/2"));
  write("http", "14-checkpoint", request('4', "GET", "/v1/checkpoint"));
  write("http", "15-consistency", request('4', "GET", "/v1/proofs/consistency?from=1&to=3"));
  write("http", "16-keys", request('4', "GET", "/v1/keys"));
  write("http", "17-digest", request('4', "GET", std::string("/v1/digests/") + k_digest));
  write("http", "18-environments", request('4', "GET", "/v1/environments"));
  write("http", "19-environment",
        request('4', "GET", "/v1/environments/dev?limit=3&repository=ghcr.io%2Facme%2Fapp"));
  write("http", "20-policy", request('4', "GET", "/v1/policy"));
  write("http", "21-wrong-token",
        request('0', "GET", "/v1/keys", {}, "Authorization: Bearer not-a-token\r\n"));
  std::string chunk = json{{"digest", k_digest}, {"reason", "chunked"}}.dump();
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  write("http", "22-revocation-chunked",
        std::string("3POST /v1/revocations HTTP/1.1\r\nHost: digestgate.local\r\n") +
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" +
            chunk + "\r\n0\r\n\r\n");
  write("http", "23-promotion-forbidden", request('4', "POST", "/v1/promotions", promote("dev")));
}

// Bundles of the private Sigstore of dg_testkit, each beside its trust root (and alone), one
// with each check broken. Its keys are made afresh on each run, so these seeds change every time.
void sigstore_seeds() {
  using dg::test::SigstorePki;
  const SigstorePki pki;
  const json root = pki.trusted_root();
  const std::string payload = SigstorePki::cosign_payload(k_repository, k_digest);
  auto pair = [&](const std::string& name, const json& bundle, const json& trusted_root) {
    json doc = {{"trusted_root", trusted_root}, {"bundle", bundle}};
    if (bundle.contains("dsseEnvelope")) {
      doc["digest"] = k_digest;
    } else {
      doc["artifact"] = payload;
      doc["payload"] = dg::base64_encode(payload);
    }
    write("sigstore", name + ".json", doc.dump());
  };
  auto with = [](auto set) {
    SigstorePki::Options o;
    set(o);
    return o;
  };
  write("sigstore", "trusted-root.json", root.dump(1));
  write("sigstore", "bundle.json", pki.bundle(payload, {}).dump(1));
  pair("message", pki.bundle(payload, {}), root);
  SigstorePki::Options dsse;
  dsse.dsse = true;
  pair("dsse-provenance",
       pki.bundle(SigstorePki::statement(k_digest, dg::fuzz::k_builder,
                                         "https://github.com/acme/app", dg::fuzz::k_commit),
                  dsse),
       root);
  pair("tsa-only", pki.bundle(payload, with([](auto& o) {
                                o.set = false;
                                o.tsa = true;
                              })),
       pki.trusted_root(false, false, true));
  pair("tsa-and-set", pki.bundle(payload, with([](auto& o) { o.tsa = true; })), root);
  pair("other-ca", pki.bundle(payload, with([](auto& o) { o.other_ca = true; })), root);
  pair("expired", pki.bundle(payload, with([](auto& o) { o.expired_at_signing = true; })), root);
  pair("bad-set", pki.bundle(payload, with([](auto& o) { o.bad_set = true; })), root);
  pair("bad-proof", pki.bundle(payload, with([](auto& o) {
                                 o.tsa = true;
                                 o.bad_proof = true;
                               })),
       root);
  pair("bad-checkpoint", pki.bundle(payload, with([](auto& o) { o.bad_checkpoint = true; })), root);
  pair("unknown-log", pki.bundle(payload, with([](auto& o) { o.unknown_log = true; })), root);
  pair("other-body", pki.bundle(payload, with([](auto& o) { o.other_body = true; })), root);
  pair("bad-sct", pki.bundle(payload, with([](auto& o) { o.bad_sct = true; })), root);
  pair("bad-signature", pki.bundle(payload, with([](auto& o) { o.bad_signature = true; })), root);
  pair("bad-tsa", pki.bundle(payload, with([](auto& o) { o.bad_tsa = true; })), root);
  json v01 = pki.bundle(payload, {});
  v01["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1";
  v01["verificationMaterial"]["tlogEntries"][0].erase("inclusionProof");
  pair("v0.1", v01, root);
  json v02 = pki.bundle(payload, {});
  v02["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2";
  json material = v02["verificationMaterial"];
  material["x509CertificateChain"] = {{"certificates", json::array({material["certificate"]})}};
  material.erase("certificate");
  v02["verificationMaterial"] = material;
  pair("v0.2-chain", v02, root);
  pair("rekor-v2", pki.bundle(payload, with([](auto& o) {
                                o.rekor_v2 = true;
                                o.tsa = true;
                              })),
       root);
  pair("rekor-v2-dsse", pki.bundle(SigstorePki::statement(k_digest), with([](auto& o) {
                                     o.rekor_v2 = true;
                                     o.tsa = true;
                                     o.dsse = true;
                                   })),
       root);
}

// The fixtures agree with each other: the evidence passes the strict policy in staging.
void check_fixtures() {
  auto policy = dg::policy::parse_policy(dg::fuzz::strict_policy().dump());
  auto record = dg::policy::parse_record(dg::fuzz::evidence());
  if (!policy || !record) {
    std::cerr << "make_seeds: " << (policy ? record.error().message : policy.error().message)
              << "\n";
    std::exit(1);
  }
  dg::policy::Candidate c;
  c.input = std::string(k_repository) + "@" + k_digest;
  c.reference = dg::policy::parse_reference(c.input);
  c.facts.emplace();
  std::ignore = dg::policy::merge_record(*c.facts, *record, 1);
  auto reasons = dg::policy::evaluate(*policy, "staging", c,
                                      [](const std::string&, const std::string&) { return false; },
                                      {*dg::parse_rfc3339(dg::fuzz::k_now), false, false});
  for (const auto& r : reasons) {
    std::cerr << "make_seeds: the evidence fails staging: " << r.code << ": " << r.message << "\n";
  }
  if (!reasons.empty()) {
    std::exit(1);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds REPO_ROOT\n";
    return 2;
  }
  fs::path root = argv[1];
  g_corpus = root / "fuzz/corpus";
  check_fixtures();
  reference_seeds();
  evidence_seeds(root);
  policy_seeds(root);
  attestation_seeds();
  http_seeds();
  sigstore_seeds();
  return 0;
}
