// status, envs, env: what is known about a digest and an environment.
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/reference.hpp"

namespace dg::cli {

namespace {

int cmd_status(Context& c, const Args& args) {
  std::string digest = args.positionals().front();
  // Accept a pinned reference too: the digest decides.
  if (digest.find('@') != std::string::npos) {
    if (auto reference = policy::parse_reference(digest); reference && !reference->digest.empty()) {
      digest = reference->digest;
    }
  }
  return show(c, "/v1/digests/" + path_segment(digest), print_digest_status);
}

int cmd_envs(Context& c, const Args&) {
  return show(c, "/v1/environments", print_environments);
}

int cmd_env(Context& c, const Args& args) {
  return show(c, "/v1/environments/" + path_segment(args.positionals().front()), print_environment);
}

} // namespace

std::vector<VerbSpec> inspect_verbs() {
  return {
      {.name = "status",
       .positional = "DIGEST",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Show all that is known about a digest",
       .description =
           "Source, build, platforms, mirrors, the daemon's checks, the latest result of each\n"
           "gate, signatures and attestations, where the digest is current, and whether it is\n"
           "revoked. A reference pinned by digest (name@sha256:...) is accepted too.\n",
       .handler = cmd_status},
      {.name = "envs",
       .summary = "List environments and their current digests",
       .handler = cmd_envs},
      {.name = "env",
       .positional = "ENV",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Show an environment: current and last known-good digests, history",
       .handler = cmd_env},
  };
}

} // namespace dg::cli
