#include "cli/commands.hpp"

#include "cli/args.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"

#include <cstdlib>
#include <ostream>

namespace dg::cli {

namespace {

constexpr const char* k_default_url = "http://127.0.0.1:8470";

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(fallback);
}

// --help and --version; true when one of them was answered.
bool answer_help(const Invocation& invocation, std::ostream& out) {
  if (invocation.global.help) {
    if (invocation.verb != nullptr) {
      out << verb_help(*invocation.verb);
    } else if (!invocation.group.empty()) {
      out << group_help(invocation.group, all_verbs());
    } else {
      out << global_help(all_verbs());
    }
    return true;
  }
  if (invocation.global.version) {
    out << "digestgate " << DG_VERSION << '\n';
    return true;
  }
  return false;
}

// The server, token, TLS files and timeout of the global options and the environment.
Result<void> configure_client(Context& context, const GlobalOptions& global) {
  context.json = global.json;
  context.client.url = global.url ? *global.url : env_or("DIGESTGATE_URL", k_default_url);
  context.token = global.token ? *global.token : env_or("DIGESTGATE_TOKEN", "");
  context.client.cacert = global.cacert.value_or("");
  context.client.cert = global.cert.value_or("");
  context.client.key = global.key.value_or("");
  if (!context.client.key.empty() && context.client.cert.empty()) {
    return make_error(Errc::invalid_argument, "--key FILE needs --cert FILE");
  }
  if (global.timeout) {
    const auto seconds = parse_count(*global.timeout);
    if (!seconds || *seconds == 0 || *seconds > 86400) {
      return make_error(Errc::invalid_argument,
                        "--timeout needs a number of seconds from 1 to 86400");
    }
    context.client.timeout = std::chrono::seconds(*seconds);
  }
  return {};
}

} // namespace

int run(const std::vector<std::string>& args,
        std::istream& in,
        std::ostream& out,
        std::ostream& err) {
  const Invocation invocation = parse_command_line(args, all_verbs());
  Context context{in, out, err, invocation.verb, ClientOptions{}, std::string(), false};
  if (answer_help(invocation, out)) {
    return k_exit_ok;
  }
  if (args.empty()) {
    err << global_help(all_verbs());
    return k_exit_usage;
  }
  if (std::string problem = check_invocation(invocation); !problem.empty()) {
    if (invocation.verb == nullptr && !invocation.group.empty() && invocation.error.empty()) {
      err << "digestgate: " << problem << "\n" << group_help(invocation.group, all_verbs());
      return k_exit_usage;
    }
    return usage_error(context, problem);
  }
  if (auto configured = configure_client(context, invocation.global); !configured) {
    return usage_error(context, configured.error().message);
  }
  return invocation.verb->handler(context, invocation.args);
}

} // namespace dg::cli
