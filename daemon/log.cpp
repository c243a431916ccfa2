#include "daemon/log.hpp"

#include "util/time.hpp"

#include <cstdio>
#include <mutex>

namespace dg::daemon {

void log(std::string_view level, std::string_view message, const nlohmann::json& fields) {
  nlohmann::json line = fields.is_object() ? fields : nlohmann::json::object();
  line["time"] = format_rfc3339(now_ns());
  line["level"] = level;
  line["msg"] = message;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

} // namespace dg::daemon
