#include "intake/record.hpp"

#include "policy/evidence.hpp"
#include "policy/reference.hpp"
#include "util/time.hpp"

#include <algorithm>

namespace dg::intake {

using nlohmann::json;

namespace {

Error bad(const std::string& message) {
  return make_error(Errc::invalid_argument, message);
}

json platforms_json(const ImageManifest& m) {
  json out = json::array();
  for (const auto& p : m.platforms) {
    out.push_back({{"platform", p.platform}, {"digest", p.digest}});
  }
  return out;
}

void override_field(json& obj, const char* key, const std::string& value) {
  if (!value.empty()) {
    obj[key] = value;
  }
}

Result<json> mirrors_json(const InitOptions& o, const std::string& digest, const json& platforms) {
  json out = json::array();
  for (const MirrorSpec& m : o.mirrors) {
    auto name = policy::normalize_repository(m.name);
    if (!name) {
      return bad("--mirror '" + m.name + "': " + name.error().message);
    }
    json mirror = {{"name", m.name}, {"observed_at", o.observed_at}};
    if (m.manifest) {
      mirror["digest"] = m.manifest->digest;
      if (m.manifest->is_index) {
        mirror["platforms"] = platforms_json(*m.manifest);
      }
    } else {
      mirror["digest"] = digest;
      if (!platforms.empty()) {
        mirror["platforms"] = platforms;
      }
    }
    out.push_back(std::move(mirror));
  }
  return out;
}

} // namespace

Result<json> init_record(const InitOptions& o, const CiFacts& ci) {
  auto ref = policy::parse_reference(o.image);
  if (!ref || !policy::is_sha256_digest(ref->digest)) {
    return bad("--image '" + o.image + "' is not a name@sha256:<64 hex> reference");
  }
  for (const std::string* t : {&o.pushed_at, &o.observed_at}) {
    if (!t->empty() && !parse_rfc3339(*t)) {
      return bad("'" + *t + "' is not an RFC 3339 time");
    }
  }
  json subject = {{"name", ref->domain + "/" + ref->path}, {"digest", ref->digest}};
  json platforms = json::array();
  if (o.manifest) {
    if (o.manifest->digest != ref->digest) {
      return make_error(Errc::conflict, "the manifest's digest is " + o.manifest->digest +
                                            ", not the image's " + ref->digest +
                                            " (was it saved with --raw, byte for byte?)");
    }
    subject["media_type"] = o.manifest->media_type;
    if (o.manifest->is_index) {
      platforms = platforms_json(*o.manifest);
      subject["platforms"] = platforms;
    }
  }
  json tags = json::array();
  auto add_tag = [&tags](const std::string& t) {
    if (!t.empty() && std::find(tags.begin(), tags.end(), t) == tags.end()) {
      tags.push_back(t);
    }
  };
  add_tag(ref->tag);
  for (const auto& t : o.tags) {
    add_tag(t);
  }
  std::string ref_name = o.ref.empty() ? ci.source.value("ref", "") : o.ref;
  add_tag(policy::tag_of_ref(ref_name));
  if (!tags.empty()) {
    subject["tags"] = tags;
  }
  if (!o.labels.empty()) {
    subject["labels"] = o.labels;
  }
  json record = {{"subject", subject}};
  json source = ci.source;
  override_field(source, "repository", o.source_repository);
  override_field(source, "commit", o.commit);
  override_field(source, "ref", o.ref);
  if (!source.empty()) {
    record["source"] = source;
  }
  json build = ci.build;
  override_field(build, "builder_id", o.builder_id);
  override_field(build, "run_id", o.run_id);
  override_field(build, "run_url", o.run_url);
  override_field(build, "base_image", o.base_image);
  if (!build.empty()) {
    record["build"] = build;
  }
  if (!o.pushed_at.empty()) {
    record["pushed_at"] = o.pushed_at;
  }
  auto mirrors = mirrors_json(o, ref->digest, platforms);
  if (!mirrors) {
    return mirrors.error();
  }
  if (!mirrors->empty()) {
    record["mirrors"] = std::move(*mirrors);
  }
  return record;
}

Result<std::string> subject_reference(const json& record) {
  const json* subject =
      record.is_object() && record.contains("subject") ? &record["subject"] : nullptr;
  if (subject == nullptr || !subject->is_object() || !(*subject)["name"].is_string() ||
      !(*subject)["digest"].is_string()) {
    return bad("the working file has no subject: run `digestgate evidence init` first");
  }
  return (*subject)["name"].get<std::string>() + "@" + (*subject)["digest"].get<std::string>();
}

void put_gate(json& record, json gate) {
  json& gates = record["gates"];
  if (!gates.is_array()) {
    gates = json::array();
  }
  for (json& g : gates) {
    if (g.value("name", "") == gate.value("name", "")) {
      g = std::move(gate);
      return;
    }
  }
  gates.push_back(std::move(gate));
}

std::size_t add_items(json& record, const char* field, const json& items) {
  json& list = record[field];
  if (!list.is_array()) {
    list = json::array();
  }
  std::size_t added = 0;
  for (const json& item : items) {
    if (std::find(list.begin(), list.end(), item) == list.end()) {
      list.push_back(item);
      ++added;
    }
  }
  return added;
}

} // namespace dg::intake
