// Evidence records (POST /v1/validations), the facts merged from every record of a digest, and
// the checks the daemon computes itself rather than trusting a reported result.
#pragma once

#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dg::policy {

using nlohmann::json;

// A validated evidence record.
struct Record {
  std::string digest;     // subject.digest: "sha256:" + 64 lowercase hex
  std::string repository; // subject.name, normalized
  json document;          // the record as received
};

// The deepest nesting of arrays and objects a record may have (the record itself is level 1).
// Copying, comparing and serializing JSON recurse once per level, so a deeper document could
// exhaust the stack; real records are about 5 levels deep.
inline constexpr std::size_t k_max_record_depth = 64;

// True when arrays and objects in `doc` nest deeper than `limit` levels (the document itself is
// level 1). Iterative: copying, comparing and serializing JSON recurse once per level, so a
// request body must pass this before anything else touches it.
bool nested_deeper_than(const json& doc, std::size_t limit);

// Where a record comes from: a request, judged strictly, or the ledger, where it was judged when it
// was written, perhaps by an earlier version that knew other fields.
enum class RecordSource { request, ledger };

// Check the shape of a record (docs/schemas/validation.schema.json): nested at most
// k_max_record_depth levels, subject.name and subject.digest present and valid, every other field
// of the contract of the right type, every timestamp RFC 3339, and no other field at any level
// but inside the maps open by nature (subject.labels, a gate's findings, a Sigstore bundle).
// Fails with Errc::invalid_argument and a message that names the field by its path
// ("gates[0].finding: unknown field"). From RecordSource::ledger, unknown fields are kept and a
// null field reads as absent.
Result<Record> parse_record(const json& document, RecordSource source = RecordSource::request);

// One of the daemon's own checks: ok, or the problems found.
struct Check {
  bool ok = true;
  std::vector<std::string> problems;
  void fail(std::string problem) {
    ok = false;
    problems.push_back(std::move(problem));
  }
};

struct Checks {
  Check digest_bound;       // every gate's target is name@<this digest>
  Check artifact_freshness; // every gate started, every artifact created, after pushed_at
  Check registry_parity;    // every mirror's digest and platform digests equal the subject's
  Check evidence_complete;  // tag, digests, platform digests, tool versions, timestamps, names
  Check revision_label;     // org.opencontainers.image.revision == source.commit when given
  json to_json() const;
};

// Everything the records of one digest say, merged. Build facts are immutable: a record that
// contradicts an earlier one is a conflict. For gates, the latest result per name counts.
struct Facts {
  std::string digest;
  std::string repository;
  std::set<std::string> tags;
  json media_type;                     // string or null
  json platforms;                      // array or null
  json labels = json::object();        // merged; a label never changes value
  json source;                         // object or null
  json build;                          // object or null
  json pushed_at;                      // string or null
  std::map<std::string, json> mirrors; // by normalized name
  std::map<std::string, json> gates;   // latest result per gate name, with "seq"
  std::vector<json> signatures;
  std::vector<json> attestations;
  std::vector<json> bundles;             // {"bundle", "payload"?} items, not verified here
  std::vector<std::int64_t> validations; // seqs of the validation entries
  // The newest observation entry of the digest: {"seq", "time", "body"}, or null.
  json observation;

  // The repositories under which this digest is known: the subject and every mirror.
  std::set<std::string> repositories() const;
  json to_json() const;
};

// Merge `record` (ledgered at `seq`) into `facts`. Fails with Errc::conflict naming the field when
// the record contradicts an immutable build fact, leaving `facts` unspecified.
Result<void> merge_record(Facts& facts, const Record& record, std::int64_t seq);

// Merge an observation entry's `body` (ledgered at `seq`, `time`) into `facts`: it becomes the
// newest observation, and the signatures and attestations it found count as recorded ones.
void merge_observation(Facts& facts, const json& body, std::int64_t seq, const std::string& time);

// What an observation says against the recorded facts. `unanswered`: registries that should
// hold the digest and did not answer or were not asked; `parity`: registries that lack the
// digest or serve other platform digests than recorded. Each item names its repository.
struct ObservationFindings {
  std::vector<std::string> unanswered;
  std::vector<std::string> parity;
  bool ok() const { return unanswered.empty() && parity.empty(); }
  std::vector<std::string> problems() const;
};
ObservationFindings judge_observation(const Facts& facts, const json& observation_body);

// The daemon's checks over merged facts.
Checks compute_checks(const Facts& facts);

// The tag part of a git ref: "refs/tags/v1.2.0" -> "v1.2.0"; empty when not a tag ref.
std::string tag_of_ref(std::string_view ref);

// True if `version` (an optional leading 'v') is a SemVer 2.0 version without a pre-release
// part; build metadata is allowed.
bool is_stable_semver(std::string_view version);

} // namespace dg::policy
