// End-to-end: the daemon reads evidence records strictly, as docs/schemas/validation.schema.json
// describes them; tests/data/evidence/ holds the records both accept and both refuse.
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/files.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace dg::test;
using nlohmann::json;

namespace {

const std::string k_root = DG_SOURCE_DIR;
const char* const k_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";

json data(const std::string& relative) {
  return json::parse(source_file(relative));
}

} // namespace

TEST_SUITE_BEGIN("E2E records");

TEST_CASE("A record with a field the contract does not name is 400 bad-request, and nothing is "
          "ledgered") {
  Daemon daemon(strict_policy(OpensslSigner().public_key_pem()));
  const std::string before = daemon.http("GET", "/v1/checkpoint", "", k_reader_token).body;
  int refused = 0;
  const json refused_records = data("tests/data/evidence/refused.json")["records"];
  for (const auto& item : refused_records) {
    const std::string path = item["path"];
    CAPTURE(item["why"].get<std::string>());
    auto answer = daemon.http("POST", "/v1/validations", item["record"].dump(), k_recorder_token);
    CHECK(answer.status == 400);
    if (!item["record"].is_object()) {
      CHECK(answer.json()["error"] == "bad-json"); // refused before it is read as a record
      continue;
    }
    CHECK(answer.json()["error"] == "bad-request");
    const std::string message = answer.json().value("message", "");
    CHECK_MESSAGE(message.rfind(path + ":", 0) == 0, message);
    ++refused;
  }
  CHECK(refused > 40);
  CHECK(daemon.http("GET", "/v1/checkpoint", "", k_reader_token).body == before);
  CHECK(daemon.http("GET", std::string("/v1/digests/") + k_digest, "", k_reader_token).status ==
        404);
}

TEST_CASE("A typo in a gate is named by its path") {
  Daemon daemon(strict_policy(OpensslSigner().public_key_pem()));
  json record = {
      {"subject", {{"name", k_repo}, {"digest", k_digest}}},
      {"gates", {{{"name", "vuln-scan"}, {"result", "pass"}, {"finding", {{"critical", 0}}}}}}};
  auto answer = daemon.http("POST", "/v1/validations", record.dump(), k_recorder_token);
  CHECK(answer.status == 400);
  CHECK(answer.json()["error"] == "bad-request");
  CHECK(answer.json()["message"] == "gates[0].finding: unknown field");
}

TEST_CASE("Records that use every part of the shape, open maps included, are recorded") {
  Daemon daemon(strict_policy(OpensslSigner().public_key_pem()));
  const json records = data("tests/data/evidence/accepted.json")["records"];
  for (const auto& record : records) {
    CAPTURE(record.dump());
    auto answer = daemon.http("POST", "/v1/validations", record.dump(), k_recorder_token);
    CHECK_MESSAGE(answer.status == 201, answer.body);
  }
}

TEST_SUITE_END();
