#include "daemon/config.hpp"

#include "util/crypto.hpp"
#include "util/fields.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

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

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/') {
    return p;
  }
  return base_dir + "/" + p;
}

// A non-empty string field of `r`; "" when optional and absent.
Result<std::string> text(FieldReader& r, std::string_view key, bool required) {
  auto v = r.optional_string(key);
  if (!v) {
    return v.error();
  }
  if (!v->has_value()) {
    if (required) {
      return r.missing(key);
    }
    return std::string();
  }
  if ((*v)->empty()) {
    return r.error(key, "must be a non-empty string");
  }
  return std::move(**v);
}

Result<Principal> read_principal(FieldReader& r) {
  Principal principal;
  DG_ASSIGN(principal.name, text(r, "name", true));
  auto roles = r.optional_strings("roles");
  if (!roles || !roles->has_value() || (*roles)->empty()) {
    return r.error("roles", "must be a non-empty list of roles");
  }
  for (std::size_t k = 0; k < (*roles)->size(); ++k) {
    const std::string& role = (**roles)[k];
    bool known = false;
    for (const char* name : k_roles) {
      known = known || role == name;
    }
    if (!known) {
      return r.error("roles[" + std::to_string(k) + "]",
                     "unknown role (recorder, promoter, operator or reader)");
    }
    principal.roles.push_back(role);
  }
  DG_ASSIGN(principal.token_sha256, text(r, "token_sha256", true));
  if (!is_lower_hex(principal.token_sha256, 64)) {
    return r.error("token_sha256", "must be 64 lowercase hex (the SHA-256 of the token)");
  }
  return principal;
}

Result<void> read_principals(FieldReader& r, std::vector<Principal>& out) {
  if (!r.has("principals")) {
    return r.missing("principals", "a list of {name, roles, token_sha256}");
  }
  std::set<std::string> names;
  return r.objects("principals", [&](FieldReader& p) -> Result<void> {
    Principal principal;
    DG_ASSIGN(principal, read_principal(p));
    if (!names.insert(principal.name).second) {
      return p.error("name", "duplicate principal '" + principal.name + "'");
    }
    out.push_back(std::move(principal));
    return {};
  });
}

Result<TlsConfig> read_tls(FieldReader& t, const std::string& base) {
  TlsConfig tls;
  DG_ASSIGN(tls.certificate, text(t, "certificate", true));
  DG_ASSIGN(tls.private_key, text(t, "private_key", true));
  DG_ASSIGN(tls.client_ca, text(t, "client_ca", false));
  tls.certificate = resolve(base, tls.certificate);
  tls.private_key = resolve(base, tls.private_key);
  tls.client_ca = resolve(base, tls.client_ca);
  return tls;
}

// The integer field `key`, when present, into `target`: positive and at most `max`.
template <class T>
Result<void> positive(FieldReader& l, std::string_view key, std::int64_t max, T& target) {
  auto v = l.optional_integer(key);
  if (!v || (v->has_value() && (**v <= 0 || **v > max))) {
    return l.error(key, "must be a positive integer at most " + std::to_string(max));
  }
  if (v->has_value()) {
    target = static_cast<T>(**v);
  }
  return {};
}

Result<void> read_limits(FieldReader& l, Limits& limits) {
  DG_TRY(positive(l, "max_body_bytes", 1LL << 30, limits.max_body_bytes));
  DG_TRY(positive(l, "header_timeout_ms", 3600000, limits.header_timeout_ms));
  DG_TRY(positive(l, "idle_timeout_ms", 86400000, limits.idle_timeout_ms));
  DG_TRY(positive(l, "max_connections", 1000000, limits.max_connections));
  return {};
}

Result<void> read_ledger(FieldReader& l, LedgerConfig& ledger, const std::string& base) {
  DG_ASSIGN(ledger.backend, text(l, "backend", true));
  if (ledger.backend != "sqlite" && ledger.backend != "postgresql") {
    return l.error("backend", "must be sqlite or postgresql");
  }
  DG_ASSIGN(ledger.url, text(l, "url", false));
  DG_ASSIGN(ledger.password_file, text(l, "password_file", false));
  if (ledger.backend == "sqlite") {
    if (!ledger.url.empty()) {
      return l.error("url", "applies to the postgresql backend only (SQLite lives in state_dir)");
    }
    if (!ledger.password_file.empty()) {
      return l.error("password_file", "applies to the postgresql backend only");
    }
    return {};
  }
  if (ledger.url.empty()) {
    return l.missing("url", "postgresql://USER@HOST:PORT/DATABASE");
  }
  if (!ledger.url.starts_with("postgresql://") && !ledger.url.starts_with("postgres://")) {
    return l.error("url", "must be a postgresql:// URL");
  }
  if (!ledger.password_file.empty()) {
    ledger.password_file = resolve(base, ledger.password_file);
    if (!read_file(ledger.password_file)) {
      return l.error("password_file", "cannot read " + ledger.password_file);
    }
  }
  return {};
}

Result<RegistryConfig> read_registry(FieldReader& g, const std::string& base) {
  RegistryConfig registry;
  DG_ASSIGN(registry.endpoint, text(g, "endpoint", false));
  if (!registry.endpoint.empty() && !registry.endpoint.starts_with("https://") &&
      !registry.endpoint.starts_with("http://")) {
    return g.error("endpoint", "must be an https:// or http:// URL");
  }
  while (registry.endpoint.ends_with("/")) {
    registry.endpoint.pop_back();
  }
  DG_ASSIGN(registry.username, text(g, "username", false));
  DG_ASSIGN(registry.password_file, text(g, "password_file", false));
  DG_ASSIGN(registry.ca_file, text(g, "ca_file", false));
  if (!registry.password_file.empty()) {
    if (registry.username.empty()) {
      return g.missing("username", "password_file goes with a username");
    }
    registry.password_file = resolve(base, registry.password_file);
    auto password = read_file(registry.password_file);
    if (!password) {
      return g.error("password_file", "cannot read " + registry.password_file);
    }
    while (!password->empty() && (password->back() == '\n' || password->back() == '\r')) {
      password->pop_back();
    }
    registry.password = std::move(*password);
  }
  if (!registry.ca_file.empty()) {
    registry.ca_file = resolve(base, registry.ca_file);
    if (!read_file(registry.ca_file)) {
      return g.error("ca_file", "cannot read " + registry.ca_file);
    }
  }
  return registry;
}

Result<void> read_registries(FieldReader& r, Config& config, const std::string& base) {
  auto present = r.optional_object("registries", [&](FieldReader& list) -> Result<void> {
    config.observe = true;
    for (const auto& host : list.keys()) {
      if (host.empty() || host.find_first_of("/ \t@") != std::string::npos) {
        return list.error(host, "must be a registry host as written in references (ghcr.io, "
                                "127.0.0.1:5000)");
      }
      DG_TRY(list.object(host, [&](FieldReader& g) -> Result<void> {
        DG_ASSIGN(config.registries[host], read_registry(g, base));
        return {};
      }));
    }
    return {};
  });
  if (!present) {
    return present.error();
  }
  return {};
}

// The duration field `key`, when present, into `target`: from 1s to `max_ns`.
Result<bool> duration(FieldReader& r,
                      std::string_view key,
                      std::int64_t max_ns,
                      std::chrono::milliseconds& target) {
  auto text = r.optional_string(key);
  if (!text) {
    return text.error();
  }
  if (!text->has_value()) {
    return false;
  }
  auto ns = parse_duration_ns(**text);
  if (!ns || *ns < 1'000'000'000LL || *ns > max_ns) {
    return r.error(key, "must be a duration from 1s to " +
                            std::to_string(max_ns / 3'600'000'000'000LL) +
                            "h, such as 30s, 15m or 24h");
  }
  target = std::chrono::milliseconds(*ns / 1'000'000);
  return true;
}

Result<void> read_observation_settings(FieldReader& r, Config& config) {
  constexpr std::int64_t k_hour_ns = 3'600'000'000'000LL;
  auto interval = duration(r, "observe_interval", 24 * 7 * k_hour_ns, config.observe_interval);
  if (!interval) {
    return interval.error();
  }
  config.observe = config.observe || *interval;
  auto timeout = duration(r, "registry_timeout", k_hour_ns, config.registry_timeout);
  if (!timeout) {
    return timeout.error();
  }
  return {};
}

Result<void> read_config(FieldReader& r, Config& config, const std::string& base) {
  std::string listen;
  DG_ASSIGN(listen, text(r, "listen", true));
  auto hp = parse_listen(listen);
  if (!hp) {
    return r.error("listen", hp.error().message);
  }
  config.listen_host = hp->first;
  config.listen_port = hp->second;
  DG_ASSIGN(config.state_dir, text(r, "state_dir", true));
  config.state_dir = resolve(base, config.state_dir);
  DG_ASSIGN(config.policy_path, text(r, "policy", true));
  config.policy_path = resolve(base, config.policy_path);
  DG_ASSIGN(config.origin, text(r, "origin", true));
  if (config.origin.find_first_of(" \t\n\r+") != std::string::npos) {
    return r.error("origin", "may not contain whitespace or '+'");
  }
  DG_TRY(read_principals(r, config.principals));
  DG_TRY(r.optional_object("tls", [&](FieldReader& t) -> Result<void> {
    DG_ASSIGN(config.tls, read_tls(t, base));
    return {};
  }));
  if (config.tls) {
    // Once the whole object is read, so that an unknown field is named before a missing file.
    for (auto [field, file] : {std::pair{"tls.certificate", config.tls->certificate},
                               std::pair{"tls.private_key", config.tls->private_key},
                               std::pair{"tls.client_ca", config.tls->client_ca}}) {
      if (!file.empty() && !read_file(file)) {
        return r.error(field, "cannot read " + file);
      }
    }
  }
  DG_TRY(
      r.optional_object("limits", [&](FieldReader& l) { return read_limits(l, config.limits); }));
  DG_TRY(r.optional_object("ledger",
                           [&](FieldReader& l) { return read_ledger(l, config.ledger, base); }));
  DG_TRY(read_registries(r, config, base));
  DG_TRY(read_observation_settings(r, config));
  return {};
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
  Config config;
  config.path = path;
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  auto read =
      FieldReader::read(doc, "", [&](FieldReader& r) { return read_config(r, config, base); });
  if (!read) {
    return make_error(Errc::invalid_argument, "config: " + read.error().message);
  }
  return config;
}

} // namespace dg::daemon
