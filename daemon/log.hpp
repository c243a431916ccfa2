// Structured logs: one JSON object a line on stderr. Never pass a secret (a token, a key) here.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace dg::daemon {

// Write {"time", "level", "msg", ...fields} as one line on stderr. Thread-safe.
void log(std::string_view level,
         std::string_view message,
         const nlohmann::json& fields = nlohmann::json::object());

} // namespace dg::daemon
