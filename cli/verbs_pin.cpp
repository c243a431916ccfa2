// pin: Kubernetes manifests and kustomizations rewritten to the digests current in an environment.
#include "cli/commands.hpp"
#include "cli/manifest.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/reference.hpp"
#include "util/files.hpp"

#include <cstdint>
#include <limits>
#include <map>
#include <ostream>
#include <sys/stat.h>

namespace dg::cli {

namespace {

// One file named on the command line, read and planned.
struct PinFile {
  std::string path;
  std::string text;
  Manifest manifest;
  PinPlan plan;
  std::string pinned; // the new text, when something changed
};

Result<PinFile> read_pin_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::invalid_argument, "cannot read " + path + ": " + text.error().message);
  }
  auto manifest = read_manifest(*text, path);
  if (!manifest) {
    return make_error(
        Errc::invalid_argument,
        path + " is not a Kubernetes manifest or kustomization: " + manifest.error().message);
  }
  return PinFile{path, std::move(*text), std::move(*manifest), {}, {}};
}

// The environment's current digests by normalized repository, from GET /v1/environments/{env}.
std::map<std::string, std::string> current_digests(const json& environment) {
  std::map<std::string, std::string> digests;
  const json repositories =
      environment.is_object() ? environment.value("repositories", json::object()) : json::object();
  if (!repositories.is_object()) {
    return digests;
  }
  for (const auto& [name, state] : repositories.items()) {
    const json current = state.is_object() ? state.value("current", json()) : json();
    const std::string digest = current.is_object() ? text_of(current, "digest") : std::string();
    if (!policy::is_sha256_digest(digest)) {
      continue;
    }
    auto normalized = policy::normalize_repository(name);
    digests[normalized ? *normalized : name] = digest;
  }
  return digests;
}

json report(const std::string& environment, const std::vector<PinFile>& files, bool written) {
  json document = {{"environment", environment}, {"written", written}};
  json listed = json::array();
  json missing = json::array();
  for (const auto& file : files) {
    json changes = json::array();
    for (const auto& change : file.plan.changes) {
      changes.push_back({{"where", change.where}, {"from", change.from}, {"to", change.to}});
    }
    for (const auto& miss : file.plan.missing) {
      missing.push_back({{"file", file.path},
                         {"where", miss.where},
                         {"image", miss.image},
                         {"reason", miss.reason}});
    }
    listed.push_back({{"file", file.path},
                      {"kind", file.manifest.kustomization ? "kustomization" : "manifest"},
                      {"changed", !file.pinned.empty()},
                      {"changes", changes}});
  }
  document["files"] = listed;
  document["missing"] = missing;
  return document;
}

int refuse_missing(Context& c, const std::string& environment, const std::vector<PinFile>& files) {
  if (c.json) {
    c.out << report(environment, files, false).dump(2) << '\n';
  }
  for (const auto& file : files) {
    for (const auto& miss : file.plan.missing) {
      c.err << "error: " << file.path << ": " << miss.where << ": " << miss.image << ": "
            << miss.reason << " in " << environment << '\n';
    }
  }
  c.err << "no file was changed\n";
  return k_exit_refused;
}

// Write every changed file atomically, keeping its permissions.
Result<void> write_pinned(const std::vector<PinFile>& files) {
  for (const auto& file : files) {
    if (file.pinned.empty()) {
      continue;
    }
    struct stat info {};
    const unsigned mode = ::stat(file.path.c_str(), &info) == 0 ? (info.st_mode & 07777) : 0644;
    if (auto written = write_file_atomic(file.path, file.pinned, mode); !written) {
      return make_error(Errc::io, "cannot write " + file.path + ": " + written.error().message);
    }
  }
  return {};
}

void print_pins(Context& c, const std::string& environment, const std::vector<PinFile>& files) {
  if (c.json) {
    c.out << report(environment, files, true).dump(2) << '\n';
    return;
  }
  for (const auto& file : files) {
    if (file.plan.changes.empty()) {
      c.out << file.path << ": unchanged\n";
      continue;
    }
    for (const auto& change : file.plan.changes) {
      c.out << file.path << ": " << change.where << ": " << change.from << " -> " << change.to
            << '\n';
    }
  }
}

int cmd_pin(Context& c, const Args& args) {
  std::vector<PinFile> files;
  for (const auto& path : args.positionals()) {
    auto file = read_pin_file(path);
    if (!file) {
      return usage_error(c, file.error().message);
    }
    files.push_back(std::move(*file));
  }
  const std::string environment = args.value("--env");
  auto reply = send(c, "GET", "/v1/environments/" + path_segment(environment));
  if (!reply) {
    return report_transport(c, reply.error());
  }
  if (!is_success(*reply) || reply->body.is_discarded()) {
    return fail_with(c, *reply);
  }
  const auto digests = current_digests(reply->body);
  const DigestLookup lookup = [&](const std::string& repository) {
    const auto it = digests.find(repository);
    return it == digests.end() ? std::string() : it->second;
  };
  bool missing = false;
  for (auto& file : files) {
    file.plan = plan_pins(file.manifest, file.text, lookup);
    missing = missing || !file.plan.missing.empty();
  }
  if (missing) {
    return refuse_missing(c, environment, files);
  }
  for (auto& file : files) {
    if (file.plan.edits.empty()) {
      continue;
    }
    auto pinned = yaml::apply_edits(file.text, file.plan.edits);
    if (!pinned) {
      c.err << "error: " << file.path << ": " << pinned.error().message << '\n';
      return k_exit_unavailable;
    }
    file.pinned = std::move(*pinned);
  }
  if (auto written = write_pinned(files); !written) {
    c.err << "error: " << written.error().message << '\n';
    return k_exit_unavailable;
  }
  print_pins(c, environment, files);
  return k_exit_ok;
}

} // namespace

std::vector<VerbSpec> pin_verbs() {
  return {
      {.name = "pin",
       .positional = "FILE...",
       .min_positionals = 1,
       .max_positionals = std::numeric_limits<std::size_t>::max(),
       .summary = "Pin Kubernetes manifests and kustomizations to the digests current in ENV",
       .description =
           "Rewrites each container image (containers, initContainers, ephemeralContainers of\n"
           "Pods and of every kind with a pod template, multi-document files included) to its\n"
           "name as written followed by @ and the digest current in ENV for its repository, and\n"
           "gives each entry of a kustomization's images: list a digest: (replacing newTag).\n"
           "Comments and layout are kept; each changed file is replaced atomically.\n"
           "\n"
           "Exits 1 and changes no file when an image has no current digest in ENV (each is\n"
           "named), and 2 for a file that is not a Kubernetes manifest or kustomization. With\n"
           "--json: {\"environment\", \"written\", \"files\": [{\"file\", \"kind\", \"changed\",\n"
           "\"changes\": [{\"where\", \"from\", \"to\"}]}], \"missing\": [{\"file\", \"where\",\n"
           "\"image\", \"reason\"}]}.\n",
       .flags = {{"--env", "ENV", "the environment whose current digests to pin", true}},
       .handler = cmd_pin},
  };
}

} // namespace dg::cli
