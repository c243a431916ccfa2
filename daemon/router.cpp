#include "daemon/router.hpp"

#include "daemon/core.hpp"
#include "util/crypto.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace dg::daemon {

namespace {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto next = text.find(sep, pos);
    out.emplace_back(text.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) {
      return out;
    }
    pos = next + 1;
  }
}

bool is_parameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool is_rest(const std::string& segment) {
  return is_parameter(segment) && segment[segment.size() - 2] == '*';
}

// The principal whose token `authorization` ("Bearer <token>") carries, or nullptr.
const Principal* authenticate(const Config& config, const std::string& authorization) {
  constexpr std::string_view k_bearer = "Bearer ";
  const std::string& auth = authorization;
  if (auth.size() <= k_bearer.size() || (auth.compare(0, k_bearer.size(), k_bearer) != 0 &&
                                         auth.compare(0, k_bearer.size(), "bearer ") != 0)) {
    return nullptr;
  }
  std::string hash = to_hex(sha256(std::string_view(auth).substr(k_bearer.size())));
  const Principal* found = nullptr;
  for (const auto& p : config.principals) {
    // Compare against every principal so the time taken does not say which one matched.
    if (constant_time_equal(hash, p.token_sha256) && found == nullptr) {
      found = &p;
    }
  }
  return found;
}

bool method_matches(const Route& route, const std::string& method) {
  return method == route.method || (method == "HEAD" && std::string_view(route.method) == "GET");
}

// 405 with the Allow header (GET allows HEAD too).
void method_not_allowed(Context& c, const std::string& message, std::string allow) {
  if (allow.find("GET") != std::string::npos) {
    allow += ", HEAD";
  }
  Response r;
  r.status = 405;
  r.body = json_text(nlohmann::json{{"error", "method-not-allowed"}, {"message", message}});
  r.headers["Allow"] = std::move(allow);
  c.send(std::move(r));
}

} // namespace

Result<Target> parse_target(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    // Say which half is wrong: a path that parses alone means the query is the culprit.
    auto qpos = target.find('?');
    bool path_ok = qpos != std::string_view::npos &&
                   boost::urls::parse_origin_form(target.substr(0, qpos)).has_value();
    return make_error(Errc::invalid_argument,
                      path_ok ? "malformed query string" : "malformed request target");
  }
  Target out;
  out.path = url->path();
  for (auto segment : url->segments()) {
    out.segments.push_back(std::move(segment));
  }
  if (url->has_query()) {
    boost::urls::encoding_opts plus_is_space(true);
    for (auto param : url->params(plus_is_space)) {
      if (!param.key.empty()) {
        out.query[param.key] = param.has_value ? param.value : std::string();
      }
    }
  }
  return out;
}

Router::Router(std::span<const Route> routes) {
  for (const auto& route : routes) {
    Compiled c;
    c.route = &route;
    std::string_view pattern = route.pattern;
    c.segments = split(pattern.substr(1), '/');
    std::string_view role = route.role;
    c.token = role != "none";
    c.certificate = role == "any-or-certificate";
    if (role == "any" || c.certificate) {
      c.roles.emplace_back();
    } else if (c.token) {
      c.roles = split(role, '|');
    }
    m_routes.push_back(std::move(c));
  }
}

std::vector<const Router::Compiled*> Router::match(const std::vector<std::string>& segments,
                                                   std::map<std::string, std::string>& args) const {
  std::vector<const Compiled*> found;
  for (const auto& c : m_routes) {
    if (!found.empty()) {
      if (std::string_view(found[0]->route->pattern) == c.route->pattern) {
        found.push_back(&c);
      }
      continue;
    }
    std::map<std::string, std::string> captured;
    std::size_t i = 0;
    bool ok = true;
    for (; ok && i < c.segments.size(); ++i) {
      const std::string& want = c.segments[i];
      if (is_rest(want) && i + 1 == c.segments.size()) {
        std::string rest;
        for (std::size_t j = i; j < segments.size(); ++j) {
          rest += (j == i ? "" : "/") + segments[j];
        }
        captured[want.substr(1, want.size() - 3)] = rest;
        i = segments.size();
        break;
      }
      if (i >= segments.size()) {
        ok = false;
      } else if (is_parameter(want)) {
        captured[want.substr(1, want.size() - 2)] = segments[i];
      } else {
        ok = want == segments[i];
      }
    }
    if (ok && i == segments.size()) {
      found.push_back(&c);
      args = std::move(captured);
    }
  }
  return found;
}

void Router::dispatch(Core& core, const Ctx& ctx) const {
  Context& c = *ctx;
  const std::string& raw = c.request.target;
  c.v1 = raw == "/v1" || raw.rfind("/v1/", 0) == 0 || raw.rfind("/v1?", 0) == 0;
  auto target = parse_target(raw);
  if (!target || target->path.empty() || target->path.front() != '/') {
    c.error(400, "bad-request", target ? "malformed request target" : target.error().message);
    return;
  }
  c.path = std::move(target->path);
  c.query = std::move(target->query);
  auto found = match(target->segments, c.path_args);
  if (found.empty()) {
    c.error(404, "not-found", "no such endpoint: " + c.path);
    return;
  }
  const Compiled& first = *found[0];
  c.route = first.route->pattern;
  if (first.token) {
    c.principal = authenticate(core.config, c.request.authorization);
    if (c.principal == nullptr && !(first.certificate && !c.request.client_certificate.empty())) {
      c.error(401, "unauthorized", "a valid bearer token is required");
      return;
    }
  }
  const Compiled* chosen = nullptr;
  std::string methods;
  for (const Compiled* candidate : found) {
    if (chosen == nullptr && method_matches(*candidate->route, c.request.method)) {
      chosen = candidate;
    }
    methods += (methods.empty() ? "" : ", ") + std::string(candidate->route->method);
  }
  if (chosen == nullptr) {
    method_not_allowed(c, first.token ? c.route + " accepts " + methods : "use " + methods,
                       methods);
    return;
  }
  bool allowed = chosen->roles.empty();
  for (const auto& role : chosen->roles) {
    allowed = allowed || role.empty() || (c.principal != nullptr && c.principal->has_role(role));
  }
  if (!allowed) {
    std::string wanted;
    for (const auto& role : chosen->roles) {
      wanted += (wanted.empty() ? "" : " or ") + role;
    }
    c.error(403, "forbidden", "principal '" + c.principal->name + "' lacks the role " + wanted);
    return;
  }
  chosen->route->handler(core, ctx);
}

} // namespace dg::daemon
