#include "cli/decision.hpp"

#include "cli/commands.hpp"

#include <ostream>

namespace dg::cli {

namespace {

// Write the override for an approval; the lines to print, or why it was not written.
Result<std::vector<std::string>> write_override(const ComposeRequest& compose, const json& body) {
  auto pins = resolve_services(compose.services, pinned_references(body));
  if (!pins) {
    return pins.error();
  }
  DG_TRY(write_compose_override(compose.path, *pins));
  std::vector<std::string> written;
  for (const auto& pin : *pins) {
    written.push_back("wrote compose override " + compose.path + " (service " + pin.service +
                      " -> " + pin.reference + ")");
  }
  return written;
}

} // namespace

Result<ComposeRequest> compose_request(const Args& args) {
  ComposeRequest request{args.value("--compose-override"), {}};
  for (const auto& text : args.values("--service")) {
    auto spec = parse_service(text);
    if (!spec) {
      return spec.error();
    }
    request.services.push_back(std::move(*spec));
  }
  const bool has_override = args.has("--compose-override");
  if (!request.services.empty() && !has_override) {
    return make_error(Errc::invalid_argument, "--service needs --compose-override FILE");
  }
  if (has_override && request.services.empty()) {
    return make_error(Errc::invalid_argument, "--compose-override needs --service NAME");
  }
  if (has_override && request.path.empty()) {
    return make_error(Errc::invalid_argument, "--compose-override needs a file name");
  }
  return request;
}

int decide(Context& c,
           const Reply& reply,
           const json& request,
           const ComposeRequest& compose,
           bool rollback,
           bool bundle) {
  const bool refused = text_of(reply.body, "decision") == "refused";
  const bool decision =
      (is_success(reply) && reply.body.is_object()) || (reply.status == 403 && refused);
  if (!decision) {
    return fail_with(c, reply);
  }
  const json shown =
      with_defaults(reply.body, json{{"environment", request.value("environment", "")}});
  if (refused) {
    if (c.json) {
      print_raw(c, reply.raw);
    } else {
      print_decision(c.out, shown, rollback, bundle);
    }
    return k_exit_refused;
  }

  const bool dry_run = request.value("dry_run", false) || text_of(reply.body, "dry_run") == "true";
  Result<std::vector<std::string>> written = std::vector<std::string>{};
  if (!compose.path.empty() && dry_run) {
    c.err << "note: dry run: " << compose.path << " is not written\n";
  } else if (!compose.path.empty()) {
    written = write_override(compose, reply.body);
  }
  const std::vector<std::string> lines = written ? *written : std::vector<std::string>{};
  if (c.json) {
    print_raw(c, reply.raw);
    for (const auto& line : lines) {
      c.err << line << '\n';
    }
  } else {
    print_decision(c.out, shown, rollback, bundle);
    for (const auto& line : lines) {
      c.out << line << '\n';
    }
    print_pinned(c.out, reply.body);
  }
  if (!written) {
    c.err << "error: " << (rollback ? "rolled back" : "approved") << ", but the compose override "
          << compose.path << " was not written: " << written.error().message << '\n';
    return k_exit_usage;
  }
  return k_exit_ok;
}

} // namespace dg::cli
