// policy check, policy what-if: a policy file judged offline, and against what is deployed.
#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/policy.hpp"
#include "util/files.hpp"

#include <ostream>

namespace dg::cli {

namespace {

int cmd_policy_check(Context& c, const Args& args) {
  const std::string& path = args.positionals().front();
  auto text = read_file(path);
  if (!text) {
    return usage_error(c, "cannot read the policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(
      *text, [&](const std::string& file) { return read_file_beside(path, file); });
  if (!parsed) {
    if (c.json) {
      c.out << json{{"valid", false}, {"error", parsed.error().message}}.dump(2) << '\n';
    } else {
      c.err << "invalid policy " << path << ": " << parsed.error().message << '\n';
    }
    return k_exit_refused;
  }
  json environments = json::array();
  for (const auto& [name, env] : parsed->environments) {
    environments.push_back(name);
  }
  if (c.json) {
    c.out << json{{"valid", true},
                  {"sha256", parsed->sha256},
                  {"environments", environments},
                  {"trusted_keys", parsed->trusted_keys.size()}}
                 .dump(2)
          << '\n';
  } else {
    c.out << "policy " << path << " is valid (sha256 " << parsed->sha256 << ")\n"
          << "environments: ";
    for (std::size_t i = 0; i < environments.size(); ++i) {
      c.out << (i ? ", " : "") << environments[i].get<std::string>();
    }
    c.out << "\ntrusted keys: " << parsed->trusted_keys.size() << '\n';
  }
  return k_exit_ok;
}

void print_what_if(std::ostream& out, const std::string& path, const json& body) {
  out << "proposed policy " << path << " (sha256 " << body.value("policy_sha256", "") << ")\n";
  std::int64_t refused = 0;
  for (const auto& r : body.value("results", json::array())) {
    const bool ok = r.value("decision", "") == "approved";
    refused += ok ? 0 : 1;
    out << (ok ? "  ok       " : "  REFUSED  ") << r.value("environment", "") << "  "
        << r.value("reference", "") << "  (" << r.value("role", "") << ", seq " << r.value("seq", 0)
        << ")\n";
    for (const auto& reason : r.value("reasons", json::array())) {
      out << "      - " << reason.value("code", "") << ": " << reason.value("message", "") << '\n';
    }
  }
  out << refused << " of " << body.value("evaluated", 0)
      << " current or recent digests would be refused\n";
}

int cmd_policy_what_if(Context& c, const Args& args) {
  const std::string& path = args.positionals().front();
  auto text = read_file(path);
  if (!text) {
    return usage_error(c, "cannot read the policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(
      *text, [&](const std::string& file) { return read_file_beside(path, file); });
  if (!parsed) {
    c.err << "invalid policy " << path << ": " << parsed.error().message << '\n';
    return k_exit_refused;
  }
  // The trust roots the policy names go with it, read here as the daemon reads them beside its
  // policy: the daemon judges the proposed policy under these, not under files of its own.
  json request = {{"policy", parsed->document}};
  if (parsed->document.contains("trusted_roots")) {
    json roots = json::object();
    for (const auto& root : parsed->document["trusted_roots"]) {
      const std::string file = root.at("file").get<std::string>();
      auto root_text = read_file_beside(path, file);
      if (!root_text) {
        return usage_error(c,
                           "cannot read the trust root " + file + ": " + root_text.error().message);
      }
      roots[file] = *root_text;
    }
    request["trusted_roots"] = roots;
  }
  auto reply = send(c, "POST", "/v1/policy/what-if", request.dump());
  if (!reply) {
    return report_transport(c, reply.error());
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print_what_if(c.out, path, reply->body);
  }
  return k_exit_ok;
}

} // namespace

std::vector<VerbSpec> policy_verbs() {
  return {
      {.name = "policy check",
       .positional = "FILE",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Validate a policy file offline",
       .description =
           "Parses the policy as the daemon does (unknown fields, unknown keys, bad globs and\n"
           "durations are errors naming their place). Exits 0 if valid, 1 if not.\n",
       .handler = cmd_policy_check},
      {.name = "policy what-if",
       .positional = "FILE",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Show which current and recent digests a proposed policy would refuse",
       .description =
           "Evaluates the proposed policy against each environment's current digests and its\n"
           "recent approvals (POST /v1/policy/what-if) without changing anything. The trust\n"
           "roots the policy names (trusted_roots) are read beside it and sent with it.\n",
       .handler = cmd_policy_what_if},
  };
}

} // namespace dg::cli
