// The Sigstore verifier against a private Sigstore made with OpenSSL (tests/support/sigstore_pki):
// each check of the contract broken alone gives its own check and message.
#include "policy/sigstore.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

namespace ss = dg::policy::sigstore;
using dg::test::SigstorePki;
using nlohmann::json;

const SigstorePki& pki() {
  static const SigstorePki instance;
  return instance;
}

const std::string k_artifact = SigstorePki::cosign_payload(
    "ghcr.io/acme/app", "sha256:" + dg::to_hex(dg::sha256("digestgate sigstore test image")));

struct Outcome {
  bool verified = false;
  std::string check;
  std::string error;
  ss::Verification v;
};

Outcome run(const json& bundle, const json& root, const ss::Artifact& artifact) {
  Outcome out;
  auto parsed_root = ss::parse_trusted_root(root.dump());
  REQUIRE_MESSAGE(parsed_root.ok(), parsed_root.error().message);
  auto parsed = ss::parse_bundle(bundle);
  if (!parsed) {
    out.check = "bundle";
    out.error = parsed.error().message;
    return out;
  }
  out.v = ss::verify_bundle(*parsed, *parsed_root, artifact);
  out.verified = out.v.verified;
  out.check = out.verified ? "" : ss::to_string(out.v.failed);
  out.error = out.v.error;
  return out;
}

ss::Artifact bytes_of(const std::string& text) {
  ss::Artifact a;
  a.bytes = text;
  return a;
}

Outcome message(const SigstorePki::Options& options, bool tlogs = true, bool ctlogs = true) {
  return run(pki().bundle(k_artifact, options), pki().trusted_root(tlogs, ctlogs, true),
             bytes_of(k_artifact));
}

} // namespace

TEST_SUITE_BEGIN("Sigstore");

TEST_CASE("A message signature from the test Sigstore verifies with its identity and log entry") {
  const Outcome out = message({});
  CHECK_MESSAGE(out.verified, out.error);
  CHECK(out.v.identity.subject == dg::test::k_sigstore_subject);
  CHECK(out.v.identity.issuer == dg::test::k_sigstore_issuer);
  CHECK(out.v.identity.source_repository_uri == "https://github.com/acme/app");
  CHECK(out.v.log_index == 1001);
  CHECK(out.v.integrated_time == SigstorePki::k_signing_time);
  CHECK(ss::identity_matches(
      {"", dg::test::k_sigstore_issuer, "https://github.com/acme/app/.github/workflows/*"},
      out.v.identity));
}

TEST_CASE("A DSSE statement verifies for a subject digest, by digest or by artifact") {
  const std::string image = "sha256:" + dg::to_hex(dg::sha256("an image"));
  SigstorePki::Options options;
  options.dsse = true;
  const json bundle = pki().bundle(SigstorePki::statement(image), options);
  auto by_digest = ss::artifact_from_digest(image);
  REQUIRE(by_digest.ok());
  const Outcome out = run(bundle, pki().trusted_root(), *by_digest);
  CHECK_MESSAGE(out.verified, out.error);
  const Outcome by_bytes = run(bundle, pki().trusted_root(), bytes_of("an image"));
  CHECK_MESSAGE(by_bytes.verified, by_bytes.error);
  auto other = ss::artifact_from_digest("sha256:" + dg::to_hex(dg::sha256("another image")));
  const Outcome wrong = run(bundle, pki().trusted_root(), *other);
  CHECK(wrong.check == "artifact");
  CHECK(wrong.error.find("statement's subjects do not include sha256:") != std::string::npos);
}

TEST_CASE("An RFC 3161 timestamp alone dates the signature") {
  SigstorePki::Options options;
  options.set = false;
  options.tsa = true;
  const Outcome out = message(options);
  CHECK_MESSAGE(out.verified, out.error);
  REQUIRE(out.v.signing_times.size() == 1);
  CHECK(out.v.signing_times[0] == SigstorePki::k_signing_time + 5);
  CHECK_FALSE(out.v.integrated_time.has_value());
}

TEST_CASE("Each broken check fails with its own check and message") {
  for (const dg::test::BrokenBundle& c : dg::test::broken_bundles()) {
    CAPTURE(std::string(c.name));
    const Outcome out = message(c.options);
    CAPTURE(out.error);
    CHECK_FALSE(out.verified);
    CHECK(out.check == c.check);
    CHECK(out.error.find(c.message) != std::string::npos);
    CHECK(out.v.identity.subject == dg::test::k_sigstore_subject);
  }
}

TEST_CASE("A DSSE bundle's own failures give their own messages") {
  const std::string image = "sha256:" + dg::to_hex(dg::sha256("an image"));
  auto artifact = ss::artifact_from_digest(image);
  REQUIRE(artifact.ok());
  SigstorePki::Options options;
  options.dsse = true;
  SUBCASE("signature by another key") {
    options.bad_signature = true;
    const Outcome out =
        run(pki().bundle(SigstorePki::statement(image), options), pki().trusted_root(), *artifact);
    CHECK(out.check == "signature");
    CHECK(out.error == "the DSSE envelope's signature does not verify under the certificate's key");
  }
  SUBCASE("the entry logs another payload hash") {
    options.set = false;
    options.tsa = true;
    options.other_digest_in_body = true;
    const Outcome out =
        run(pki().bundle(SigstorePki::statement(image), options), pki().trusted_root(), *artifact);
    CHECK(out.check == "log-entry-body");
    CHECK(out.error == "log entry 0: the log entry's payload hash is not the DSSE payload's");
  }
  SUBCASE("a payload that is not an in-toto statement") {
    const Outcome out =
        run(pki().bundle("not a statement", options), pki().trusted_root(), *artifact);
    CHECK(out.check == "artifact");
    CHECK(out.error == "the DSSE payload is not an in-toto statement with subjects");
  }
}

TEST_CASE("Authorities and logs outside their validity at the signing time give their own "
          "messages") {
  const json bundle = pki().bundle(k_artifact, {});
  json root = pki().trusted_root();
  const std::string later = "2026-06-01T00:00:00Z"; // after the signing time
  SUBCASE("the certificate authority") {
    root["certificateAuthorities"][0]["validFor"]["start"] = later;
    const Outcome out = run(bundle, root, bytes_of(k_artifact));
    CHECK(out.check == "certificate");
    CHECK(out.error.starts_with("no certificate authority of the trust root is valid at "));
  }
  SUBCASE("the transparency log's key") {
    root["tlogs"][0]["publicKey"]["validFor"]["start"] = later;
    const Outcome out = run(bundle, root, bytes_of(k_artifact));
    CHECK(out.check == "signing-time");
    CHECK(out.error.find("the transparency log's key was not valid at the entry's integrated "
                         "time") != std::string::npos);
  }
  SUBCASE("the CT log's key") {
    root["ctlogs"][0]["publicKey"]["validFor"]["start"] = later;
    const Outcome out = run(bundle, root, bytes_of(k_artifact));
    CHECK(out.check == "sct");
    CHECK(out.error.starts_with("the embedded SCT's CT log key was not valid at the SCT's time"));
  }
  SUBCASE("the timestamp authority") {
    SigstorePki::Options options;
    options.set = false;
    options.tsa = true;
    root["timestampAuthorities"][0]["validFor"]["start"] = later;
    const Outcome out = run(pki().bundle(k_artifact, options), root, bytes_of(k_artifact));
    CHECK(out.check == "signing-time");
    CHECK(out.error.find("no timestamp authority of the trust root is valid at") !=
          std::string::npos);
  }
}

TEST_CASE("Rekor v2 entries verify by their inclusion proof and an RFC 3161 timestamp") {
  SigstorePki::Options v2;
  v2.rekor_v2 = true;
  v2.tsa = true;
  SUBCASE("a message signature (hashedrekord 0.0.2)") {
    const Outcome out = message(v2);
    CHECK_MESSAGE(out.verified, out.error);
    CHECK(out.v.log_index == 1001);
    CHECK_FALSE(out.v.integrated_time.has_value());
    REQUIRE(out.v.signing_times.size() == 1);
    CHECK(out.v.signing_times[0] == SigstorePki::k_signing_time + 5);
  }
  SUBCASE("a DSSE statement (dsse 0.0.2)") {
    const std::string image = "sha256:" + dg::to_hex(dg::sha256("an image"));
    v2.dsse = true;
    auto artifact = ss::artifact_from_digest(image);
    REQUIRE(artifact.ok());
    const Outcome out =
        run(pki().bundle(SigstorePki::statement(image), v2), pki().trusted_root(), *artifact);
    CHECK_MESSAGE(out.verified, out.error);
  }
}

TEST_CASE("Each broken part of a Rekor v2 entry fails with its own check and message") {
  struct Case {
    const char* name;
    void (*set)(SigstorePki::Options&);
    const char* check;
    const char* message;
  };
  const Case cases[] = {
      {"no timestamp", [](auto& o) { o.tsa = false; }, "signing-time",
       "no verified signing time: the bundle has no signed entry timestamp and no RFC 3161 "
       "timestamp"},
      {"checkpoint by another key", [](auto& o) { o.bad_checkpoint = true; }, "transparency-log",
       "the checkpoint is not signed by the entry's transparency log"},
      {"bad inclusion proof", [](auto& o) { o.bad_proof = true; }, "transparency-log",
       "inclusion proof does not lead to its root hash"},
      {"checkpoint of another tree", [](auto& o) { o.other_tree_checkpoint = true; },
       "transparency-log", "the signed checkpoint is for another tree than the inclusion proof's"},
      {"unknown log", [](auto& o) { o.unknown_log = true; }, "transparency-log",
       "it is from no transparency log of the trust root"},
      {"another signature logged", [](auto& o) { o.other_body = true; }, "log-entry-body",
       "the log entry holds another signature than the bundle's"},
      {"another certificate logged", [](auto& o) { o.other_certificate_in_body = true; },
       "log-entry-body", "the log entry holds another certificate than the bundle's"},
      {"another digest logged", [](auto& o) { o.other_digest_in_body = true; }, "log-entry-body",
       "the log entry's artifact digest is not the bundle's message digest"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    SigstorePki::Options o;
    o.rekor_v2 = true;
    o.tsa = true;
    c.set(o);
    const Outcome out = message(o);
    CAPTURE(out.error);
    CHECK_FALSE(out.verified);
    CHECK(out.check == c.check);
    CHECK(out.error.find(c.message) != std::string::npos);
  }
  SUBCASE("a v2 log whose key was not valid at the signing time") {
    SigstorePki::Options o;
    o.rekor_v2 = true;
    o.tsa = true;
    json root = pki().trusted_root();
    root["tlogs"][1]["publicKey"]["validFor"]["start"] = "2026-06-01T00:00:00Z";
    const Outcome out = run(pki().bundle(k_artifact, o), root, bytes_of(k_artifact));
    CHECK(out.check == "transparency-log");
    CHECK(out.error.starts_with("log entry 0: the transparency log's key was not valid at the "
                                "signing time, 2026-05-28T"));
  }
  SUBCASE("a trust root without the v2 log") {
    SigstorePki::Options o;
    o.rekor_v2 = true;
    o.tsa = true;
    json root = pki().trusted_root();
    root["tlogs"].erase(1);
    const Outcome out = run(pki().bundle(k_artifact, o), root, bytes_of(k_artifact));
    CHECK(out.check == "transparency-log");
    CHECK(out.error.find("it is from no transparency log of the trust root") != std::string::npos);
  }
}

TEST_CASE("An identity matches on the exact issuer and the subject glob only") {
  const Outcome out = message({});
  REQUIRE(out.verified);
  const std::string issuer = dg::test::k_sigstore_issuer;
  CHECK(ss::identity_matches({"", issuer, "https://github.com/acme/*"}, out.v.identity));
  CHECK_FALSE(ss::identity_matches({"", issuer, "https://github.com/other/*"}, out.v.identity));
  CHECK_FALSE(
      ss::identity_matches({"", issuer + "/", "https://github.com/acme/*"}, out.v.identity));
  CHECK_FALSE(ss::identity_matches({"", "https://accounts.google.com", "*"}, out.v.identity));
  ss::CertificateIdentity none;
  CHECK_FALSE(ss::identity_matches({"", "", "*"}, none));
}

TEST_CASE("A certificate's identity that is not UTF-8 is shown replaced and matches nothing") {
  SigstorePki::Options options;
  options.issuer = std::string(dg::test::k_sigstore_issuer) + "\xa4";
  const Outcome out = message(options);
  CHECK_MESSAGE(out.verified, out.error);
  CHECK(out.v.identity.malformed);
  CHECK(out.v.identity.issuer == std::string(dg::test::k_sigstore_issuer) + "\xef\xbf\xbd");
  CHECK_FALSE(ss::identity_matches({"", options.issuer, "*"}, out.v.identity));
  CHECK_FALSE(ss::identity_matches({"", out.v.identity.issuer, "*"}, out.v.identity));
  CHECK_NOTHROW((void)json(out.v.identity.issuer).dump());
}

TEST_CASE("A message digest that is not the artifact's fails the artifact check") {
  const json bundle = pki().bundle(k_artifact, {});
  auto other = ss::artifact_from_digest("sha256:" + dg::to_hex(dg::sha256("something else")));
  REQUIRE(other.ok());
  // The signature verifies over the bundle's digest; the digest is not the artifact's.
  const Outcome out = run(bundle, pki().trusted_root(), *other);
  CHECK(out.check == "artifact");
  CHECK(out.error == "the bundle's message digest is not the artifact's sha256 digest");
}

TEST_CASE("A trust root without logs or CT logs does not ask for them") {
  SigstorePki::Options options;
  options.set = false;
  options.tsa = true;
  options.unknown_log = true;
  options.bad_sct = true;
  CHECK_FALSE(message(options).verified);
  const Outcome out = message(options, /*tlogs=*/false, /*ctlogs=*/false);
  CHECK_MESSAGE(out.verified, out.error);
}

TEST_CASE("Bundles that are not understood are refused naming the field") {
  json bundle = pki().bundle(k_artifact, {});
  SUBCASE("unknown field") {
    bundle["verificationMaterial"]["extra"] = 1;
    CHECK(run(bundle, pki().trusted_root(), bytes_of(k_artifact)).error ==
          "verificationMaterial.extra is not a field this verifier understands");
  }
  SUBCASE("public key") {
    bundle["verificationMaterial"].erase("certificate");
    bundle["verificationMaterial"]["publicKey"] = {{"hint", "abc"}};
    CHECK(run(bundle, pki().trusted_root(), bytes_of(k_artifact)).error.find("managed key") !=
          std::string::npos);
  }
  SUBCASE("both contents") {
    bundle["dsseEnvelope"] = json::object();
    CHECK(run(bundle, pki().trusted_root(), bytes_of(k_artifact)).error ==
          "bundle must hold exactly one of messageSignature and dsseEnvelope");
  }
  SUBCASE("0.3 bundle with a chain") {
    json material = bundle["verificationMaterial"];
    material["x509CertificateChain"] = {{"certificates", json::array({material["certificate"]})}};
    material.erase("certificate");
    bundle["verificationMaterial"] = material;
    CHECK(run(bundle, pki().trusted_root(), bytes_of(k_artifact)).error ==
          "verificationMaterial.x509CertificateChain is not allowed in a 0.3 bundle");
  }
  SUBCASE("0.2 entry without an inclusion proof") {
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2";
    bundle["verificationMaterial"]["tlogEntries"][0].erase("inclusionProof");
    CHECK(run(bundle, pki().trusted_root(), bytes_of(k_artifact)).error ==
          "verificationMaterial.tlogEntries[0] has no inclusionProof, which bundles from 0.2 on "
          "require");
  }
}

TEST_CASE("Trust roots that are not understood are refused naming the field") {
  json root = pki().trusted_root();
  SUBCASE("validity without start") {
    root["tlogs"][0]["publicKey"]["validFor"].erase("start");
    CHECK(ss::parse_trusted_root(root.dump()).error().message ==
          "tlogs[0].publicKey.validFor.start is missing");
  }
  SUBCASE("bad key") {
    root["ctlogs"][0]["publicKey"]["rawBytes"] = dg::base64_encode(std::string("not a key"));
    CHECK(ss::parse_trusted_root(root.dump()).error().message ==
          "ctlogs[0].publicKey.rawBytes is not a DER public key");
  }
  SUBCASE("no certificate authority") {
    root["certificateAuthorities"] = json::array();
    CHECK(ss::parse_trusted_root(root.dump())
              .error()
              .message.starts_with("certificateAuthorities is empty"));
  }
  SUBCASE("unknown field") {
    root["extra"] = true;
    CHECK(ss::parse_trusted_root(root.dump()).error().message ==
          "extra is not a field this verifier understands");
  }
}

TEST_SUITE_END();
