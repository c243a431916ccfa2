// What a registry observation adds to a digest's facts, and how its findings are judged against
// what was recorded (require_observation; see policy/evidence.hpp).
#include "policy/evidence.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dg::policy {

namespace {

void add_unique(std::vector<json>& list, const json& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) {
    list.push_back(item);
  }
}

// platform -> digest of a [{"platform", "digest"}] array.
std::map<std::string, std::string> platform_digests(const json& platforms) {
  std::map<std::string, std::string> out;
  if (!platforms.is_array()) {
    return out;
  }
  for (const json& p : platforms) {
    if (p.is_object() && p.contains("platform") && p["platform"].is_string() &&
        p.contains("digest") && p["digest"].is_string()) {
      out[p["platform"].get<std::string>()] = p["digest"].get<std::string>();
    }
  }
  return out;
}

} // namespace

void merge_observation(Facts& facts, const json& body, std::int64_t seq, const std::string& time) {
  if (!body.is_object()) {
    return;
  }
  facts.observation = json{{"seq", seq}, {"time", time}, {"body", body}};
  // Sigstore bundles found among the referrers count as recorded ones ({"bundle"} items; a
  // registry holds no detached payload, so a message-signature bundle verifies against nothing).
  if (auto list = body.find("bundles"); list != body.end() && list->is_array()) {
    for (const json& bundle : *list) {
      if (bundle.is_object()) {
        add_unique(facts.bundles, json{{"bundle", bundle}});
      }
    }
  }
  for (const char* kind : {"signatures", "attestations"}) {
    auto list = body.find(kind);
    if (list == body.end() || !list->is_array()) {
      continue;
    }
    for (const json& item : *list) {
      if (item.is_object()) {
        add_unique(std::string_view(kind) == "signatures" ? facts.signatures : facts.attestations,
                   item);
      }
    }
  }
}

std::vector<std::string> ObservationFindings::problems() const {
  std::vector<std::string> all = unanswered;
  all.insert(all.end(), parity.begin(), parity.end());
  return all;
}

ObservationFindings judge_observation(const Facts& facts, const json& body) {
  ObservationFindings findings;
  std::set<std::string> asked;
  const json registries = body.is_object() ? body.value("registries", json::array()) : json();
  const auto recorded = platform_digests(facts.platforms);
  const std::string digest = body.is_object() ? body.value("digest", std::string()) : "";
  if (registries.is_array()) {
    for (const json& r : registries) {
      if (!r.is_object() || !r.contains("name") || !r["name"].is_string()) {
        continue;
      }
      const std::string name = r["name"].get<std::string>();
      asked.insert(name);
      if (r.contains("error") && r["error"].is_string()) {
        findings.unanswered.push_back(name + " did not answer: " + r["error"].get<std::string>());
        continue;
      }
      if (!r.value("present", false)) {
        findings.parity.push_back(name + " lacks " + digest);
        continue;
      }
      if (recorded.empty()) {
        continue;
      }
      const auto served = platform_digests(r.value("platforms", json()));
      for (const auto& [platform, want] : recorded) {
        auto it = served.find(platform);
        if (it == served.end()) {
          findings.parity.push_back(name + " serves no " + platform + " manifest (recorded " +
                                    want + ")");
        } else if (it->second != want) {
          findings.parity.push_back(name + " serves " + platform + " as " + it->second +
                                    ", recorded " + want);
        }
      }
      for (const auto& [platform, got] : served) {
        if (!recorded.count(platform)) {
          findings.parity.push_back(name + " serves " + platform + " as " + got +
                                    ", which was not recorded");
        }
      }
    }
  }
  for (const std::string& name : facts.repositories()) {
    if (!asked.count(name)) {
      findings.unanswered.push_back(name + " was not asked");
    }
  }
  return findings;
}

} // namespace dg::policy
