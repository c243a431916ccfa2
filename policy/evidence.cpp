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

Result<void> optional_string(const json& obj, const char* key, const std::string& place) {
  auto it = obj.find(key);
  if (it != obj.end() && !it->is_null() && !it->is_string()) {
    return bad(place + "." + key, "must be a string");
  }
  return {};
}

Result<void> optional_time(const json& obj, const char* key, const std::string& place) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    return bad(place + "." + key, "must be an RFC 3339 timestamp string");
  }
  auto t = parse_rfc3339(it->get<std::string>());
  if (!t) {
    return bad(place + "." + key, t.error().message);
  }
  return {};
}

Result<void> optional_object(const json& obj, const char* key, const std::string& place) {
  auto it = obj.find(key);
  if (it != obj.end() && !it->is_null() && !it->is_object()) {
    return bad(place + "." + key, "must be an object");
  }
  return {};
}

Result<void> optional_array(const json& obj, const char* key, const std::string& place) {
  auto it = obj.find(key);
  if (it != obj.end() && !it->is_null() && !it->is_array()) {
    return bad(place + "." + key, "must be a list");
  }
  return {};
}

Result<void> check_platforms(const json& list, const std::string& place) {
  if (list.is_null()) {
    return {};
  }
  if (!list.is_array()) {
    return bad(place, "must be a list of {\"platform\", \"digest\"}");
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string here = place + "[" + std::to_string(i) + "]";
    const json& p = list[i];
    if (!p.is_object()) {
      return bad(here, "must be an object {\"platform\", \"digest\"}");
    }
    DG_TRY(optional_string(p, "platform", here));
    DG_TRY(optional_string(p, "digest", here));
    if (p.contains("digest") && p["digest"].is_string() &&
        !is_sha256_digest(p["digest"].get<std::string>())) {
      return bad(here + ".digest", "must be sha256:<64 lowercase hex>");
    }
  }
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

Result<Record> parse_record(const json& doc) {
  if (!doc.is_object()) {
    return bad("record", "must be a JSON object");
  }
  if (nested_deeper_than(doc, k_max_record_depth)) {
    return bad("record", "nests arrays and objects deeper than " +
                             std::to_string(k_max_record_depth) + " levels");
  }
  auto subject_it = doc.find("subject");
  if (subject_it == doc.end() || !subject_it->is_object()) {
    return bad("subject", "is required (an object with name and digest)");
  }
  const json& subject = *subject_it;
  if (!subject.contains("name") || !subject["name"].is_string()) {
    return bad("subject.name", "is required (a repository name such as ghcr.io/acme/app)");
  }
  if (!subject.contains("digest") || !subject["digest"].is_string()) {
    return bad("subject.digest", "is required (sha256:<64 lowercase hex>)");
  }
  Record record;
  std::string name = subject["name"].get<std::string>();
  auto repository = normalize_repository(name);
  if (!repository) {
    return bad("subject.name", "'" + name.substr(0, 300) +
                                   "' is not a repository name: " + repository.error().message);
  }
  record.repository = *repository;
  record.digest = subject["digest"].get<std::string>();
  if (!is_sha256_digest(record.digest)) {
    return bad("subject.digest",
               "'" + record.digest.substr(0, 100) + "' is not sha256:<64 lowercase hex>");
  }
  DG_TRY(optional_string(subject, "media_type", "subject"));
  DG_TRY(check_platforms(subject.value("platforms", json()), "subject.platforms"));
  if (subject.contains("tags")) {
    const json& tags = subject["tags"];
    if (!tags.is_array()) {
      return bad("subject.tags", "must be a list of tags");
    }
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (!tags[i].is_string() ||
          !parse_reference(record.repository + ":" + tags[i].get<std::string>())) {
        return bad("subject.tags[" + std::to_string(i) + "]", "is not a valid tag");
      }
    }
  }
  DG_TRY(optional_object(subject, "labels", "subject"));
  if (subject.contains("labels") && subject["labels"].is_object()) {
    for (const auto& [key, value] : subject["labels"].items()) {
      if (!value.is_string()) {
        return bad("subject.labels." + key, "must be a string");
      }
    }
  }
  DG_TRY(optional_object(doc, "source", "record"));
  if (doc.contains("source") && doc["source"].is_object()) {
    for (const char* k : {"repository", "commit", "ref"}) {
      DG_TRY(optional_string(doc["source"], k, "source"));
    }
  }
  DG_TRY(optional_object(doc, "build", "record"));
  if (doc.contains("build") && doc["build"].is_object()) {
    for (const char* k : {"builder_id", "run_id", "run_url", "base_image"}) {
      DG_TRY(optional_string(doc["build"], k, "build"));
    }
  }
  DG_TRY(optional_time(doc, "pushed_at", "record"));
  DG_TRY(optional_array(doc, "mirrors", "record"));
  if (doc.contains("mirrors") && doc["mirrors"].is_array()) {
    const json& mirrors = doc["mirrors"];
    for (std::size_t i = 0; i < mirrors.size(); ++i) {
      std::string here = "mirrors[" + std::to_string(i) + "]";
      const json& m = mirrors[i];
      if (!m.is_object() || !m.contains("name") || !m["name"].is_string()) {
        return bad(here, "must be an object with a name");
      }
      if (!normalize_repository(m["name"].get<std::string>())) {
        return bad(here + ".name", "is not a repository name");
      }
      DG_TRY(optional_string(m, "digest", here));
      if (m.contains("digest") && m["digest"].is_string() &&
          !is_sha256_digest(m["digest"].get<std::string>())) {
        return bad(here + ".digest", "must be sha256:<64 lowercase hex>");
      }
      DG_TRY(check_platforms(m.value("platforms", json()), here + ".platforms"));
      DG_TRY(optional_time(m, "observed_at", here));
    }
  }
  DG_TRY(optional_array(doc, "gates", "record"));
  if (doc.contains("gates") && doc["gates"].is_array()) {
    const json& gates = doc["gates"];
    for (std::size_t i = 0; i < gates.size(); ++i) {
      std::string here = "gates[" + std::to_string(i) + "]";
      const json& g = gates[i];
      if (!g.is_object()) {
        return bad(here, "must be an object");
      }
      if (!g.contains("name") || !g["name"].is_string() || g["name"].get<std::string>().empty()) {
        return bad(here + ".name", "is required");
      }
      if (!g.contains("result") || !g["result"].is_string()) {
        return bad(here + ".result", "is required (\"pass\" or \"fail\")");
      }
      DG_TRY(optional_string(g, "target", here));
      DG_TRY(optional_time(g, "started_at", here));
      DG_TRY(optional_time(g, "finished_at", here));
      DG_TRY(optional_object(g, "tool", here));
      if (g.contains("tool") && g["tool"].is_object()) {
        DG_TRY(optional_string(g["tool"], "name", here + ".tool"));
        DG_TRY(optional_string(g["tool"], "version", here + ".tool"));
      }
      DG_TRY(optional_object(g, "findings", here));
      if (g.contains("findings") && g["findings"].is_object()) {
        for (const auto& [severity, count] : g["findings"].items()) {
          if (!count.is_number_integer() || count.get<std::int64_t>() < 0) {
            return bad(here + ".findings." + severity, "must be a non-negative integer");
          }
        }
      }
      DG_TRY(optional_array(g, "artifacts", here));
      if (g.contains("artifacts") && g["artifacts"].is_array()) {
        const json& artifacts = g["artifacts"];
        for (std::size_t k = 0; k < artifacts.size(); ++k) {
          std::string at = here + ".artifacts[" + std::to_string(k) + "]";
          const json& a = artifacts[k];
          if (!a.is_object()) {
            return bad(at, "must be an object");
          }
          DG_TRY(optional_string(a, "name", at));
          DG_TRY(optional_string(a, "sha256", at));
          if (a.contains("sha256") && a["sha256"].is_string() &&
              !is_lower_hex(a["sha256"].get<std::string>(), 64)) {
            return bad(at + ".sha256", "must be 64 lowercase hex");
          }
          DG_TRY(optional_time(a, "created_at", at));
        }
      }
    }
  }
  DG_TRY(optional_array(doc, "signatures", "record"));
  if (doc.contains("signatures") && doc["signatures"].is_array()) {
    const json& sigs = doc["signatures"];
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      std::string here = "signatures[" + std::to_string(i) + "]";
      if (!sigs[i].is_object() || !sigs[i].contains("payload") || !sigs[i]["payload"].is_string() ||
          !sigs[i].contains("signature") || !sigs[i]["signature"].is_string()) {
        return bad(here, "must be {\"payload\": base64, \"signature\": base64}");
      }
    }
  }
  DG_TRY(optional_array(doc, "attestations", "record"));
  if (doc.contains("attestations") && doc["attestations"].is_array()) {
    const json& atts = doc["attestations"];
    for (std::size_t i = 0; i < atts.size(); ++i) {
      if (!atts[i].is_object() || !atts[i].contains("envelope") ||
          !atts[i]["envelope"].is_object()) {
        return bad("attestations[" + std::to_string(i) + "]",
                   "must be {\"envelope\": a DSSE envelope}");
      }
    }
  }
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
  return json{{"digest", digest},         {"repository", repository}, {"tags", tags},
              {"media_type", media_type}, {"platforms", platforms},   {"labels", labels},
              {"source", source},         {"build", build},           {"pushed_at", pushed_at},
              {"mirrors", mirror_list},   {"gates", gate_map},        {"validations", validations}};
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
