// GET /v1/schemas/validation: the JSON Schema of an evidence record, the body of
// POST /v1/validations (its one source is docs/schemas/validation.schema.json).
#include "daemon/routes/handlers.hpp"
#include "policy/validation_schema.hpp"

namespace dg::daemon {

void get_validation_schema(Core&, const Ctx& ctx) {
  ctx->reply_text(200, std::string(policy::validation_schema()), "application/schema+json");
}

} // namespace dg::daemon
