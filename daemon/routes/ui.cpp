// GET /ui/...: the web view's files, compiled into the daemon (daemon/ui.hpp), with no token.
#include "daemon/ui.hpp"

#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

void get_ui(Core&, const Ctx& ctx) {
  ctx->send(ui_response(ctx->request.method, ctx->path, ctx->request.if_none_match));
}

} // namespace dg::daemon
