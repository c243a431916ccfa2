#include "policy/policy.hpp"

#include "policy/glob.hpp"
#include "util/crypto.hpp"
#include "util/fields.hpp"
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

// A list of non-empty strings, or nullopt when absent.
Result<std::optional<std::vector<std::string>>> names(FieldReader& r, std::string_view key) {
  auto list = r.optional_strings(key);
  if (list && list->has_value()) {
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      if ((**list)[i].empty()) {
        return r.error(std::string(key) + "[" + std::to_string(i) + "]",
                       "must be a non-empty string");
      }
    }
  }
  return list;
}

// The list `key` into `target` when present.
Result<void> read_names(FieldReader& r, std::string_view key, std::vector<std::string>& target) {
  auto list = names(r, key);
  if (!list) {
    return list.error();
  }
  if (list->has_value()) {
    target = std::move(**list);
  }
  return {};
}

Result<void> read_globs(FieldReader& r, std::string_view key, std::vector<std::string>& target) {
  DG_TRY(read_names(r, key, target));
  for (std::size_t i = 0; i < target.size(); ++i) {
    auto ok = validate_glob(target[i]);
    if (!ok) {
      return r.error(std::string(key) + "[" + std::to_string(i) + "]", ok.error().message);
    }
  }
  return {};
}

Result<void> read_flag(FieldReader& r, std::string_view key, bool& target) {
  auto v = r.optional_boolean(key);
  if (!v) {
    return v.error();
  }
  target = v->value_or(target);
  return {};
}

// The required list of key names `keys` of `r`, unchecked.
Result<std::vector<std::string>> key_names(FieldReader& r) {
  if (!r.has("keys")) {
    return r.missing("keys");
  }
  std::vector<std::string> list;
  DG_TRY(read_names(r, "keys", list));
  return list;
}

// Each key name of `list` (the field `place` of `r`) in `known`, and at least one. Checked once the
// requirement's object has been read, so that an unknown field is named before a bad value.
Result<void> check_key_names(const FieldReader& r,
                             const std::string& place,
                             const std::vector<std::string>& list,
                             const std::set<std::string>& known) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!known.count(list[i])) {
      return r.error(place + "[" + std::to_string(i) + "]",
                     "unknown key '" + list[i] + "' (not in trusted_keys)");
    }
  }
  if (list.empty()) {
    return r.error(place, "must name at least one trusted key");
  }
  return {};
}

// The keyless identities `identities` of a requirement, each naming a trust root of `roots`.
Result<void> read_identities(FieldReader& r,
                             std::vector<sigstore::IdentityRule>& target,
                             const std::set<std::string>& roots) {
  auto present = r.optional_objects("identities", [&](FieldReader& i) -> Result<void> {
    sigstore::IdentityRule rule;
    DG_ASSIGN(rule.trusted_root, i.string("trusted_root"));
    DG_ASSIGN(rule.issuer, i.string("issuer"));
    DG_ASSIGN(rule.subject, i.string("subject"));
    if (!roots.count(rule.trusted_root)) {
      return i.error("trusted_root",
                     "unknown trust root '" + rule.trusted_root + "' (not in trusted_roots)");
    }
    if (rule.issuer.empty()) {
      return i.error("issuer", "must be a non-empty string");
    }
    if (auto ok = validate_glob(rule.subject); !ok) {
      return i.error("subject", ok.error().message);
    }
    target.push_back(std::move(rule));
    return {};
  });
  if (!present) {
    return present.error();
  }
  return {};
}

// The key names of a requirement: required unless it lists identities.
Result<void> read_keys(FieldReader& r, std::vector<std::string>& target, bool identities) {
  if (identities && !r.has("keys")) {
    return {};
  }
  DG_ASSIGN(target, key_names(r));
  return {};
}

Result<void> read_requirements(FieldReader& r,
                               EnvironmentPolicy& env,
                               const std::set<std::string>& keys,
                               const std::set<std::string>& roots) {
  DG_TRY(r.optional_object("require_signature", [&](FieldReader& s) -> Result<void> {
    SignatureRequirement req;
    DG_TRY(read_keys(s, req.keys, s.has("identities")));
    DG_TRY(read_identities(s, req.identities, roots));
    env.require_signature = std::move(req);
    return {};
  }));
  if (env.require_signature &&
      (env.require_signature->identities.empty() || !env.require_signature->keys.empty())) {
    DG_TRY(check_key_names(r, "require_signature.keys", env.require_signature->keys, keys));
  }
  DG_TRY(r.optional_object("require_provenance", [&](FieldReader& p) -> Result<void> {
    ProvenanceRequirement req;
    DG_TRY(read_keys(p, req.keys, p.has("identities")));
    DG_TRY(read_identities(p, req.identities, roots));
    DG_TRY(read_globs(p, "builder_ids", req.builder_ids));
    DG_TRY(read_globs(p, "source_repositories", req.source_repositories));
    env.require_provenance = std::move(req);
    return {};
  }));
  if (env.require_provenance &&
      (env.require_provenance->identities.empty() || !env.require_provenance->keys.empty())) {
    DG_TRY(check_key_names(r, "require_provenance.keys", env.require_provenance->keys, keys));
  }
  return {};
}

Result<void> read_environment(FieldReader& r,
                              EnvironmentPolicy& env,
                              const std::set<std::string>& keys,
                              const std::set<std::string>& roots) {
  DG_TRY(read_names(r, "after", env.after));
  DG_TRY(read_globs(r, "repositories", env.repositories));
  DG_TRY(read_names(r, "require_gates", env.require_gates));
  DG_TRY(r.optional_object("max_findings", [&](FieldReader& m) -> Result<void> {
    for (const auto& severity : m.keys()) {
      auto max = m.integer(severity);
      if (!max || *max < 0) {
        return m.error(severity, "must be a non-negative integer");
      }
      env.max_findings[severity] = *max;
    }
    return {};
  }));
  DG_TRY(read_flag(r, "require_registry_parity", env.require_registry_parity));
  DG_TRY(read_flag(r, "require_complete_evidence", env.require_complete_evidence));
  DG_TRY(read_names(r, "require_platforms", env.require_platforms));
  DG_TRY(read_requirements(r, env, keys, roots));
  DG_TRY(read_globs(r, "source_refs", env.source_refs));
  DG_TRY(read_flag(r, "stable_semver_only", env.stable_semver_only));
  DG_TRY(read_flag(r, "require_pinned_base_image", env.require_pinned_base_image));
  auto age = r.optional_string("max_evidence_age");
  if (!age) {
    return r.error("max_evidence_age", "must be a duration such as \"168h\"");
  }
  if (age->has_value()) {
    auto d = parse_duration_ns(**age);
    if (!d) {
      return r.error("max_evidence_age", d.error().message);
    }
    env.max_evidence_age_ns = *d;
  }
  DG_TRY(r.optional_object("require_observation", [&](FieldReader& o) -> Result<void> {
    auto max_age = o.optional_string("max_age");
    if (!max_age || !max_age->has_value()) {
      return o.error("max_age", "is required, a duration such as \"24h\"");
    }
    auto d = parse_duration_ns(**max_age);
    if (!d) {
      return o.error("max_age", d.error().message);
    }
    env.require_observation_max_age_ns = *d;
    return {};
  }));
  return {};
}

Result<void> read_trusted_keys(FieldReader& r, Policy& policy, std::set<std::string>& key_set) {
  return r.object("trusted_keys", [&](FieldReader& keys) -> Result<void> {
    for (const auto& name : keys.keys()) {
      DG_TRY(keys.object(name, [&](FieldReader& k) -> Result<void> {
        auto pem = k.optional_string("public_key_pem");
        if (!pem) {
          return pem.error();
        }
        if (!pem->has_value()) {
          return k.missing("public_key_pem", "a PEM public key");
        }
        auto key = PublicKey::from_pem(**pem);
        if (!key) {
          return k.error("public_key_pem", key.error().message);
        }
        policy.trusted_keys.push_back(
            TrustedKey{name, std::make_shared<const PublicKey>(std::move(*key))});
        key_set.insert(name);
        return {};
      }));
    }
    return {};
  });
}

Result<void> read_trusted_roots(FieldReader& r,
                                Policy& policy,
                                const TrustRootLoader& load,
                                std::set<std::string>& names) {
  return r.object("trusted_roots", [&](FieldReader& all) -> Result<void> {
    for (const auto& name : all.keys()) {
      DG_TRY(all.object(name, [&](FieldReader& t) -> Result<void> {
        std::string file;
        DG_ASSIGN(file, t.string("file"));
        if (!load) {
          return t.error("file", "trust root files cannot be read here");
        }
        auto text = load(file);
        if (!text) {
          return t.error("file", text.error().message);
        }
        auto root = sigstore::parse_trusted_root(*text);
        if (!root) {
          return t.error("file", file + ": " + root.error().message);
        }
        policy.trusted_roots.emplace(name, std::make_shared<const SigstoreTrust>(
                                               name, std::move(*root), to_hex(sha256(*text))));
        names.insert(name);
        return {};
      }));
    }
    return {};
  });
}

Result<void> read_environments(FieldReader& r,
                               Policy& policy,
                               const std::set<std::string>& keys,
                               const std::set<std::string>& roots) {
  if (!r.has("environments")) {
    return r.missing("environments", "an object with at least one environment");
  }
  const nlohmann::json* envs = r.raw("environments");
  if (!envs || !envs->is_object() || envs->empty()) {
    return r.error("environments", "must be an object with at least one environment");
  }
  return FieldReader::read(*envs, "environments", [&](FieldReader& all) -> Result<void> {
    for (const auto& name : all.keys()) {
      if (name.empty() || name.size() > 64 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos) {
        return all.error(name,
                         "an environment name is 1-64 characters of a-z, 0-9, '-', '_' and '.'");
      }
      EnvironmentPolicy env;
      env.name = name;
      DG_TRY(
          all.object(name, [&](FieldReader& e) { return read_environment(e, env, keys, roots); }));
      policy.environments.emplace(name, std::move(env));
    }
    return {};
  });
}

} // namespace

Result<Policy> parse_policy(std::string_view text, const TrustRootLoader& load) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    return make_error(Errc::invalid_argument, "policy: not valid JSON");
  }
  if (!doc.is_object()) {
    return make_error(Errc::invalid_argument, "policy: must be a JSON object");
  }
  Policy policy;
  policy.sha256 = to_hex(sha256(text));
  DG_TRY(FieldReader::read(doc, "", [&](FieldReader& r) -> Result<void> {
    std::set<std::string> key_set;
    if (r.has("trusted_keys")) {
      DG_TRY(read_trusted_keys(r, policy, key_set));
    }
    std::set<std::string> root_set;
    if (r.has("trusted_roots")) {
      DG_TRY(read_trusted_roots(r, policy, load, root_set));
    }
    return read_environments(r, policy, key_set, root_set);
  }));
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
