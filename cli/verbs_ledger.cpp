// ledger list, show, checkpoint, verify: reading the ledger through the daemon, and verifying a
// ledger file offline.
#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "ledger/checkpoint.hpp"
#include "ledger/ledger.hpp"
#include "ledger/merkle.hpp"
#include "util/files.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>

namespace dg::cli {

namespace {

constexpr std::int64_t k_default_page = 100;

// The query of `ledger list`, and the page size it asks for.
struct ListQuery {
  std::string query;
  std::int64_t limit = k_default_page;
};

Result<ListQuery> list_query(const Args& args) {
  ListQuery list;
  for (const char* flag : {"--after", "--limit"}) {
    if (!args.has(flag)) {
      continue;
    }
    auto value = count_argument(args, flag);
    if (!value || *value > static_cast<std::uint64_t>(INT64_MAX)) {
      return make_error(Errc::invalid_argument, std::string(flag) +
                                                    " needs a non-negative integer, not '" +
                                                    args.value(flag) + "'");
    }
    if (std::string_view(flag) == "--limit") {
      if (*value == 0) {
        return make_error(Errc::invalid_argument, "--limit must be at least 1");
      }
      list.limit = static_cast<std::int64_t>(*value);
    }
    // Appended piece by piece: gcc 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on
    // "literal" + std::string&&.
    list.query.append(list.query.empty() ? "?" : "&")
        .append(flag + 2)
        .append("=")
        .append(std::to_string(*value));
  }
  if (args.has("--kind")) {
    const std::string kind = args.value("--kind");
    if (!ledger::is_entry_kind(kind)) {
      return make_error(Errc::invalid_argument,
                        "--kind must be one of validation, promotion, rollback, deployment, "
                        "revocation, policy; not '" +
                            kind + "'");
    }
    list.query.append(list.query.empty() ? "?" : "&").append("kind=").append(query_value(kind));
  }
  return list;
}

int cmd_ledger_list(Context& c, const Args& args) {
  auto list = list_query(args);
  if (!list) {
    return usage_error(c, list.error().message);
  }
  auto reply = send(c, "GET", "/v1/entries" + list->query);
  if (!reply) {
    return report_transport(c, reply.error());
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
      static_cast<std::int64_t>(entries->size()) >= list->limit) {
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
  if (it != object.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    return it->get<std::uint64_t>();
  }
  if (it != object.end() && it->is_number_unsigned()) {
    return it->get<std::uint64_t>();
  }
  return std::nullopt;
}

Result<std::vector<Hash>> proof_field(const json& answer) {
  const json& path = answer.value("inclusion_proof", json());
  if (!path.is_array()) {
    return make_error(Errc::corrupt, "the answer has no inclusion_proof");
  }
  std::vector<Hash> proof;
  for (const auto& item : path) {
    auto hash = hash_from_hex(item.is_string() ? item.get<std::string>() : std::string());
    if (!hash) {
      return make_error(Errc::corrupt, "the inclusion proof holds something that is not a hash");
    }
    proof.push_back(*hash);
  }
  return proof;
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
  auto proof = proof_field(answer);
  if (!proof) {
    return proof.error();
  }
  if (!ledger::verify_inclusion(*leaf, *index, *size, *proof, *root)) {
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
  auto reply = send(c, "GET", "/v1/entries/" + std::to_string(*seq));
  if (!reply) {
    return report_transport(c, reply.error());
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
  auto reply = send(c, "GET", "/v1/checkpoint");
  if (!reply) {
    return report_transport(c, reply.error());
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

// The verifier of --key: the text itself, or the trimmed content of the file it names.
Result<std::string> verifier_argument(const Args& args) {
  std::string verifier = args.value("--key");
  std::error_code ec;
  if (verifier.empty() || !std::filesystem::is_regular_file(verifier, ec)) {
    return verifier;
  }
  // A file holding the verifier string, as GET /v1/keys gives it.
  auto content = read_file(verifier);
  if (!content) {
    return make_error(Errc::invalid_argument,
                      "cannot read --key file '" + verifier + "': " + content.error().message);
  }
  const auto first = content->find_first_not_of(" \t\r\n");
  const auto last = content->find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : content->substr(first, last - first + 1);
}

void print_verify_report(Context& c, const ledger::VerifyReport& report) {
  if (c.json) {
    const json document = {{"ok", report.ok},
                           {"entries", report.entries},
                           {"checkpoints", report.checkpoints},
                           {"first_bad_seq", report.first_bad_seq},
                           {"message", report.message},
                           {"root_hash", report.root_hex}};
    c.out << document.dump(2) << '\n';
  } else if (report.ok) {
    c.out << "ledger ok: " << report.entries << " entries, " << report.checkpoints
          << " checkpoints verified, root " << report.root_hex << '\n';
  } else {
    c.out << "ledger verification FAILED";
    if (report.first_bad_seq > 0) {
      c.out << " at entry " << report.first_bad_seq;
    }
    c.out << ": " << report.message << '\n';
  }
}

// The exit code for a ledger database that could not be verified or copied.
int database_error(Context& c, const Error& error) {
  if (error.code == Errc::unavailable || error.code == Errc::io) {
    c.err << "digestgate: " << error.message << '\n';
    return k_exit_unavailable;
  }
  if (error.code == Errc::corrupt) {
    c.err << "digestgate: " << error.message << '\n';
    return k_exit_refused;
  }
  return usage_error(c, error.message);
}

int cmd_ledger_verify(Context& c, const Args& args) {
  const std::string path = args.value("--db");
  std::error_code ec;
  if (!ledger::is_postgresql(path) && !std::filesystem::is_regular_file(path, ec)) {
    return usage_error(c, "no ledger database at '" + path + "'");
  }
  auto verifier = verifier_argument(args);
  if (!verifier) {
    return usage_error(c, verifier.error().message);
  }
  auto report = ledger::verify_ledger(path, *verifier);
  if (!report) {
    return database_error(c, make_error(report.error().code, "cannot verify '" +
                                                                 ledger::redact_database(path) +
                                                                 "': " + report.error().message));
  }
  print_verify_report(c, *report);
  return report->ok ? k_exit_ok : k_exit_refused;
}

int cmd_ledger_copy(Context& c, const Args& args) {
  const std::string from = args.value("--from");
  const std::string to = args.value("--to");
  std::error_code ec;
  if (!ledger::is_postgresql(from) && !std::filesystem::is_regular_file(from, ec)) {
    return usage_error(c, "no ledger database at '" + from + "'");
  }
  if (from == to) {
    return usage_error(c, "--from and --to name the same ledger");
  }
  auto copied = ledger::copy_ledger(from, to);
  if (!copied) {
    return database_error(c, copied.error());
  }
  if (c.json) {
    c.out << json{{"entries", copied->entries},
                  {"checkpoints", copied->checkpoints},
                  {"root_hash", copied->root_hex}}
                 .dump(2)
          << '\n';
  } else {
    c.out << "copied " << copied->entries << " entries and " << copied->checkpoints
          << " checkpoints to " << ledger::redact_database(to) << ", root " << copied->root_hex
          << " (verified)\n";
  }
  return k_exit_ok;
}

} // namespace

std::vector<VerbSpec> ledger_verbs() {
  return {
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
           "ledger verifies, 1 if it does not, 2 if the file is not a ledger database, 3 if\n"
           "the PostgreSQL server cannot be reached.\n",
       .flags = {{"--db", "FILE|URL", "the ledger database: a file, or postgresql://...", true},
                 {"--key", "VERIFIER",
                  "checkpoint verifier, or a file holding it (default: the database's key)"}},
       .handler = cmd_ledger_verify},
      {.name = "ledger copy",
       .summary = "Copy a ledger between SQLite and PostgreSQL unchanged",
       .description =
           "Copies every entry, tree node, checkpoint and trusted key: the same seqs, bytes and\n"
           "hashes, so every published checkpoint and proof stays valid. The source must verify;\n"
           "the target must hold no entries (a database without the schema gets it). The copy\n"
           "is verified before the command succeeds. Exits 0 on success, 1 if the source does\n"
           "not verify, 2 for a bad argument or a target that holds entries, 3 if a database\n"
           "cannot be reached.\n",
       .flags = {{"--from", "FILE|URL", "the ledger to copy", true},
                 {"--to", "FILE|URL", "the new ledger: a file, or postgresql://...", true}},
       .handler = cmd_ledger_copy},
  };
}

} // namespace dg::cli
