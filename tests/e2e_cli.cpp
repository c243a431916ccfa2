// End-to-end: the digestgate CLI as users meet it. The README's walkthrough, command for command,
// against a real daemon with the documented example evidence and demo policy; every exit code of
// the contract; --json output; and `token new` producing a token a daemon accepts.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/gatekeeper.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace dg::test;
using nlohmann::json;

namespace {

const std::string k_examples = std::string(DG_SOURCE_DIR) + "/docs/examples";
constexpr const char* k_walkthrough_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";

json demo_policy() {
  return json::parse(dg::read_file(k_examples + "/demo-policy.json").value());
}

bool mentions(const CliResult& r, const std::string& text) {
  return r.out.find(text) != std::string::npos || r.err.find(text) != std::string::npos;
}

} // namespace

TEST_SUITE_BEGIN("E2E CLI");

TEST_CASE("The README walkthrough works exactly as written") {
  Daemon daemon(demo_policy());
  const std::string pinned = std::string("ghcr.io/acme/app@") + k_walkthrough_digest;
  // The walkthrough's token is the development token of `ops`: recorder, promoter, operator.
  auto run = [&](const std::vector<std::string>& args) { return daemon.cli(args, k_admin_token); };

  auto recorded = run({"record", "--evidence", k_examples + "/evidence.json"});
  CHECK_MESSAGE(recorded.exit_code == 0, recorded.out << recorded.err);

  auto staged = run({"promote", "--env", "staging", "--ref", pinned});
  CHECK_MESSAGE(staged.exit_code == 0, staged.out << staged.err);
  CHECK(last_line(staged.out) == pinned);

  auto tag = run({"promote", "--env", "production", "--ref", "ghcr.io/acme/app:v1.4.2"});
  CHECK(tag.exit_code == 1);
  CHECK_MESSAGE(mentions(tag, "mutable-reference"), tag.out << tag.err);
  CHECK_MESSAGE(mentions(tag, k_walkthrough_digest), tag.out << tag.err);

  auto production = run({"promote", "--env", "production", "--ref", pinned});
  CHECK_MESSAGE(production.exit_code == 0, production.out << production.err);
  CHECK(last_line(production.out) == pinned);

  auto status = run({"status", k_walkthrough_digest});
  CHECK(status.exit_code == 0);
  CHECK(status.out.find(k_walkthrough_digest) != std::string::npos);
  auto env = run({"env", "production"});
  CHECK(env.exit_code == 0);
  CHECK(env.out.find(k_walkthrough_digest) != std::string::npos);
  auto list = run({"ledger", "list"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("promotion") != std::string::npos);
  CHECK(list.out.find("validation") != std::string::npos);

  auto verified = run({"ledger", "verify", "--db", daemon.ledger_db()});
  CHECK_MESSAGE(verified.exit_code == 0, verified.out << verified.err);

  // What was decided is what the daemon holds.
  json current = daemon.http("GET", "/v1/environments/production", "", k_reader_token).json();
  CHECK(current["repositories"]["ghcr.io/acme/app"]["current"]["digest"] == k_walkthrough_digest);
}

TEST_CASE("Each exit code of the contract is provoked") {
  Daemon daemon(demo_policy());
  const std::string pinned = std::string("ghcr.io/acme/app@") + k_walkthrough_digest;
  REQUIRE(daemon.cli({"record", "--evidence", k_examples + "/evidence.json"}, k_recorder_token)
              .exit_code == 0);

  // 0: approved or success.
  CHECK(daemon.cli({"promote", "--env", "staging", "--ref", pinned}, k_promoter_token).exit_code ==
        0);
  CHECK(daemon.cli({"envs"}, k_reader_token).exit_code == 0);

  // 1: refused, or verification failed.
  auto refused = daemon.cli({"promote", "--env", "staging", "--ref", "ghcr.io/acme/app:latest"},
                            k_promoter_token);
  CHECK(refused.exit_code == 1);
  CHECK(
      daemon
          .cli({"promote", "--env", "production", "--ref", "ghcr.io/acme/app@" + sample_digest(1)},
               k_promoter_token)
          .exit_code == 1);
  std::string zero(64, '0');
  CHECK(daemon
            .cli({"proof", "verify-inclusion", "--leaf-hash", zero, "--index", "0", "--size", "1",
                  "--root", std::string(64, '1')})
            .exit_code == 1);

  // 2: usage errors, found before anything is sent.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"promote", "--env", "staging", "--ref", pinned, "--bogus"},
           {"promote", "--env", "staging"},
           {"report", "--env", "staging", "--digest", k_walkthrough_digest, "--status", "maybe"},
           {"frobnicate"},
           {"ledger", "list", "--limit", "many"},
       }) {
    CAPTURE(args.size());
    CAPTURE(args[0]);
    auto r = daemon.cli(args, k_admin_token);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.err.empty());
  }
  auto unknown =
      daemon.cli({"promote", "--env", "staging", "--ref", pinned, "--bogus"}, k_promoter_token);
  CHECK(unknown.err.find("--bogus") != std::string::npos);

  // 4: no token, a token nobody holds, and a principal without the role.
  auto no_token = daemon.cli({"envs"});
  CHECK(no_token.exit_code == 4);
  auto wrong = daemon.cli({"envs"}, "not-a-token");
  CHECK(wrong.exit_code == 4);
  CHECK(mentions(wrong, "unauthorized"));
  auto reader = daemon.cli({"promote", "--env", "staging", "--ref", pinned}, k_reader_token);
  CHECK(reader.exit_code == 4);
  CHECK(mentions(reader, "forbidden"));
  auto recorder =
      daemon.cli({"revoke", "--digest", k_walkthrough_digest, "--reason", "x"}, k_recorder_token);
  CHECK(recorder.exit_code == 4);

  // 3: the daemon is unreachable.
  REQUIRE(daemon.stop() == 0);
  auto down = daemon.cli({"envs"}, k_reader_token);
  CHECK(down.exit_code == 3);
  CHECK(mentions(down, daemon.address()));
  CHECK(daemon.cli({"promote", "--env", "staging", "--ref", pinned}, k_promoter_token).exit_code ==
        3);
}

TEST_CASE("--json makes every verb's output a JSON document") {
  Daemon daemon(demo_policy());
  const std::string pinned = std::string("ghcr.io/acme/app@") + k_walkthrough_digest;
  auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> with_json = {"--json"};
    with_json.insert(with_json.end(), args.begin(), args.end());
    return daemon.cli(with_json, k_admin_token);
  };
  struct Step {
    std::vector<std::string> args;
    int exit_code;
    const char* key; // a member the document must have
  };
  std::vector<Step> steps = {
      {{"record", "--evidence", k_examples + "/evidence.json"}, 0, "checks"},
      {{"promote", "--env", "staging", "--ref", pinned, "--dry-run"}, 0, "decision"},
      {{"promote", "--env", "staging", "--ref", pinned}, 0, "decision"},
      {{"promote", "--env", "production", "--ref", "ghcr.io/acme/app:v1.4.2"}, 1, "reasons"},
      {{"promote", "--env", "production", "--ref", pinned}, 0, "decision"},
      {{"report", "--env", "production", "--digest", k_walkthrough_digest, "--status", "succeeded"},
       0,
       "drift"},
      {{"rollback", "--env", "production", "--reason", "nothing earlier"}, 1, "error"},
      {{"status", k_walkthrough_digest}, 0, "gates"},
      {{"envs"}, 0, "environments"},
      {{"env", "production"}, 0, "repositories"},
      {{"ledger", "list", "--kind", "promotion"}, 0, "entries"},
      {{"ledger", "show", "1"}, 0, "inclusion_proof"},
      {{"ledger", "checkpoint"}, 0, "checkpoint"},
      {{"ledger", "verify", "--db", daemon.ledger_db()}, 0, "ok"},
      {{"revoke", "--digest", k_walkthrough_digest, "--reason", "CVE-2026-1234"}, 0, "current_in"},
      {{"token", "new", "--name", "ci", "--role", "recorder"}, 0, "principal"},
  };
  for (const auto& step : steps) {
    CAPTURE(step.args[0]);
    CAPTURE(step.args.size() > 1 ? step.args[1] : "");
    auto r = run(step.args);
    CHECK_MESSAGE(r.exit_code == step.exit_code, r.out << r.err);
    json j = r.json();
    CHECK_MESSAGE(j.is_object(), r.out);
    CHECK(j.contains(step.key));
  }
}

TEST_CASE("token new prints a token whose SHA-256 is in its principal entry, and a daemon "
          "configured with that entry accepts the token") {
  Daemon daemon(demo_policy());
  auto made = daemon.cli({"--json", "token", "new", "--name", "deployer", "--role", "promoter"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.out << made.err);
  json j = made.json();
  std::string token = j["token"];
  json principal = j["principal"];
  CHECK(token.size() >= 32);
  CHECK(principal["name"] == "deployer");
  CHECK(principal["roles"] == json::array({"promoter"}));
  auto sum = run_process({"sha256sum"}, {}, token);
  REQUIRE(sum.exit_code == 0);
  CHECK(principal["token_sha256"] == sum.out.substr(0, 64));

  auto text = daemon.cli({"token", "new", "--name", "ci", "--role", "recorder"});
  REQUIRE(text.exit_code == 0);
  auto token_pos = text.out.find("token: ");
  REQUIRE(token_pos != std::string::npos);
  std::string text_token =
      text.out.substr(token_pos + 7, text.out.find('\n', token_pos) - token_pos - 7);
  CHECK(text_token != token);
  CHECK(text.out.find(sum.out.substr(0, 64)) == std::string::npos);
  CHECK(text.out.find(run_process({"sha256sum"}, {}, text_token).out.substr(0, 64)) !=
        std::string::npos);
  CHECK(daemon.cli({"token", "new", "--name", "x", "--role", "admin"}).exit_code == 2);

  json principals = default_principals();
  principals.push_back(principal);
  daemon.stop();
  json config = daemon.config();
  config["principals"] = principals;
  daemon.write_config(config);
  daemon.start();

  CHECK(daemon.cli({"envs"}, token).exit_code == 0);
  // The promoter role is honoured: a promotion is decided, a record is forbidden.
  auto decided = daemon.cli(
      {"--json", "promote", "--env", "staging", "--ref", "ghcr.io/acme/app@" + sample_digest(1)},
      token);
  CHECK(decided.exit_code == 1);
  CHECK(decided.json()["decision"] == "refused");
  auto forbidden = daemon.cli({"record", "--evidence", k_examples + "/evidence.json"}, token);
  CHECK(forbidden.exit_code == 4);
  auto entries = daemon.http("GET", "/v1/entries?kind=promotion", "", k_reader_token).json();
  REQUIRE(entries["entries"].size() == 1);
  CHECK(entries["entries"][0]["actor"] == "deployer");
}

TEST_SUITE_END();
