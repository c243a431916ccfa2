#include "registry/observe.hpp"

#include "registry/signatures.hpp"

namespace dg::registry {

namespace {

using json = nlohmann::json;

// Recorded tags reported per registry at most.
constexpr std::size_t k_max_tags = 16;

std::string describe(const Error& error) {
  return error.message;
}

void add_unique(json& list, const json& items) {
  for (const json& item : items) {
    if (std::find(list.begin(), list.end(), item) == list.end()) {
      list.push_back(item);
    }
  }
}

json observe_one(Client& client,
                 const std::string& name,
                 const ObservationRequest& request,
                 json& body) {
  json entry = {{"name", name},          {"present", false},
                {"media_type", nullptr}, {"platforms", json::array()},
                {"error", nullptr},      {"tags", json::object()}};
  auto manifest = client.get_manifest(name, request.digest);
  if (!manifest) {
    if (failure_kind(manifest.error()) != "not-found") {
      entry["error"] = describe(manifest.error());
      return entry;
    }
  } else {
    entry["present"] = true;
    entry["media_type"] = manifest->media_type;
    if (is_index(manifest->media_type)) {
      auto entries = index_entries(*manifest);
      if (!entries) {
        entry["error"] = describe(entries.error());
        return entry;
      }
      for (const Descriptor& d : *entries) {
        if (d.platform.empty() || d.platform == "unknown/unknown") {
          continue; // attestation manifests of buildx carry no real platform
        }
        auto head = client.head_manifest(name, d.digest);
        if (head) {
          entry["platforms"].push_back({{"platform", d.platform}, {"digest", d.digest}});
        } else if (failure_kind(head.error()) != "not-found") {
          entry["error"] = describe(head.error());
          return entry;
        }
      }
    }
  }
  std::size_t count = 0;
  for (const std::string& tag : request.tags) {
    if (++count > k_max_tags) {
      break;
    }
    auto head = client.head_manifest(name, tag);
    if (head) {
      entry["tags"][tag] = head->digest;
    } else if (failure_kind(head.error()) == "not-found") {
      entry["tags"][tag] = nullptr;
    } else {
      entry["error"] = describe(head.error());
      return entry;
    }
  }
  if (entry["present"].get<bool>()) {
    // Signatures are looked for where the image is; a failure here loses only what it would
    // have found, which can make a decision stricter, never laxer.
    if (auto found = fetch_signing_material(client, name, request.digest)) {
      add_unique(body["signatures"], found->signatures);
      add_unique(body["attestations"], found->attestations);
      add_unique(body["bundles"], found->bundles);
    }
  }
  return entry;
}

} // namespace

json observe(Client& client, const ObservationRequest& request) {
  json body = {{"digest", request.digest},      {"observed_at", request.observed_at},
               {"registries", json::array()},   {"signatures", json::array()},
               {"attestations", json::array()}, {"bundles", json::array()}};
  for (const std::string& name : request.repositories) {
    body["registries"].push_back(observe_one(client, name, request, body));
  }
  return body;
}

std::vector<std::string> unanswered(const json& body) {
  std::vector<std::string> names;
  for (const json& r : body.value("registries", json::array())) {
    if (r.is_object() && r.contains("error") && r["error"].is_string()) {
      names.push_back(r.value("name", std::string()));
    }
  }
  return names;
}

} // namespace dg::registry
