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
