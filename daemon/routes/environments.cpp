// Environments: GET /v1/environments, GET /v1/environments/{env}, and the deployment reports of
// POST /v1/environments/{env}/deployments.
#include "daemon/core.hpp"
#include "daemon/log.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"
#include "policy/evidence.hpp"
#include "policy/reference.hpp"

#include <map>

namespace dg::daemon {

using nlohmann::json;

namespace {

// What the newest observation of `facts`' digest found: {"seq", "time", "ok", "problems"}, or
// null when it was never observed.
json observed_json(const policy::Facts* facts) {
  if (facts == nullptr || !facts->observation.is_object()) {
    return nullptr;
  }
  const json& newest = facts->observation;
  const auto findings = policy::judge_observation(*facts, newest["body"]);
  return json{{"seq", newest["seq"]},
              {"time", newest["time"]},
              {"ok", findings.ok()},
              {"problems", findings.problems()}};
}

// {"current", "last_known_good", "observed"?} of the slot `s`: `observed` only once its digest was
// observed, so that a daemon without registries answers the contract's shape exactly.
json repository_json(Core& core, ledger::View& view, const ledger::Slot& s) {
  const auto cached = core.facts_cache.get(view, s.digest);
  json out{{"current", slot_json(s.repository, s.digest, s.seq, s.time)},
           {"last_known_good", lkg_json(last_known_good(view, s.environment, s.repository))}};
  if (json observed = observed_json(cached ? cached->facts().get() : nullptr);
      !observed.is_null()) {
    out["observed"] = std::move(observed);
  }
  return out;
}

// The environment's "observed": its repositories' newest observations together, or null (left
// out) when none of its current digests was observed: the newest seq and time, ok only when every
// one is, and every problem.
json environment_observed(const json& repositories) {
  json out = nullptr;
  for (const auto& [name, repo] : repositories.items()) {
    if (!repo.contains("observed")) {
      continue;
    }
    const json& observed = repo["observed"];
    if (out.is_null()) {
      out = json{{"seq", observed["seq"]},
                 {"time", observed["time"]},
                 {"ok", true},
                 {"problems", json::array()}};
    }
    if (observed["seq"].get<std::int64_t>() > out["seq"].get<std::int64_t>()) {
      out["seq"] = observed["seq"];
      out["time"] = observed["time"];
    }
    out["ok"] = out["ok"].get<bool>() && observed["ok"].get<bool>();
    for (const json& problem : observed["problems"]) {
      out["problems"].push_back(problem);
    }
  }
  return out;
}

// The `limit` and `repository` query parameters of GET /v1/environments/{env}; answers 400 and
// returns false when one is bad.
bool history_query(const Ctx& ctx, std::int64_t& limit, std::string& repository) {
  if (!ctx->param("limit").empty()) {
    auto v = to_int(ctx->param("limit"));
    if (!v || *v < 1 || *v > 1000) {
      ctx->error(400, "bad-request", "limit must be an integer from 1 to 1000");
      return false;
    }
    limit = *v;
  }
  repository = ctx->param("repository");
  if (!repository.empty()) {
    auto normalized = policy::normalize_repository(repository);
    if (!normalized) {
      ctx->error(400, "bad-request", "repository: " + normalized.error().message);
      return false;
    }
    repository = *normalized;
  }
  return true;
}

} // namespace

void get_environments(Core& core, const Ctx& ctx) {
  auto pol = core.policy();
  std::map<std::string, json> envs;
  if (pol) {
    for (const auto& [name, e] : pol->environments) {
      envs[name] = json::object();
    }
  }
  bool read = core.read(ctx, [&](ledger::View& view) {
    for (const auto& name : view.environments()) {
      envs.try_emplace(name, json::object());
    }
    for (const auto& s : view.slots("")) {
      envs[s.environment][s.repository] = repository_json(core, view, s);
    }
  });
  if (!read) {
    return;
  }
  json list = json::array();
  for (auto& [name, repos] : envs) {
    list.push_back(json{{"name", name},
                        {"in_policy", pol && pol->environment(name) != nullptr},
                        {"repositories", repos}});
  }
  ctx->reply(200, json{{"environments", list}});
}

void get_environment(Core& core, const Ctx& ctx) {
  const std::string& env = ctx->arg("env");
  std::int64_t limit = 50;
  std::string repository;
  if (!history_query(ctx, limit, repository)) {
    return;
  }
  auto pol = core.policy();
  json repos = json::object();
  json history = json::array();
  bool known = pol && pol->environment(env) != nullptr;
  bool read = core.read(ctx, [&](ledger::View& view) {
    for (const auto& s : view.slots(env)) {
      if (repository.empty() || s.repository == repository) {
        repos[s.repository] = repository_json(core, view, s);
      }
    }
    for (const auto& e : view.environment_history(env, repository, limit)) {
      history.push_back(entry_json(e));
    }
  });
  if (!read) {
    return;
  }
  if (!known && history.empty()) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy or the ledger");
    return;
  }
  json answer{{"name", env}, {"repositories", repos}, {"history", history}};
  if (json observed = environment_observed(repos); !observed.is_null()) {
    answer["observed"] = std::move(observed);
  }
  ctx->reply(200, answer);
}

void post_deployment(Core& core, const Ctx& ctx) {
  auto req = Core::read_body(ctx, read_deployment_request);
  if (!req) {
    return;
  }
  const std::string env = ctx->arg("env");
  auto pol = core.policy();
  if (!pol || pol->environment(env) == nullptr) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy");
    return;
  }
  struct Outcome {
    std::string repository;
    bool drift = false;
    bool current = false;
  };
  auto out = std::make_shared<Outcome>();
  std::string actor = ctx->principal->name;
  DeploymentRequest r = *req;
  auto step = [r, env, out, actor](ledger::View& view) -> std::optional<ledger::Draft> {
    auto repository = view.digest_repository(r.digest);
    if (!repository) {
      return std::nullopt;
    }
    out->repository = *repository;
    out->drift = !r.running_digest.empty() && r.running_digest != r.digest;
    for (const auto& s : view.slots(env)) {
      out->current = out->current || (s.repository == *repository && s.digest == r.digest);
    }
    json body{{"environment", env}, {"repository", *repository}, {"digest", r.digest},
              {"status", r.status}, {"drift", out->drift},       {"current", out->current}};
    body["running_digest"] = r.running_digest.empty() ? json(nullptr) : json(r.running_digest);
    return ledger::Draft{ledger::k_deployment, actor, std::move(body)};
  };
  auto committed = [ctx, r, env, out](const ledger::Committed& c) {
    if (out->drift) {
      log("warn", "deployment drift",
          {{"environment", env}, {"digest", r.digest}, {"running_digest", r.running_digest}});
    }
    json running = r.running_digest.empty() ? json(nullptr) : json(r.running_digest);
    ctx->reply(201, json{{"seq", c.entry.seq},
                         {"environment", env},
                         {"repository", out->repository},
                         {"digest", r.digest},
                         {"status", r.status},
                         {"running_digest", running},
                         {"drift", out->drift},
                         {"current", out->current},
                         {"checkpoint", c.checkpoint}});
  };
  // A digest reported as deployed but never recorded.
  auto unknown = [ctx, r] { ctx->error(404, "not-found", r.digest + " has no recorded evidence"); };
  core.submit(ctx, step, committed, unknown);
}

} // namespace dg::daemon
