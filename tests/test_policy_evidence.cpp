#include "policy/evidence.hpp"
#include "policy/validation_schema.hpp"
#include "tests/support/files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace dg;
using namespace dg::policy;
using dg::test::source_file;
using nlohmann::json;

namespace {

json data(const std::string& relative) {
  return json::parse(source_file(relative));
}

const char* const k_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";

} // namespace

TEST_SUITE_BEGIN("evidence");

TEST_CASE("Every record of the contract's shape is accepted, open maps left open") {
  auto records = data("tests/data/evidence/accepted.json")["records"];
  records.push_back(data("docs/examples/evidence.json"));
  for (const auto& doc : records) {
    CAPTURE(doc.dump());
    auto record = parse_record(doc);
    REQUIRE_MESSAGE(record, record.error().message);
    CHECK(record->digest == k_digest);
    CHECK(record->repository == "ghcr.io/acme/app");
  }
}

TEST_CASE("A record the contract does not describe is refused, naming the field by its path") {
  // The same records are refused by docs/schemas/validation.schema.json (tests/schema/).
  const json refused_records = data("tests/data/evidence/refused.json")["records"];
  for (const auto& item : refused_records) {
    const std::string path = item["path"];
    CAPTURE(item["why"].get<std::string>());
    auto record = parse_record(item["record"]);
    REQUIRE_FALSE(record);
    CHECK(record.error().code == Errc::invalid_argument);
    CHECK_MESSAGE(record.error().message.rfind(path + ":", 0) == 0, record.error().message);
  }
}

TEST_CASE("An unknown field's message says it is unknown") {
  auto record = parse_record(json::parse(
      R"({"subject": {"name": "ghcr.io/acme/app", "digest": ")" + std::string(k_digest) +
      R"("}, "gates": [{"name": "scan", "result": "pass", "finding": {}}]})"));
  REQUIRE_FALSE(record);
  CHECK(record.error().message == "gates[0].finding: unknown field");
}

TEST_CASE("A ledgered record is read as it was accepted: unknown fields kept, null as absent") {
  json doc = {
      {"subject", {{"name", "ghcr.io/acme/app"}, {"digest", k_digest}, {"media_type", nullptr}}},
      {"build", {{"builder_id", "b"}, {"extra", {{"from", "an earlier version"}}}}},
      {"provenance_url", "https://example.com"}};
  CHECK_FALSE(parse_record(doc));
  auto record = parse_record(doc, RecordSource::ledger);
  REQUIRE_MESSAGE(record, record.error().message);
  Facts facts;
  REQUIRE(merge_record(facts, *record, 1));
  CHECK(facts.build["builder_id"] == "b");
  CHECK(facts.media_type.is_null());
  // What is known is still checked.
  doc["subject"]["digest"] = "sha256:abc";
  CHECK_FALSE(parse_record(doc, RecordSource::ledger));
}

TEST_CASE("Sigstore bundles are kept in the merged facts, unverified") {
  auto records = data("tests/data/evidence/accepted.json")["records"];
  Facts facts;
  std::int64_t seq = 0;
  for (const auto& doc : records) {
    auto record = parse_record(doc);
    REQUIRE(record);
    REQUIRE(merge_record(facts, *record, ++seq));
  }
  REQUIRE(facts.bundles.size() == 2);
  CHECK(facts.bundles[1]["payload"] == "e30=");
  CHECK(facts.bundles[0]["bundle"]["anything"]["the"] == "bundle's own format decides");
}

TEST_CASE("The embedded schema is the documentation's, byte for byte") {
  const std::string text = source_file("docs/schemas/validation.schema.json");
  REQUIRE(!text.empty());
  CHECK(validation_schema() == text);
  json schema = json::parse(validation_schema());
  CHECK(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  CHECK(schema["additionalProperties"] == false);
  // Every field the parser reads at the top level is in the schema, and no other.
  std::set<std::string> fields;
  for (const auto& [key, value] : schema["properties"].items()) {
    fields.insert(key);
  }
  CHECK(fields == std::set<std::string>{"subject", "source", "build", "pushed_at", "mirrors",
                                        "gates", "signatures", "attestations", "bundles"});
}

TEST_SUITE_END();
