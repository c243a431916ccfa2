// sigstore verify: offline verification of a Sigstore bundle against a pinned trust root.
#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/glob.hpp"
#include "policy/sigstore.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace dg::cli {

namespace {

namespace ss = dg::policy::sigstore;
using json = nlohmann::json;

std::string time_text(ss::Seconds t) {
  return format_rfc3339(static_cast<TimeNs>(t) * 1'000'000'000);
}

json identity_json(const ss::CertificateIdentity& id) {
  json out = {{"subject", id.subject}, {"issuer", id.issuer}};
  const std::pair<const char*, const std::string*> extra[] = {
      {"github_workflow_trigger", &id.github_workflow_trigger},
      {"github_workflow_sha", &id.github_workflow_sha},
      {"github_workflow_name", &id.github_workflow_name},
      {"github_workflow_repository", &id.github_workflow_repository},
      {"github_workflow_ref", &id.github_workflow_ref},
      {"build_signer_uri", &id.build_signer_uri},
      {"source_repository_uri", &id.source_repository_uri},
      {"source_repository_digest", &id.source_repository_digest},
      {"source_repository_ref", &id.source_repository_ref},
      {"run_invocation_uri", &id.run_invocation_uri}};
  for (const auto& [name, value] : extra) {
    if (!value->empty()) {
      out[name] = *value;
    }
  }
  return out;
}

json result_json(const ss::Verification& v, const std::string& error, const std::string& check) {
  json out = {{"verified", error.empty()}, {"identity", identity_json(v.identity)}};
  out["log_index"] = v.log_index ? json(*v.log_index) : json(nullptr);
  out["integrated_time"] = v.integrated_time ? json(time_text(*v.integrated_time)) : json(nullptr);
  json times = json::array();
  for (ss::Seconds t : v.signing_times) {
    times.push_back(time_text(t));
  }
  out["signing_times"] = times;
  if (!error.empty()) {
    out["check"] = check;
    out["error"] = error;
  }
  return out;
}

// The artifact named by --digest or --payload.
Result<ss::Artifact> read_artifact(const Args& args) {
  if (args.has("--digest")) {
    auto parsed = ss::artifact_from_digest(args.value("--digest"));
    if (!parsed) {
      return make_error(Errc::invalid_argument, "--digest: " + parsed.error().message);
    }
    return parsed;
  }
  auto bytes = read_file(args.value("--payload"));
  if (!bytes) {
    return make_error(Errc::invalid_argument, "--payload: " + bytes.error().message);
  }
  ss::Artifact artifact;
  artifact.bytes = std::move(*bytes);
  return artifact;
}

// What the verification found: the check that failed ("" when verified) and why.
struct Outcome {
  ss::Verification v;
  std::string check;
  std::string error;
};

Outcome judge(const std::string& bundle_text,
              const ss::TrustedRoot& root,
              const ss::Artifact& artifact,
              const Args& args) {
  Outcome o;
  auto bundle = ss::parse_bundle_text(bundle_text);
  if (!bundle) {
    o.check = "bundle";
    o.error = bundle.error().message;
    return o;
  }
  o.v = ss::verify_bundle(*bundle, root, artifact);
  if (!o.v.verified) {
    o.check = ss::to_string(o.v.failed);
    o.error = o.v.error;
  } else if (args.has("--issuer") &&
             !ss::identity_matches({"", args.value("--issuer"), args.value("--subject")},
                                   o.v.identity)) {
    o.check = "identity";
    o.error = "the certificate's identity " + o.v.identity.subject + " (issuer " +
              o.v.identity.issuer + ") is not " + args.value("--subject") + " (issuer " +
              args.value("--issuer") + ")";
  }
  return o;
}

void print_outcome(std::ostream& out, const Outcome& o) {
  const ss::Verification& v = o.v;
  if (o.error.empty()) {
    out << "verified: " << v.identity.subject << " (issuer " << v.identity.issuer << ")\n";
  } else {
    out << "NOT verified (" << o.check << "): " << o.error << '\n';
    if (!v.identity.subject.empty() || !v.identity.issuer.empty()) {
      out << "identity found: " << v.identity.subject << " (issuer " << v.identity.issuer << ")\n";
    }
  }
  if (v.log_index) {
    out << "log index: " << *v.log_index << '\n';
  }
  if (v.integrated_time) {
    out << "integrated time: " << time_text(*v.integrated_time) << '\n';
  }
}

int cmd_sigstore_verify(Context& c, const Args& args) {
  if (args.has("--digest") == args.has("--payload")) {
    return usage_error(c, "give exactly one of --digest and --payload");
  }
  if (args.has("--issuer") != args.has("--subject")) {
    return usage_error(c, "--issuer and --subject go together");
  }
  if (args.has("--subject")) {
    if (auto ok = policy::validate_glob(args.value("--subject")); !ok) {
      return usage_error(c, "--subject: " + ok.error().message);
    }
  }
  auto artifact = read_artifact(args);
  if (!artifact) {
    return usage_error(c, artifact.error().message);
  }
  auto root_text = read_file(args.value("--trusted-root"));
  if (!root_text) {
    return usage_error(c, "--trusted-root: " + root_text.error().message);
  }
  auto bundle_text = read_file(args.value("--bundle"));
  if (!bundle_text) {
    return usage_error(c, "--bundle: " + bundle_text.error().message);
  }
  auto root = ss::parse_trusted_root(*root_text);
  if (!root) {
    c.err << "digestgate: the trusted root does not load: " << root.error().message << '\n';
    if (c.json) {
      c.out << json{{"verified", false}, {"check", "trusted-root"}, {"error", root.error().message}}
                   .dump(2)
            << '\n';
    }
    return k_exit_refused;
  }
  const Outcome o = judge(*bundle_text, *root, *artifact, args);
  if (c.json) {
    c.out << result_json(o.v, o.error, o.check).dump(2) << '\n';
  } else {
    print_outcome(c.out, o);
  }
  return o.error.empty() ? k_exit_ok : k_exit_refused;
}

} // namespace

std::vector<VerbSpec> sigstore_verbs() {
  return {
      {.name = "sigstore verify",
       .summary = "Verify a Sigstore bundle offline against a trust root",
       .description =
           "Checks the bundle's certificate chain at the signing time, its signed entry\n"
           "timestamps, RFC 3161 timestamps, transparency-log inclusion proofs and checkpoints,\n"
           "log entry bodies, embedded SCTs and signature, all against --trusted-root (a\n"
           "Sigstore trusted_root.json), with no network access. --payload is the signed\n"
           "artifact (for a DSSE bundle, a file whose SHA-256 must be among the statement's\n"
           "subjects); --digest names it by digest instead. With --issuer and --subject the\n"
           "certificate's OIDC issuer must equal ISSUER and its SAN match the glob. Prints\n"
           "the identity found. Exits 0 if verified, 1 if not, 2 for a usage error.\n",
       .flags = {{"--bundle", "FILE", "the Sigstore bundle (JSON)", true},
                 {"--trusted-root", "FILE", "the trusted_root.json to verify against", true},
                 {"--digest", "ALG:HEX", "the artifact's digest (sha256, sha384, sha512)"},
                 {"--payload", "FILE", "the artifact itself"},
                 {"--issuer", "ISSUER", "the OIDC issuer the certificate must name"},
                 {"--subject", "GLOB", "a glob the certificate's SAN must match"}},
       .handler = cmd_sigstore_verify}};
}

} // namespace dg::cli
