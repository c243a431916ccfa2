// Registry observations: POST /v1/observations (observe a digest now) and GET /v1/resolve (which
// digest a tag points at now, and what the ledger knows of it). Both run on the observer's threads
// (daemon/observer.hpp): the registry calls never hold an I/O thread.
#include "daemon/core.hpp"
#include "daemon/observer.hpp"
#include "daemon/requests.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

namespace {

// Answer `outcome` (from an observer thread); a ledgered entry's seq is the tree size.
void answer(const Ctx& ctx, ObservationOutcome outcome) {
  if (outcome.status == 201 && outcome.body.contains("seq")) {
    ctx->tree_size = outcome.body["seq"].get<std::int64_t>();
  }
  ctx->reply(outcome.status, outcome.body);
}

} // namespace

void post_observation(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_observation_request);
  if (!req) {
    return;
  }
  core.observer->observe_now(
      req->digest, req->names, ctx->principal->name,
      [ctx](ObservationOutcome outcome) { answer(ctx, std::move(outcome)); });
}

void get_resolve(Core& core, const Ctx& ctx) {
  const std::string& reference = ctx->param("reference");
  if (reference.empty()) {
    ctx->error(400, "bad-request", "reference: is required (?reference=NAME:TAG or NAME@DIGEST)");
    return;
  }
  core.observer->resolve(reference,
                         [ctx](ObservationOutcome outcome) { answer(ctx, std::move(outcome)); });
}

} // namespace dg::daemon
