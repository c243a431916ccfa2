#include "daemon/context.hpp"

namespace dg::daemon {

std::string json_text(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Context::reply(int status, const nlohmann::json& body) {
  reply_text(status, json_text(body), "application/json");
}

void Context::reply_text(int status, std::string body, std::string content_type) {
  if (answered) {
    return;
  }
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  if (status == 401) {
    r.headers["WWW-Authenticate"] = "Bearer";
  }
  send(std::move(r));
}

void Context::send(Response r) {
  if (answered) {
    return;
  }
  answered = true;
  metrics->request(route, request.method, r.status);
  if (v1) {
    std::int64_t size = tree_size ? *tree_size : current_size ? current_size() : 0;
    r.headers[k_tree_size_header] = std::to_string(size);
  }
  respond(std::move(r));
}

void Context::error(int status, const std::string& code, const std::string& message) {
  reply(status, nlohmann::json{{"error", code}, {"message", message}});
}

const std::string& Context::param(const std::string& key) const {
  static const std::string k_empty;
  auto it = query.find(key);
  return it == query.end() ? k_empty : it->second;
}

const std::string& Context::arg(const std::string& name) const {
  static const std::string k_empty;
  auto it = path_args.find(name);
  return it == path_args.end() ? k_empty : it->second;
}

} // namespace dg::daemon
