#include "daemon/config.hpp"

#include "util/crypto.hpp"
#include "util/files.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace dg::daemon {

using nlohmann::json;

bool Principal::has_role(std::string_view role) const {
  for (const auto& r : roles) {
    if (r == role) {
      return true;
    }
  }
  return false;
}

namespace {

Error at(const std::string& field, const std::string& message) {
  return make_error(Errc::invalid_argument, "config: " + field + ": " + message);
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/') {
    return p;
  }
  return base_dir + "/" + p;
}

Result<void>
only_fields(const json& obj, const std::string& place, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) {
      ok = ok || key == a;
    }
    if (!ok) {
      return at(place.empty() ? key : place + "." + key, "unknown field");
    }
  }
  return {};
}

Result<std::string>
string_field(const json& obj, const char* key, const std::string& place, bool required) {
  auto it = obj.find(key);
  std::string field = place.empty() ? key : place + "." + key;
  if (it == obj.end()) {
    if (required) {
      return at(field, "is required");
    }
    return std::string();
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return at(field, "must be a non-empty string");
  }
  return it->get<std::string>();
}

} // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return make_error(Errc::invalid_argument, "must be HOST:PORT (e.g. 127.0.0.1:8470)");
  }
  std::string host(text.substr(0, colon));
  std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']') {
      return make_error(Errc::invalid_argument, "an IPv6 address goes in brackets: [::1]:8470");
    }
    host = host.substr(1, host.size() - 2);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return make_error(Errc::invalid_argument, "bad port '" + std::string(port) + "'");
  }
  unsigned long n = std::stoul(std::string(port));
  if (n > 65535) {
    return make_error(Errc::invalid_argument, "port " + std::string(port) + " is out of range");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(n));
}

Result<Config> load_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::invalid_argument, "config: " + text.error().message);
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(Errc::invalid_argument, "config: " + path + " is not a JSON object");
  }
  DG_TRY(only_fields(doc, "",
                     {"listen", "state_dir", "policy", "origin", "principals", "tls", "limits"}));
  Config config;
  config.path = path;
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);

  auto listen = string_field(doc, "listen", "", true);
  if (!listen) {
    return listen.error();
  }
  auto hp = parse_listen(*listen);
  if (!hp) {
    return at("listen", hp.error().message);
  }
  config.listen_host = hp->first;
  config.listen_port = hp->second;

  auto state_dir = string_field(doc, "state_dir", "", true);
  if (!state_dir) {
    return state_dir.error();
  }
  config.state_dir = resolve(base, *state_dir);
  auto policy = string_field(doc, "policy", "", true);
  if (!policy) {
    return policy.error();
  }
  config.policy_path = resolve(base, *policy);
  auto origin = string_field(doc, "origin", "", true);
  if (!origin) {
    return origin.error();
  }
  if (origin->find_first_of(" \t\n\r+") != std::string::npos) {
    return at("origin", "may not contain whitespace or '+'");
  }
  config.origin = *origin;

  if (!doc.contains("principals") || !doc["principals"].is_array()) {
    return at("principals", "is required (a list of {name, roles, token_sha256})");
  }
  std::set<std::string> names;
  const json& principals = doc["principals"];
  for (std::size_t i = 0; i < principals.size(); ++i) {
    std::string place = "principals[" + std::to_string(i) + "]";
    const json& p = principals[i];
    if (!p.is_object()) {
      return at(place, "must be an object");
    }
    DG_TRY(only_fields(p, place, {"name", "roles", "token_sha256"}));
    Principal principal;
    auto name = string_field(p, "name", place, true);
    if (!name) {
      return name.error();
    }
    principal.name = *name;
    if (!names.insert(principal.name).second) {
      return at(place + ".name", "duplicate principal '" + principal.name + "'");
    }
    if (!p.contains("roles") || !p["roles"].is_array() || p["roles"].empty()) {
      return at(place + ".roles", "must be a non-empty list of roles");
    }
    for (std::size_t k = 0; k < p["roles"].size(); ++k) {
      const json& r = p["roles"][k];
      bool known = false;
      for (const char* role : k_roles) {
        known = known || (r.is_string() && r.get<std::string>() == role);
      }
      if (!known) {
        return at(place + ".roles[" + std::to_string(k) + "]",
                  "unknown role (recorder, promoter, operator or reader)");
      }
      principal.roles.push_back(r.get<std::string>());
    }
    auto hash = string_field(p, "token_sha256", place, true);
    if (!hash) {
      return hash.error();
    }
    if (!is_lower_hex(*hash, 64)) {
      return at(place + ".token_sha256", "must be 64 lowercase hex (the SHA-256 of the token)");
    }
    principal.token_sha256 = *hash;
    config.principals.push_back(std::move(principal));
  }

  if (doc.contains("tls")) {
    const json& t = doc["tls"];
    if (!t.is_object()) {
      return at("tls", "must be an object");
    }
    DG_TRY(only_fields(t, "tls", {"certificate", "private_key", "client_ca"}));
    TlsConfig tls;
    auto cert = string_field(t, "certificate", "tls", true);
    if (!cert) {
      return cert.error();
    }
    auto key = string_field(t, "private_key", "tls", true);
    if (!key) {
      return key.error();
    }
    auto ca = string_field(t, "client_ca", "tls", false);
    if (!ca) {
      return ca.error();
    }
    tls.certificate = resolve(base, *cert);
    tls.private_key = resolve(base, *key);
    tls.client_ca = ca->empty() ? std::string() : resolve(base, *ca);
    for (auto [field, file] : {std::pair{"tls.certificate", tls.certificate},
                               std::pair{"tls.private_key", tls.private_key},
                               std::pair{"tls.client_ca", tls.client_ca}}) {
      if (!file.empty() && !read_file(file)) {
        return at(field, "cannot read " + file);
      }
    }
    config.tls = std::move(tls);
  }

  if (doc.contains("limits")) {
    const json& l = doc["limits"];
    if (!l.is_object()) {
      return at("limits", "must be an object");
    }
    DG_TRY(
        only_fields(l, "limits",
                    {"max_body_bytes", "header_timeout_ms", "idle_timeout_ms", "max_connections"}));
    auto positive = [&](const char* key, std::int64_t max) -> Result<std::int64_t> {
      const json& v = l[key];
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > max) {
        return at(std::string("limits.") + key,
                  "must be a positive integer at most " + std::to_string(max));
      }
      return v.get<std::int64_t>();
    };
    if (l.contains("max_body_bytes")) {
      auto v = positive("max_body_bytes", 1LL << 30);
      if (!v) {
        return v.error();
      }
      config.limits.max_body_bytes = static_cast<std::size_t>(*v);
    }
    if (l.contains("header_timeout_ms")) {
      auto v = positive("header_timeout_ms", 3600000);
      if (!v) {
        return v.error();
      }
      config.limits.header_timeout_ms = static_cast<int>(*v);
    }
    if (l.contains("idle_timeout_ms")) {
      auto v = positive("idle_timeout_ms", 86400000);
      if (!v) {
        return v.error();
      }
      config.limits.idle_timeout_ms = static_cast<int>(*v);
    }
    if (l.contains("max_connections")) {
      auto v = positive("max_connections", 1000000);
      if (!v) {
        return v.error();
      }
      config.limits.max_connections = static_cast<int>(*v);
    }
  }
  return config;
}

} // namespace dg::daemon
