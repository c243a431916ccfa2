#include "cli/commands.hpp"

#include "cli/args.hpp"
#include "cli/compose.hpp"
#include "cli/http_client.hpp"
#include "cli/output.hpp"
#include "ledger/checkpoint.hpp"
#include "ledger/ledger.hpp"
#include "ledger/merkle.hpp"
#include "policy/policy.hpp"
#include "policy/reference.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <istream>
#include <iterator>
#include <optional>
#include <ostream>

namespace dg::cli {

// What every verb works with: the streams, the server and the output mode.
struct Context {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const VerbSpec* verb = nullptr;
  ClientOptions client;
  std::string token;
  bool json = false;
};

namespace {

constexpr const char* k_default_url = "http://127.0.0.1:8470";
constexpr std::int64_t k_default_page = 100;

// An HTTP answer of digestgated.
struct Reply {
  int status = 0;
  std::string raw;
  json body; // discarded when `raw` is not JSON
};

int usage_error(Context& c, const std::string& message) {
  c.err << "digestgate: " << message << '\n';
  const std::string command = c.verb != nullptr
                                  ? "digestgate " + std::string(c.verb->name) + " --help"
                                  : "digestgate --help";
  c.err << "Try '" << command << "' for more information.\n";
  return k_exit_usage;
}

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(fallback);
}

// Percent-encode one path segment or query value. ':' and '@' stay as they are (RFC 3986 pchar),
// so digests read naturally in paths.
std::string encode(std::string_view text) {
  constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '@';
    if (plain) {
      out += ch;
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 0xf];
    }
  }
  return out;
}

// A non-negative decimal integer without sign, spaces or overflow.
std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

void print_raw(Context& c, const std::string& raw) {
  c.out << raw;
  if (raw.empty() || raw.back() != '\n') {
    c.out << '\n';
  }
}

// Send a request. On a transport failure prints why, sets `exit_code` and returns nothing.
std::optional<Reply> send(Context& c,
                          const std::string& method,
                          const std::string& target,
                          const std::string& body,
                          int& exit_code) {
  auto result = http_request(c.client, method, target, body, c.token);
  if (!result) {
    const Error& error = result.error();
    if (error.code == Errc::invalid_argument) {
      exit_code = usage_error(c, error.message);
    } else {
      c.err << "error: cannot reach digestgated at " << c.client.url << ": " << error.message
            << '\n';
      exit_code = k_exit_unavailable;
    }
    return std::nullopt;
  }
  Reply reply;
  reply.status = result->status;
  reply.raw = std::move(result->body);
  reply.body = json::parse(reply.raw, nullptr, false);
  return reply;
}

int exit_code_for(const Reply& reply) {
  const bool refused = text_of(reply.body, "decision") == "refused";
  if (reply.status >= 200 && reply.status < 300) {
    return refused ? k_exit_refused : k_exit_ok;
  }
  if (reply.status == 401) {
    return k_exit_auth;
  }
  if (reply.status == 403) {
    return refused ? k_exit_refused : k_exit_auth;
  }
  if (reply.status == 400 || reply.status == 413) {
    return k_exit_usage; // the request itself was malformed: the caller's input is at fault
  }
  if (reply.status >= 400 && reply.status < 500) {
    return k_exit_refused;
  }
  return k_exit_unavailable;
}

// Report an answer that is neither success nor a decision; returns its exit code.
int fail_with(Context& c, const Reply& reply) {
  if (c.json && !reply.body.is_discarded()) {
    print_raw(c, reply.raw);
  }
  std::string code = text_of(reply.body, "error");
  std::string message = text_of(reply.body, "message");
  if (code.empty()) {
    code = "HTTP " + std::to_string(reply.status);
    message = reply.raw.substr(0, std::min(reply.raw.find('\n'), std::size_t{200}));
  }
  c.err << "error: " << code << ": " << message;
  if (reply.status == 401) {
    c.err << " (check --token or DIGESTGATE_TOKEN)";
  }
  c.err << '\n';
  return exit_code_for(reply);
}

bool is_success(const Reply& reply) {
  return reply.status >= 200 && reply.status < 300;
}

// `response` with the request's fields filled in where the response lacks them, for display.
json with_defaults(const json& response, const json& request) {
  json shown = response.is_object() ? response : json::object();
  for (const auto& [key, value] : request.items()) {
    if (!shown.contains(key)) {
      shown[key] = value;
    }
  }
  return shown;
}

Result<std::vector<ServiceSpec>> parse_services(const Args& args) {
  std::vector<ServiceSpec> specs;
  for (const auto& text : args.values("--service")) {
    auto spec = parse_service(text);
    if (!spec) {
      return spec.error();
    }
    specs.push_back(std::move(*spec));
  }
  const bool has_override = args.has("--compose-override");
  if (!specs.empty() && !has_override) {
    return make_error(Errc::invalid_argument, "--service needs --compose-override FILE");
  }
  if (has_override && specs.empty()) {
    return make_error(Errc::invalid_argument, "--compose-override needs --service NAME");
  }
  if (has_override && args.value("--compose-override").empty()) {
    return make_error(Errc::invalid_argument, "--compose-override needs a file name");
  }
  return specs;
}

struct ComposeRequest {
  std::string path; // empty: none
  std::vector<ServiceSpec> services;
};

// Print and exit code for a promotion or rollback answer; writes the compose override on
// approval (never on refusal or dry run).
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
  json shown = with_defaults(reply.body, json{{"environment", request.value("environment", "")}});
  if (refused) {
    if (c.json) {
      print_raw(c, reply.raw);
    } else {
      print_decision(c.out, shown, rollback, bundle);
    }
    return k_exit_refused;
  }

  const bool dry_run = request.value("dry_run", false) || text_of(reply.body, "dry_run") == "true";
  std::vector<std::string> written;
  std::string compose_error;
  if (!compose.path.empty() && dry_run) {
    c.err << "note: dry run: " << compose.path << " is not written\n";
  } else if (!compose.path.empty()) {
    auto pins = resolve_services(compose.services, pinned_references(reply.body));
    if (!pins) {
      compose_error = pins.error().message;
    } else if (auto wrote = write_compose_override(compose.path, *pins); !wrote) {
      compose_error = wrote.error().message;
    } else {
      for (const auto& pin : *pins) {
        written.push_back("wrote compose override " + compose.path + " (service " + pin.service +
                          " -> " + pin.reference + ")");
      }
    }
  }

  if (c.json) {
    print_raw(c, reply.raw);
    for (const auto& line : written) {
      c.err << line << '\n';
    }
  } else {
    print_decision(c.out, shown, rollback, bundle);
    for (const auto& line : written) {
      c.out << line << '\n';
    }
    print_pinned(c.out, reply.body);
  }
  if (!compose_error.empty()) {
    c.err << "error: " << (rollback ? "rolled back" : "approved") << ", but the compose override "
          << compose.path << " was not written: " << compose_error << '\n';
    return k_exit_usage;
  }
  return k_exit_ok;
}

// GET `target` and print it with `print` (or verbatim with --json).
int show(Context& c, const std::string& target, void (*print)(std::ostream&, const json&)) {
  int code = k_exit_ok;
  auto reply = send(c, "GET", target, {}, code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply) || reply->body.is_discarded()) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print(c.out, reply->body);
  }
  return k_exit_ok;
}

// POST `request` to `target` and print the answer with `print` (or verbatim with --json).
int post(Context& c,
         const std::string& target,
         const json& request,
         void (*print)(std::ostream&, const json&)) {
  int code = k_exit_ok;
  auto reply = send(c, "POST", target, request.dump(), code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print(c.out, with_defaults(reply->body, request));
  }
  return k_exit_ok;
}

// --- verbs ---

int cmd_record(Context& c, const Args& args) {
  const std::string path = args.value("--evidence");
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(c.in), std::istreambuf_iterator<char>());
    if (c.in.bad()) {
      return usage_error(c, "cannot read evidence from standard input");
    }
  } else {
    auto content = read_file(path);
    if (!content) {
      return usage_error(c, "cannot read the evidence: " + content.error().message);
    }
    text = std::move(*content);
  }
  const std::string source = path == "-" ? "standard input" : "'" + path + "'";
  try {
    const json record = json::parse(text);
    if (!record.is_object()) {
      return usage_error(c, "evidence in " + source + " is not a JSON object");
    }
  } catch (const json::parse_error& e) {
    return usage_error(c, "evidence in " + source + " is not JSON: " + e.what());
  }
  int code = k_exit_ok;
  auto reply = send(c, "POST", "/v1/validations", text, code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print_record(c.out, reply->body);
  }
  return k_exit_ok;
}

int cmd_promote(Context& c, const Args& args) {
  const std::vector<std::string> refs = args.values("--ref");
  auto services = parse_services(args);
  if (!services) {
    return usage_error(c, services.error().message);
  }
  ComposeRequest compose{args.value("--compose-override"), std::move(*services)};
  if (!compose.services.empty()) {
    // Check the service flags before anything is ledgered. A reference that does not parse is
    // left to the daemon to refuse.
    std::vector<Pinned> expected;
    bool all_parsed = true;
    for (const auto& ref : refs) {
      if (auto parsed = policy::parse_reference(ref)) {
        expected.push_back(Pinned{parsed->name(), parsed->name()});
      } else {
        all_parsed = false;
      }
    }
    if (all_parsed) {
      if (auto pins = resolve_services(compose.services, expected); !pins) {
        return usage_error(c, pins.error().message);
      }
    }
  }

  json request = json::object();
  if (refs.size() == 1) {
    request["reference"] = refs.front();
  } else {
    request["references"] = refs;
  }
  request["environment"] = args.value("--env");
  request["dry_run"] = args.has("--dry-run");
  if (args.has("--deploy-commit")) {
    request["deploy_commit"] = args.value("--deploy-commit");
  }
  if (args.has("--break-glass")) {
    request["break_glass"] = json{{"reason", args.value("--break-glass")}};
  }
  int code = k_exit_ok;
  auto reply = send(c, "POST", "/v1/promotions", request.dump(), code);
  if (!reply) {
    return code;
  }
  return decide(c, *reply, request, compose, false, refs.size() > 1);
}

int cmd_report(Context& c, const Args& args) {
  const std::string status = args.value("--status");
  if (status != "succeeded" && status != "failed") {
    return usage_error(c, "--status must be succeeded or failed, not '" + status + "'");
  }
  json request = {{"digest", args.value("--digest")}, {"status", status}};
  if (args.has("--running-digest")) {
    request["running_digest"] = args.value("--running-digest");
  }
  const std::string environment = args.value("--env");
  json shown = request;
  shown["environment"] = environment;
  int code = k_exit_ok;
  auto reply = send(c, "POST", "/v1/environments/" + encode(environment) + "/deployments",
                    request.dump(), code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print_deployment(c.out, with_defaults(reply->body, shown));
  }
  return k_exit_ok;
}

int cmd_rollback(Context& c, const Args& args) {
  auto services = parse_services(args);
  if (!services) {
    return usage_error(c, services.error().message);
  }
  ComposeRequest compose{args.value("--compose-override"), std::move(*services)};
  if (!compose.services.empty()) {
    // One repository is rolled back: check what can be checked before anything is ledgered.
    std::vector<Pinned> expected;
    if (args.has("--repository")) {
      if (auto repository = policy::normalize_repository(args.value("--repository"))) {
        expected.push_back(Pinned{*repository, *repository});
      }
    }
    if (expected.empty()) {
      for (const auto& service : compose.services) {
        if (!service.repository.empty()) {
          expected.push_back(Pinned{service.repository, service.repository});
          break;
        }
      }
    }
    if (expected.empty()) {
      expected.push_back(Pinned{"(the rolled back repository)", ""});
    }
    if (auto pins = resolve_services(compose.services, expected); !pins) {
      return usage_error(c, pins.error().message);
    }
  }
  json request = {{"reason", args.value("--reason")}};
  if (args.has("--repository")) {
    request["repository"] = args.value("--repository");
  }
  if (args.has("--to")) {
    request["to"] = args.value("--to");
  }
  if (args.has("--break-glass")) {
    request["break_glass"] = json{{"reason", args.value("--break-glass")}};
  }
  const std::string environment = args.value("--env");
  int code = k_exit_ok;
  auto reply = send(c, "POST", "/v1/environments/" + encode(environment) + "/rollback",
                    request.dump(), code);
  if (!reply) {
    return code;
  }
  json shown_request = request;
  shown_request["environment"] = environment;
  return decide(c, *reply, shown_request, compose, true, false);
}

int cmd_revoke(Context& c, const Args& args) {
  const json request = {{"digest", args.value("--digest")}, {"reason", args.value("--reason")}};
  return post(c, "/v1/revocations", request, print_revocation);
}

int cmd_status(Context& c, const Args& args) {
  std::string digest = args.positionals().front();
  // Accept a pinned reference too: the digest decides.
  if (digest.find('@') != std::string::npos) {
    if (auto reference = policy::parse_reference(digest); reference && !reference->digest.empty()) {
      digest = reference->digest;
    }
  }
  return show(c, "/v1/digests/" + encode(digest), print_digest_status);
}

int cmd_envs(Context& c, const Args&) {
  return show(c, "/v1/environments", print_environments);
}

int cmd_env(Context& c, const Args& args) {
  return show(c, "/v1/environments/" + encode(args.positionals().front()), print_environment);
}

int cmd_ledger_list(Context& c, const Args& args) {
  std::string query;
  std::int64_t limit = k_default_page;
  for (const char* flag : {"--after", "--limit"}) {
    if (!args.has(flag)) {
      continue;
    }
    const auto value = parse_count(args.value(flag));
    if (!value || *value > static_cast<std::uint64_t>(INT64_MAX)) {
      return usage_error(c, std::string(flag) + " needs a non-negative integer, not '" +
                                args.value(flag) + "'");
    }
    if (std::string_view(flag) == "--limit") {
      if (*value == 0) {
        return usage_error(c, "--limit must be at least 1");
      }
      limit = static_cast<std::int64_t>(*value);
    }
    query += (query.empty() ? "?" : "&") + std::string(flag + 2) + "=" + std::to_string(*value);
  }
  if (args.has("--kind")) {
    const std::string kind = args.value("--kind");
    if (!ledger::is_entry_kind(kind)) {
      return usage_error(c, "--kind must be one of validation, promotion, rollback, deployment, "
                            "revocation, policy; not '" +
                                kind + "'");
    }
    query += (query.empty() ? "?" : "&") + std::string("kind=") + encode(kind);
  }
  int code = k_exit_ok;
  auto reply = send(c, "GET", "/v1/entries" + query, {}, code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply) || reply->body.is_discarded()) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
    return k_exit_ok;
  }
  print_entries(c.out, reply->body);
  const auto entries = reply->body.is_object() ? reply->body.find("entries") : reply->body.end();
  if (entries != reply->body.end() && entries->is_array() &&
      static_cast<std::int64_t>(entries->size()) >= limit) {
    c.err << "more entries may follow: digestgate ledger list --after "
          << text_of(reply->body, "next_after") << '\n';
  }
  return k_exit_ok;
}

Result<Hash> hash_field(const json& object, const char* key) {
  auto hash = hash_from_hex(text_of(object, key));
  if (!hash) {
    return make_error(Errc::corrupt,
                      std::string("the answer's ") + key + " is not a 32-byte hex hash");
  }
  return hash;
}

std::optional<std::uint64_t> count_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned()) {
    if (it != object.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      return it->get<std::uint64_t>();
    }
    return std::nullopt;
  }
  return it->get<std::uint64_t>();
}

// Check that the answer of GET /v1/entries/{seq} proves entry `seq` included in the tree its
// checkpoint names: the leaf hash, the audit path and the root hash must agree, and the root and
// tree size must be the checkpoint's.
Result<void> verify_entry_answer(const json& answer, std::uint64_t seq) {
  if (!answer.is_object()) {
    return make_error(Errc::corrupt, "the answer is not a JSON object");
  }
  const json& entry = answer.value("entry", json::object());
  const auto entry_seq = entry.is_object() ? count_field(entry, "seq") : std::nullopt;
  if (entry_seq != seq) {
    return make_error(Errc::corrupt, "the answer is not entry " + std::to_string(seq));
  }
  const auto index = count_field(answer, "index");
  const auto size = count_field(answer, "tree_size");
  if (!index || *index != seq - 1) {
    return make_error(Errc::corrupt, "the answer's index is not " + std::to_string(seq - 1));
  }
  if (!size) {
    return make_error(Errc::corrupt, "the answer has no tree_size");
  }
  auto leaf = hash_field(answer, "leaf_hash");
  if (!leaf) {
    return leaf.error();
  }
  auto root = hash_field(answer, "root_hash");
  if (!root) {
    return root.error();
  }
  std::vector<Hash> proof;
  const json& path = answer.value("inclusion_proof", json());
  if (!path.is_array()) {
    return make_error(Errc::corrupt, "the answer has no inclusion_proof");
  }
  for (const auto& item : path) {
    auto hash = hash_from_hex(item.is_string() ? item.get<std::string>() : std::string());
    if (!hash) {
      return make_error(Errc::corrupt, "the inclusion proof holds something that is not a hash");
    }
    proof.push_back(*hash);
  }
  if (!ledger::verify_inclusion(*leaf, *index, *size, proof, *root)) {
    return make_error(Errc::corrupt, "the inclusion proof does not lead from the leaf hash to "
                                     "the root hash");
  }
  auto checkpoint = ledger::parse_checkpoint(text_of(answer, "checkpoint"));
  if (!checkpoint) {
    return make_error(Errc::corrupt,
                      "the checkpoint does not parse: " + checkpoint.error().message);
  }
  if (checkpoint->size != *size || checkpoint->root != *root) {
    return make_error(Errc::corrupt, "the proof's tree size and root are not the checkpoint's");
  }
  return {};
}

int cmd_ledger_show(Context& c, const Args& args) {
  const std::string text = args.positionals().front();
  const auto seq = parse_count(text);
  if (!seq || *seq == 0) {
    return usage_error(c, "SEQ must be a positive integer, not '" + text + "'");
  }
  int code = k_exit_ok;
  auto reply = send(c, "GET", "/v1/entries/" + std::to_string(*seq), {}, code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply) || reply->body.is_discarded()) {
    return fail_with(c, *reply);
  }
  if (auto verified = verify_entry_answer(reply->body, *seq); !verified) {
    c.err << "error: entry " << *seq << " failed verification: " << verified.error().message
          << '\n';
    return k_exit_refused;
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print_entry(c.out, reply->body);
  }
  return k_exit_ok;
}

int cmd_ledger_checkpoint(Context& c, const Args&) {
  int code = k_exit_ok;
  auto reply = send(c, "GET", "/v1/checkpoint", {}, code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (!c.json) {
    print_raw(c, reply->raw);
    return k_exit_ok;
  }
  // The note is text; --json wraps it with its parsed fields.
  json document = {{"checkpoint", reply->raw}};
  if (auto checkpoint = ledger::parse_checkpoint(reply->raw)) {
    document["origin"] = checkpoint->origin;
    document["tree_size"] = checkpoint->size;
    document["root_hash"] = to_hex(checkpoint->root);
  }
  c.out << document.dump(2) << '\n';
  return k_exit_ok;
}

int cmd_ledger_verify(Context& c, const Args& args) {
  const std::string path = args.value("--db");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return usage_error(c, "no ledger database at '" + path + "'");
  }
  std::string verifier = args.value("--key");
  if (!verifier.empty() && std::filesystem::is_regular_file(verifier, ec)) {
    // A file holding the verifier string, as GET /v1/keys gives it.
    auto content = read_file(verifier);
    if (!content) {
      return usage_error(c,
                         "cannot read --key file '" + verifier + "': " + content.error().message);
    }
    verifier = *content;
    const auto first = verifier.find_first_not_of(" \t\r\n");
    const auto last = verifier.find_last_not_of(" \t\r\n");
    verifier =
        first == std::string::npos ? std::string() : verifier.substr(first, last - first + 1);
  }
  auto report = ledger::verify_file(path, verifier);
  if (!report) {
    return usage_error(c, "cannot verify '" + path + "': " + report.error().message);
  }
  if (c.json) {
    const json document = {{"ok", report->ok},
                           {"entries", report->entries},
                           {"checkpoints", report->checkpoints},
                           {"first_bad_seq", report->first_bad_seq},
                           {"message", report->message},
                           {"root_hash", report->root_hex}};
    c.out << document.dump(2) << '\n';
  } else if (report->ok) {
    c.out << "ledger ok: " << report->entries << " entries, " << report->checkpoints
          << " checkpoints verified, root " << report->root_hex << '\n';
  } else {
    c.out << "ledger verification FAILED";
    if (report->first_bad_seq > 0) {
      c.out << " at entry " << report->first_bad_seq;
    }
    c.out << ": " << report->message << '\n';
  }
  return report->ok ? k_exit_ok : k_exit_refused;
}

// Parse the hash of `flag`, or print a usage error.
std::optional<Hash> hash_argument(Context& c, const Args& args, const char* flag, int& code) {
  auto hash = hash_from_hex(args.value(flag));
  if (!hash) {
    code = usage_error(c, std::string(flag) + " needs a 32-byte hash in hex (64 characters)");
    return std::nullopt;
  }
  return *hash;
}

std::optional<std::uint64_t>
size_argument(Context& c, const Args& args, const char* flag, int& code) {
  auto value = parse_count(args.value(flag));
  if (!value) {
    code = usage_error(c, std::string(flag) + " needs a non-negative integer, not '" +
                              args.value(flag) + "'");
  }
  return value;
}

// Every --proof value, comma-separated hashes; an empty value holds none.
std::optional<std::vector<Hash>> proof_argument(Context& c, const Args& args, int& code) {
  std::vector<Hash> proof;
  for (const auto& value : args.values("--proof")) {
    std::size_t start = 0;
    while (!value.empty() && start <= value.size()) {
      const std::size_t comma = std::min(value.find(',', start), value.size());
      auto hash = hash_from_hex(std::string_view(value).substr(start, comma - start));
      if (!hash) {
        code = usage_error(c, "--proof needs 32-byte hex hashes separated by commas");
        return std::nullopt;
      }
      proof.push_back(*hash);
      start = comma + 1;
    }
  }
  return proof;
}

int print_validity(Context& c, bool valid, const std::string& what) {
  if (c.json) {
    c.out << json{{"valid", valid}}.dump() << '\n';
  } else {
    c.out << what << (valid ? " is valid" : " is INVALID") << '\n';
  }
  return valid ? k_exit_ok : k_exit_refused;
}

int cmd_verify_inclusion(Context& c, const Args& args) {
  int code = k_exit_usage;
  const auto leaf = hash_argument(c, args, "--leaf-hash", code);
  if (!leaf) {
    return code;
  }
  const auto root = hash_argument(c, args, "--root", code);
  if (!root) {
    return code;
  }
  const auto index = size_argument(c, args, "--index", code);
  if (!index) {
    return code;
  }
  const auto size = size_argument(c, args, "--size", code);
  if (!size) {
    return code;
  }
  const auto proof = proof_argument(c, args, code);
  if (!proof) {
    return code;
  }
  const bool valid = ledger::verify_inclusion(*leaf, *index, *size, *proof, *root);
  return print_validity(c, valid,
                        "inclusion proof of leaf " + std::to_string(*index) +
                            " in the tree of size " + std::to_string(*size));
}

int cmd_verify_consistency(Context& c, const Args& args) {
  int code = k_exit_usage;
  const auto size1 = size_argument(c, args, "--size1", code);
  if (!size1) {
    return code;
  }
  const auto root1 = hash_argument(c, args, "--root1", code);
  if (!root1) {
    return code;
  }
  const auto size2 = size_argument(c, args, "--size2", code);
  if (!size2) {
    return code;
  }
  const auto root2 = hash_argument(c, args, "--root2", code);
  if (!root2) {
    return code;
  }
  const auto proof = proof_argument(c, args, code);
  if (!proof) {
    return code;
  }
  const bool valid = ledger::verify_consistency(*size1, *root1, *size2, *root2, *proof);
  return print_validity(c, valid,
                        "consistency proof from size " + std::to_string(*size1) + " to size " +
                            std::to_string(*size2));
}

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

int cmd_policy_check(Context& c, const Args& args) {
  const std::string& path = args.positionals().front();
  auto text = read_file(path);
  if (!text) {
    return usage_error(c, "cannot read the policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(*text);
  if (!parsed) {
    if (c.json) {
      c.out << json{{"valid", false}, {"error", parsed.error().message}}.dump(2) << '\n';
    } else {
      c.err << "invalid policy " << path << ": " << parsed.error().message << '\n';
    }
    return k_exit_refused;
  }
  json environments = json::array();
  for (const auto& [name, env] : parsed->environments) {
    environments.push_back(name);
  }
  if (c.json) {
    c.out << json{{"valid", true},
                  {"sha256", parsed->sha256},
                  {"environments", environments},
                  {"trusted_keys", parsed->trusted_keys.size()}}
                 .dump(2)
          << '\n';
  } else {
    c.out << "policy " << path << " is valid (sha256 " << parsed->sha256 << ")\n"
          << "environments: ";
    for (std::size_t i = 0; i < environments.size(); ++i) {
      c.out << (i ? ", " : "") << environments[i].get<std::string>();
    }
    c.out << "\ntrusted keys: " << parsed->trusted_keys.size() << '\n';
  }
  return k_exit_ok;
}

int cmd_policy_what_if(Context& c, const Args& args) {
  const std::string& path = args.positionals().front();
  auto text = read_file(path);
  if (!text) {
    return usage_error(c, "cannot read the policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(*text);
  if (!parsed) {
    c.err << "invalid policy " << path << ": " << parsed.error().message << '\n';
    return k_exit_refused;
  }
  int code = k_exit_ok;
  auto reply =
      send(c, "POST", "/v1/policy/what-if", json{{"policy", parsed->document}}.dump(), code);
  if (!reply) {
    return code;
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
    return k_exit_ok;
  }
  const json& body = reply->body;
  c.out << "proposed policy " << path << " (sha256 " << body.value("policy_sha256", "") << ")\n";
  std::int64_t refused = 0;
  for (const auto& r : body.value("results", json::array())) {
    const bool ok = r.value("decision", "") == "approved";
    refused += ok ? 0 : 1;
    c.out << (ok ? "  ok       " : "  REFUSED  ") << r.value("environment", "") << "  "
          << r.value("reference", "") << "  (" << r.value("role", "") << ", seq "
          << r.value("seq", 0) << ")\n";
    for (const auto& reason : r.value("reasons", json::array())) {
      c.out << "      - " << reason.value("code", "") << ": " << reason.value("message", "")
            << '\n';
    }
  }
  c.out << refused << " of " << body.value("evaluated", 0)
        << " current or recent digests would be refused\n";
  return k_exit_ok;
}

// --- the verb table ---

const std::vector<VerbSpec>& verbs() {
  static const std::vector<VerbSpec> table = {
      {.name = "record",
       .summary = "Record a digest's evidence (POST /v1/validations)",
       .description =
           "Sends an evidence record (JSON: subject, source, build, mirrors, gates, signatures,\n"
           "attestations) about one image digest. The daemon computes its own checks and answers\n"
           "them; whether the evidence is enough is judged at promotion time.\n",
       .flags = {{"--evidence", "FILE", "the evidence record (JSON); - reads standard input",
                  true}},
       .handler = cmd_record},
      {.name = "promote",
       .summary = "Ask to promote references to an environment (POST /v1/promotions)",
       .description =
           "Each --ref must pin a digest (name@sha256:...); several --ref make a bundle, approved\n"
           "all or nothing. On approval prints the decision, then each pinned reference alone on\n"
           "its line (`| tail -1` gives the pinned reference of a single --ref): deploy exactly\n"
           "that. On refusal prints every reason and exits 1. A dry run is judged, not ledgered.\n"
           "\n"
           "With --compose-override FILE, an approval (never a refusal or a dry run) writes a\n"
           "compose override pinning each --service's image to its approved digest. With one\n"
           "--ref, give --service NAME; with several, --service NAME=REPOSITORY for each service.\n"
           "If the override cannot be written after an approval, the exit code is 2.\n",
       .flags = {{"--env", "ENV", "the environment to promote to", true},
                 {"--ref", "REF", "a reference pinned by digest", true, true},
                 {"--dry-run", "", "judge without ledgering or writing anything"},
                 {"--deploy-commit", "SHA", "the deployment repository's commit, for the record"},
                 {"--break-glass", "REASON", "approve despite failing reasons (operator role)"},
                 {"--compose-override", "FILE", "on approval, write a compose override here"},
                 {"--service", "NAME[=REPOSITORY]", "a compose service to pin", false, true}},
       .handler = cmd_promote},
      {.name = "report",
       .summary = "Report a deployment's outcome",
       .description =
           "Tells the daemon whether deploying a digest to an environment succeeded. A running\n"
           "digest that differs from the approved one is recorded as drift.\n",
       .flags = {{"--env", "ENV", "the environment deployed to", true},
                 {"--digest", "DIGEST", "the approved digest that was deployed", true},
                 {"--status", "succeeded|failed", "the outcome", true},
                 {"--running-digest", "DIGEST", "the digest actually running"}},
       .handler = cmd_report},
      {.name = "rollback",
       .summary = "Roll an environment back to its last known-good digest",
       .description =
           "Without --to, the target is the newest digest before the current one that was\n"
           "approved there, is not revoked, was never rolled back from and (once deployments are\n"
           "reported) deployed successfully without drift. The target is gated again; a refusal\n"
           "lists its reasons. On success prints the reference rolled back to alone on the last\n"
           "line, and --compose-override FILE --service NAME writes the override for it.\n",
       .flags = {{"--env", "ENV", "the environment", true},
                 {"--repository", "NAME", "the repository (when the environment holds several)"},
                 {"--reason", "TEXT", "why, for the record", true},
                 {"--to", "DIGEST", "roll back to this digest instead of the last known-good"},
                 {"--break-glass", "REASON", "roll back even if the target fails its gates"},
                 {"--compose-override", "FILE", "on success, write a compose override here"},
                 {"--service", "NAME[=REPOSITORY]", "a compose service to pin", false, true}},
       .handler = cmd_rollback},
      {.name = "revoke",
       .summary = "Revoke a digest everywhere",
       .description =
           "A revoked digest is refused from then on and skipped by rollback. Prints where it is\n"
           "still current and what each place would roll back to.\n",
       .flags = {{"--digest", "DIGEST", "the digest to revoke", true},
                 {"--reason", "TEXT", "why, for the record", true}},
       .handler = cmd_revoke},
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
      {.name = "ledger list",
       .summary = "List ledger entries",
       .description = "One line per entry: seq, time, kind, actor and what it recorded.\n",
       .flags = {{"--after", "N", "entries after seq N"},
                 {"--limit", "N", "at most N entries (default 100, at most 1000)"},
                 {"--kind", "KIND",
                  "validation, promotion, rollback, deployment, revocation or policy"}},
       .handler = cmd_ledger_list},
      {.name = "ledger show",
       .positional = "SEQ",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Show one ledger entry, after verifying its inclusion proof",
       .description =
           "The entry's inclusion proof must lead from its leaf hash to the root hash, and the\n"
           "root and tree size must be those of the checkpoint returned with it; otherwise the\n"
           "entry is not shown and the exit code is 1.\n",
       .handler = cmd_ledger_show},
      {.name = "ledger checkpoint",
       .summary = "Print the latest signed checkpoint",
       .description = "The signed note (origin, tree size, root hash, signature). With --json:\n"
                      "{\"checkpoint\", \"origin\", \"tree_size\", \"root_hash\"}.\n",
       .handler = cmd_ledger_checkpoint},
      {.name = "ledger verify",
       .summary = "Verify a ledger database offline",
       .description =
           "Recomputes every leaf and the tree, and checks every stored checkpoint's root and\n"
           "signature; names the first bad entry. Works on a live database. Exits 0 if the\n"
           "ledger verifies, 1 if it does not, 2 if the file is not a ledger database.\n",
       .flags = {{"--db", "FILE", "the ledger database", true},
                 {"--key", "VERIFIER",
                  "checkpoint verifier, or a file holding it (default: the database's key)"}},
       .handler = cmd_ledger_verify},
      {.name = "proof verify-inclusion",
       .summary = "Check an RFC 6962 inclusion proof offline",
       .description =
           "Indexes are 0-based. Exits 0 if the proof is valid, 1 if not, 2 for arguments that\n"
           "are not 32-byte hex hashes or sizes.\n",
       .flags = {{"--leaf-hash", "HEX", "the leaf hash", true},
                 {"--index", "I", "the leaf's index", true},
                 {"--size", "N", "the tree size", true},
                 {"--root", "HEX", "the tree's root hash", true},
                 {"--proof", "HEX,HEX,...", "the audit path (empty: none)", false, true}},
       .handler = cmd_verify_inclusion},
      {.name = "proof verify-consistency",
       .summary = "Check an RFC 6962 consistency proof offline",
       .description =
           "Exits 0 if the proof is valid, 1 if not, 2 for arguments that are not 32-byte hex\n"
           "hashes or sizes.\n",
       .flags = {{"--size1", "N", "the older tree size", true},
                 {"--root1", "HEX", "the older root hash", true},
                 {"--size2", "N", "the newer tree size", true},
                 {"--root2", "HEX", "the newer root hash", true},
                 {"--proof", "HEX,HEX,...", "the consistency proof (empty: none)", false, true}},
       .handler = cmd_verify_consistency},
      {.name = "policy check",
       .positional = "FILE",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Validate a policy file offline",
       .description =
           "Parses the policy as the daemon does (unknown fields, unknown keys, bad globs and\n"
           "durations are errors naming their place). Exits 0 if valid, 1 if not.\n",
       .handler = cmd_policy_check},
      {.name = "policy what-if",
       .positional = "FILE",
       .min_positionals = 1,
       .max_positionals = 1,
       .summary = "Show which current and recent digests a proposed policy would refuse",
       .description =
           "Evaluates the proposed policy against each environment's current digests and its\n"
           "recent approvals (POST /v1/policy/what-if) without changing anything.\n",
       .handler = cmd_policy_what_if},
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
  return table;
}

} // namespace

int run(const std::vector<std::string>& args,
        std::istream& in,
        std::ostream& out,
        std::ostream& err) {
  const Invocation invocation = parse_command_line(args, verbs());
  Context context{in, out, err, invocation.verb, ClientOptions{}, std::string(), false};
  if (invocation.global.help) {
    if (invocation.verb != nullptr) {
      out << verb_help(*invocation.verb);
    } else if (!invocation.group.empty()) {
      out << group_help(invocation.group, verbs());
    } else {
      out << global_help(verbs());
    }
    return k_exit_ok;
  }
  if (invocation.global.version) {
    out << "digestgate " << DG_VERSION << '\n';
    return k_exit_ok;
  }
  if (args.empty()) {
    err << global_help(verbs());
    return k_exit_usage;
  }
  if (std::string problem = check_invocation(invocation); !problem.empty()) {
    if (invocation.verb == nullptr && !invocation.group.empty() && invocation.error.empty()) {
      err << "digestgate: " << problem << "\n" << group_help(invocation.group, verbs());
      return k_exit_usage;
    }
    return usage_error(context, problem);
  }

  const GlobalOptions& global = invocation.global;
  context.json = global.json;
  context.client.url = global.url ? *global.url : env_or("DIGESTGATE_URL", k_default_url);
  context.token = global.token ? *global.token : env_or("DIGESTGATE_TOKEN", "");
  context.client.cacert = global.cacert.value_or("");
  context.client.cert = global.cert.value_or("");
  context.client.key = global.key.value_or("");
  if (!context.client.key.empty() && context.client.cert.empty()) {
    return usage_error(context, "--key FILE needs --cert FILE");
  }
  if (global.timeout) {
    const auto seconds = parse_count(*global.timeout);
    if (!seconds || *seconds == 0 || *seconds > 86400) {
      return usage_error(context, "--timeout needs a number of seconds from 1 to 86400");
    }
    context.client.timeout = std::chrono::seconds(*seconds);
  }
  return invocation.verb->handler(context, invocation.args);
}

} // namespace dg::cli
