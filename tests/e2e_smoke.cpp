// First end-to-end checks: the daemon starts, serves health, guards /v1/, and the CLI runs.
// Also checks the process and HTTP plumbing of the fixture the other end-to-end tests rely on.
#include "tests/support/daemon.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using dg::test::Daemon;

namespace {

const nlohmann::json k_minimal_policy = {{"environments", {{"staging", nlohmann::json::object()}}}};

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

TEST_SUITE_BEGIN("E2E smoke");

TEST_CASE("The daemon starts with a minimal policy and answers GET /healthz with 200") {
  Daemon daemon(k_minimal_policy);

  const auto response = daemon.http("GET", "/healthz");
  CHECK_MESSAGE(response.status == 200, response.body);
  CHECK(daemon.url().rfind("http://127.0.0.1:", 0) == 0);
}

TEST_CASE("A /v1/ request needs a valid token") {
  Daemon daemon(k_minimal_policy);

  SUBCASE("No token is refused with 401") {
    const auto response = daemon.http("GET", "/v1/entries");
    CHECK_MESSAGE(response.status == 401, response.body);
  }
  SUBCASE("A token no principal has is refused with 401") {
    const auto response = daemon.http("GET", "/v1/entries", "", "not-a-configured-token");
    CHECK_MESSAGE(response.status == 401, response.body);
  }
  SUBCASE("A malformed Authorization header is refused with 401") {
    const auto response =
        daemon.http("GET", "/v1/entries", "", "", {{"Authorization", "Basic cmVhZGVyOnRva2Vu"}});
    CHECK_MESSAGE(response.status == 401, response.body);
  }
  SUBCASE("The reader's token may read") {
    const auto response = daemon.http("GET", "/v1/entries", "", dg::test::k_reader_token);
    CHECK_MESSAGE(response.status == 200, response.body);
  }
}

TEST_CASE("SIGTERM stops the daemon with exit status 0") {
  Daemon daemon(k_minimal_policy);

  CHECK(daemon.stop(SIGTERM) == 0);
  CHECK_FALSE(daemon.running());
}

TEST_CASE("digestgate --help exits 0 and lists the verbs") {
  const auto result = dg::test::run_process({DG_CLI_PATH, "--help"});

  CHECK_MESSAGE(result.exit_code == 0, result.err);
  const std::string text = result.out + result.err;
  CHECK(text.find("promote") != std::string::npos);
  CHECK(text.find("record") != std::string::npos);
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("E2E fixture");

TEST_CASE("run_process captures large stdout and stderr separately without deadlock") {
  // More than a pipe buffer on both streams at once.
  const auto result =
      dg::test::run_process({"/bin/sh", "-c",
                             "head -c 300000 /dev/zero | tr '\\0' o; head -c 300000 /dev/zero | tr "
                             "'\\0' e >&2; exit 3"});

  CHECK(result.exit_code == 3);
  CHECK(result.out == std::string(300000, 'o'));
  CHECK(result.err == std::string(300000, 'e'));
}

TEST_CASE("run_process feeds stdin and applies environment overrides") {
  SUBCASE("stdin larger than a pipe buffer reaches the program") {
    const std::string input(200000, 'x');
    const auto result = dg::test::run_process({"cat"}, {}, input);
    CHECK(result.exit_code == 0);
    CHECK(result.out == input);
  }
  SUBCASE("A program that does not read its stdin does not block the caller") {
    const auto result = dg::test::run_process({"true"}, {}, std::string(1 << 20, 'x'));
    CHECK(result.exit_code == 0);
  }
  SUBCASE("A value sets a variable and an empty value unsets it") {
    const auto result = dg::test::run_process(
        {"/bin/sh", "-c", "echo \"${DG_A-unset} ${HOME-unset}\""}, {{"DG_A", "set"}, {"HOME", ""}});
    CHECK(result.out == "set unset\n");
  }
}

TEST_CASE("run_process reports signals, timeouts and programs that cannot run") {
  SUBCASE("Death by a signal is 128 + the signal") {
    const auto result = dg::test::run_process({"/bin/sh", "-c", "kill -TERM $$"});
    CHECK(result.exit_code == 128 + SIGTERM);
  }
  SUBCASE("A program that outlives the timeout is killed") {
    const auto result = dg::test::run_process({"sleep", "30"}, {}, "", 1);
    CHECK(result.exit_code == 128 + SIGKILL);
    CHECK(result.err.find("killed after 1 s") != std::string::npos);
  }
  SUBCASE("A missing program throws") {
    CHECK_THROWS_AS(dg::test::run_process({"/nonexistent/digestgate-e2e"}), std::runtime_error);
  }
  SUBCASE("The child inherits no descriptor of the test process but its standard streams") {
    // Descriptor 3 is the one ls opens to list the directory.
    const auto result = dg::test::run_process({"ls", "/proc/self/fd"});
    CHECK(result.out == "0\n1\n2\n3\n");
  }
}

TEST_CASE("TempDir creates a private directory and removes it with its content") {
  std::string path;
  {
    dg::test::TempDir dir;
    path = dir.path();
    REQUIRE(is_directory(path));
    const auto result = dg::test::run_process(
        {"/bin/sh", "-c", "mkdir -p \"$0/a/b\" && echo x >\"$0/a/b/f\"", path});
    REQUIRE(result.exit_code == 0);
  }
  CHECK_FALSE(is_directory(path));
}

TEST_CASE("sample_digest is a deterministic sha256 digest per number") {
  const std::string d1 = dg::test::sample_digest(1);
  CHECK(d1.size() == 7 + 64);
  CHECK(d1.rfind("sha256:", 0) == 0);
  CHECK(d1.find_first_not_of("0123456789abcdef", 7) == std::string::npos);
  CHECK(d1 == dg::test::sample_digest(1));
  CHECK(d1 != dg::test::sample_digest(2));
}

TEST_CASE("The fixture's principals carry the SHA-256 of their tokens, never the tokens") {
  const auto principals = dg::test::default_principals();
  REQUIRE(principals.size() == 5);
  // SHA-256("reader-token"), computed independently with sha256sum.
  const auto reader = principals.at(3);
  CHECK(reader.at("name") == "reader");
  CHECK(reader.at("roles") == nlohmann::json::array({"reader"}));
  CHECK(reader.at("token_sha256") ==
        "ba5005a40cf5212e4ac0190104cc127edab013294bb71279a975b27a80982d45");
  CHECK(principals.dump().find("reader-token") == std::string::npos);
}

TEST_CASE("The shipped digestgated has no benchmark seam in it") {
  // bench/slow_sync_vfs.hpp slows every sync down; only digestgated_bench may contain it.
  auto binary = dg::read_file(DG_DAEMON_PATH);
  REQUIRE(binary.ok());
  CHECK(binary->find("DG_BENCH_SYNC_DELAY_US") == std::string::npos);
  CHECK(binary->find("dg-slow-sync") == std::string::npos);
  CHECK(binary->find("digestgate_ledger") != std::string::npos); // the needle search works
}

TEST_SUITE_END();
