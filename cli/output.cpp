#include "cli/output.hpp"

#include "cli/compose.hpp"

#include <algorithm>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace dg::cli {

namespace {

using Row = std::vector<std::string>;

// `object[key]` when `object` is an object holding a non-null `key`.
const json* field(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string first_text(const json& object, std::initializer_list<std::string_view> keys) {
  for (const auto key : keys) {
    if (std::string text = text_of(object, key); !text.empty()) {
      return text;
    }
  }
  return {};
}

bool is_true(const json& object, std::string_view key) {
  const json* value = field(object, key);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

// `key` at the top of `object`, else in one of its object members.
std::string lookup(const json& object, std::string_view key) {
  if (std::string text = text_of(object, key); !text.empty()) {
    return text;
  }
  if (!object.is_object()) {
    return {};
  }
  for (const auto& [name, member] : object.items()) {
    if (member.is_object()) {
      if (std::string text = text_of(member, key); !text.empty()) {
        return text;
      }
    }
  }
  return {};
}

// A digest given as a string or as {"digest", ...}; "none" when absent.
std::string digest_or_none(const json* value) {
  if (value == nullptr) {
    return "none";
  }
  if (value->is_string()) {
    return value->get<std::string>();
  }
  if (std::string digest = text_of(*value, "digest"); !digest.empty()) {
    return digest;
  }
  return "none";
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const auto& part : parts) {
    if (!text.empty()) {
      text += separator;
    }
    text += part;
  }
  return text;
}

std::vector<std::string> strings_of(const json* array) {
  std::vector<std::string> out;
  if (array == nullptr || !array->is_array()) {
    return out;
  }
  for (const auto& item : *array) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (item.is_number() || item.is_boolean()) {
      out.push_back(item.dump());
    }
  }
  return out;
}

// Rows with their columns aligned, separated by two spaces, without trailing blanks.
void print_table(std::ostream& out, const std::vector<Row>& rows, std::string_view indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) {
        widths.push_back(0);
      }
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out << line << '\n';
  }
}

std::string check_label(std::string name) {
  for (char& c : name) {
    if (c == '_') {
      c = '-';
    }
  }
  return name;
}

void print_checks(std::ostream& out, const json* checks, std::string_view indent) {
  if (checks == nullptr || !checks->is_object()) {
    return;
  }
  std::vector<std::string> order = {"digest_bound", "artifact_freshness", "registry_parity",
                                    "evidence_complete", "revision_label"};
  for (const auto& [name, value] : checks->items()) {
    if (std::find(order.begin(), order.end(), name) == order.end()) {
      order.push_back(name);
    }
  }
  std::vector<Row> rows;
  std::vector<std::vector<std::string>> problems;
  for (const auto& name : order) {
    const json* check = field(*checks, name);
    if (check == nullptr) {
      continue;
    }
    const bool ok = check->is_boolean() ? check->get<bool>() : is_true(*check, "ok");
    rows.push_back({check_label(name), ok ? "ok" : "FAILED"});
    problems.push_back(strings_of(field(*check, "problems")));
  }
  // Aligned rows, each followed by its problems.
  std::ostringstream table;
  print_table(table, rows, indent);
  std::istringstream lines(table.str());
  std::string line;
  for (std::size_t i = 0; std::getline(lines, line); ++i) {
    out << line << '\n';
    for (const auto& problem : problems[i]) {
      out << indent << "    - " << problem << '\n';
    }
  }
}

void print_reasons(std::ostream& out,
                   const json* reasons,
                   bool with_reference,
                   std::string_view indent) {
  if (reasons == nullptr || !reasons->is_array()) {
    return;
  }
  for (const auto& reason : *reasons) {
    std::string line =
        std::string(indent) + "- " + text_of(reason, "code") + ": " + text_of(reason, "message");
    if (std::string gate = text_of(reason, "gate"); !gate.empty()) {
      line += " [" + gate + "]";
    }
    if (std::string reference = text_of(reason, "reference");
        with_reference && !reference.empty()) {
      line += " (" + reference + ")";
    }
    out << line << '\n';
  }
}

std::string seq_part(const json& response) {
  const std::string seq = text_of(response, "seq");
  return seq.empty() ? std::string() : "seq " + seq;
}

std::string parenthesized(const std::vector<std::string>& parts) {
  std::vector<std::string> present;
  for (const auto& part : parts) {
    if (!part.empty()) {
      present.push_back(part);
    }
  }
  return present.empty() ? std::string() : "  (" + join(present, ", ") + ")";
}

std::string slot_time(const json* slot) {
  return slot == nullptr ? std::string() : text_of(*slot, "time");
}

std::vector<Row> entry_rows(const json* entries) {
  std::vector<Row> rows;
  if (entries == nullptr || !entries->is_array()) {
    return rows;
  }
  for (const auto& entry : *entries) {
    rows.push_back({text_of(entry, "seq"), text_of(entry, "time"), text_of(entry, "kind"),
                    text_of(entry, "actor"), entry_summary(entry)});
  }
  return rows;
}

std::string promotion_references(const json& body) {
  if (const json* references = field(body, "references"); references && references->is_array()) {
    return join(strings_of(references), " ");
  }
  if (const json* promotions = field(body, "promotions"); promotions && promotions->is_array()) {
    std::vector<std::string> refs;
    for (const auto& promotion : *promotions) {
      refs.push_back(text_of(promotion, "reference"));
    }
    return join(refs, " ");
  }
  return lookup(body, "reference");
}

std::string reason_codes(const json& body) {
  const json* reasons = field(body, "reasons");
  if (reasons == nullptr || !reasons->is_array()) {
    return {};
  }
  std::vector<std::string> codes;
  for (const auto& reason : *reasons) {
    std::string code = text_of(reason, "code");
    if (!code.empty() && std::find(codes.begin(), codes.end(), code) == codes.end()) {
      codes.push_back(code);
    }
  }
  return join(codes, ", ");
}

} // namespace

std::string text_of(const json& object, std::string_view key) {
  const json* value = field(object, key);
  if (value == nullptr) {
    return {};
  }
  if (value->is_string()) {
    return value->get<std::string>();
  }
  if (value->is_number() || value->is_boolean()) {
    return value->dump();
  }
  return {};
}

void print_record(std::ostream& out, const json& response) {
  const std::string repository = text_of(response, "repository");
  const std::string digest = text_of(response, "digest");
  out << "recorded  " << (repository.empty() ? digest : repository + "@" + digest)
      << parenthesized({seq_part(response)}) << '\n';
  print_checks(out, field(response, "checks"), "  ");
}

void print_decision(std::ostream& out, const json& response, bool rollback, bool bundle) {
  const bool dry_run = is_true(response, "dry_run");
  const std::string environment = text_of(response, "environment");
  if (text_of(response, "decision") == "refused") {
    std::string line = dry_run ? "refused (dry run)" : "refused";
    line += "  " + environment;
    if (std::string repository = text_of(response, "repository"); rollback && !repository.empty()) {
      line += "  " + repository;
    }
    out << line << parenthesized({seq_part(response)}) << '\n';
    print_reasons(out, field(response, "reasons"), bundle, "  ");
    return;
  }

  const json* break_glass = field(response, "break_glass");
  const bool broke_glass =
      break_glass != nullptr && !(break_glass->is_boolean() && !break_glass->get<bool>());
  std::string head = rollback ? "rolled back" : "approved";
  if (dry_run) {
    head += " (dry run)";
  }
  if (broke_glass) {
    head += " (break glass)";
  }
  const std::string previous = digest_or_none(field(response, "previous_digest"));
  const std::string was = (dry_run ? "would replace " : "was ") + previous;
  const json* promotions = field(response, "promotions");
  if (rollback) {
    std::string target = text_of(response, "reference");
    if (target.empty()) {
      target = text_of(response, "digest");
    }
    out << head << "  " << environment << "  " << target
        << parenthesized({seq_part(response), "was " + previous}) << '\n';
  } else if (promotions != nullptr && promotions->is_array()) {
    out << head << "  " << environment << "  bundle of " << promotions->size()
        << parenthesized({seq_part(response)}) << '\n';
    for (const auto& promotion : *promotions) {
      const std::string replaced = digest_or_none(field(promotion, "previous_digest"));
      out << "  " << text_of(promotion, "reference")
          << parenthesized({(dry_run ? "would replace " : "was ") + replaced}) << '\n';
    }
  } else {
    out << head << "  " << environment << "  " << text_of(response, "reference")
        << parenthesized({seq_part(response), was}) << '\n';
  }
  if (broke_glass) {
    if (std::string reason = text_of(*break_glass, "reason"); !reason.empty()) {
      out << "  break-glass reason: " << reason << '\n';
    }
    const json* overridden = field(response, "reasons");
    if (overridden == nullptr) {
      overridden = field(*break_glass, "reasons");
    }
    if (overridden != nullptr && overridden->is_array() && !overridden->empty()) {
      out << "  overridden:\n";
      print_reasons(out, overridden, bundle, "    ");
    }
  }
}

void print_pinned(std::ostream& out, const json& response) {
  for (const auto& pinned : pinned_references(response)) {
    out << pinned.reference << '\n';
  }
}

void print_deployment(std::ostream& out, const json& response) {
  out << "deployment  " << text_of(response, "environment") << "  " << text_of(response, "digest")
      << "  " << text_of(response, "status") << parenthesized({seq_part(response)}) << '\n';
  if (is_true(response, "drift")) {
    out << "  drift: running " << digest_or_none(field(response, "running_digest")) << '\n';
  }
}

void print_revocation(std::ostream& out, const json& response) {
  out << "revoked  " << text_of(response, "digest") << parenthesized({seq_part(response)}) << '\n';
  if (std::string reason = text_of(response, "reason"); !reason.empty()) {
    out << "  reason: " << reason << '\n';
  }
  const json* current = field(response, "current_in");
  if (current == nullptr) {
    current = field(response, "environments");
  }
  if (current == nullptr || !current->is_array() || current->empty()) {
    out << "  not current in any environment\n";
    return;
  }
  out << "  still current in (roll back with `digestgate rollback`):\n";
  std::vector<Row> rows;
  for (const auto& slot : *current) {
    const json* good = field(slot, "last_known_good");
    rows.push_back({first_text(slot, {"environment", "name"}), text_of(slot, "repository"),
                    good == nullptr ? "no known-good digest to roll back to"
                                    : "would roll back to " + digest_or_none(good)});
  }
  print_table(out, rows, "    ");
}

namespace {

// The facts of a digest: one row each for its name, source, build, platforms, mirrors, labels.
std::vector<Row> digest_rows(const json& response) {
  std::vector<Row> rows;
  auto add = [&rows](std::string label, std::string value) {
    if (!value.empty()) {
      rows.push_back({std::move(label), std::move(value)});
    }
  };
  add("digest", text_of(response, "digest"));
  add("repository", text_of(response, "repository"));
  add("tags", join(strings_of(field(response, "tags")), ", "));
  add("media type", text_of(response, "media_type"));
  add("pushed at", text_of(response, "pushed_at"));
  if (const json* source = field(response, "source")) {
    std::string text = text_of(*source, "repository");
    if (std::string commit = text_of(*source, "commit"); !commit.empty()) {
      text += (text.empty() ? "commit " : " commit ") + commit;
    }
    if (std::string ref = text_of(*source, "ref"); !ref.empty()) {
      text += " (" + ref + ")";
    }
    add("source", text);
  }
  if (const json* build = field(response, "build")) {
    std::string text;
    if (std::string run = text_of(*build, "run_id"); !run.empty()) {
      text = "run " + run;
    }
    if (std::string url = text_of(*build, "run_url"); !url.empty()) {
      text += (text.empty() ? "" : " ") + url;
    }
    add("build", text);
    add("builder", text_of(*build, "builder_id"));
    add("base image", text_of(*build, "base_image"));
  }
  if (const json* platforms = field(response, "platforms"); platforms && platforms->is_array()) {
    for (const auto& platform : *platforms) {
      add("platform", text_of(platform, "platform") + "  " + text_of(platform, "digest"));
    }
  }
  if (const json* mirrors = field(response, "mirrors"); mirrors && mirrors->is_array()) {
    for (const auto& mirror : *mirrors) {
      std::string text = text_of(mirror, "name") + "  " + text_of(mirror, "digest");
      if (std::string observed = text_of(mirror, "observed_at"); !observed.empty()) {
        text += "  (observed " + observed + ")";
      }
      add("mirror", text);
    }
  }
  if (const json* labels = field(response, "labels"); labels && labels->is_object()) {
    for (const auto& [name, value] : labels->items()) {
      add("label", name + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
    }
  }
  return rows;
}

// The latest result of each gate, one row each.
void print_gates(std::ostream& out, const json* gates) {
  if (gates == nullptr || !gates->is_object() || gates->empty()) {
    return;
  }
  out << "gates (latest result of each)\n";
  std::vector<Row> gate_rows;
  for (const auto& [name, gate] : gates->items()) {
    std::string tool;
    if (const json* t = field(gate, "tool")) {
      tool = t->is_string() ? t->get<std::string>()
                            : text_of(*t, "name") + " " + text_of(*t, "version");
    }
    std::string findings;
    if (const json* f = field(gate, "findings"); f && f->is_object()) {
      std::vector<std::string> parts;
      for (const auto& [severity, count] : f->items()) {
        parts.push_back(severity + " " +
                        (count.is_string() ? count.get<std::string>() : count.dump()));
      }
      findings = join(parts, ", ");
    }
    std::string seq = text_of(gate, "seq");
    gate_rows.push_back({name, text_of(gate, "result"), tool,
                         seq.empty() ? std::string() : "seq " + seq, text_of(gate, "target"),
                         findings.empty() ? std::string() : "findings: " + findings});
  }
  print_table(out, gate_rows, "  ");
}

// Signatures or attestations, one row each with whether it verified and against which key.
void print_verifications(std::ostream& out,
                         const json* items,
                         std::string_view title,
                         bool attestation) {
  if (items == nullptr || !items->is_array() || items->empty()) {
    out << title << "  none\n";
    return;
  }
  out << title << '\n';
  std::vector<Row> item_rows;
  for (const auto& item : *items) {
    const bool verified =
        is_true(item, "verified") || is_true(item, "valid") || is_true(item, "ok");
    std::string problem = first_text(item, {"error", "problem", "message", "reason"});
    std::string key = first_text(item, {"key", "key_id", "keyid", "key_name"});
    Row row = {verified ? "verified" : "NOT verified",
               key.empty() ? "no trusted key" : "key " + key};
    if (attestation) {
      std::string predicate = first_text(item, {"predicate_type", "predicateType"});
      std::string builder = first_text(item, {"builder", "builder_id"});
      row.push_back(predicate);
      row.push_back(builder.empty() ? std::string() : "builder " + builder);
    }
    row.push_back(problem);
    item_rows.push_back(std::move(row));
  }
  print_table(out, item_rows, "  ");
}

// Its validations, where it is current and whether it is revoked.
void print_standing(std::ostream& out, const json& response) {
  if (std::vector<std::string> seqs = strings_of(field(response, "validations")); !seqs.empty()) {
    out << "validations  seq " << join(seqs, ", ") << '\n';
  }
  const json* current = field(response, "current_in");
  std::vector<std::string> places;
  if (current != nullptr && current->is_array()) {
    for (const auto& slot : *current) {
      std::string place = first_text(slot, {"environment", "name"});
      if (std::string repository = text_of(slot, "repository"); !repository.empty()) {
        place += " (" + repository + ")";
      }
      places.push_back(place);
    }
  }
  out << "current in   " << (places.empty() ? "no environment" : join(places, ", ")) << '\n';
  if (const json* revoked = field(response, "revoked");
      revoked != nullptr && !(revoked->is_boolean() && !revoked->get<bool>())) {
    out << "revoked      yes: " << text_of(*revoked, "reason")
        << parenthesized({seq_part(*revoked), text_of(*revoked, "time")}) << '\n';
  } else {
    out << "revoked      no\n";
  }
}

} // namespace

void print_digest_status(std::ostream& out, const json& response) {
  print_table(out, digest_rows(response), "");
  if (const json* checks = field(response, "checks"); checks && checks->is_object()) {
    out << "checks\n";
    print_checks(out, checks, "  ");
  }
  print_gates(out, field(response, "gates"));
  print_verifications(out, field(response, "signatures"), "signatures", false);
  print_verifications(out, field(response, "attestations"), "attestations", true);
  print_standing(out, response);
}

void print_environments(std::ostream& out, const json& response) {
  const json* environments = field(response, "environments");
  if (environments == nullptr || !environments->is_array() || environments->empty()) {
    out << "no environments\n";
    return;
  }
  for (const auto& environment : *environments) {
    out << text_of(environment, "name") << '\n';
    const json* repositories = field(environment, "repositories");
    std::vector<Row> rows;
    if (repositories != nullptr && repositories->is_object()) {
      for (const auto& [repository, slots] : repositories->items()) {
        const json* current = field(slots, "current");
        if (current == nullptr) {
          continue;
        }
        std::string since = slot_time(current);
        rows.push_back({repository, digest_or_none(current),
                        since.empty() ? std::string() : "since " + since});
      }
    }
    if (rows.empty()) {
      out << "  (nothing current)\n";
    } else {
      print_table(out, rows, "  ");
    }
  }
}

void print_environment(std::ostream& out, const json& response) {
  out << "environment " << text_of(response, "name") << '\n';
  const json* repositories = field(response, "repositories");
  if (repositories == nullptr || !repositories->is_object() || repositories->empty()) {
    out << "  (nothing current)\n";
  } else {
    std::vector<Row> rows = {{"REPOSITORY", "CURRENT", "SINCE", "LAST KNOWN-GOOD"}};
    for (const auto& [repository, slots] : repositories->items()) {
      const json* current = field(slots, "current");
      rows.push_back({repository, digest_or_none(current), slot_time(current),
                      digest_or_none(field(slots, "last_known_good"))});
    }
    print_table(out, rows, "");
  }
  if (const json* observed = field(response, "observed"); observed && observed->is_object()) {
    if (observed->value("ok", false)) {
      out << "registries: as recorded (observed " << text_of(*observed, "time") << ")\n";
    } else {
      out << "registries: DRIFT (observed " << text_of(*observed, "time") << ")\n";
      for (const json& problem : observed->value("problems", json::array())) {
        out << "  " << (problem.is_string() ? problem.get<std::string>() : problem.dump()) << '\n';
      }
    }
  }
  std::vector<Row> history = entry_rows(field(response, "history"));
  if (!history.empty()) {
    out << "\nhistory (newest first)\n";
    print_table(out, history, "  ");
  }
}

void print_entries(std::ostream& out, const json& response) {
  print_table(out, entry_rows(field(response, "entries")), "");
}

void print_entry(std::ostream& out, const json& response) {
  const json* entry = field(response, "entry");
  const json empty = json::object();
  const json& e = entry != nullptr ? *entry : empty;
  std::vector<Row> rows = {
      {"seq", text_of(e, "seq")},
      {"kind", text_of(e, "kind")},
      {"time", text_of(e, "time")},
      {"actor", text_of(e, "actor")},
      {"summary", entry_summary(e)},
      {"leaf hash", text_of(response, "leaf_hash")},
      {"included", "in the tree of size " + text_of(response, "tree_size") + " with root " +
                       text_of(response, "root_hash") + " (proof verified)"},
  };
  print_table(out, rows, "");
  if (const json* body = field(e, "body")) {
    out << "body\n";
    std::istringstream lines(body->dump(2));
    std::string line;
    while (std::getline(lines, line)) {
      out << "  " << line << '\n';
    }
  }
}

std::string entry_summary(const json& entry) {
  const std::string kind = text_of(entry, "kind");
  const json* body_field = field(entry, "body");
  const json empty = json::object();
  const json& body = body_field != nullptr ? *body_field : empty;
  std::vector<std::string> parts;
  auto add = [&parts](std::string part) {
    if (!part.empty()) {
      parts.push_back(std::move(part));
    }
  };
  if (kind == "promotion" || kind == "rollback") {
    add(lookup(body, "decision"));
    if (is_true(body, "break_glass") || field(body, "break_glass") != nullptr) {
      add("(break glass)");
    }
    add(lookup(body, "environment"));
    if (kind == "rollback") {
      add(lookup(body, "repository"));
      std::string target = lookup(body, "reference");
      add(target.empty() ? lookup(body, "digest") : target);
    } else {
      add(promotion_references(body));
    }
    if (std::string codes = reason_codes(body); !codes.empty()) {
      add("[" + codes + "]");
    }
  } else if (kind == "deployment") {
    add(lookup(body, "environment"));
    add(lookup(body, "digest"));
    add(lookup(body, "status"));
    if (is_true(body, "drift")) {
      add("(drift: running " + lookup(body, "running_digest") + ")");
    }
  } else if (kind == "revocation") {
    add(lookup(body, "digest"));
    if (std::string reason = lookup(body, "reason"); !reason.empty()) {
      add("reason: " + reason);
    }
  } else if (kind == "policy") {
    std::string sha = lookup(body, "policy_sha256");
    add(sha.empty() ? lookup(body, "sha256") : "sha256 " + sha);
  } else if (kind == "validation") {
    // The body is the evidence record, or wraps it as "record".
    const json* subject = field(body, "subject");
    if (subject == nullptr) {
      if (const json* record = field(body, "record")) {
        subject = field(*record, "subject");
      }
    }
    std::string repository = text_of(body, "repository");
    std::string digest = text_of(body, "digest");
    if (subject != nullptr) {
      repository = repository.empty() ? text_of(*subject, "name") : repository;
      digest = digest.empty() ? text_of(*subject, "digest") : digest;
    }
    add(repository.empty() ? digest : repository + "@" + digest);
  } else {
    add(lookup(body, "digest"));
  }
  return join(parts, "  ");
}

} // namespace dg::cli
