#include "policy/evidence.hpp"

#include "policy/reference.hpp"
#include "util/crypto.hpp"
#include "util/fields.hpp"
#include "util/time.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace dg::policy {

namespace {

Error bad(const std::string& field, const std::string& message) {
  return make_error(Errc::invalid_argument, field + ": " + message);
}

bool is_index_media_type(const json& media_type) {
  if (!media_type.is_string()) {
    return false;
  }
  const auto& m = media_type.get_ref<const std::string&>();
  return m == "application/vnd.oci.image.index.v1+json" ||
         m == "application/vnd.docker.distribution.manifest.list.v2+json";
}

using Reader = FieldReader;

// A sha256 digest field, when present.
Result<void> optional_digest(Reader& r, std::string_view key) {
  auto d = r.optional_string(key);
  if (!d) {
    return d.error();
  }
  if (d->has_value() && !is_sha256_digest(**d)) {
    return r.error(key, "must be sha256:<64 lowercase hex>");
  }
  return {};
}

Result<void> read_platforms(Reader& r) {
  auto present = r.optional_objects("platforms", [](Reader& p) -> Result<void> {
    DG_TRY(p.optional_string("platform"));
    return optional_digest(p, "digest");
  });
  if (!present) {
    return present.error();
  }
  return {};
}

Result<void> read_tags(Reader& s, const std::string& repository) {
  auto tags = s.optional_strings("tags");
  if (!tags) {
    return s.error("tags", "must be a list of tags");
  }
  for (std::size_t i = 0; tags->has_value() && i < (*tags)->size(); ++i) {
    if (!parse_reference(repository + ":" + (**tags)[i])) {
      return s.error("tags[" + std::to_string(i) + "]", "is not a valid tag");
    }
  }
  return {};
}

// subject.labels: open keys, string values.
Result<void> read_labels(Reader& s) {
  const json* labels = s.raw("labels");
  if (labels == nullptr) {
    return {};
  }
  if (!labels->is_object()) {
    return s.error("labels", "must be an object of strings");
  }
  for (const auto& [key, value] : labels->items()) {
    if (!value.is_string()) {
      return s.error("labels." + key, "must be a string");
    }
  }
  return {};
}

Result<void> read_subject(Reader& s, Record& record) {
  auto name = s.optional_string("name");
  if (!name) {
    return name.error();
  }
  if (!name->has_value()) {
    return s.missing("name", "a repository name such as ghcr.io/acme/app");
  }
  auto digest = s.optional_string("digest");
  if (!digest) {
    return digest.error();
  }
  if (!digest->has_value()) {
    return s.missing("digest", "sha256:<64 lowercase hex>");
  }
  auto repository = normalize_repository(**name);
  if (!repository) {
    return s.error("name", "'" + (*name)->substr(0, 300) +
                               "' is not a repository name: " + repository.error().message);
  }
  record.repository = *repository;
  record.digest = **digest;
  if (!is_sha256_digest(record.digest)) {
    return s.error("digest",
                   "'" + record.digest.substr(0, 100) + "' is not sha256:<64 lowercase hex>");
  }
  DG_TRY(s.optional_string("media_type"));
  DG_TRY(read_platforms(s));
  DG_TRY(read_tags(s, record.repository));
  return read_labels(s);
}

Result<void> read_strings(Reader& r, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    DG_TRY(r.optional_string(key));
  }
  return {};
}

Result<void> read_mirror(Reader& m) {
  auto name = m.optional_string("name");
  if (!name) {
    return name.error();
  }
  if (!name->has_value()) {
    return m.missing("name", "a repository name");
  }
  if (!normalize_repository(**name)) {
    return m.error("name", "is not a repository name");
  }
  DG_TRY(optional_digest(m, "digest"));
  DG_TRY(read_platforms(m));
  DG_TRY(m.optional_time("observed_at"));
  return {};
}

// gates[i].findings: open severities, non-negative integer counts.
Result<void> read_findings(Reader& g) {
  const json* findings = g.raw("findings");
  if (findings == nullptr) {
    return {};
  }
  if (!findings->is_object()) {
    return g.error("findings", "must be an object of severity: count");
  }
  for (const auto& [severity, count] : findings->items()) {
    if (!count.is_number_integer() || count.get<std::int64_t>() < 0) {
      return g.error("findings." + severity, "must be a non-negative integer");
    }
  }
  return {};
}

Result<void> read_artifact(Reader& a) {
  DG_TRY(a.optional_string("name"));
  auto sha = a.optional_string("sha256");
  if (!sha) {
    return sha.error();
  }
  if (sha->has_value() && !is_lower_hex(**sha, 64)) {
    return a.error("sha256", "must be 64 lowercase hex");
  }
  DG_TRY(a.optional_time("created_at"));
  return {};
}

Result<void> read_gate(Reader& g) {
  auto name = g.optional_string("name");
  if (!name) {
    return name.error();
  }
  if (!name->has_value() || (*name)->empty()) {
    return g.missing("name", "a non-empty string");
  }
  auto result = g.optional_string("result");
  if (!result) {
    return result.error();
  }
  if (!result->has_value()) {
    return g.missing("result", "\"pass\" or \"fail\"");
  }
  DG_TRY(g.optional_string("target"));
  DG_TRY(g.optional_time("started_at"));
  DG_TRY(g.optional_time("finished_at"));
  DG_TRY(g.optional_object("tool", [](Reader& t) { return read_strings(t, {"name", "version"}); }));
  DG_TRY(read_findings(g));
  DG_TRY(g.optional_objects("artifacts", read_artifact));
  return {};
}

// A cosign simple-signing signature: both fields required, their content judged at promotion.
Result<void> read_signature(Reader& s) {
  DG_TRY(s.string("payload"));
  DG_TRY(s.string("signature"));
  return {};
}

// A DSSE envelope; its payload is judged at promotion (policy/attestation.hpp).
Result<void> read_attestation(Reader& a) {
  return a.object("envelope", [](Reader& e) -> Result<void> {
    DG_TRY(read_strings(e, {"payloadType", "payload"}));
    DG_TRY(e.optional_objects("signatures", [](Reader& s) {
      return read_strings(s, {"keyid", "sig"});
    }));
    return {};
  });
}

// A Sigstore bundle, open (judged by its own format), with the payload of a message signature.
Result<void> read_bundle(Reader& b) {
  const json* bundle = b.raw("bundle");
  if (bundle == nullptr) {
    return b.missing("bundle", "a Sigstore bundle");
  }
  if (!bundle->is_object()) {
    return b.error("bundle", "must be an object (a Sigstore bundle)");
  }
  DG_TRY(b.optional_string("payload"));
  return {};
}

Result<void> read_record(Reader& r, Record& record) {
  DG_TRY(r.object("subject", [&](Reader& s) { return read_subject(s, record); }));
  DG_TRY(r.optional_object("source", [](Reader& s) {
    return read_strings(s, {"repository", "commit", "ref"});
  }));
  DG_TRY(r.optional_object("build", [](Reader& b) {
    return read_strings(b, {"builder_id", "run_id", "run_url", "base_image"});
  }));
  DG_TRY(r.optional_time("pushed_at"));
  DG_TRY(r.optional_objects("mirrors", read_mirror));
  DG_TRY(r.optional_objects("gates", read_gate));
  DG_TRY(r.optional_objects("signatures", read_signature));
  DG_TRY(r.optional_objects("attestations", read_attestation));
  DG_TRY(r.optional_objects("bundles", read_bundle));
  return {};
}

// Platforms as a sorted list of "platform=digest" for comparison.
std::vector<std::string> platform_set(const json& list) {
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const auto& p : list) {
      out.push_back(string_or_empty(p, "platform") + "=" + string_or_empty(p, "digest"));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> merge_field(json& target, const json& incoming, const std::string& field) {
  if (incoming.is_null()) {
    return {};
  }
  if (target.is_null()) {
    target = incoming;
    return {};
  }
  if (target != incoming) {
    return make_error(Errc::conflict, field + ": recorded as " + target.dump() +
                                          ", this record says " + incoming.dump());
  }
  return {};
}

Result<void> merge_object_fields(json& target, const json& incoming, const std::string& field) {
  if (incoming.is_null()) {
    return {};
  }
  if (target.is_null()) {
    target = json::object();
  }
  for (const auto& [key, value] : incoming.items()) {
    json& slot = target[key];
    DG_TRY(merge_field(slot, value, field + "." + key));
  }
  return {};
}

} // namespace

bool nested_deeper_than(const json& doc, std::size_t limit) {
  std::vector<std::pair<const json*, std::size_t>> pending{{&doc, 1}};
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) {
      continue;
    }
    if (depth > limit) {
      return true;
    }
    for (const auto& child : *node) {
      pending.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

Result<Record> parse_record(const json& doc, RecordSource source) {
  if (!doc.is_object()) {
    return bad("record", "must be a JSON object");
  }
  if (nested_deeper_than(doc, k_max_record_depth)) {
    return bad("record", "nests arrays and objects deeper than " +
                             std::to_string(k_max_record_depth) + " levels");
  }
  Record record;
  const bool ledgered = source == RecordSource::ledger;
  DG_TRY(FieldReader::read(
      doc, "", [&](Reader& r) { return read_record(r, record); },
      ledgered ? FieldReader::Nulls::absent : FieldReader::Nulls::refused,
      ledgered ? FieldReader::Unknown::kept : FieldReader::Unknown::refused));
  record.document = doc;
  return record;
}

std::set<std::string> Facts::repositories() const {
  std::set<std::string> out{repository};
  for (const auto& [name, m] : mirrors) {
    out.insert(name);
  }
  return out;
}

json Facts::to_json() const {
  json mirror_list = json::array();
  for (const auto& [name, m] : mirrors) {
    mirror_list.push_back(m);
  }
  json gate_map = json::object();
  for (const auto& [name, g] : gates) {
    gate_map[name] = g;
  }
  return json{{"digest", digest},          {"repository", repository}, {"tags", tags},
              {"media_type", media_type},  {"platforms", platforms},   {"labels", labels},
              {"source", source},          {"build", build},           {"pushed_at", pushed_at},
              {"mirrors", mirror_list},    {"gates", gate_map},        {"validations", validations},
              {"observation", observation}};
}

Result<void> merge_record(Facts& facts, const Record& record, std::int64_t seq) {
  const json& doc = record.document;
  const json& subject = doc["subject"];
  if (facts.digest.empty()) {
    facts.digest = record.digest;
    facts.repository = record.repository;
  } else if (facts.repository != record.repository) {
    return make_error(Errc::conflict, "subject.name: " + record.digest + " was recorded as " +
                                          facts.repository + ", this record says " +
                                          record.repository);
  }
  DG_TRY(merge_field(facts.media_type, subject.value("media_type", json()), "subject.media_type"));
  if (subject.contains("platforms") && !subject["platforms"].is_null()) {
    if (!facts.platforms.is_null() &&
        platform_set(facts.platforms) != platform_set(subject["platforms"])) {
      return make_error(Errc::conflict, "subject.platforms: recorded as " + facts.platforms.dump() +
                                            ", this record says " + subject["platforms"].dump());
    }
    facts.platforms = subject["platforms"];
  }
  DG_TRY(merge_object_fields(facts.labels, subject.value("labels", json()), "subject.labels"));
  DG_TRY(merge_object_fields(facts.source, doc.value("source", json()), "source"));
  DG_TRY(merge_object_fields(facts.build, doc.value("build", json()), "build"));
  if (doc.contains("pushed_at") && doc["pushed_at"].is_string()) {
    if (facts.pushed_at.is_string() && *parse_rfc3339(facts.pushed_at.get<std::string>()) !=
                                           *parse_rfc3339(doc["pushed_at"].get<std::string>())) {
      return make_error(Errc::conflict, "pushed_at: recorded as " + facts.pushed_at.dump() +
                                            ", this record says " + doc["pushed_at"].dump());
    }
    if (facts.pushed_at.is_null()) {
      facts.pushed_at = doc["pushed_at"];
    }
  }
  if (doc.contains("mirrors") && doc["mirrors"].is_array()) {
    for (const auto& m : doc["mirrors"]) {
      std::string name = *normalize_repository(m["name"].get<std::string>());
      auto it = facts.mirrors.find(name);
      if (it != facts.mirrors.end()) {
        const json& old = it->second;
        if (string_or_empty(old, "digest") != string_or_empty(m, "digest") ||
            platform_set(old.value("platforms", json())) !=
                platform_set(m.value("platforms", json()))) {
          return make_error(Errc::conflict, "mirrors: " + name + " was recorded with " +
                                                string_or_empty(old, "digest") +
                                                ", this record says " +
                                                string_or_empty(m, "digest"));
        }
      } else {
        json copy = m;
        copy["name"] = name;
        facts.mirrors.emplace(name, std::move(copy));
      }
    }
  }
  if (subject.contains("tags") && subject["tags"].is_array()) {
    for (const auto& t : subject["tags"]) {
      facts.tags.insert(t.get<std::string>());
    }
  }
  if (doc.contains("gates") && doc["gates"].is_array()) {
    for (const auto& g : doc["gates"]) {
      json copy = g;
      copy["seq"] = seq;
      facts.gates[g["name"].get<std::string>()] = std::move(copy);
    }
  }
  if (doc.contains("signatures") && doc["signatures"].is_array()) {
    for (const auto& s : doc["signatures"]) {
      facts.signatures.push_back(s);
    }
  }
  if (doc.contains("attestations") && doc["attestations"].is_array()) {
    for (const auto& a : doc["attestations"]) {
      facts.attestations.push_back(a);
    }
  }
  if (doc.contains("bundles") && doc["bundles"].is_array()) {
    for (const auto& b : doc["bundles"]) {
      facts.bundles.push_back(b);
    }
  }
  facts.validations.push_back(seq);
  return {};
}

json Checks::to_json() const {
  auto one = [](const Check& c) { return json{{"ok", c.ok}, {"problems", c.problems}}; };
  return json{{"digest_bound", one(digest_bound)},
              {"artifact_freshness", one(artifact_freshness)},
              {"registry_parity", one(registry_parity)},
              {"evidence_complete", one(evidence_complete)},
              {"revision_label", one(revision_label)}};
}

Checks compute_checks(const Facts& facts) {
  Checks checks;
  auto repositories = facts.repositories();
  std::optional<TimeNs> pushed;
  if (facts.pushed_at.is_string()) {
    if (auto t = parse_rfc3339(facts.pushed_at.get<std::string>())) {
      pushed = *t;
    }
  }
  auto time_of = [](const json& obj, const char* key) -> std::optional<TimeNs> {
    std::string s = string_or_empty(obj, key);
    if (auto t = parse_rfc3339(s)) {
      return *t;
    }
    return std::nullopt;
  };

  for (const auto& [name, gate] : facts.gates) {
    // digest-bound
    std::string target = string_or_empty(gate, "target");
    if (target.empty()) {
      checks.digest_bound.fail("gate " + name + " names no target");
    } else {
      auto ref = parse_reference(target);
      if (!ref || ref->digest.empty()) {
        checks.digest_bound.fail("gate " + name + " ran against " + target +
                                 ", not a digest reference");
      } else if (ref->digest != facts.digest) {
        checks.digest_bound.fail("gate " + name + " ran against " + ref->digest +
                                 ", not this digest");
      } else if (!repositories.count(ref->name())) {
        checks.digest_bound.fail("gate " + name + " ran against repository " + ref->name() +
                                 ", which is neither the subject nor a recorded mirror");
      }
    }
    // artifact-freshness
    if (pushed) {
      auto started = time_of(gate, "started_at");
      if (started && *started < *pushed) {
        checks.artifact_freshness.fail(
            "gate " + name + " started at " + string_or_empty(gate, "started_at") +
            ", before the image was pushed at " + facts.pushed_at.get<std::string>());
      }
      if (gate.contains("artifacts") && gate["artifacts"].is_array()) {
        for (const auto& a : gate["artifacts"]) {
          auto created = time_of(a, "created_at");
          if (created && *created < *pushed) {
            checks.artifact_freshness.fail(
                "artifact " + string_or_empty(a, "name") + " of gate " + name + " was created at " +
                string_or_empty(a, "created_at") + ", before the image was pushed");
          }
        }
      }
    }
    // evidence-complete, per gate
    const json tool = gate.value("tool", json());
    if (string_or_empty(tool, "name").empty() || string_or_empty(tool, "version").empty()) {
      checks.evidence_complete.fail("gate " + name + " does not name its tool and version");
    }
    if (string_or_empty(gate, "started_at").empty() ||
        string_or_empty(gate, "finished_at").empty()) {
      checks.evidence_complete.fail("gate " + name + " lacks started_at or finished_at");
    }
    if (gate.contains("artifacts") && gate["artifacts"].is_array()) {
      for (const auto& a : gate["artifacts"]) {
        if (string_or_empty(a, "name").empty() || string_or_empty(a, "created_at").empty() ||
            string_or_empty(a, "sha256").empty()) {
          checks.evidence_complete.fail("an artifact of gate " + name +
                                        " lacks its name, sha256 or created_at");
        }
      }
    }
  }

  // registry-parity
  auto subject_platforms = platform_set(facts.platforms);
  for (const auto& [name, m] : facts.mirrors) {
    std::string digest = string_or_empty(m, "digest");
    if (digest != facts.digest) {
      checks.registry_parity.fail("mirror " + name + " serves " +
                                  (digest.empty() ? std::string("no digest") : digest) + ", not " +
                                  facts.digest);
    }
    if (!facts.platforms.is_null()) {
      if (!m.contains("platforms") || m["platforms"].is_null()) {
        checks.registry_parity.fail("mirror " + name + " lists no per-platform digests");
      } else if (platform_set(m["platforms"]) != subject_platforms) {
        checks.registry_parity.fail("mirror " + name +
                                    " has per-platform digests that differ from the subject's");
      }
    }
  }

  // evidence-complete, for the image
  if (facts.tags.empty()) {
    checks.evidence_complete.fail("no tag recorded");
  }
  if (facts.pushed_at.is_null()) {
    checks.evidence_complete.fail("no pushed_at timestamp");
  }
  bool index = is_index_media_type(facts.media_type);
  if (index && (!facts.platforms.is_array() || facts.platforms.empty())) {
    checks.evidence_complete.fail(
        "the digest is an index but no per-platform digests are recorded");
  }
  if (facts.platforms.is_array()) {
    for (const auto& p : facts.platforms) {
      if (string_or_empty(p, "platform").empty() || string_or_empty(p, "digest").empty()) {
        checks.evidence_complete.fail("a platform entry lacks its platform or digest");
      }
    }
  }

  // revision-label
  auto label = facts.labels.find("org.opencontainers.image.revision");
  std::string commit = string_or_empty(facts.source, "commit");
  if (label != facts.labels.end() && label->is_string() && !commit.empty() &&
      label->get<std::string>() != commit) {
    checks.revision_label.fail("label org.opencontainers.image.revision is " +
                               label->get<std::string>() + " but source.commit is " + commit);
  }
  return checks;
}

std::string tag_of_ref(std::string_view ref) {
  constexpr std::string_view k_prefix = "refs/tags/";
  if (ref.substr(0, k_prefix.size()) != k_prefix) {
    return {};
  }
  return std::string(ref.substr(k_prefix.size()));
}

bool is_stable_semver(std::string_view v) {
  if (!v.empty() && v.front() == 'v') {
    v.remove_prefix(1);
  }
  auto plus = v.find('+');
  if (plus != std::string_view::npos) {
    std::string_view meta = v.substr(plus + 1);
    if (meta.empty() || meta.find_first_not_of(
                            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.") !=
                            std::string_view::npos) {
      return false;
    }
    v = v.substr(0, plus);
  }
  int parts = 0;
  std::size_t pos = 0;
  while (true) {
    std::size_t start = pos;
    while (pos < v.size() && v[pos] >= '0' && v[pos] <= '9') {
      ++pos;
    }
    if (pos == start || (pos - start > 1 && v[start] == '0')) {
      return false;
    }
    ++parts;
    if (pos == v.size()) {
      break;
    }
    if (v[pos] != '.' || parts == 3) {
      return false; // a '-' here starts a pre-release
    }
    ++pos;
  }
  return parts == 3;
}

} // namespace dg::policy
