// `POST /v1/admission/{environment}`: a Kubernetes validating admission webhook answered from the
// ledger's derived state, with no network call and no ledger entry. The review's format and the
// verdict are policy/admission.hpp's; this file reads the ledger for it, counts the answer in
// /metrics and writes the HTTP response. See docs/kubernetes.md.
//
// Thread-safety: answer_admission may be called from any thread, concurrently.
#pragma once

#include "daemon/metrics.hpp"
#include "daemon/service.hpp"
#include "ledger/ledger.hpp"
#include "policy/policy.hpp"

#include <string>

namespace dg::daemon {

// Answer the AdmissionReview in `body` for `environment` under `policy` (nullptr: none loaded,
// so every environment is unknown). 200 with an AdmissionReview for every well-formed review,
// whatever the verdict; 400 `bad-request` for a body that is not an AdmissionReview; 503 when the
// ledger cannot be read. A ledger that failed its integrity check admits no image. `who` names
// the caller in the log of a refusal.
Response answer_admission(ledger::Ledger& ledger,
                          const policy::Policy* policy,
                          const std::string& environment,
                          const std::string& body,
                          Metrics& metrics,
                          const std::string& who);

} // namespace dg::daemon
