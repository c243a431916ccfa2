// rollback, revoke: what operators do when a digest turns out bad.
#include "cli/commands.hpp"
#include "cli/decision.hpp"
#include "cli/verbs.hpp"
#include "policy/reference.hpp"

namespace dg::cli {

namespace {

// One repository is rolled back: check the --service flags against what can be known before
// anything is ledgered.
Result<void> check_services(const ComposeRequest& compose, const Args& args) {
  if (compose.services.empty()) {
    return {};
  }
  std::vector<Pinned> expected;
  if (args.has("--repository")) {
    if (auto repository = policy::normalize_repository(args.value("--repository"))) {
      expected.push_back(Pinned{*repository, *repository});
    }
  }
  if (expected.empty()) {
    for (const auto& service : compose.services) {
      if (!service.repository.empty()) {
        expected.push_back(Pinned{service.repository, service.repository});
        break;
      }
    }
  }
  if (expected.empty()) {
    expected.push_back(Pinned{"(the rolled back repository)", ""});
  }
  auto pins = resolve_services(compose.services, expected);
  if (!pins) {
    return pins.error();
  }
  return {};
}

int cmd_rollback(Context& c, const Args& args) {
  auto compose = compose_request(args);
  if (!compose) {
    return usage_error(c, compose.error().message);
  }
  if (auto checked = check_services(*compose, args); !checked) {
    return usage_error(c, checked.error().message);
  }
  json request = {{"reason", args.value("--reason")}};
  for (const char* flag : {"repository", "to"}) {
    if (args.has(std::string("--") + flag)) {
      request[flag] = args.value(std::string("--") + flag);
    }
  }
  if (args.has("--break-glass")) {
    request["break_glass"] = json{{"reason", args.value("--break-glass")}};
  }
  const std::string environment = args.value("--env");
  auto reply = send(c, "POST", "/v1/environments/" + path_segment(environment) + "/rollback",
                    request.dump());
  if (!reply) {
    return report_transport(c, reply.error());
  }
  json shown_request = request;
  shown_request["environment"] = environment;
  return decide(c, *reply, shown_request, *compose, true, false);
}

int cmd_revoke(Context& c, const Args& args) {
  const json request = {{"digest", args.value("--digest")}, {"reason", args.value("--reason")}};
  return post(c, "/v1/revocations", request, print_revocation);
}

} // namespace

std::vector<VerbSpec> rollback_verbs() {
  return {
      {.name = "rollback",
       .summary = "Roll an environment back to its last known-good digest",
       .description =
           "Without --to, the target is the newest digest before the current one that was\n"
           "approved there, is not revoked, was never rolled back from and (once deployments are\n"
           "reported) deployed successfully without drift. The target is gated again; a refusal\n"
           "lists its reasons. On success prints the reference rolled back to alone on the last\n"
           "line, and --compose-override FILE --service NAME writes the override for it.\n",
       .flags = {{"--env", "ENV", "the environment", true},
                 {"--repository", "NAME", "the repository (when the environment holds several)"},
                 {"--reason", "TEXT", "why, for the record", true},
                 {"--to", "DIGEST", "roll back to this digest instead of the last known-good"},
                 {"--break-glass", "REASON", "roll back even if the target fails its gates"},
                 {"--compose-override", "FILE", "on success, write a compose override here"},
                 {"--service", "NAME[=REPOSITORY]", "a compose service to pin", false, true}},
       .handler = cmd_rollback},
      {.name = "revoke",
       .summary = "Revoke a digest everywhere",
       .description =
           "A revoked digest is refused from then on and skipped by rollback. Prints where it is\n"
           "still current and what each place would roll back to.\n",
       .flags = {{"--digest", "DIGEST", "the digest to revoke", true},
                 {"--reason", "TEXT", "why, for the record", true}},
       .handler = cmd_revoke},
  };
}

} // namespace dg::cli
