// Evidence records: the input is a JSON document for parse_record. A valid record is merged into
// facts twice, then a mutated copy of it (chosen by the input's last byte) is merged too, and the
// daemon's checks are computed after each step.
#include "fuzz/fixtures.hpp"

#include "policy/evidence.hpp"
#include "policy/reference.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>

namespace {

using dg::policy::compute_checks;
using dg::policy::Facts;
using dg::policy::merge_record;
using dg::policy::parse_record;
using nlohmann::json;

// A record that says something else about the same digest: some changes contradict immutable
// build facts, others add to what is known.
json mutate(json doc, std::uint8_t choice) {
  switch (choice % 9) {
  case 0:
    doc["pushed_at"] = "2030-01-01T00:00:00+02:00";
    break;
  case 1:
    doc["gates"] = json::array({{{"name", "vuln-scan"},
                                 {"result", "fail"},
                                 {"target", "ghcr.io/acme/app:latest"},
                                 {"findings", {{"critical", 3}}}}});
    break;
  case 2:
    doc["subject"]["labels"] = {{"org.opencontainers.image.revision", "0000000"},
                                {"org.opencontainers.image.source", "elsewhere"}};
    break;
  case 3:
    doc["source"] = {{"repository", "https://example.com/other"},
                     {"commit", "0123456789abcdef0123456789abcdef01234567"}};
    break;
  case 4:
    doc["subject"]["tags"] = json::array({"fuzz", "latest"});
    break;
  case 5:
    doc["mirrors"] = json::array(
        {{{"name", "docker.io/acme/app"},
          {"digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000"}}});
    break;
  case 6:
    doc = {{"subject", doc["subject"]}};
    doc["subject"].erase("platforms");
    break;
  case 7:
    doc["subject"]["name"] = "docker.io/library/other";
    break;
  default:
    doc["subject"]["platforms"] = json::array();
    doc["build"] = {{"builder_id", "https://example.com/builder"}};
    break;
  }
  return doc;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  json doc = json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded()) {
    return 0;
  }
  auto record = parse_record(doc);
  if (!record) {
    return 0;
  }
  DG_FUZZ_CHECK(dg::policy::is_sha256_digest(record->digest), "a record's digest is sha256");

  Facts facts;
  if (!merge_record(facts, *record, 1)) {
    // A record may contradict itself (two mirrors under one name); the facts are unspecified.
    compute_checks(facts).to_json();
    return 0;
  }
  json once = compute_checks(facts).to_json();
  facts.to_json();

  auto again = merge_record(facts, *record, 2);
  DG_FUZZ_CHECK(again.ok(), "recording the same evidence twice is no conflict");
  DG_FUZZ_CHECK(compute_checks(facts).to_json() == once,
                "recording the same evidence twice changes no check");

  json changed = mutate(record->document, size > 0 ? data[size - 1] : 0);
  if (auto other = parse_record(changed)) {
    if (merge_record(facts, *other, 3)) {
      DG_FUZZ_CHECK(facts.digest == record->digest && facts.repository == record->repository,
                    "merged facts keep their subject");
    }
    compute_checks(facts).to_json();
    facts.to_json();
    facts.repositories();
  }
  return 0;
}
