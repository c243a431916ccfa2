// record, promote, report: what CI and deploy tooling send.
#include "cli/commands.hpp"
#include "cli/decision.hpp"
#include "cli/verbs.hpp"
#include "policy/reference.hpp"
#include "util/files.hpp"

#include <istream>
#include <iterator>
#include <ostream>

namespace dg::cli {

namespace {

// The evidence text of --evidence FILE, or of standard input for "-", checked to be a JSON object.
Result<std::string> read_evidence(Context& c, const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(c.in), std::istreambuf_iterator<char>());
    if (c.in.bad()) {
      return make_error(Errc::invalid_argument, "cannot read evidence from standard input");
    }
  } else {
    auto content = read_file(path);
    if (!content) {
      return make_error(Errc::invalid_argument,
                        "cannot read the evidence: " + content.error().message);
    }
    text = std::move(*content);
  }
  const std::string source = path == "-" ? "standard input" : "'" + path + "'";
  try {
    if (!json::parse(text).is_object()) {
      return make_error(Errc::invalid_argument, "evidence in " + source + " is not a JSON object");
    }
  } catch (const json::parse_error& e) {
    return make_error(Errc::invalid_argument,
                      "evidence in " + source + " is not JSON: " + e.what());
  }
  return text;
}

int cmd_record(Context& c, const Args& args) {
  auto text = read_evidence(c, args.value("--evidence"));
  if (!text) {
    return usage_error(c, text.error().message);
  }
  return post_text(c, "/v1/validations", *text, print_record);
}

// Check the --service flags against the references before anything is ledgered. A reference that
// does not parse is left to the daemon to refuse.
Result<void> check_services(const ComposeRequest& compose, const std::vector<std::string>& refs) {
  if (compose.services.empty()) {
    return {};
  }
  std::vector<Pinned> expected;
  for (const auto& ref : refs) {
    auto parsed = policy::parse_reference(ref);
    if (!parsed) {
      return {};
    }
    expected.push_back(Pinned{parsed->name(), parsed->name()});
  }
  auto pins = resolve_services(compose.services, expected);
  if (!pins) {
    return pins.error();
  }
  return {};
}

int cmd_promote(Context& c, const Args& args) {
  const std::vector<std::string> refs = args.values("--ref");
  auto compose = compose_request(args);
  if (!compose) {
    return usage_error(c, compose.error().message);
  }
  if (auto checked = check_services(*compose, refs); !checked) {
    return usage_error(c, checked.error().message);
  }
  json request = json::object();
  if (refs.size() == 1) {
    request["reference"] = refs.front();
  } else {
    request["references"] = refs;
  }
  request["environment"] = args.value("--env");
  request["dry_run"] = args.has("--dry-run");
  if (args.has("--deploy-commit")) {
    request["deploy_commit"] = args.value("--deploy-commit");
  }
  if (args.has("--break-glass")) {
    request["break_glass"] = json{{"reason", args.value("--break-glass")}};
  }
  auto reply = send(c, "POST", "/v1/promotions", request.dump());
  if (!reply) {
    return report_transport(c, reply.error());
  }
  return decide(c, *reply, request, *compose, false, refs.size() > 1);
}

int cmd_report(Context& c, const Args& args) {
  const std::string status = args.value("--status");
  if (status != "succeeded" && status != "failed") {
    return usage_error(c, "--status must be succeeded or failed, not '" + status + "'");
  }
  json request = {{"digest", args.value("--digest")}, {"status", status}};
  if (args.has("--running-digest")) {
    request["running_digest"] = args.value("--running-digest");
  }
  const std::string environment = args.value("--env");
  auto reply = send(c, "POST", "/v1/environments/" + path_segment(environment) + "/deployments",
                    request.dump());
  if (!reply) {
    return report_transport(c, reply.error());
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    json shown = request;
    shown["environment"] = environment;
    print_deployment(c.out, with_defaults(reply->body, shown));
  }
  return k_exit_ok;
}

} // namespace

std::vector<VerbSpec> promotion_verbs() {
  return {
      {.name = "record",
       .summary = "Record a digest's evidence (POST /v1/validations)",
       .description =
           "Sends an evidence record (JSON: subject, source, build, mirrors, gates, signatures,\n"
           "attestations) about one image digest. The daemon computes its own checks and answers\n"
           "them; whether the evidence is enough is judged at promotion time.\n",
       .flags = {{"--evidence", "FILE", "the evidence record (JSON); - reads standard input",
                  true}},
       .handler = cmd_record},
      {.name = "promote",
       .summary = "Ask to promote references to an environment (POST /v1/promotions)",
       .description =
           "Each --ref must pin a digest (name@sha256:...); several --ref make a bundle, approved\n"
           "all or nothing. On approval prints the decision, then each pinned reference alone on\n"
           "its line (`| tail -1` gives the pinned reference of a single --ref): deploy exactly\n"
           "that. On refusal prints every reason and exits 1. A dry run is judged, not ledgered.\n"
           "\n"
           "With --compose-override FILE, an approval (never a refusal or a dry run) writes a\n"
           "compose override pinning each --service's image to its approved digest. With one\n"
           "--ref, give --service NAME; with several, --service NAME=REPOSITORY for each service.\n"
           "If the override cannot be written after an approval, the exit code is 2.\n",
       .flags = {{"--env", "ENV", "the environment to promote to", true},
                 {"--ref", "REF", "a reference pinned by digest", true, true},
                 {"--dry-run", "", "judge without ledgering or writing anything"},
                 {"--deploy-commit", "SHA", "the deployment repository's commit, for the record"},
                 {"--break-glass", "REASON", "approve despite failing reasons (operator role)"},
                 {"--compose-override", "FILE", "on approval, write a compose override here"},
                 {"--service", "NAME[=REPOSITORY]", "a compose service to pin", false, true}},
       .handler = cmd_promote},
      {.name = "report",
       .summary = "Report a deployment's outcome",
       .description =
           "Tells the daemon whether deploying a digest to an environment succeeded. A running\n"
           "digest that differs from the approved one is recorded as drift.\n",
       .flags = {{"--env", "ENV", "the environment deployed to", true},
                 {"--digest", "DIGEST", "the approved digest that was deployed", true},
                 {"--status", "succeeded|failed", "the outcome", true},
                 {"--running-digest", "DIGEST", "the digest actually running"}},
       .handler = cmd_report},
  };
}

} // namespace dg::cli
