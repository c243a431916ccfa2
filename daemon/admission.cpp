#include "daemon/admission.hpp"

#include "daemon/log.hpp"
#include "policy/admission.hpp"
#include "policy/reason.hpp"

#include <chrono>
#include <set>

namespace dg::daemon {

namespace adm = policy::admission;
using json = nlohmann::json;

namespace {

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

// What the ledger knows about (`repository`, `digest`) in `environment`.
adm::Standing standing(ledger::View& view,
                       const std::string& environment,
                       const std::string& repository,
                       const std::string& digest) {
  adm::Standing s;
  const ledger::DigestStanding st = view.standing(environment, repository, digest);
  s.approved = st.approved_seq > 0;
  s.rolled_back_from = st.rolled_back_seq > st.approved_seq;
  if (auto revocation = view.revocation(digest)) {
    s.revoked = revocation->reason;
  }
  s.known = s.approved || view.digest_repository(digest).has_value() ||
            view.approved_in(environment, digest);
  return s;
}

// The verdict on a review whose images need the ledger, when the ledger is in doubt.
adm::Verdict integrity_refusal(const ledger::Integrity& integrity) {
  adm::Verdict v;
  v.allowed = false;
  v.code = 503;
  v.message = std::string("digestgate: ") + policy::reason::ledger_integrity +
              ": the ledger failed its integrity check, so no image is admitted (" +
              integrity.message.substr(0, 200) + ")";
  return v;
}

void count(Metrics& metrics,
           const std::string& label,
           const adm::Verdict& verdict,
           std::chrono::steady_clock::time_point started) {
  for (const auto& image : verdict.images) {
    for (const auto& reason : image.reasons) {
      metrics.admission_reason(label, reason.code);
    }
  }
  if (verdict.code == 503) {
    metrics.admission_reason(label, policy::reason::ledger_integrity);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics.admission(label, verdict.allowed, seconds);
}

} // namespace

Response answer_admission(ledger::Ledger& ledger,
                          const policy::Policy* policy,
                          const std::string& environment,
                          const std::string& body,
                          Metrics& metrics,
                          const std::string& who) {
  const auto started = std::chrono::steady_clock::now();
  auto review = adm::parse_review(body);
  if (!review) {
    return json_response(400,
                         json{{"error", "bad-request"},
                              {"message", "not an AdmissionReview: " + review.error().message}});
  }
  const bool known = policy != nullptr && policy->environment(environment) != nullptr;
  // Only environments the policy defines become label values, so a caller cannot grow /metrics.
  const std::string label = known ? environment : "unknown";
  const bool needs_ledger =
      known && review->operation != "DELETE" && review->has_pods && !review->images.empty();

  adm::Verdict verdict;
  if (needs_ledger && !ledger.integrity().ok) {
    verdict = integrity_refusal(ledger.integrity());
  } else if (needs_ledger) {
    auto read = ledger.read([&](ledger::View& view) {
      verdict = adm::judge(*review, environment, known,
                           [&](const std::string& repository, const std::string& digest) {
                             return standing(view, environment, repository, digest);
                           });
    });
    if (!read) {
      log("error", "admission: ledger read failed", {{"error", read.error().message}});
      return json_response(503, json{{"error", "unavailable"}, {"message", read.error().message}});
    }
  } else {
    verdict = adm::judge(*review, environment, known,
                         [](const std::string&, const std::string&) { return adm::Standing{}; });
  }
  count(metrics, label, verdict, started);
  if (!verdict.allowed) {
    log("info", "admission refused",
        {{"environment", environment.substr(0, 128)},
         {"uid", review->uid.substr(0, 128)},
         {"kind", review->kind.substr(0, 64)},
         {"namespace", review->namespace_name.substr(0, 128)},
         {"name", review->name.substr(0, 256)},
         {"operation", review->operation.substr(0, 16)},
         {"dry_run", review->dry_run},
         {"caller", who},
         {"message", verdict.message.substr(0, 4096)}});
  }
  return json_response(200, adm::answer(*review, verdict));
}

} // namespace dg::daemon
