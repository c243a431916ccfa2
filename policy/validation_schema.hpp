// The JSON Schema (draft 2020-12) of an evidence record, the body of POST /v1/validations.
//
// Its one source is docs/schemas/validation.schema.json: the build embeds that file's bytes
// (policy/embed_schema.cmake), so what the daemon serves at GET /v1/schemas/validation is what the
// documentation publishes. It describes what parse_record (policy/evidence.hpp) accepts; tests
// check that both accept and refuse the same records (tests/data/evidence/).
#pragma once

#include <string_view>

namespace dg::policy {

// The schema's text, exactly as committed. Valid for the life of the program.
std::string_view validation_schema();

} // namespace dg::policy
