#include "cli/args.hpp"

#include <algorithm>
#include <utility>

namespace dg::cli {

namespace {

struct GlobalFlag {
  std::string_view name;
  std::string_view metavar;
  std::string_view help;
};

constexpr GlobalFlag k_global_flags[] = {
    {"--url", "URL", "digestgated's URL (default: $DIGESTGATE_URL, else http://127.0.0.1:8470)"},
    {"--token", "TOKEN", "bearer token (default: $DIGESTGATE_TOKEN)"},
    {"--json", "", "print the server's JSON answer instead of text"},
    {"--cacert", "FILE", "CA certificates that verify an https server (default: the system's)"},
    {"--cert", "FILE", "client certificate chain (PEM) for mutual TLS"},
    {"--key", "FILE", "client private key (PEM; default: the --cert file)"},
    {"--timeout", "SECONDS", "deadline of each request (default: 30)"},
    {"--help", "", "show help; `digestgate COMMAND --help` for a command"},
    {"--version", "", "show the version"},
};

const GlobalFlag* find_global(std::string_view name) {
  for (const auto& flag : k_global_flags) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

const FlagSpec* find_flag(const VerbSpec& verb, std::string_view name) {
  for (const auto& flag : verb.flags) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

bool is_group(std::string_view word, const std::vector<VerbSpec>& verbs) {
  return std::any_of(verbs.begin(), verbs.end(), [&](const VerbSpec& verb) {
    return verb.name.size() > word.size() && verb.name.substr(0, word.size()) == word &&
           verb.name[word.size()] == ' ';
  });
}

const VerbSpec* find_verb(std::string_view name, const std::vector<VerbSpec>& verbs) {
  for (const auto& verb : verbs) {
    if (verb.name == name) {
      return &verb;
    }
  }
  return nullptr;
}

void set_global(GlobalOptions& global, std::string_view name, std::string value) {
  if (name == "--url") {
    global.url = std::move(value);
  } else if (name == "--token") {
    global.token = std::move(value);
  } else if (name == "--cacert") {
    global.cacert = std::move(value);
  } else if (name == "--cert") {
    global.cert = std::move(value);
  } else if (name == "--key") {
    global.key = std::move(value);
  } else if (name == "--timeout") {
    global.timeout = std::move(value);
  } else if (name == "--json") {
    global.json = true;
  } else if (name == "--help") {
    global.help = true;
  } else if (name == "--version") {
    global.version = true;
  }
}

std::string pad(std::string_view text, std::size_t width) {
  std::string out(text);
  if (out.size() < width) {
    out.append(width - out.size(), ' ');
  }
  return out;
}

std::string flag_usage(const FlagSpec& flag) {
  std::string text(flag.name);
  if (!flag.metavar.empty()) {
    text += " ";
    text += flag.metavar;
  }
  return text;
}

// "[" + `text` + `close`. Here and below, strings are appended in place rather than with
// "literal" + std::string&&, which gcc 12 warns about at -O3 (-Wrestrict, a false positive: GCC
// bug 105329).
std::string bracketed(const std::string& text, const char* close) {
  std::string out = "[";
  out.append(text).append(close);
  return out;
}

// "Usage: digestgate VERB ..." wrapped to 100 columns, continuation lines indented.
std::string synopsis(const VerbSpec& verb) {
  std::vector<std::string> words;
  for (const auto& flag : verb.flags) {
    if (flag.required) {
      words.push_back(flag_usage(flag));
      if (flag.repeatable) {
        words.push_back(bracketed(flag_usage(flag), " ...]"));
      }
    } else {
      words.push_back(bracketed(flag_usage(flag), flag.repeatable ? " ...]" : "]"));
    }
  }
  if (!verb.positional.empty()) {
    words.emplace_back(verb.positional);
  }
  const std::string head = "Usage: digestgate " + std::string(verb.name);
  std::string text = head;
  std::size_t column = text.size();
  for (const auto& word : words) {
    if (column + 1 + word.size() > 100) {
      text.append("\n").append(head.size(), ' ');
      column = head.size();
    }
    text += " " + word;
    column += 1 + word.size();
  }
  return text + "\n";
}

// Two columns: `rows` of (left, right), the left padded to its widest entry.
std::string two_columns(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t width = 0;
  for (const auto& row : rows) {
    width = std::max(width, row.first.size());
  }
  std::string text;
  for (const auto& [left, right] : rows) {
    text += "  " + pad(left, width) + "  " + right + "\n";
  }
  return text;
}

std::string global_options_help() {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& flag : k_global_flags) {
    std::string left(flag.name == "--help" ? "-h, --help" : flag.name);
    if (!flag.metavar.empty()) {
      left += " ";
      left += flag.metavar;
    }
    rows.emplace_back(left, std::string(flag.help));
  }
  return "Global options (anywhere on the command line):\n" + two_columns(rows);
}

constexpr std::string_view k_exit_codes =
    "Exit codes: 0 approved or success, 1 refused or verification failed, 2 usage error,\n"
    "3 daemon unreachable or server error, 4 authentication or authorization error.\n";

} // namespace

std::string Args::value(std::string_view flag) const {
  const auto it = m_values.find(flag);
  return it == m_values.end() || it->second.empty() ? std::string() : it->second.back();
}

std::vector<std::string> Args::values(std::string_view flag) const {
  const auto it = m_values.find(flag);
  return it == m_values.end() ? std::vector<std::string>() : it->second;
}

void Args::add(std::string_view flag, std::string value) {
  auto it = m_values.find(flag);
  if (it == m_values.end()) {
    it = m_values.emplace(std::string(flag), std::vector<std::string>()).first;
  }
  it->second.push_back(std::move(value));
}

namespace {

// Keeps the first problem of `result`: the later ones follow from it.
void fail(Invocation& result, std::string message) {
  if (result.error.empty()) {
    result.error = std::move(message);
  }
}

// Takes a word that is not an option: the next word of the verb's name (`words` so far) until a
// verb is found, a positional argument after it. Returns false when the words name no command:
// the rest of the command line then belongs to a command we do not know and is not interpreted.
bool take_word(Invocation& result,
               std::vector<std::string>& words,
               const std::string& word,
               const std::vector<VerbSpec>& verbs) {
  if (result.verb != nullptr) {
    result.args.add_positional(word);
    return true;
  }
  words.push_back(word);
  std::string name;
  for (const auto& w : words) {
    name += name.empty() ? w : " " + w;
  }
  if (const VerbSpec* verb = find_verb(name, verbs)) {
    result.verb = verb;
    result.group.clear();
  } else if (words.size() == 1 && is_group(name, verbs)) {
    result.group = name;
  } else {
    fail(result, "unknown command '" + name + "'");
    return false;
  }
  return true;
}

// Takes the option `argv[i]` (`--name`, `--name=value` or `--name value`, then advancing `i` past
// the value), as the verb's own flag when it has one of that name (`ledger verify --key`), else as
// a global option.
void take_option(Invocation& result, const std::vector<std::string>& argv, std::size_t& i) {
  const std::string& arg = argv[i];
  std::string name = arg;
  std::optional<std::string> inline_value;
  if (const std::size_t equals = arg.find('=');
      arg.rfind("--", 0) == 0 && equals != std::string::npos) {
    name = arg.substr(0, equals);
    inline_value = arg.substr(equals + 1);
  }
  const FlagSpec* flag = result.verb != nullptr ? find_flag(*result.verb, name) : nullptr;
  const GlobalFlag* global = flag == nullptr ? find_global(name) : nullptr;
  if (flag == nullptr && global == nullptr) {
    fail(result, result.verb != nullptr ? "unknown option '" + name + "' for 'digestgate " +
                                              std::string(result.verb->name) + "'"
                                        : "unknown option '" + name + "'");
    return;
  }
  const std::string_view metavar = flag != nullptr ? flag->metavar : global->metavar;
  std::string value;
  if (metavar.empty()) {
    if (inline_value) {
      fail(result, "option '" + name + "' takes no value");
      return;
    }
  } else if (inline_value) {
    value = *inline_value;
  } else {
    const bool next_is_flag =
        i + 1 < argv.size() &&
        ((result.verb != nullptr && find_flag(*result.verb, argv[i + 1]) != nullptr) ||
         find_global(argv[i + 1]) != nullptr);
    if (i + 1 >= argv.size() || next_is_flag) {
      fail(result, "option '" + name + "' needs a value (" + std::string(metavar) + ")");
      return;
    }
    value = argv[++i];
  }
  if (global != nullptr) {
    set_global(result.global, name, std::move(value));
  } else if (!flag->repeatable && result.args.has(name)) {
    fail(result, "option '" + name + "' is given more than once");
  } else {
    result.args.add(name, std::move(value));
  }
}

} // namespace

Invocation parse_command_line(const std::vector<std::string>& argv,
                              const std::vector<VerbSpec>& verbs) {
  Invocation result;
  std::vector<std::string> words; // the verb's words so far
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const bool is_option = !options_done && arg.size() > 1 && arg[0] == '-';
    if (!is_option) {
      if (!take_word(result, words, arg, verbs)) {
        break;
      }
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h") {
      result.global.help = true;
    } else {
      take_option(result, argv, i);
    }
  }
  return result;
}

std::string check_invocation(const Invocation& invocation) {
  if (!invocation.error.empty()) {
    return invocation.error;
  }
  if (invocation.verb == nullptr) {
    if (!invocation.group.empty()) {
      return "'" + invocation.group + "' needs a command";
    }
    return "no command given";
  }
  const VerbSpec& verb = *invocation.verb;
  for (const auto& flag : verb.flags) {
    if (flag.required && !invocation.args.has(flag.name)) {
      return "'digestgate " + std::string(verb.name) + "' needs " + flag_usage(flag);
    }
  }
  const std::size_t count = invocation.args.positionals().size();
  if (count < verb.min_positionals) {
    return "'digestgate " + std::string(verb.name) + "' needs " + std::string(verb.positional);
  }
  if (count > verb.max_positionals) {
    return "unexpected argument '" + invocation.args.positionals()[verb.max_positionals] +
           "' for 'digestgate " + std::string(verb.name) + "'";
  }
  return {};
}

std::string global_help(const std::vector<VerbSpec>& verbs) {
  std::string text =
      "Usage: digestgate [OPTIONS] COMMAND [ARGS]\n"
      "\n"
      "The client of digestgated, the promotion gatekeeper for container images: record what CI\n"
      "validated about an image digest, ask for a promotion before deploying, inspect digests,\n"
      "environments and the ledger, roll back, revoke, and verify the ledger offline.\n"
      "\n"
      "Commands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& verb : verbs) {
    rows.emplace_back(std::string(verb.name), std::string(verb.summary));
  }
  text += two_columns(rows) + "\n" + global_options_help() + "\n" + std::string(k_exit_codes);
  return text;
}

std::string group_help(std::string_view group, const std::vector<VerbSpec>& verbs) {
  std::string text = "Usage: digestgate " + std::string(group) + " COMMAND [ARGS]\n\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& verb : verbs) {
    if (verb.name.size() > group.size() && verb.name.substr(0, group.size()) == group &&
        verb.name[group.size()] == ' ') {
      rows.emplace_back(std::string(verb.name), std::string(verb.summary));
    }
  }
  text += two_columns(rows);
  text += "\nSee `digestgate " + std::string(group) + " COMMAND --help` for a command.\n";
  return text;
}

std::string verb_help(const VerbSpec& verb) {
  std::string text = synopsis(verb) + "\n" + std::string(verb.summary) + ".\n";
  if (!verb.description.empty()) {
    text.append("\n").append(verb.description);
    if (text.back() != '\n') {
      text += "\n";
    }
  }
  if (!verb.flags.empty()) {
    std::vector<std::pair<std::string, std::string>> rows;
    for (const auto& flag : verb.flags) {
      std::string help(flag.help);
      if (flag.required || flag.repeatable) {
        help += flag.required && flag.repeatable ? " (required, repeatable)"
                : flag.required                  ? " (required)"
                                                 : " (repeatable)";
      }
      rows.emplace_back(flag_usage(flag), help);
    }
    text.append("\nOptions:\n").append(two_columns(rows));
  }
  text.append("\n").append(global_options_help()).append("\n").append(k_exit_codes);
  return text;
}

} // namespace dg::cli
