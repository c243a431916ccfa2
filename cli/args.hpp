// Command-line parsing for digestgate: global options anywhere, a verb (one or two words), the
// verb's flags and positional arguments, and the help texts generated from the same tables.
#pragma once

#include "util/result.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::cli {

struct Context;
class Args;

// Runs a verb; returns the process exit code.
using Handler = int (*)(Context& context, const Args& args);

struct FlagSpec {
  std::string_view name;    // "--env"
  std::string_view metavar; // "ENV"; empty for a switch that takes no value
  std::string_view help;
  bool required = false;
  bool repeatable = false;
};

struct VerbSpec {
  std::string_view name{};       // "promote", "ledger list"
  std::string_view positional{}; // metavar of the positional arguments, empty for none
  std::size_t min_positionals = 0;
  std::size_t max_positionals = 0;
  std::string_view summary{};     // one line for the command list
  std::string_view description{}; // paragraphs for `--help`
  std::vector<FlagSpec> flags{};
  Handler handler = nullptr;
};

// The flags and positional arguments given to one verb.
class Args {
public:
  bool has(std::string_view flag) const { return m_values.find(flag) != m_values.end(); }
  // The value of `flag`, or empty when absent.
  std::string value(std::string_view flag) const;
  // Every value of a repeatable `flag`, in order.
  std::vector<std::string> values(std::string_view flag) const;
  const std::vector<std::string>& positionals() const { return m_positionals; }

  void add(std::string_view flag, std::string value);
  void add_positional(std::string value) { m_positionals.push_back(std::move(value)); }

private:
  std::map<std::string, std::vector<std::string>, std::less<>> m_values;
  std::vector<std::string> m_positionals;
};

struct GlobalOptions {
  std::optional<std::string> url;
  std::optional<std::string> token;
  std::optional<std::string> cacert;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  std::optional<std::string> timeout;
  bool json = false;
  bool help = false;
  bool version = false;
};

struct Invocation {
  GlobalOptions global;
  // The verb named, or null when none (or only a group such as "ledger") was named.
  const VerbSpec* verb = nullptr;
  // The group named without one of its verbs ("ledger"), else empty.
  std::string group;
  Args args;
  // The first usage error, empty if none. Help takes precedence over it.
  std::string error;
};

// Parse `argv` (without the program name) against `verbs`. Never fails: a usage error is left in
// Invocation::error, and required flags and positional counts are checked by check_invocation.
Invocation parse_command_line(const std::vector<std::string>& argv,
                              const std::vector<VerbSpec>& verbs);

// Required flags and the number of positional arguments; the usage error, or empty.
std::string check_invocation(const Invocation& invocation);

// `digestgate --help`.
std::string global_help(const std::vector<VerbSpec>& verbs);
// `digestgate ledger --help`: the verbs of `group`.
std::string group_help(std::string_view group, const std::vector<VerbSpec>& verbs);
// `digestgate VERB --help`.
std::string verb_help(const VerbSpec& verb);

} // namespace dg::cli
