// POST /v1/revocations: revoke a digest everywhere, saying where it is current and what each of
// those environments would roll back to.
#include "daemon/core.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

using nlohmann::json;

void post_revocation(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_revocation_request);
  if (!req) {
    return;
  }
  auto affected = std::make_shared<json>(json::array());
  auto step = [r = *req, affected,
               actor = ctx->principal->name](ledger::View& view) -> std::optional<ledger::Draft> {
    if (view.revocation(r.digest)) {
      return std::nullopt;
    }
    for (const auto& s : view.slots("")) {
      if (s.digest == r.digest) {
        // The digest it would roll back to, once this revocation is in force.
        auto lkg = last_known_good(view, s.environment, s.repository);
        affected->push_back(json{{"environment", s.environment},
                                 {"repository", s.repository},
                                 {"last_known_good", lkg_json(lkg)}});
      }
    }
    auto repository = view.digest_repository(r.digest);
    json body{{"digest", r.digest},
              {"reason", r.reason},
              {"repository", repository ? json(*repository) : json(nullptr)},
              {"current_in", *affected}};
    return ledger::Draft{ledger::k_revocation, actor, std::move(body)};
  };
  auto committed = [ctx, r = *req, affected](const ledger::Committed& c) {
    ctx->reply(201, json{{"seq", c.entry.seq},
                         {"digest", r.digest},
                         {"reason", r.reason},
                         {"revoked", true},
                         {"current_in", *affected},
                         {"environments", *affected},
                         {"checkpoint", c.checkpoint}});
  };
  auto already = [ctx, digest = req->digest] {
    ctx->error(409, "already-revoked", digest + " is already revoked");
  };
  core.submit(ctx, step, committed, already);
}

} // namespace dg::daemon
