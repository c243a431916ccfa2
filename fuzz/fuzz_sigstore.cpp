// Sigstore bundles and trust roots. The input is parsed as a trust root and as a bundle; when it is
// a JSON object {"trusted_root": {...}, "bundle": {...}, "artifact": "<text>" | "digest":
// "<alg:hex>", "payload": "<base64>"?}, the bundle is verified against that trust root
// (verify_bundle) and judged as a record's bundle item (check_bundle), so seeds made by a private
// Sigstore reach every check.
#include "fuzz/fixtures.hpp"

#include "policy/sigstore.hpp"
#include "policy/sigstore_policy.hpp"
#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace ss = dg::policy::sigstore;
using nlohmann::json;

void check_verification(const ss::Verification& v) {
  DG_FUZZ_CHECK(v.verified == v.error.empty(),
                "a verification has an error exactly when it does not verify");
  if (v.verified) {
    DG_FUZZ_CHECK(!v.signing_times.empty(), "a verified bundle has a verified signing time");
    DG_FUZZ_CHECK(!v.integrated_time || v.log_index,
                  "a verified integrated time comes with its log index");
  }
  DG_FUZZ_CHECK(std::string_view(ss::to_string(v.failed)).size() > 0, "every check has a name");
}

void check_pair(const json& doc) {
  const json& root_doc = doc["trusted_root"];
  const json& bundle_doc = doc["bundle"];
  auto root =
      ss::parse_trusted_root(root_doc.is_string() ? root_doc.get<std::string>() : root_doc.dump());
  if (!root) {
    DG_FUZZ_CHECK(!root.error().message.empty(), "a refused trust root says why");
    return;
  }
  auto bundle = ss::parse_bundle(bundle_doc);
  if (bundle) {
    ss::Artifact artifact;
    if (doc.contains("artifact") && doc["artifact"].is_string()) {
      artifact.bytes = doc["artifact"].get<std::string>();
    } else if (doc.contains("digest") && doc["digest"].is_string()) {
      auto by_digest = ss::artifact_from_digest(doc["digest"].get<std::string>());
      if (!by_digest) {
        return;
      }
      artifact = std::move(*by_digest);
    } else {
      artifact.bytes = std::string();
    }
    const ss::Verification v = ss::verify_bundle(*bundle, *root, artifact);
    check_verification(v);
    const ss::Verification again = ss::verify_bundle(*bundle, *root, artifact);
    DG_FUZZ_CHECK(again.verified == v.verified && again.failed == v.failed &&
                      again.error == v.error,
                  "verifying a bundle twice gives the same outcome");
  }
  // As a record's bundle item, under the digest the input names (or the fixtures').
  dg::policy::SigstoreTrusts trusts;
  trusts["fuzz"] = std::make_shared<const dg::policy::SigstoreTrust>("fuzz", std::move(*root),
                                                                     std::string(64, '0'));
  json item = {{"bundle", bundle_doc}};
  if (doc.contains("payload")) {
    item["payload"] = doc["payload"];
  }
  const std::string digest = doc.contains("digest") && doc["digest"].is_string()
                                 ? doc["digest"].get<std::string>()
                                 : std::string(dg::fuzz::k_digest);
  const auto finding = dg::policy::check_bundle(item, trusts, digest, dg::fuzz::k_repository);
  if (!finding.error.empty()) {
    DG_FUZZ_CHECK(finding.by_root.empty(), "an item that does not parse is verified nowhere");
  }
  for (const auto& [name, v] : finding.by_root) {
    check_verification(v);
  }
  const json shown = dg::policy::bundle_json(finding);
  DG_FUZZ_CHECK(shown.is_object(), "a bundle is shown as an object");
  (void)shown.dump();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto root = ss::parse_trusted_root(input); !root) {
    DG_FUZZ_CHECK(!root.error().message.empty(), "a refused trust root says why");
  }
  if (auto bundle = ss::parse_bundle_text(input); bundle) {
    DG_FUZZ_CHECK(bundle->minor_version >= 1 && bundle->minor_version <= 3,
                  "a parsed bundle is of version 0.1 to 0.3");
    DG_FUZZ_CHECK(bundle->tlog_entries.size() <= ss::k_max_entries &&
                      bundle->rfc3161_timestamps.size() <= ss::k_max_entries,
                  "a parsed bundle has at most k_max_entries entries and timestamps");
  } else {
    DG_FUZZ_CHECK(!bundle.error().message.empty(), "a refused bundle says why");
  }
  const json doc = json::parse(input, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("trusted_root") &&
      doc.contains("bundle")) {
    check_pair(doc);
  }
  return 0;
}
