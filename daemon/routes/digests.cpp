// GET /v1/digests/{digest}: all that is known about a digest.
#include "daemon/core.hpp"
#include "daemon/routes/handlers.hpp"
#include "policy/evidence.hpp"
#include "policy/reference.hpp"
#include "policy/sigstore_policy.hpp"

namespace dg::daemon {

using nlohmann::json;

namespace {

json optional_text(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

// Each signature, attestation and Sigstore bundle of `facts` with its key or identity and whether
// it verified.
void add_signatures(json& body,
                    const policy::Facts& facts,
                    const std::shared_ptr<const policy::Policy>& pol,
                    const std::string& digest) {
  std::vector<policy::TrustedKey> keys =
      pol ? pol->trusted_keys : std::vector<policy::TrustedKey>{};
  json sigs = json::array();
  for (const auto& s : facts.signatures) {
    auto f = policy::check_cosign_signature(s, keys, digest, facts.repository);
    sigs.push_back(json{{"key", optional_text(f.key)},
                        {"verified", f.verified && f.binds},
                        {"manifest_digest", f.manifest_digest},
                        {"docker_reference", f.docker_reference},
                        {"error", optional_text(f.error)}});
  }
  body["signatures"] = sigs;
  json atts = json::array();
  for (const auto& a : facts.attestations) {
    auto f = policy::check_attestation(a, keys, digest);
    atts.push_back(json{{"key", optional_text(f.key)},
                        {"verified", f.verified && f.subject_matches && f.error.empty()},
                        {"predicate_type", f.predicate_type},
                        {"builder_id", f.builder_id},
                        {"source_repository", f.source_repository},
                        {"source_commit", f.source_commit},
                        {"error", optional_text(f.error)}});
  }
  body["attestations"] = atts;
  json bundles = json::array();
  const policy::SigstoreTrusts none;
  for (const auto& b : facts.bundles) {
    bundles.push_back(policy::bundle_json(
        policy::check_bundle(b, pol ? pol->trusted_roots : none, digest, facts.repository)));
  }
  body["bundles"] = bundles;
}

} // namespace

void get_digest(Core& core, const Ctx& ctx) {
  const std::string& digest = ctx->arg("digest");
  if (!policy::is_sha256_digest(digest)) {
    // Appended, not "'" + std::string&&: gcc 12 -O3 warns falsely there (GCC bug 105329).
    std::string message = "'";
    message.append(digest, 0, 100).append("' is not a digest (sha256:<64 lowercase hex>)");
    ctx->error(400, "bad-request", message);
    return;
  }
  std::shared_ptr<const policy::Facts> facts;
  std::optional<ledger::Revocation> revoked;
  json current_in = json::array();
  json entries = json::array();
  bool read = core.read(ctx, [&](ledger::View& view) {
    facts = core.facts_cache.get(view, digest)->facts();
    revoked = view.revocation(digest);
    for (const auto& s : view.slots("")) {
      if (s.digest == digest) {
        current_in.push_back(json{{"environment", s.environment},
                                  {"repository", s.repository},
                                  {"seq", s.seq},
                                  {"time", s.time}});
      }
    }
    for (const auto& e : view.digest_entries(digest, "")) {
      entries.push_back(json{{"seq", e.seq}, {"kind", e.kind}, {"time", e.time}});
    }
  });
  if (!read) {
    return;
  }
  if (!facts && !revoked) {
    ctx->error(404, "not-found", digest + " has no recorded evidence");
    return;
  }
  json body = facts ? facts->to_json() : json{{"digest", digest}};
  body["name"] = facts ? json(facts->repository) : json(nullptr);
  if (facts) {
    body["checks"] = policy::compute_checks(*facts).to_json();
    add_signatures(body, *facts, core.policy(), digest);
  }
  body["entries"] = entries;
  body["current_in"] = current_in;
  body["revoked"] =
      revoked ? json{{"reason", revoked->reason}, {"seq", revoked->seq}, {"time", revoked->time}}
              : json(nullptr);
  ctx->reply(200, body);
}

} // namespace dg::daemon
