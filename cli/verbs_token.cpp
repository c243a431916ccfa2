// token new: a fresh API token and the principal entry for the daemon's config.
#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "util/crypto.hpp"

#include <algorithm>
#include <iterator>
#include <ostream>

namespace dg::cli {

namespace {

int cmd_token_new(Context& c, const Args& args) {
  const std::string name = args.value("--name");
  const std::string role = args.value("--role");
  constexpr std::string_view k_roles[] = {"recorder", "promoter", "operator", "reader"};
  if (std::find(std::begin(k_roles), std::end(k_roles), role) == std::end(k_roles)) {
    return usage_error(c, "--role must be one of recorder, promoter, operator, reader; not '" +
                              role + "'");
  }
  const bool printable = std::all_of(name.begin(), name.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u >= 0x20 && u != 0x7f;
  });
  if (name.empty() || !printable) {
    return usage_error(c, "--name must be a non-empty name without control characters");
  }
  const std::string token = to_hex(random_bytes(32));
  const json principal = {
      {"name", name}, {"roles", json::array({role})}, {"token_sha256", to_hex(sha256(token))}};
  if (c.json) {
    c.out << json{{"token", token}, {"principal", principal}}.dump(2) << '\n';
    return k_exit_ok;
  }
  c.out << "token: " << token << '\n'
        << "principal (add it to \"principals\" in the digestgated config):\n"
        << principal.dump() << '\n';
  return k_exit_ok;
}

} // namespace

std::vector<VerbSpec> token_verbs() {
  return {
      {.name = "token new",
       .summary = "Make a new API token and its principal entry",
       .description =
           "Prints a fresh random token (give it to the client) and the principal entry with the\n"
           "token's SHA-256 (add it to \"principals\" in the daemon's config; the daemon stores\n"
           "only the hash). With --json: {\"token\", \"principal\"}.\n",
       .flags = {{"--name", "NAME", "the principal's name", true},
                 {"--role", "ROLE", "recorder, promoter, operator or reader", true}},
       .handler = cmd_token_new},
  };
}

} // namespace dg::cli
