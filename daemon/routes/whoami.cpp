// GET /v1/whoami: the principal of the token and its roles (the web view offers actions by them).
#include "daemon/routes/handlers.hpp"

namespace dg::daemon {

void get_whoami(Core&, const Ctx& ctx) {
  ctx->reply(200, nlohmann::json{{"name", ctx->principal->name}, {"roles", ctx->principal->roles}});
}

} // namespace dg::daemon
