// POST /v1/admission/{environment}: Kubernetes admission reviews (daemon/admission.hpp).
#include "daemon/admission.hpp"

#include "daemon/core.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

void post_admission(Core& core, const Ctx& ctx) {
  const std::shared_ptr<const policy::Policy> pol = core.policy();
  const std::string& who =
      ctx->principal != nullptr ? ctx->principal->name : ctx->request.client_certificate;
  Response r = answer_admission(*core.ledger, pol.get(), ctx->arg("environment"), ctx->request.body,
                                core.metrics, who);
  ctx->reply_text(r.status, std::move(r.body), std::move(r.content_type));
}

} // namespace dg::daemon
