#include "policy/policy.hpp"

#include "policy/glob.hpp"
#include "util/crypto.hpp"
#include "util/time.hpp"

#include <map>
#include <set>
#include <utility>
#include <vector>

namespace dg::policy {

using nlohmann::json;

const EnvironmentPolicy* Policy::environment(const std::string& name) const {
  auto it = environments.find(name);
  return it == environments.end() ? nullptr : &it->second;
}

std::vector<TrustedKey> Policy::keys(const std::vector<std::string>& names) const {
  std::vector<TrustedKey> out;
  for (const auto& k : trusted_keys) {
    for (const auto& n : names) {
      if (k.name == n) {
        out.push_back(k);
      }
    }
  }
  return out;
}

namespace {

Error at(const std::string& place, const std::string& message) {
  return make_error(Errc::invalid_argument, place + ": " + message);
}

Result<void>
only_fields(const json& obj, const std::string& place, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) {
      ok = ok || key == a;
    }
    if (!ok) {
      return at(place.empty() ? key : place + "." + key, "unknown field");
    }
  }
  return {};
}

Result<std::vector<std::string>> string_list(const json& v, const std::string& place) {
  if (!v.is_array()) {
    return at(place, "must be a list of strings");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string() || v[i].get<std::string>().empty()) {
      return at(place + "[" + std::to_string(i) + "]", "must be a non-empty string");
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> glob_list(const json& v, const std::string& place) {
  auto list = string_list(v, place);
  if (!list) {
    return list.error();
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto ok = validate_glob((*list)[i]);
    if (!ok) {
      return at(place + "[" + std::to_string(i) + "]", ok.error().message);
    }
  }
  return list;
}

Result<bool> boolean(const json& v, const std::string& place) {
  if (!v.is_boolean()) {
    return at(place, "must be true or false");
  }
  return v.get<bool>();
}

Result<std::vector<std::string>>
key_names(const json& v, const std::string& place, const std::set<std::string>& known) {
  auto list = string_list(v, place);
  if (!list) {
    return list.error();
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!known.count((*list)[i])) {
      return at(place + "[" + std::to_string(i) + "]",
                "unknown key '" + (*list)[i] + "' (not in trusted_keys)");
    }
  }
  return list;
}

Result<EnvironmentPolicy>
parse_environment(const std::string& name, const json& v, const std::set<std::string>& keys) {
  std::string place = "environments." + name;
  if (!v.is_object()) {
    return at(place, "must be an object");
  }
  DG_TRY(only_fields(v, place,
                     {"after", "repositories", "require_gates", "max_findings",
                      "require_registry_parity", "require_complete_evidence", "require_platforms",
                      "require_signature", "require_provenance", "source_refs",
                      "stable_semver_only", "require_pinned_base_image", "max_evidence_age"}));
  EnvironmentPolicy env;
  env.name = name;
  for (const auto& [key, value] : v.items()) {
    std::string here = place + "." + key;
    if (key == "after") {
      DG_ASSIGN(env.after, string_list(value, here));
    } else if (key == "repositories") {
      DG_ASSIGN(env.repositories, glob_list(value, here));
    } else if (key == "require_gates") {
      DG_ASSIGN(env.require_gates, string_list(value, here));
    } else if (key == "max_findings") {
      if (!value.is_object()) {
        return at(here, "must be an object of severity: maximum");
      }
      for (const auto& [severity, max] : value.items()) {
        if (!max.is_number_integer() || max.get<std::int64_t>() < 0) {
          return at(here + "." + severity, "must be a non-negative integer");
        }
        env.max_findings[severity] = max.get<std::int64_t>();
      }
    } else if (key == "require_registry_parity") {
      DG_ASSIGN(env.require_registry_parity, boolean(value, here));
    } else if (key == "require_complete_evidence") {
      DG_ASSIGN(env.require_complete_evidence, boolean(value, here));
    } else if (key == "require_platforms") {
      DG_ASSIGN(env.require_platforms, string_list(value, here));
    } else if (key == "require_signature") {
      if (!value.is_object()) {
        return at(here, "must be an object");
      }
      DG_TRY(only_fields(value, here, {"keys"}));
      if (!value.contains("keys")) {
        return at(here + ".keys", "is required");
      }
      SignatureRequirement req;
      DG_ASSIGN(req.keys, key_names(value["keys"], here + ".keys", keys));
      if (req.keys.empty()) {
        return at(here + ".keys", "must name at least one trusted key");
      }
      env.require_signature = std::move(req);
    } else if (key == "require_provenance") {
      if (!value.is_object()) {
        return at(here, "must be an object");
      }
      DG_TRY(only_fields(value, here, {"keys", "builder_ids", "source_repositories"}));
      if (!value.contains("keys")) {
        return at(here + ".keys", "is required");
      }
      ProvenanceRequirement req;
      DG_ASSIGN(req.keys, key_names(value["keys"], here + ".keys", keys));
      if (req.keys.empty()) {
        return at(here + ".keys", "must name at least one trusted key");
      }
      if (value.contains("builder_ids")) {
        DG_ASSIGN(req.builder_ids, glob_list(value["builder_ids"], here + ".builder_ids"));
      }
      if (value.contains("source_repositories")) {
        DG_ASSIGN(req.source_repositories,
                  glob_list(value["source_repositories"], here + ".source_repositories"));
      }
      env.require_provenance = std::move(req);
    } else if (key == "source_refs") {
      DG_ASSIGN(env.source_refs, glob_list(value, here));
    } else if (key == "stable_semver_only") {
      DG_ASSIGN(env.stable_semver_only, boolean(value, here));
    } else if (key == "require_pinned_base_image") {
      DG_ASSIGN(env.require_pinned_base_image, boolean(value, here));
    } else if (key == "max_evidence_age") {
      if (!value.is_string()) {
        return at(here, "must be a duration such as \"168h\"");
      }
      auto d = parse_duration_ns(value.get<std::string>());
      if (!d) {
        return at(here, d.error().message);
      }
      env.max_evidence_age_ns = *d;
    }
  }
  return env;
}

} // namespace

Result<Policy> parse_policy(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    return make_error(Errc::invalid_argument, "policy: not valid JSON");
  }
  if (!doc.is_object()) {
    return make_error(Errc::invalid_argument, "policy: must be a JSON object");
  }
  DG_TRY(only_fields(doc, "", {"trusted_keys", "environments"}));
  Policy policy;
  policy.sha256 = to_hex(sha256(text));
  std::set<std::string> key_set;
  if (doc.contains("trusted_keys")) {
    const json& keys = doc["trusted_keys"];
    if (!keys.is_object()) {
      return at("trusted_keys", "must be an object of name: {\"public_key_pem\": ...}");
    }
    for (const auto& [name, value] : keys.items()) {
      std::string place = "trusted_keys." + name;
      if (!value.is_object()) {
        return at(place, "must be an object");
      }
      DG_TRY(only_fields(value, place, {"public_key_pem"}));
      if (!value.contains("public_key_pem") || !value["public_key_pem"].is_string()) {
        return at(place + ".public_key_pem", "is required (a PEM public key)");
      }
      auto key = PublicKey::from_pem(value["public_key_pem"].get<std::string>());
      if (!key) {
        return at(place + ".public_key_pem", key.error().message);
      }
      policy.trusted_keys.push_back(
          TrustedKey{name, std::make_shared<const PublicKey>(std::move(*key))});
      key_set.insert(name);
    }
  }
  if (!doc.contains("environments") || !doc["environments"].is_object() ||
      doc["environments"].empty()) {
    return at("environments", "must be an object with at least one environment");
  }
  for (const auto& [name, value] : doc["environments"].items()) {
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos) {
      return at("environments." + name,
                "an environment name is 1-64 characters of a-z, 0-9, '-', '_' and '.'");
    }
    auto env = parse_environment(name, value, key_set);
    if (!env) {
      return env.error();
    }
    policy.environments.emplace(name, std::move(*env));
  }
  for (const auto& [name, env] : policy.environments) {
    for (std::size_t i = 0; i < env.after.size(); ++i) {
      if (!policy.environments.count(env.after[i]) || env.after[i] == name) {
        return at("environments." + name + ".after[" + std::to_string(i) + "]",
                  "'" + env.after[i] + "' is not another environment of this policy");
      }
    }
  }
  // `after` must not loop: an environment that (transitively) comes after itself could never be
  // promoted to. A depth-first walk over the `after` lists, iterative and linear in the size of
  // the policy: a proposed policy comes from a request (POST /v1/policy/what-if), so neither its
  // size nor the length of its stage chains is trusted.
  enum class Mark { unvisited, on_path, done };
  std::map<std::string, Mark> marks;
  for (const auto& entry : policy.environments) {
    if (marks[entry.first] != Mark::unvisited) {
      continue;
    }
    marks[entry.first] = Mark::on_path;
    // Environments from `entry` to the current one, each with the next `after` entry to follow.
    std::vector<std::pair<const EnvironmentPolicy*, std::size_t>> path{{&entry.second, 0}};
    while (!path.empty()) {
      const EnvironmentPolicy& env = *path.back().first;
      std::size_t next = path.back().second++;
      if (next == env.after.size()) {
        marks[env.name] = Mark::done;
        path.pop_back();
        continue;
      }
      const std::string& earlier = env.after[next];
      Mark& mark = marks[earlier];
      if (mark == Mark::on_path) {
        std::string cycle;
        bool in_cycle = false;
        for (const auto& step : path) {
          in_cycle = in_cycle || step.first->name == earlier;
          if (in_cycle) {
            cycle += step.first->name + " -> ";
          }
        }
        return at("environments." + earlier + ".after",
                  "the stage order loops: " + cycle + earlier);
      }
      if (mark == Mark::unvisited) {
        mark = Mark::on_path;
        path.emplace_back(&policy.environments.at(earlier), 0);
      }
    }
  }
  policy.document = std::move(doc);
  return policy;
}

} // namespace dg::policy
