#include "daemon/config.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace dg;
using namespace dg::daemon;

namespace {

const std::string k_hash = std::string(64, 'a');

// Load `text` as a configuration file of its own temporary directory.
Result<Config> load(const std::string& text) {
  auto dir =
      std::filesystem::temp_directory_path() / ("dg-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "digestgated.json").string();
  std::ofstream(path) << text;
  auto config = load_config(path);
  std::filesystem::remove_all(dir);
  return config;
}

std::string with(const std::string& extra) {
  return R"({"listen": "127.0.0.1:8470", "state_dir": "state", "policy": "policy.json",
             "origin": "gate.example", "principals": [{"name": "ci", "roles": ["recorder"],
             "token_sha256": ")" +
         k_hash + "\"}]" + extra + "}";
}

} // namespace

TEST_SUITE_BEGIN("daemon config");

TEST_CASE("A configuration reads with its limits and relative paths") {
  auto config = load(with(R"(, "limits": {"max_body_bytes": 4096, "max_connections": 8})"));
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->listen_port == 8470);
  CHECK(config->limits.max_body_bytes == 4096);
  CHECK(config->limits.max_connections == 8);
  CHECK(config->limits.idle_timeout_ms == 60000);
  CHECK(config->state_dir.size() > std::string("state").size());
  CHECK(config->principals.at(0).roles == std::vector<std::string>{"recorder"});
}

TEST_CASE("A bad configuration is refused with a message that names the field") {
  struct Row {
    std::string text;
    const char* message;
  };
  const Row rows[] = {
      {with(R"(, "limits": {"max_body": 1})"), "config: limits.max_body: unknown field"},
      {with(R"(, "limit": {})"), "config: limit: unknown field"},
      {with(R"(, "limits": {"max_connections": 0})"),
       "config: limits.max_connections: must be a positive integer at most 1000000"},
      {with(R"(, "limits": {"max_connections": "8"})"),
       "config: limits.max_connections: must be a positive integer at most 1000000"},
      {with(R"(, "tls": {"certificate": "c.pem"})"), "config: tls.private_key: is required"},
      {with(R"(, "tls": {"certificate": "c.pem", "private_key": "k.pem", "ca": "x"})"),
       "config: tls.ca: unknown field"},
      {R"({"listen": "127.0.0.1:8470", "state_dir": "s", "policy": "p", "origin": "o",
           "principals": [{"name": "ci", "roles": ["recorder"], "token_sha256": ")" +
           k_hash + R"(", "role": "x"}]})",
       "config: principals[0].role: unknown field"},
      {R"({"listen": "127.0.0.1:8470", "state_dir": "s", "policy": "p", "origin": "o",
           "principals": [{"name": "ci", "roles": ["admin"], "token_sha256": ")" +
           k_hash + R"("}]})",
       "config: principals[0].roles[0]: unknown role (recorder, promoter, operator or reader)"},
      {R"({"listen": "127.0.0.1:8470", "state_dir": "s", "policy": "p", "origin": "o"})",
       "config: principals: is required (a list of {name, roles, token_sha256})"},
      {R"({"listen": "127.0.0.1:8470", "state_dir": "", "policy": "p", "origin": "o",
           "principals": []})",
       "config: state_dir: must be a non-empty string"},
      {R"({"lisen": "127.0.0.1:8470"})", "config: lisen: unknown field (listen is required)"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    auto config = load(row.text);
    REQUIRE_FALSE(config);
    CHECK(config.error().code == Errc::invalid_argument);
    CHECK(config.error().message == row.message);
  }
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("daemon config registries");

TEST_CASE("Registries: endpoints, credentials from a password_file, a ca_file, the intervals") {
  auto dir =
      std::filesystem::temp_directory_path() / ("dg-config-reg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ghcr.token") << "s3cret\n";
  std::ofstream(dir / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";
  const std::string path = (dir / "digestgated.json").string();
  std::ofstream(path) << with(R"(, "registries": {
      "ghcr.io": {"username": "bot", "password_file": "ghcr.token"},
      "127.0.0.1:5000": {"endpoint": "http://127.0.0.1:5000/", "ca_file": "ca.pem"}},
      "observe_interval": "15m", "registry_timeout": "3s")");
  auto config = load_config(path);
  REQUIRE_MESSAGE(config, config.error().message);
  CHECK(config->observe);
  CHECK(config->observe_interval == std::chrono::minutes(15));
  CHECK(config->registry_timeout == std::chrono::seconds(3));
  REQUIRE(config->registries.size() == 2);
  const auto& ghcr = config->registries.at("ghcr.io");
  CHECK(ghcr.endpoint.empty());
  CHECK(ghcr.username == "bot");
  CHECK(ghcr.password == "s3cret");
  const auto& local = config->registries.at("127.0.0.1:5000");
  CHECK(local.endpoint == "http://127.0.0.1:5000");
  CHECK(local.ca_file == (dir / "ca.pem").string());
  std::filesystem::remove_all(dir);

  auto none = load(with(""));
  REQUIRE(none);
  CHECK_FALSE(none->observe);
  CHECK(none->registries.empty());
  auto empty = load(with(R"(, "registries": {})"));
  REQUIRE(empty);
  CHECK(empty->observe);
}

TEST_CASE("Bad registry settings are refused with a message that names the field") {
  struct Row {
    std::string text;
    const char* message;
  };
  const Row rows[] = {
      {with(R"(, "registries": {"ghcr.io": {"endpoint": "ftp://x"}})"),
       "config: registries.ghcr.io.endpoint: must be an https:// or http:// URL"},
      {with(R"(, "registries": {"ghcr.io": {"user": "bot"}})"),
       "config: registries.ghcr.io.user: unknown field"},
      {with(R"(, "registries": {"ghcr.io": {"username": "bot", "password_file": "nope"}})"),
       "config: registries.ghcr.io.password_file: cannot read"},
      {with(R"(, "registries": {"ghcr.io": {"password_file": "nope"}})"),
       "config: registries.ghcr.io.username: is required"},
      {with(R"(, "registries": {"ghcr.io/acme": {}})"),
       "config: registries.ghcr.io/acme: must be a registry host"},
      {with(R"(, "registries": {"ghcr.io": {"ca_file": "missing.pem"}})"),
       "config: registries.ghcr.io.ca_file: cannot read"},
      {with(R"(, "registries": [])"), "config: registries: must be an object"},
      {with(R"(, "observe_interval": "0s")"), "config: observe_interval: must be a duration"},
      {with(R"(, "observe_interval": "soon")"), "config: observe_interval: must be a duration"},
      {with(R"(, "registry_timeout": 5)"), "config: registry_timeout: must be a string"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    auto config = load(row.text);
    REQUIRE_FALSE(config);
    CHECK_MESSAGE(config.error().message.rfind(row.message, 0) == 0, config.error().message);
  }
}

TEST_SUITE_END();
