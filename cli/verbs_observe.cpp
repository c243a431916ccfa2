// observe, resolve: what the registries serve now, asked through the daemon (PRODUCT.md
// "Registries").
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "policy/reference.hpp"

#include <ostream>

namespace dg::cli {

namespace {

std::string string_or(const json& object, const char* key, std::string fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

// One line per registry asked: present (with its media type and platforms), absent, or its error.
void print_registries(std::ostream& out, const json& registries) {
  for (const json& r : registries) {
    out << "  " << string_or(r, "name", "?") << "  ";
    if (r.contains("error") && r["error"].is_string()) {
      out << "did not answer: " << r["error"].get<std::string>() << '\n';
      continue;
    }
    if (!r.value("present", false)) {
      out << "does not have it\n";
      continue;
    }
    out << "present (" << string_or(r, "media_type", "unknown media type");
    if (r.contains("platforms") && r["platforms"].is_array() && !r["platforms"].empty()) {
      out << "; " << r["platforms"].size() << " platforms";
    }
    out << ")\n";
  }
}

void print_observation(std::ostream& out, const json& response) {
  const json body = response.value("body", json::object());
  out << "observed " << string_or(body, "digest", "?") << " at "
      << string_or(body, "observed_at", "?") << " (ledger seq " << response.value("seq", 0)
      << ")\n";
  print_registries(out, body.value("registries", json::array()));
  out << "found in the registries: " << body.value("signatures", json::array()).size()
      << " signatures, " << body.value("attestations", json::array()).size() << " attestations, "
      << body.value("bundles", json::array()).size() << " bundles\n";
}

void print_resolution(std::ostream& out, const json& response) {
  out << string_or(response, "reference", "?") << " -> " << string_or(response, "digest", "?")
      << '\n'
      << "pin as: " << string_or(response, "pinned", "?") << '\n';
  const json ledger = response.value("ledger", json::object());
  if (!ledger.value("recorded", false)) {
    out << "ledger: this digest has no recorded evidence\n";
  } else {
    out << "ledger: recorded as " << string_or(ledger, "repository", "?");
    for (const json& env : ledger.value("current", json::array())) {
      out << "; current in " << string_or(env, "environment", "?");
    }
    out << '\n';
  }
  if (ledger.contains("revoked") && ledger["revoked"].is_string()) {
    out << "revoked: " << ledger["revoked"].get<std::string>() << '\n';
  }
  if (ledger.value("tag_moved", false)) {
    out << "the tag moved: the ledger recorded it at";
    for (const json& digest : ledger.value("recorded_under_tag", json::array())) {
      out << ' ' << (digest.is_string() ? digest.get<std::string>() : std::string("?"));
    }
    out << '\n';
  }
}

int cmd_observe(Context& c, const Args& args) {
  const std::string& text = args.positionals().front();
  json request = json::object();
  json names = json::array();
  if (text.starts_with("sha256:")) {
    request["digest"] = text;
  } else {
    auto reference = policy::parse_reference(text);
    if (!reference) {
      return usage_error(c, "REF: " + reference.error().message);
    }
    if (reference->digest.empty()) {
      return usage_error(c, "REF must name a digest (NAME@sha256:...); `digestgate resolve " +
                                text + "` turns a tag into one");
    }
    request["digest"] = reference->digest;
    names.push_back(reference->name());
  }
  for (const auto& name : args.values("--name")) {
    names.push_back(name);
  }
  if (!names.empty()) {
    request["names"] = names;
  }
  return post_text(c, "/v1/observations", request.dump(), print_observation);
}

int cmd_resolve(Context& c, const Args& args) {
  return show(c, "/v1/resolve?reference=" + query_value(args.positionals().front()),
              print_resolution);
}

} // namespace

std::vector<VerbSpec> observe_verbs() {
  return {
      {.name = "observe",
       .positional = "REF",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Observe a digest in its registries now, and ledger what they serve",
       .description =
           "REF is NAME@sha256:... or a bare sha256:... digest. The daemon asks the repository\n"
           "of the digest's records, every mirror they name, NAME and each --name for the\n"
           "manifest, its platforms, its tags, and the cosign signatures, attestations and\n"
           "referrers that sign it, and ledgers the answer as an `observation` entry. Prints\n"
           "what each registry said. Exit 0 once ledgered; 3 when no registry could be asked\n"
           "(registry-unreachable) or the daemon is unreachable.\n",
       .flags = {{"--name", "REPOSITORY", "another repository to look in", false, true}},
       .handler = cmd_observe},
      {.name = "resolve",
       .positional = "REF",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Resolve a tag at its registry, and say what the ledger knows of the digest",
       .description =
           "Asks the registry of REF (NAME:TAG, or NAME alone for :latest), through the daemon\n"
           "and its registry settings, which digest the tag points at now; prints the reference\n"
           "to promote (NAME@sha256:...), whether the digest is recorded, current or revoked,\n"
           "and whether the tag has moved since it was recorded. Exit 1 when the registry does\n"
           "not know REF, 3 when it cannot be reached.\n",
       .handler = cmd_resolve},
  };
}

} // namespace dg::cli
