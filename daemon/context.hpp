// One request in flight, as every handler sees it: the request, who made it, the route it matched
// with its path parameters and query, and the way to answer. Shared (Ctx) so that a handler that
// waits for the ledger keeps it alive; answered exactly once, from whichever thread finishes it.
#pragma once

#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/service.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace dg::daemon {

// The header every /v1 answer carries: the ledger's tree size the answer reflects.
inline constexpr const char* k_tree_size_header = "Digestgate-Tree-Size";

// A response body's text (invalid UTF-8 replaced, never thrown on).
std::string json_text(const nlohmann::json& body);

struct Context {
  Request request;
  Respond respond;
  Metrics* metrics = nullptr;
  // The principal of the bearer token, or nullptr (no token, a wrong one, or a route without).
  const Principal* principal = nullptr;
  std::string path;                             // decoded
  std::map<std::string, std::string> path_args; // the route pattern's {name} segments, decoded
  std::map<std::string, std::string> query;     // decoded; '+' is a space
  std::string route = "unknown";                // the matched pattern, the metrics' route label
  bool answered = false;
  // A /v1 answer: it carries k_tree_size_header, `tree_size` or else `current_size()`.
  bool v1 = false;
  std::optional<std::int64_t> tree_size;
  std::function<std::int64_t()> current_size;

  void reply(int status, const nlohmann::json& body);
  void reply_text(int status, std::string body, std::string content_type);
  // Answer with `response` as it is, but for the tree size header of a /v1 answer.
  void send(Response response);
  // Answer {"error": code, "message": message}.
  void error(int status, const std::string& code, const std::string& message);

  // The query parameter `key`, or "" when absent.
  const std::string& param(const std::string& key) const;
  // The path parameter `name` of the route pattern ("env" for {env}), or "" when absent.
  const std::string& arg(const std::string& name) const;
};

using Ctx = std::shared_ptr<Context>;

} // namespace dg::daemon
