// evidence init, gate, sign, show: an evidence record built in a working file from the tools' own
// outputs (intake/), ready for `digestgate record --evidence FILE`.
//
// Exit codes: 0 done; 1 a file's content cannot become evidence (a scan of a tag, another tool's
// report, a manifest of another image) or, for `show --env`, the evidence would fail the policy;
// 2 a usage error or a file that cannot be read; 3 and 4 as for every verb that asks the daemon.
#include "intake/ci_env.hpp"
#include "intake/manifest.hpp"
#include "intake/record.hpp"
#include "intake/reports.hpp"
#include "intake/signing.hpp"

#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "policy/reference.hpp"
#include "registry/client.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <cstdlib>
#include <filesystem>
#include <ostream>

namespace dg::cli {

namespace {

using intake::ReportKind;

std::string working_file(const Args& args) {
  if (args.has("--file")) {
    return args.value("--file");
  }
  const char* env = std::getenv("DIGESTGATE_EVIDENCE"); // NOLINT(concurrency-mt-unsafe)
  return env != nullptr && *env != '\0' ? std::string(env) : "digestgate-evidence.json";
}

// A content problem: the file was read, but cannot become evidence.
int refuse(Context& c, const std::string& message) {
  if (c.json) {
    c.out << json{{"error", "refused"}, {"message", message}}.dump(2) << '\n';
  } else {
    c.err << "digestgate: " << message << '\n';
  }
  return k_exit_refused;
}

Result<json> load_record(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::not_found, "cannot read the working file " + path + " (" +
                                           text.error().message +
                                           "): run `digestgate evidence init` first");
  }
  json record = json::parse(*text, nullptr, false);
  if (record.is_discarded() || !record.is_object()) {
    return make_error(Errc::invalid_argument, "the working file " + path + " is not a JSON object");
  }
  DG_TRY(intake::subject_reference(record));
  return record;
}

Result<void> save_record(const std::string& path, const json& record) {
  return write_file_atomic(path, record.dump(2) + "\n", 0644, false);
}

// Read the file a flag names; a read failure is a usage error.
Result<std::string> read_named(const Args& args, std::string_view flag) {
  std::string path = args.value(flag);
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::invalid_argument,
                      std::string(flag) + ": cannot read " + path + ": " + text.error().message);
  }
  return text;
}

// "K=V" -> {K, V}; fails without '='.
Result<std::pair<std::string, std::string>> key_value(const std::string& text,
                                                      std::string_view flag) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return make_error(Errc::invalid_argument,
                      std::string(flag) + " needs KEY=VALUE, not '" + text + "'");
  }
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

// --- evidence init --------------------------------------------------------------------------

Result<intake::ImageManifest> manifest_from(const std::string& bytes, const std::string& what) {
  auto manifest = intake::read_manifest(bytes);
  if (!manifest) {
    return make_error(Errc::conflict, what + ": " + manifest.error().message);
  }
  return manifest;
}

// A registry client for the hosts of --image and --mirror: endpoints from --registry
// HOST=ENDPOINT (default https://HOST), CAs from --registry-ca FILE, credentials from
// DIGESTGATE_REGISTRY_USERNAME / DIGESTGATE_REGISTRY_PASSWORD (never flags: they would show in
// the process list).
Result<registry::ClientOptions> registry_options(const Args& args) {
  registry::ClientOptions options;
  auto getenv = intake::process_environment();
  std::vector<std::string> names = {args.value("--image")};
  for (const auto& spec : args.values("--mirror")) {
    names.push_back(spec.substr(0, spec.find('=')));
  }
  for (const auto& name : names) {
    if (auto ref = policy::parse_reference(name)) {
      registry::RegistrySettings& settings = options.registries[ref->domain];
      settings.ca_file = args.value("--registry-ca");
      settings.username = getenv("DIGESTGATE_REGISTRY_USERNAME").value_or("");
      settings.password = getenv("DIGESTGATE_REGISTRY_PASSWORD").value_or("");
    }
  }
  for (const auto& spec : args.values("--registry")) {
    auto kv = key_value(spec, "--registry");
    if (!kv) {
      return kv.error();
    }
    if (!options.registries.count(kv->first)) {
      return make_error(Errc::invalid_argument,
                        "--registry " + kv->first + ": no --image or --mirror is on that host");
    }
    options.registries[kv->first].endpoint = kv->second;
  }
  return options;
}

// The raw manifest of `digest` in `repository` ("host/path"), from its registry. Errc::unavailable
// when the registry cannot be asked, Errc::conflict when it does not hold the digest.
Result<intake::ImageManifest>
fetch_manifest(registry::Client& client, const std::string& repository, const std::string& digest) {
  auto ref = policy::parse_reference(repository + "@" + digest);
  if (!ref) {
    return make_error(Errc::invalid_argument, repository + ": " + ref.error().message);
  }
  std::string name = ref->domain + "/" + ref->path;
  auto got = client.get_manifest(name, digest);
  if (!got) {
    const std::string& message = got.error().message;
    bool absent = got.error().code == Errc::not_found;
    return make_error(absent ? Errc::conflict : Errc::unavailable,
                      (absent ? name + " does not hold " + digest + ": "
                              : "cannot ask the registry of " + name + ": ") +
                          message);
  }
  return manifest_from(got->body, name + "@" + digest);
}

// The options of `evidence init`; Errc::invalid_argument for usage, Errc::conflict for content,
// Errc::unavailable when a registry cannot be asked.
Result<intake::InitOptions> init_options(const Args& args) {
  intake::InitOptions o;
  o.image = args.value("--image");
  auto image = policy::parse_reference(o.image);
  std::optional<registry::Client> client;
  if (!args.has("--manifest") && !args.has("--no-registry") && image &&
      policy::is_sha256_digest(image->digest)) {
    auto options = registry_options(args);
    if (!options) {
      return options.error();
    }
    client.emplace(std::move(*options));
    auto m = fetch_manifest(*client, image->name(), image->digest);
    if (!m) {
      return m.error();
    }
    o.manifest = std::move(*m);
  }
  if (args.has("--manifest")) {
    auto bytes = read_named(args, "--manifest");
    if (!bytes) {
      return bytes.error();
    }
    auto m = manifest_from(*bytes, "--manifest " + args.value("--manifest"));
    if (!m) {
      return m.error();
    }
    o.manifest = std::move(*m);
  }
  o.tags = args.values("--tag");
  o.pushed_at = args.has("--pushed-at") ? args.value("--pushed-at") : format_rfc3339(now_ns());
  o.observed_at = format_rfc3339(now_ns());
  for (const auto& label : args.values("--label")) {
    auto kv = key_value(label, "--label");
    if (!kv) {
      return kv.error();
    }
    o.labels[kv->first] = kv->second;
  }
  for (const auto& spec : args.values("--mirror")) {
    intake::MirrorSpec mirror;
    auto eq = spec.find('=');
    mirror.name = spec.substr(0, eq);
    if (eq != std::string::npos) {
      auto bytes = read_file(spec.substr(eq + 1));
      if (!bytes) {
        return make_error(Errc::invalid_argument, "--mirror: cannot read " + spec.substr(eq + 1) +
                                                      ": " + bytes.error().message);
      }
      auto m = manifest_from(*bytes, "--mirror " + mirror.name);
      if (!m) {
        return m.error();
      }
      mirror.manifest = std::move(*m);
    } else if (client && image) {
      auto m = fetch_manifest(*client, mirror.name, image->digest);
      if (!m) {
        return m.error();
      }
      mirror.manifest = std::move(*m);
    }
    o.mirrors.push_back(std::move(mirror));
  }
  o.source_repository = args.value("--repository");
  o.commit = args.value("--commit");
  o.ref = args.value("--ref");
  o.builder_id = args.value("--builder-id");
  o.run_id = args.value("--run-id");
  o.run_url = args.value("--run-url");
  o.base_image = args.value("--base-image");
  return o;
}

void print_started(std::ostream& out, const std::string& path, const json& record) {
  const json& subject = record["subject"];
  out << "evidence for " << subject["name"].get<std::string>() << "@"
      << subject["digest"].get<std::string>() << " started in " << path << '\n';
  if (subject.contains("platforms")) {
    out << "  platforms: ";
    for (std::size_t i = 0; i < subject["platforms"].size(); ++i) {
      out << (i ? ", " : "") << subject["platforms"][i]["platform"].get<std::string>();
    }
    out << '\n';
  }
  if (subject.contains("tags")) {
    out << "  tags: ";
    for (std::size_t i = 0; i < subject["tags"].size(); ++i) {
      out << (i ? ", " : "") << subject["tags"][i].get<std::string>();
    }
    out << '\n';
  }
  for (const char* part : {"source", "build"}) {
    if (record.contains(part)) {
      out << "  " << part << ": " << record[part].dump() << '\n';
    }
  }
}

int cmd_evidence_init(Context& c, const Args& args) {
  auto options = init_options(args);
  if (!options) {
    const Error& e = options.error();
    if (e.code == Errc::unavailable) {
      c.err << "digestgate: " << e.message << '\n';
      return k_exit_unavailable;
    }
    return e.code == Errc::conflict ? refuse(c, e.message) : usage_error(c, e.message);
  }
  auto ci = intake::read_ci_environment(intake::process_environment());
  auto record = intake::init_record(*options, ci);
  if (!record) {
    return record.error().code == Errc::conflict ? refuse(c, record.error().message)
                                                 : usage_error(c, record.error().message);
  }
  std::string path = working_file(args);
  if (auto saved = save_record(path, *record); !saved) {
    return usage_error(c, "cannot write " + path + ": " + saved.error().message);
  }
  if (!options->manifest) {
    c.err << "note: with --no-registry and no --manifest the record has no media type and no "
             "platforms\n";
  }
  if (c.json) {
    c.out << record->dump(2) << '\n';
  } else {
    print_started(c.out, path, *record);
  }
  return k_exit_ok;
}

// --- evidence gate --------------------------------------------------------------------------

struct ReportFlag {
  std::string_view flag;
  std::optional<ReportKind> kind; // nullopt: --syft, SPDX or CycloneDX as the file says
};

constexpr ReportFlag k_report_flags[] = {
    {"--trivy", ReportKind::trivy},
    {"--grype", ReportKind::grype},
    {"--sarif", ReportKind::sarif},
    {"--spdx", ReportKind::spdx},
    {"--cyclonedx", ReportKind::cyclonedx},
    {"--junit", ReportKind::junit},
    {"--syft", std::nullopt},
};

intake::GateOptions gate_options(const Args& args, const std::string& subject) {
  intake::GateOptions o;
  o.name = args.value("--name");
  o.subject = subject;
  auto optional = [&args](std::string_view flag) -> std::optional<std::string> {
    return args.has(flag) ? std::optional<std::string>(args.value(flag)) : std::nullopt;
  };
  o.tool_name = optional("--tool");
  o.tool_version = optional("--tool-version");
  o.target = optional("--target");
  o.started_at = optional("--started");
  o.finished_at = optional("--finished");
  o.result = optional("--result");
  return o;
}

// The gate from the one report flag given, or from --result alone.
Result<json> make_gate(const Args& args, const std::string& subject, int& exit_code) {
  exit_code = k_exit_usage;
  const ReportFlag* given = nullptr;
  for (const ReportFlag& f : k_report_flags) {
    if (args.has(f.flag)) {
      if (given != nullptr) {
        return make_error(Errc::invalid_argument, "give one report: " + std::string(given->flag) +
                                                      " and " + std::string(f.flag));
      }
      given = &f;
    }
  }
  if (args.has("--result") && args.value("--result") != "pass" &&
      args.value("--result") != "fail") {
    return make_error(Errc::invalid_argument, "--result is pass or fail");
  }
  intake::GateOptions o = gate_options(args, subject);
  if (given == nullptr) {
    if (!args.has("--result")) {
      return make_error(Errc::invalid_argument,
                        "give a report (--trivy, --grype, --sarif, --syft, --spdx, --cyclonedx, "
                        "--junit) or --result pass|fail");
    }
    if (args.has("--artifact")) {
      auto bytes = read_named(args, "--artifact");
      if (!bytes) {
        return bytes.error();
      }
      o.artifact = std::filesystem::path(args.value("--artifact")).filename().string();
      o.artifact_sha256 = to_hex(sha256(*bytes));
    }
    exit_code = k_exit_refused;
    return intake::make_generic_gate(o);
  }
  auto bytes = read_named(args, given->flag);
  if (!bytes) {
    return bytes.error();
  }
  o.artifact = std::filesystem::path(args.value(given->flag)).filename().string();
  o.artifact_sha256 = to_hex(sha256(*bytes));
  exit_code = k_exit_refused;
  ReportKind kind = ReportKind::spdx;
  if (given->kind) {
    kind = *given->kind;
  } else if (auto seen = intake::detect_report(*bytes); seen == ReportKind::cyclonedx) {
    kind = ReportKind::cyclonedx;
  }
  auto report = intake::read_report(kind, *bytes);
  if (!report) {
    return report.error();
  }
  return intake::make_gate(*report, o);
}

void print_gate(std::ostream& out, const json& gate) {
  out << "gate " << gate.value("name", "") << ": " << gate["tool"].value("name", "") << " "
      << gate["tool"].value("version", "") << ", " << gate.value("result", "");
  if (gate.contains("findings")) {
    out << ", findings";
    for (const auto& [severity, count] : gate["findings"].items()) {
      out << " " << severity << " " << count.get<std::int64_t>();
    }
  }
  out << "\n  target " << gate.value("target", "") << "\n  ran " << gate.value("started_at", "")
      << " .. " << gate.value("finished_at", "") << '\n';
}

int cmd_evidence_gate(Context& c, const Args& args) {
  std::string path = working_file(args);
  auto record = load_record(path);
  if (!record) {
    return usage_error(c, record.error().message);
  }
  int exit_code = k_exit_usage;
  auto gate = make_gate(args, *intake::subject_reference(*record), exit_code);
  if (!gate) {
    return exit_code == k_exit_refused ? refuse(c, gate.error().message)
                                       : usage_error(c, gate.error().message);
  }
  intake::put_gate(*record, *gate);
  if (auto saved = save_record(path, *record); !saved) {
    return usage_error(c, "cannot write " + path + ": " + saved.error().message);
  }
  if (c.json) {
    c.out << gate->dump(2) << '\n';
  } else {
    print_gate(c.out, *gate);
  }
  return k_exit_ok;
}

// --- evidence sign --------------------------------------------------------------------------

int cmd_evidence_sign(Context& c, const Args& args) {
  int given = static_cast<int>(args.has("--cosign-download")) +
              static_cast<int>(args.has("--bundle")) + static_cast<int>(args.has("--attestation"));
  if (given != 1) {
    return usage_error(c, "give one of --cosign-download, --bundle, --attestation");
  }
  if (args.has("--payload") && !args.has("--bundle")) {
    return usage_error(c, "--payload goes with --bundle");
  }
  std::string path = working_file(args);
  auto record = load_record(path);
  if (!record) {
    return usage_error(c, record.error().message);
  }
  std::string_view flag = args.has("--cosign-download") ? "--cosign-download"
                          : args.has("--bundle")        ? "--bundle"
                                                        : "--attestation";
  auto bytes = read_named(args, flag);
  if (!bytes) {
    return usage_error(c, bytes.error().message);
  }
  Result<json> items = json::array();
  const char* field = "signatures";
  if (flag == "--cosign-download") {
    items = intake::read_cosign_signatures(*bytes);
  } else if (flag == "--attestation") {
    field = "attestations";
    items = intake::read_dsse_envelopes(*bytes);
  } else {
    field = "bundles";
    std::optional<std::string> payload;
    if (args.has("--payload")) {
      auto payload_bytes = read_named(args, "--payload");
      if (!payload_bytes) {
        return usage_error(c, payload_bytes.error().message);
      }
      payload = base64_encode(*payload_bytes);
    }
    items = intake::read_bundles(*bytes, payload);
  }
  if (!items) {
    return refuse(c, items.error().message);
  }
  std::size_t added = intake::add_items(*record, field, *items);
  if (auto saved = save_record(path, *record); !saved) {
    return usage_error(c, "cannot write " + path + ": " + saved.error().message);
  }
  if (c.json) {
    c.out << json{{"field", field}, {"added", added}, {"total", (*record)[field].size()}}.dump(2)
          << '\n';
  } else {
    c.out << "added " << added << " of " << items->size() << " to " << field << " ("
          << (*record)[field].size() << " in all)\n";
  }
  return k_exit_ok;
}

// --- evidence show --------------------------------------------------------------------------

// The policy from --policy FILE, or the daemon's (GET /v1/policy).
Result<policy::Policy> load_policy(Context& c, const Args& args, int& exit_code) {
  exit_code = k_exit_usage;
  if (args.has("--policy")) {
    auto text = read_named(args, "--policy");
    if (!text) {
      return text.error();
    }
    exit_code = k_exit_refused;
    return policy::parse_policy(*text);
  }
  auto reply = send(c, "GET", "/v1/policy");
  if (!reply) {
    exit_code = report_transport(c, reply.error());
    return make_error(Errc::unavailable, "");
  }
  if (!is_success(*reply)) {
    exit_code = fail_with(c, *reply);
    return make_error(Errc::unavailable, "");
  }
  exit_code = k_exit_refused;
  return policy::parse_policy(reply->body.value("policy", json::object()).dump());
}

Result<policy::Reasons>
evidence_reasons(const policy::Policy& pol, const std::string& env, const json& record) {
  auto it = pol.environments.find(env);
  if (it == pol.environments.end()) {
    return make_error(Errc::not_found, "the policy has no environment '" + env + "'");
  }
  auto parsed = policy::parse_record(record);
  if (!parsed) {
    return parsed.error();
  }
  policy::Facts facts;
  DG_TRY(policy::merge_record(facts, *parsed, 0));
  policy::EvaluationOptions options;
  options.now = now_ns();
  return policy::evaluate_evidence(pol, it->second, facts, options);
}

int cmd_evidence_show(Context& c, const Args& args) {
  auto record = load_record(working_file(args));
  if (!record) {
    return usage_error(c, record.error().message);
  }
  if (!args.has("--env")) {
    c.out << record->dump(2) << '\n';
    return k_exit_ok;
  }
  int exit_code = k_exit_usage;
  auto pol = load_policy(c, args, exit_code);
  if (!pol) {
    if (pol.error().code == Errc::unavailable) {
      return exit_code;
    }
    return exit_code == k_exit_usage ? usage_error(c, pol.error().message)
                                     : refuse(c, "the policy: " + pol.error().message);
  }
  std::string env = args.value("--env");
  auto reasons = evidence_reasons(*pol, env, *record);
  if (!reasons) {
    return refuse(c, reasons.error().message);
  }
  json listed = json::array();
  for (const auto& r : *reasons) {
    listed.push_back({{"code", r.code}, {"message", r.message}, {"gate", r.gate}});
  }
  if (c.json) {
    c.out << json{{"record", *record}, {"environment", env}, {"reasons", listed}}.dump(2) << '\n';
  } else {
    c.out << record->dump(2) << '\n';
    if (reasons->empty()) {
      c.out << "the evidence meets " << env << "'s policy (stage order, revocations and "
            << "observations are judged at promotion)\n";
    } else {
      c.out << "the evidence would be refused in " << env << ":\n";
      for (const auto& r : *reasons) {
        c.out << "  - " << r.code << ": " << r.message << '\n';
      }
    }
  }
  return reasons->empty() ? k_exit_ok : k_exit_refused;
}

constexpr std::string_view k_file_help =
    "the working file (default: $DIGESTGATE_EVIDENCE, else ./digestgate-evidence.json)";

// `evidence init`: a new working file from the image and the CI's variables.
VerbSpec evidence_init_verb() {
  return VerbSpec{
      .name = "evidence init",
      .summary = "Start an evidence record for an image digest",
      .description =
          "Writes a new working file with the subject (name, digest, media type and platforms\n"
          "from the registry, or from --manifest, the raw index of `docker buildx imagetools\n"
          "inspect --raw` or `crane manifest`; BuildKit's attestation manifests are left out),\n"
          "tags, labels, mirrors (looked up in their registries when the subject is; else the\n"
          "subject's manifest or =FILE's), pushed_at (default: now), and the source and build\n"
          "facts of the CI's variables (GitHub and Forgejo Actions, GitLab CI), each\n"
          "overridable by a flag. Registry credentials come from DIGESTGATE_REGISTRY_USERNAME\n"
          "and DIGESTGATE_REGISTRY_PASSWORD.\n"
          "Exits 1 when the manifest is not the image's or a registry lacks the digest, 3 when\n"
          "a registry cannot be asked.\n",
      .flags = {{"--image", "NAME@DIGEST", "the pushed image (a tag may stand before @)", true},
                {"--manifest", "FILE", "the image's raw index or manifest"},
                {"--tag", "TAG", "a tag of the image (that of a refs/tags ref is added)", false,
                 true},
                {"--label", "KEY=VALUE", "an image label", false, true},
                {"--mirror", "NAME[=FILE]",
                 "another repository holding the digest, with its "
                 "raw manifest when it may differ",
                 false, true},
                {"--pushed-at", "TIME", "when the image was pushed (RFC 3339)"},
                {"--registry", "HOST=ENDPOINT",
                 "where a registry is served, e.g. "
                 "127.0.0.1:5000=http://127.0.0.1:5000",
                 false, true},
                {"--registry-ca", "FILE", "CA certificates for the registries' TLS"},
                {"--no-registry", "", "ask no registry (no --manifest: no platforms)"},
                {"--repository", "URL", "source.repository"},
                {"--commit", "SHA", "source.commit"},
                {"--ref", "REF", "source.ref"},
                {"--builder-id", "ID", "build.builder_id"},
                {"--run-id", "ID", "build.run_id"},
                {"--run-url", "URL", "build.run_url"},
                {"--base-image", "REF", "build.base_image (name@sha256:...)"},
                {"--file", "FILE", k_file_help}},
      .handler = cmd_evidence_init};
}

// `evidence gate`: a gate from a tool's report or from flags alone.
VerbSpec evidence_gate_verb() {
  return VerbSpec{
      .name = "evidence gate",
      .summary = "Add a gate read from a tool's own report",
      .description =
          "Reads one report: trivy or grype JSON, SARIF, SPDX or CycloneDX JSON (--syft takes\n"
          "either), JUnit XML; or makes a gate from --result and the flags alone. The tool, its\n"
          "version, the target, the times and the findings come from the report; flags override\n"
          "them. A report about a tag or another digest is refused (exit 1): gates must run\n"
          "against the digest. A gate replaces an earlier one of the same name.\n",
      .flags = {{"--name", "NAME", "the gate's name in the policy", true},
                {"--trivy", "FILE", "trivy JSON (--format json)"},
                {"--grype", "FILE", "grype JSON (-o json)"},
                {"--sarif", "FILE", "SARIF 2.1.0"},
                {"--syft", "FILE", "syft's SPDX or CycloneDX JSON"},
                {"--spdx", "FILE", "SPDX 2.x JSON"},
                {"--cyclonedx", "FILE", "CycloneDX JSON"},
                {"--junit", "FILE", "JUnit XML"},
                {"--result", "pass|fail", "the result (required without a report)"},
                {"--tool", "NAME", "the tool's name"},
                {"--tool-version", "VERSION", "the tool's version"},
                {"--target", "REF", "what the tool looked at (name@sha256:...)"},
                {"--started", "TIME", "when it started (RFC 3339)"},
                {"--finished", "TIME", "when it finished (RFC 3339)"},
                {"--artifact", "FILE", "without a report: a file it produced"},
                {"--file", "FILE", k_file_help}},
      .handler = cmd_evidence_gate};
}

// `evidence sign`: signatures, attestations and Sigstore bundles.
VerbSpec evidence_sign_verb() {
  return VerbSpec{
      .name = "evidence sign",
      .summary = "Add signatures, attestations or Sigstore bundles",
      .description =
          "Takes the lines of `cosign download signature` (--cosign-download) or `cosign "
          "download\n"
          "attestation` (--attestation), or Sigstore bundles (--bundle: `cosign sign --bundle`,\n"
          "`gh attestation download`; a message-signature bundle needs its signed --payload).\n",
      .flags = {{"--cosign-download", "FILE", "cosign download signature output"},
                {"--attestation", "FILE", "DSSE envelopes, one a line"},
                {"--bundle", "FILE", "a Sigstore bundle, or one a line"},
                {"--payload", "FILE", "the artifact a message-signature bundle signs"},
                {"--file", "FILE", k_file_help}},
      .handler = cmd_evidence_sign};
}

// `evidence show`: the working record, judged against a policy on request.
VerbSpec evidence_show_verb() {
  return VerbSpec{
      .name = "evidence show",
      .summary = "Print the working record, and what a policy would say of it",
      .description =
          "Prints the record. With --env, also judges the evidence alone against that\n"
          "environment of the daemon's policy (GET /v1/policy) or of --policy FILE, and exits 1\n"
          "if it would be refused. Stage order, revocations and registry observations are judged\n"
          "at promotion only.\n",
      .flags = {{"--env", "ENV", "the environment to judge against"},
                {"--policy", "FILE", "a policy file instead of the daemon's"},
                {"--file", "FILE", k_file_help}},
      .handler = cmd_evidence_show};
}

} // namespace

std::vector<VerbSpec> evidence_verbs() {
  return {evidence_init_verb(), evidence_gate_verb(), evidence_sign_verb(), evidence_show_verb()};
}

} // namespace dg::cli
