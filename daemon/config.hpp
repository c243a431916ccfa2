// The daemon's configuration file (JSON). Parsing is strict: an unknown field, a missing file or a
// bad value is refused with a message that names the field. Relative paths are resolved against
// the configuration file's directory.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dg::daemon {

inline constexpr const char* k_roles[] = {"recorder", "promoter", "operator", "reader"};

struct Principal {
  std::string name;
  std::vector<std::string> roles;
  std::string token_sha256; // lowercase hex

  bool has_role(std::string_view role) const;
};

struct TlsConfig {
  std::string certificate;
  std::string private_key;
  std::string client_ca; // empty: no client certificates
};

struct Limits {
  std::size_t max_body_bytes = 1024 * 1024;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int max_connections = 1024;
};

// Where the ledger lives: SQLite in the state directory (the default), or PostgreSQL.
struct LedgerConfig {
  std::string backend = "sqlite"; // sqlite or postgresql
  std::string url;                // postgresql: a libpq URL
  std::string password_file;      // postgresql: optional
};

// How to reach one registry host (PRODUCT.md "Registries"); see docs/operations.md.
struct RegistryConfig {
  std::string endpoint;      // "https://host[:port]" or "http://..."; empty: https://<host>
  std::string username;      // Basic, and the credentials for a Bearer token realm
  std::string password;      // read from password_file (its trailing newline dropped)
  std::string password_file; // resolved path, or empty
  std::string ca_file;       // resolved path, or empty
};

struct Config {
  std::string path;
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8470;
  std::string state_dir;
  std::string policy_path;
  std::string origin;
  std::vector<Principal> principals;
  std::optional<TlsConfig> tls;
  Limits limits;
  LedgerConfig ledger;
  // By registry host as written in references ("ghcr.io", "127.0.0.1:5000").
  std::map<std::string, RegistryConfig> registries;
  // Background observation (after each validation and every observe_interval) is on when the
  // configuration has a `registries` object (even an empty one) or an `observe_interval`.
  bool observe = false;
  std::chrono::milliseconds observe_interval{15 * 60 * 1000};
  // Deadline of each HTTP exchange with a registry (`registry_timeout`).
  std::chrono::milliseconds registry_timeout{10 * 1000};

  // The ledger's database, as the ledger names it: the SQLite file or the PostgreSQL URL.
  std::string ledger_path() const {
    return ledger.backend == "postgresql" ? ledger.url : state_dir + "/ledger.db";
  }
  std::string key_path() const { return state_dir + "/checkpoint.key"; }
  std::string witness_path() const { return state_dir + "/checkpoint.latest"; }
  std::string listen_address_path() const { return state_dir + "/listen-address"; }
};

Result<Config> load_config(const std::string& path);

// Split "host:port", "[v6]:port"; fails on a bad port.
Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);

} // namespace dg::daemon
