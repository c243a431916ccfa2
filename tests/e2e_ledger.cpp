// End-to-end: the ledger's tamper evidence, its durability across SIGKILL, and its proofs.
//
// Every tamper test fills a ledger through the real daemon, stops it, changes the database (or the
// state directory) the way someone with write access to the files would — the `sqlite3` command
// line, a file copy, a truncation, `openssl` — and then checks both detectors: the offline
// `digestgate ledger verify` and the daemon's own check at start, which must fail closed. The
// table in docs/ledger.md lists each case with what detects it; it follows these tests.
#include "ledger/checkpoint.hpp"
#include "ledger/merkle.hpp"
#include "tests/support/crash_load.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"
#include "tests/support/gatekeeper.hpp"
#include "tests/support/sqlite_cli.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

using namespace dg::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_origin = "digestgate.test/ledger"; // the fixture's configured origin

// Approves any recorded digest in staging: for tests about the ledger, not the policy.
const json k_open_policy = {
    {"environments", {{"staging", {{"require_complete_evidence", false}}}}}};

std::string base64_of(const dg::Hash& hash) {
  return dg::base64_encode(
      std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `digestgate [--json] ledger verify --db DB [--key KEY]`, run without a daemon.
CliResult ledger_verify(const std::string& db, const std::string& key = "", bool as_json = false) {
  std::vector<std::string> argv = {DG_CLI_PATH};
  if (as_json) {
    argv.emplace_back("--json");
  }
  argv.insert(argv.end(), {"ledger", "verify", "--db", db});
  if (!key.empty()) {
    argv.insert(argv.end(), {"--key", key});
  }
  return run_process(argv, {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", ""}});
}

// `ledger verify` exits 0 on `db`.
void expect_verify_passes(const std::string& db, const std::string& key = "") {
  CliResult r = ledger_verify(db, key);
  CHECK_MESSAGE(r.exit_code == 0, "stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(contains(r.out, "ledger ok"));
}

// `ledger verify` exits 1 on `db` and names entry `first_bad_seq` as the first bad one, in its
// human output and in its --json report; the report's message contains `why`.
void expect_verify_fails(const std::string& db,
                         std::int64_t first_bad_seq,
                         const std::string& why,
                         const std::string& key = "") {
  CliResult text = ledger_verify(db, key);
  CHECK_MESSAGE(text.exit_code == 1, "stdout: " << text.out << "\nstderr: " << text.err);
  CHECK_MESSAGE(contains(text.out, "FAILED at entry " + std::to_string(first_bad_seq) + ":"),
                text.out);
  CliResult machine = ledger_verify(db, key, true);
  CHECK(machine.exit_code == 1);
  json report = machine.json();
  CHECK_MESSAGE(report["ok"] == false, machine.out);
  CHECK_MESSAGE(report["first_bad_seq"] == first_bad_seq, machine.out);
  CHECK_MESSAGE(contains(report.value("message", ""), why), machine.out);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Removes the SQLite side files of `db` (none should exist after a clean stop).
void remove_side_files(const std::string& db) {
  std::error_code ec;
  fs::remove(db + "-wal", ec);
  fs::remove(db + "-shm", ec);
}

// A ledger filled through the real daemon with the strict policy:
//   1 policy, 2 validation A, 3 validation B, 4 promotion A staging (approved),
//   5 promotion B staging (approved), 6 validation G, 7 promotion :v1.4.2 (refused, mutable).
// G passes staging and was never promoted: it is the good digest a tampered ledger must refuse.
// No tamper case below changes entry 6, so G's evidence stays readable.
struct Filled {
  OpensslSigner signer;
  Daemon daemon{strict_policy(signer.public_key_pem())};
  std::string a = sample_digest(1);
  std::string b = sample_digest(2);
  std::string good = sample_digest(3);
  std::string verifier; // the daemon's own verifier, from GET /v1/keys
  static constexpr std::int64_t k_size = 7;

  Filled() {
    auto expect_seq = [](const HttpResponse& r, int status, std::int64_t seq) {
      REQUIRE_MESSAGE(r.status == status, r.body);
      REQUIRE_MESSAGE(r.json()["seq"] == seq, r.body);
    };
    expect_seq(record(a), 201, 2);
    expect_seq(record(b), 201, 3);
    expect_seq(promote(pinned(a)), 200, 4);
    expect_seq(promote(pinned(b)), 200, 5);
    expect_seq(record(good), 201, 6);
    expect_seq(promote(std::string(k_repo) + ":v1.4.2"), 403, 7);
    auto dry = promote(pinned(good), true);
    REQUIRE_MESSAGE(dry.status == 200, dry.body); // G is good before any tampering
    auto keys = daemon.http("GET", "/v1/keys", "", k_reader_token);
    REQUIRE(keys.status == 200);
    verifier = keys.json()["verifier"].get<std::string>();
    REQUIRE(daemon.stop() == 0);
    REQUIRE_FALSE(fs::exists(daemon.db_path() + "-wal"));
    expect_verify_passes(db());
  }

  std::string db() const { return daemon.ledger_db(); }
  std::string witness() const { return daemon.state_dir() + "/checkpoint.latest"; }
  std::string key_path() const { return daemon.state_dir() + "/checkpoint.key"; }

  HttpResponse record(const std::string& digest) const {
    return daemon.http("POST", "/v1/validations", complete_evidence(signer, digest).dump(),
                       k_recorder_token);
  }
  HttpResponse promote(const std::string& reference, bool dry_run = false) const {
    return daemon.http("POST", "/v1/promotions",
                       promotion_body(reference, "staging", dry_run).dump(), k_promoter_token);
  }

  // After a restart: not ready, and the good digest is refused for the ledger alone, with nothing
  // appended. `problem` is a part of the integrity message the daemon must give.
  void expect_fail_closed(const std::string& problem) {
    auto ready = daemon.http("GET", "/readyz");
    CHECK_MESSAGE(ready.status == 503, ready.body);
    bool named = false;
    for (const auto& p : ready.json().value("problems", json::array())) {
      std::string text = p.get<std::string>();
      named = named || (text.rfind("ledger-integrity: ", 0) == 0 && contains(text, problem));
    }
    CHECK_MESSAGE(named,
                  "expected a ledger-integrity problem with '" << problem << "': " << ready.body);

    auto refused = promote(pinned(good));
    CHECK_MESSAGE(refused.status == 403, refused.body);
    json r = refused.json();
    CHECK(r["decision"] == "refused");
    CHECK_MESSAGE(codes_of(r) == std::set<std::string>{"ledger-integrity"}, refused.body);
    CHECK_MESSAGE(r["seq"].is_null(), refused.body); // nothing was appended

    // Break glass does not override the ledger's integrity.
    json glass = promotion_body(pinned(good), "staging");
    glass["break_glass"] = {{"reason", "outage"}};
    auto forced = daemon.http("POST", "/v1/promotions", glass.dump(), k_admin_token);
    CHECK_MESSAGE(forced.status == 403, forced.body);

    // Nor does the ledger take any other entry.
    auto rec = record(sample_digest(50));
    CHECK_MESSAGE(rec.status == 503, rec.body);
    CHECK(rec.json()["error"] == "ledger-integrity");
  }

  // Restarts the daemon, then expect_fail_closed().
  void restart_expect_fail_closed(const std::string& problem) {
    daemon.start();
    expect_fail_closed(problem);
  }
};

// Every stored entry's bytes, by seq.
std::map<std::int64_t, std::string> all_entry_bytes(const std::string& db) {
  std::map<std::int64_t, std::string> out;
  std::istringstream lines(sqlite_exec(db, "SELECT seq FROM entries ORDER BY seq;"));
  std::string line;
  while (std::getline(lines, line)) {
    std::int64_t seq = std::stoll(line);
    out[seq] = sqlite_entry_bytes(db, seq);
  }
  return out;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, "'" << from << "' not in " << text);
  return text.replace(pos, from.size(), to);
}

// The checkpoint note stored for tree size `size`.
std::string stored_note(const std::string& db, std::int64_t size) {
  std::string note =
      sqlite_exec(db, "SELECT note FROM checkpoints WHERE size = " + std::to_string(size) + ";");
  // sqlite3 prints the text followed by one newline of its own.
  REQUIRE(!note.empty());
  note.pop_back();
  return note;
}

dg::Ed25519PrivateKey fresh_key() {
  auto key = dg::Ed25519PrivateKey::generate();
  REQUIRE(key);
  return std::move(*key);
}

// What someone holding the database (and not the daemon's key) can do to hide an edit: change
// entry `seq` with `edit`, recompute its leaf and the whole stored tree, keep the genuine
// checkpoints below `seq`, sign new ones from `seq` on with `key` under the ledger's origin, and
// add `key` to checkpoint_keys. Returns the new note for the full tree.
std::string re_sign_ledger(const std::string& db,
                           std::int64_t seq,
                           const std::function<std::string(const std::string&)>& edit,
                           const dg::Ed25519PrivateKey& key) {
  auto bytes = all_entry_bytes(db);
  REQUIRE(bytes.count(seq) == 1);
  bytes[seq] = edit(bytes[seq]);

  std::set<std::int64_t> checkpoint_sizes;
  {
    std::istringstream lines(sqlite_exec(db, "SELECT size FROM checkpoints ORDER BY size;"));
    std::string line;
    while (std::getline(lines, line)) {
      checkpoint_sizes.insert(std::stoll(line));
    }
  }

  std::string sql = "BEGIN;" + drop_append_only_triggers("entries") +
                    drop_append_only_triggers("tree_nodes") +
                    drop_append_only_triggers("checkpoints") + "DELETE FROM tree_nodes;";
  dg::ledger::CompactRange range;
  std::string last_note;
  for (const auto& [s, b] : bytes) {
    dg::Hash leaf = dg::ledger::leaf_hash(b);
    if (s == seq) {
      sql += "UPDATE entries SET bytes = " + sql_blob(b) + ", leaf = X'" + dg::to_hex(leaf) +
             "' WHERE seq = " + std::to_string(s) + ";";
    }
    for (const auto& node : range.append(leaf)) {
      sql += "INSERT INTO tree_nodes(level, idx, hash) VALUES(" + std::to_string(node.level) +
             ", " + std::to_string(node.index) + ", X'" + dg::to_hex(node.hash) + "');";
    }
    if (s >= seq && checkpoint_sizes.count(s) == 1) {
      dg::ledger::Checkpoint cp{k_origin, static_cast<std::uint64_t>(s), range.root()};
      last_note = dg::ledger::sign_checkpoint(cp, k_origin, key);
      sql += "UPDATE checkpoints SET root = X'" + dg::to_hex(cp.root) +
             "', note = " + sql_text(last_note) + " WHERE size = " + std::to_string(s) + ";";
    }
  }
  dg::Bytes pub = key.public_key();
  sql += "INSERT INTO checkpoint_keys(public_key, added) VALUES(" +
         sql_blob(std::string(pub.begin(), pub.end())) + ", '2026-01-01T00:00:00Z');COMMIT;";
  sqlite_exec(db, sql);
  return last_note;
}

// Turns the approved promotion at entry 4 into a refused one.
std::string approved_to_refused(const std::string& bytes) {
  return replace_once(bytes, "\"decision\":\"approved\"", "\"decision\":\"refused\"");
}

} // namespace

TEST_SUITE_BEGIN("E2E ledger");

TEST_CASE("An untouched ledger verifies offline and the restarted daemon is ready") {
  Filled f;
  CliResult r = ledger_verify(f.db(), f.verifier, true);
  CHECK_MESSAGE(r.exit_code == 0, r.out << r.err);
  CHECK(r.json()["entries"] == Filled::k_size);
  CHECK(r.json()["checkpoints"] == Filled::k_size); // one commit per sequential request

  f.daemon.start();
  auto ready = f.daemon.http("GET", "/readyz");
  CHECK_MESSAGE(ready.status == 200, ready.body);
  // The derived tables the daemon left are confirmed by their seal, not rebuilt.
  json checked = last_ledger_check(f.daemon.log());
  CHECK_MESSAGE(checked.value("entries", -1) == Filled::k_size, checked.dump());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "sealed", checked.dump());
  CHECK_MESSAGE(checked.value("checkpoints", "") == "sealed", checked.dump());
  auto approved = f.promote(pinned(f.good));
  CHECK_MESSAGE(approved.status == 200, approved.body);
  CHECK(approved.json()["seq"] == Filled::k_size + 1);

  // So are those written since, through the writer's tracking of every derived row.
  REQUIRE(f.daemon.stop() == 0);
  f.daemon.start();
  checked = last_ledger_check(f.daemon.log());
  CHECK_MESSAGE(checked.value("entries", -1) == Filled::k_size + 1, checked.dump());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "sealed", checked.dump());
}

TEST_CASE("A ledger without its seal is verified in full once, then sealed again") {
  if (skipped_on_postgresql("deletes the seal from the SQLite file")) {
    return;
  }
  Filled f;
  sqlite_exec(f.db(), "DELETE FROM meta WHERE key = 'derived_seal';");
  expect_verify_passes(f.db(), f.verifier);

  f.daemon.start();
  auto ready = f.daemon.http("GET", "/readyz");
  CHECK_MESSAGE(ready.status == 200, ready.body);
  json checked = last_ledger_check(f.daemon.log());
  CHECK_MESSAGE(checked.value("entries", -1) == Filled::k_size, checked.dump());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "rebuilt", checked.dump());
  CHECK_MESSAGE(checked.value("checkpoints", "") == "verified", checked.dump());
  CHECK(contains(f.daemon.log(), "every checkpoint signature verified"));
  auto approved = f.promote(pinned(f.good));
  CHECK_MESSAGE(approved.status == 200, approved.body);

  REQUIRE(f.daemon.stop() == 0);
  f.daemon.start();
  checked = last_ledger_check(f.daemon.log());
  CHECK_MESSAGE(checked.value("entries", -1) == Filled::k_size + 1, checked.dump());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "sealed", checked.dump());
  CHECK_MESSAGE(checked.value("checkpoints", "") == "sealed", checked.dump());
}

TEST_CASE("An edited entry is detected by ledger verify and fails the daemon closed") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  const std::string edit = "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), "
                           "'\"decision\":\"approved\"', '\"decision\":\"refused\"') AS BLOB) "
                           "WHERE seq = 4;";

  SUBCASE("its bytes changed, its stored leaf left as it was") {
    sqlite_exec(f.db(), drop_append_only_triggers("entries") + edit);
    REQUIRE(contains(sqlite_entry_bytes(f.db(), 4), "\"decision\":\"refused\""));
    expect_verify_fails(f.db(), 4, "do not hash to its stored leaf hash");
    f.restart_expect_fail_closed("entry 4");
  }
  SUBCASE("its bytes changed and its leaf recomputed to match") {
    sqlite_exec(f.db(), drop_append_only_triggers("entries") + edit);
    std::string bytes = sqlite_entry_bytes(f.db(), 4);
    REQUIRE(contains(bytes, "\"decision\":\"refused\""));
    sqlite_exec(f.db(), "UPDATE entries SET leaf = X'" + dg::to_hex(dg::ledger::leaf_hash(bytes)) +
                            "' WHERE seq = 4;");
    // The leaf agrees with the bytes now; the tree over 1..4 no longer matches the signed
    // checkpoint of size 4.
    expect_verify_fails(f.db(), 4, "does not match the signed checkpoint");
    f.restart_expect_fail_closed("entry 4");
  }
}

TEST_CASE("A deleted entry is detected") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;

  SUBCASE("the last entry") {
    sqlite_exec(f.db(),
                drop_append_only_triggers("entries") + "DELETE FROM entries WHERE seq = 7;");
    expect_verify_fails(f.db(), 7, "entries were removed");
    f.restart_expect_fail_closed("entries were removed");
  }
  SUBCASE("an entry in the middle") {
    sqlite_exec(f.db(),
                drop_append_only_triggers("entries") + "DELETE FROM entries WHERE seq = 3;");
    expect_verify_fails(f.db(), 3, "entry 3 is missing");
    f.restart_expect_fail_closed("entry 3 is missing");
  }
  SUBCASE("the last entry together with its checkpoint and tree node") {
    // Without the checkpoint of size 7 the file is a consistent ledger of 6 entries: only the
    // daemon's witness (the checkpoint of size 7 it signed) shows that an entry went missing.
    sqlite_exec(f.db(), drop_append_only_triggers("entries") +
                            drop_append_only_triggers("checkpoints") +
                            drop_append_only_triggers("tree_nodes") +
                            "DELETE FROM entries WHERE seq = 7; DELETE FROM checkpoints WHERE "
                            "size = 7; DELETE FROM tree_nodes WHERE level = 0 AND idx = 6;");
    expect_verify_passes(f.db());
    expect_verify_passes(f.db(), f.verifier);
    f.restart_expect_fail_closed("an older copy of the ledger was put back");
  }
}

TEST_CASE("Two swapped entries are detected") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  // Each row keeps a leaf that matches its bytes; the bytes name the other seq.
  sqlite_exec(f.db(),
              drop_append_only_triggers("entries") +
                  "CREATE TEMP TABLE swap AS SELECT seq, bytes, leaf FROM entries WHERE seq "
                  "IN (2, 3);"
                  "UPDATE entries SET bytes = (SELECT bytes FROM swap WHERE swap.seq = 5 - "
                  "entries.seq), leaf = (SELECT leaf FROM swap WHERE swap.seq = 5 - "
                  "entries.seq) WHERE seq IN (2, 3);");
  REQUIRE(contains(sqlite_entry_bytes(f.db(), 2), "\"seq\":3"));
  expect_verify_fails(f.db(), 2, "do not name seq 2");
  f.restart_expect_fail_closed("entry 2");
}

TEST_CASE("A truncated database stops the daemon at start") {
  if (skipped_on_postgresql("truncates the SQLite file")) {
    return;
  }
  Filled f;
  const auto size = fs::file_size(f.db());
  fs::resize_file(f.db(), size / 2);

  // SQLite cannot read the file: the CLI reports it as not a ledger database (exit 2), naming it.
  CliResult verify = ledger_verify(f.db());
  CHECK_MESSAGE(verify.exit_code == 2, verify.out << verify.err);
  CHECK_MESSAGE(contains(verify.err, f.db()), verify.err);

  // The database no longer reads as a ledger: the daemon refuses to start and serves nothing.
  CHECK_THROWS_WITH_AS(f.daemon.start(), doctest::Contains("digestgated exited with status 1"),
                       std::runtime_error);
  CHECK_FALSE(f.daemon.running());
  CHECK(f.daemon.stop() == 1);
  CHECK_MESSAGE(contains(f.daemon.log(), f.db()), f.daemon.log());
}

TEST_CASE("An older copy of the database put back is detected by the daemon only") {
  if (skipped_on_postgresql("puts an older SQLite file back")) {
    return;
  }
  Filled f;
  const std::string old = f.daemon.dir() + "/ledger-old.db";
  fs::copy_file(f.db(), old);

  f.daemon.start();
  auto more = f.record(sample_digest(4));
  REQUIRE_MESSAGE(more.status == 201, more.body);
  auto approved = f.promote(pinned(f.good));
  REQUIRE_MESSAGE(approved.status == 200, approved.body);
  REQUIRE(approved.json()["seq"] == Filled::k_size + 2);
  REQUIRE(f.daemon.stop() == 0);

  remove_side_files(f.db());
  fs::copy_file(old, f.db(), fs::copy_options::overwrite_existing);

  // The old file is a consistent, correctly signed ledger of 7 entries: nothing in it shows that
  // the daemon went on to sign a checkpoint of 9.
  expect_verify_passes(f.db());
  expect_verify_passes(f.db(), f.verifier);
  // state/checkpoint.latest holds that checkpoint.
  f.restart_expect_fail_closed("an older copy of the ledger was put back");
}

TEST_CASE("A forged checkpoint is detected") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  const std::string genuine = stored_note(f.db(), 7);
  auto parsed = dg::ledger::parse_checkpoint(genuine);
  REQUIRE(parsed);

  SUBCASE("the newest checkpoint with a wrong root") {
    dg::Hash wrong = dg::sha256("forged");
    // The genuine signature stays: without the ledger's key nothing better can be put there.
    std::string forged = replace_once(genuine, "\n" + base64_of(parsed->root) + "\n",
                                      "\n" + base64_of(wrong) + "\n");
    sqlite_exec(f.db(), drop_append_only_triggers("checkpoints") +
                            "UPDATE checkpoints SET root = X'" + dg::to_hex(wrong) +
                            "', note = " + sql_text(forged) + " WHERE size = 7;");
    expect_verify_fails(f.db(), 7, "does not match the signed checkpoint");
    f.restart_expect_fail_closed("entry 7");
  }
  SUBCASE("the newest checkpoint signed by another key") {
    std::string forged = dg::ledger::sign_checkpoint(*parsed, k_origin, fresh_key());
    sqlite_exec(f.db(), drop_append_only_triggers("checkpoints") +
                            "UPDATE checkpoints SET note = " + sql_text(forged) +
                            " WHERE size = 7;");
    expect_verify_fails(f.db(), 7, "not signed by a trusted ledger key");
    f.restart_expect_fail_closed("not signed by a trusted ledger key");
  }
  SUBCASE("an older checkpoint signed by another key, over the true root") {
    // No entry changed and the root is true, but the checkpoints no longer match their seal, so
    // the start-up check verifies every signature and finds this one.
    auto older = dg::ledger::parse_checkpoint(stored_note(f.db(), 5));
    REQUIRE(older);
    std::string forged = dg::ledger::sign_checkpoint(*older, k_origin, fresh_key());
    sqlite_exec(f.db(), drop_append_only_triggers("checkpoints") +
                            "UPDATE checkpoints SET note = " + sql_text(forged) +
                            " WHERE size = 5;");
    expect_verify_fails(f.db(), 5, "not signed by a trusted ledger key");
    f.restart_expect_fail_closed("checkpoint at size 5 is not signed by a trusted ledger key");
  }
  SUBCASE("a checkpoint inserted beyond the stored entries") {
    auto cp = *parsed;
    cp.size = 8;
    // Signed by another key: only the daemon holds the ledger's key.
    std::string forged = dg::ledger::sign_checkpoint(cp, k_origin, fresh_key());
    sqlite_exec(f.db(), "INSERT INTO checkpoints(size, root, note) VALUES(8, X'" +
                            dg::to_hex(cp.root) + "', " + sql_text(forged) + ");");
    expect_verify_fails(f.db(), 8, "entries were removed");
    f.restart_expect_fail_closed("entries were removed");
  }
}

TEST_CASE("A ledger edited and re-signed with a new key is detected by the witness and by --key") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  re_sign_ledger(f.db(), 4, approved_to_refused, fresh_key());

  // Every leaf, the tree and every checkpoint agree, and each checkpoint is signed by a key the
  // file lists: the file alone cannot tell.
  expect_verify_passes(f.db());
  // Pinned to the ledger's own verifier, the first re-signed checkpoint is refused.
  expect_verify_fails(f.db(), 4, "not signed by a trusted ledger key", f.verifier);
  // The verifier may also be given in a file, as GET /v1/keys answers it.
  const std::string verifier_file = f.daemon.dir() + "/verifier.txt";
  write_text(verifier_file, f.verifier + "\n");
  expect_verify_fails(f.db(), 4, "not signed by a trusted ledger key", verifier_file);

  // The daemon's witness holds the genuine checkpoint of size 7.
  f.restart_expect_fail_closed("not consistent with the checkpoint of size 7");
}

// The daemon writes its witness at its first start, before the ledger holds anything, so a ledger
// with entries and no witness is refused: someone who re-signs the ledger with a key they add to
// checkpoint_keys and deletes the witness does not get the edited ledger served.
TEST_CASE("A re-signed ledger with its witness deleted fails the daemon closed") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  re_sign_ledger(f.db(), 4, approved_to_refused, fresh_key());
  fs::remove(f.witness());
  expect_verify_fails(f.db(), 4, "not signed by a trusted ledger key", f.verifier);
  f.restart_expect_fail_closed("is missing, but the ledger holds 7 entries");

  SUBCASE("an empty witness is no better") {
    REQUIRE(f.daemon.stop() == 0);
    write_text(f.witness(), "");
    f.restart_expect_fail_closed("is missing, but the ledger holds 7 entries");
  }
}

TEST_CASE("digestgated init accepts a restored ledger only when it verifies") {
  if (skipped_on_postgresql("restores and edits the SQLite file")) {
    return;
  }
  Filled f;
  SUBCASE("an older copy put back on purpose: init checks it and witnesses its head") {
    const std::string copy = f.daemon.dir() + "/ledger-7.db";
    fs::copy_file(f.db(), copy);
    f.daemon.start();
    auto more = f.record(sample_digest(9));
    REQUIRE_MESSAGE(more.status == 201, more.body);
    REQUIRE(f.daemon.stop() == 0);
    fs::copy_file(copy, f.db(), fs::copy_options::overwrite_existing);
    f.restart_expect_fail_closed("an older copy of the ledger was put back");
    REQUIRE(f.daemon.stop() == 0);

    // The witness of this key is kept: init alone does not hide an older copy.
    CliResult kept = run_process(f.daemon.init_argv());
    CHECK_MESSAGE(kept.exit_code == 0, kept.err);
    CHECK_MESSAGE(contains(kept.out, "witness already present"), kept.out);

    // Moved aside by the operator: init checks the ledger and writes a new witness.
    fs::rename(f.witness(), f.witness() + ".old");
    CliResult renewed = run_process(f.daemon.init_argv());
    CHECK_MESSAGE(renewed.exit_code == 0, renewed.err);
    CHECK_MESSAGE(contains(renewed.out, "checked the ledger and wrote its witness"), renewed.out);
    f.daemon.start();
    auto ready = f.daemon.http("GET", "/readyz");
    CHECK_MESSAGE(ready.status == 200, ready.body);
    auto approved = f.promote(pinned(f.good));
    CHECK_MESSAGE(approved.status == 200, approved.body);
    CHECK(approved.json()["seq"] == Filled::k_size + 1);
  }
  SUBCASE("a re-signed ledger: init refuses to witness it") {
    re_sign_ledger(f.db(), 4, approved_to_refused, fresh_key());
    fs::remove(f.witness());
    CliResult r = run_process(f.daemon.init_argv());
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(contains(r.err, "the ledger does not verify"), r.err);
    CHECK_FALSE(fs::exists(f.witness()));
    f.restart_expect_fail_closed("is missing");
  }
}

// The witness is verified with the daemon's own key only, so a witness re-signed with the key the
// attacker added to checkpoint_keys is refused.
TEST_CASE("A re-signed ledger with a re-signed witness fails the daemon closed") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;
  std::string note = re_sign_ledger(f.db(), 4, approved_to_refused, fresh_key());
  write_text(f.witness(), note);
  expect_verify_fails(f.db(), 4, "not signed by a trusted ledger key", f.verifier);
  f.restart_expect_fail_closed("");
}

// The derived tables (slots, approvals, revocations, ...) are not covered by the tree, and
// `ledger verify` does not read them; the daemon rebuilds them from the verified entries at every
// start, so a change made to them while it was stopped does not change a decision.
TEST_CASE("Tampering with the derived tables does not change a decision") {
  if (skipped_on_postgresql("edits the SQLite file")) {
    return;
  }
  Filled f;

  SUBCASE("a revocation row deleted: the revoked digest stays refused") {
    f.daemon.start();
    auto revoked =
        f.daemon.http("POST", "/v1/revocations",
                      json{{"digest", f.good}, {"reason", "bad build"}}.dump(), k_operator_token);
    REQUIRE_MESSAGE(revoked.status / 100 == 2, revoked.body);
    auto before = f.promote(pinned(f.good), true);
    REQUIRE_MESSAGE(codes_of(before.json()) == std::set<std::string>{"revoked"}, before.body);
    REQUIRE(f.daemon.stop() == 0);
    sqlite_exec(f.db(), "DELETE FROM revocations;");
    expect_verify_passes(f.db(), f.verifier);
    f.daemon.start();
    json checked = last_ledger_check(f.daemon.log());
    CHECK_MESSAGE(checked.value("derived_tables", "") == "rebuilt", checked.dump());
    CHECK(contains(f.daemon.log(), "the derived tables changed since the daemon sealed them"));
    auto r = f.promote(pinned(f.good));
    CHECK_MESSAGE(r.status == 403, r.body);
    CHECK_MESSAGE(codes_of(r.json()).count("revoked") == 1, r.body);
  }
  SUBCASE("an approval row forged: stage order still holds") {
    f.daemon.start();
    auto before =
        f.daemon.http("POST", "/v1/promotions",
                      promotion_body(pinned(f.good), "production", true).dump(), k_promoter_token);
    REQUIRE_MESSAGE(codes_of(before.json()) == std::set<std::string>{"stage-order"}, before.body);
    REQUIRE(f.daemon.stop() == 0);
    sqlite_exec(f.db(), "INSERT INTO approvals(environment, repository, seq, digest, time, kind) "
                        "VALUES('staging', " +
                            sql_text(k_repo) + ", 6, " + sql_text(f.good) +
                            ", '2026-01-01T00:00:00Z', 'promotion');");
    expect_verify_passes(f.db(), f.verifier);
    f.daemon.start();
    json checked = last_ledger_check(f.daemon.log());
    CHECK_MESSAGE(checked.value("derived_tables", "") == "rebuilt", checked.dump());
    auto r = f.daemon.http("POST", "/v1/promotions",
                           promotion_body(pinned(f.good), "production").dump(), k_promoter_token);
    CHECK_MESSAGE(r.status == 403, r.body);
    CHECK_MESSAGE(codes_of(r.json()).count("stage-order") == 1, r.body);
  }
}

TEST_CASE("A replaced checkpoint key fails the daemon closed") {
  Filled f;
  fs::remove(f.key_path());
  CliResult made =
      run_process({"openssl", "genpkey", "-algorithm", "ed25519", "-out", f.key_path()});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  REQUIRE(::chmod(f.key_path().c_str(), 0600) == 0);

  // The database is untouched.
  expect_verify_passes(f.db());
  expect_verify_passes(f.db(), f.verifier);
  f.restart_expect_fail_closed("not a key of this ledger");
}

TEST_CASE("A rotated checkpoint key is accepted once init has recorded it") {
  Filled f;
  fs::remove(f.key_path());
  CliResult made =
      run_process({"openssl", "genpkey", "-algorithm", "ed25519", "-out", f.key_path()});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  REQUIRE(::chmod(f.key_path().c_str(), 0600) == 0);

  SUBCASE("the previous key's witness kept in place") {
    CliResult r = run_process(f.daemon.init_argv());
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK_MESSAGE(contains(r.out, "checked the ledger and wrote its witness"), r.out);
    f.daemon.start();
    auto ready = f.daemon.http("GET", "/readyz");
    CHECK_MESSAGE(ready.status == 200, ready.body);
    auto keys = f.daemon.http("GET", "/v1/keys", "", k_reader_token);
    CHECK(keys.json()["verifier"] != f.verifier);
    auto approved = f.promote(pinned(f.good));
    CHECK_MESSAGE(approved.status == 200, approved.body);
    REQUIRE(f.daemon.stop() == 0);
    expect_verify_passes(f.db()); // old checkpoints under the old key, new ones under the new
  }
  SUBCASE("the witness moved aside: init cannot vouch for a head another key signed") {
    fs::remove(f.witness());
    CliResult r = run_process(f.daemon.init_argv());
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(contains(r.err, "is not signed by this checkpoint key"), r.err);
    f.restart_expect_fail_closed("is missing");
  }
}

TEST_CASE("A checkpoint key readable by others stops the daemon at start") {
  Filled f;
  REQUIRE(::chmod(f.key_path().c_str(), 0644) == 0);
  CHECK_THROWS_AS(f.daemon.start(), std::runtime_error);
  CHECK_FALSE(f.daemon.running());
  CHECK(f.daemon.stop() == 1);
  std::string log = f.daemon.log();
  CHECK_MESSAGE(contains(log, f.key_path() + " has mode 0644"), log);
}

TEST_CASE("No acknowledged entry is lost when the daemon is killed mid-stream") {
  Daemon daemon(k_open_policy);
  const unsigned seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  AcknowledgedWrites writes(1000);
  constexpr int k_rounds = 4;
  constexpr int k_clients = 4;

  for (int round = 0; round < k_rounds; ++round) {
    CAPTURE(round);
    if (round > 0) {
      daemon.start();
      writes.expect_all_present(daemon);
    }
    writes.start(daemon, k_clients);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 600)(rng)));
    daemon.kill9();
    writes.stop();
  }
  daemon.start();
  writes.expect_all_present(daemon);
  MESSAGE("acknowledged entries across ", k_rounds, " SIGKILLs: ", writes.size());
  CHECK(writes.size() >= k_rounds * 2);
}

TEST_CASE("Inclusion and consistency proofs from the daemon verify with the CLI") {
  Daemon daemon(k_open_policy);
  // 1 policy entry, then validations and promotions up to 20 entries.
  for (int n = 0; n < 19; ++n) {
    std::string digest = sample_digest(200 + n / 2);
    HttpResponse r =
        n % 2 == 0
            ? daemon.http("POST", "/v1/validations",
                          json{{"subject", {{"name", k_repo}, {"digest", digest}}}}.dump(),
                          k_recorder_token)
            : daemon.http("POST", "/v1/promotions",
                          promotion_body(pinned(digest), "staging").dump(), k_promoter_token);
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    REQUIRE(r.json()["seq"] == n + 2);
  }
  auto get = [&](const std::string& target) {
    auto r = daemon.http("GET", target, "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, target << ": " << r.body);
    return r;
  };
  auto proof_arg = [](const json& hashes) {
    std::string out;
    for (const auto& h : hashes) {
      out += (out.empty() ? "" : ",") + h.get<std::string>();
    }
    return out;
  };
  auto flip = [](std::string hex, std::size_t at = 0) {
    hex[at] = hex[at] == '0' ? '1' : '0';
    return hex;
  };
  auto cli = [&](std::vector<std::string> args) { return daemon.cli(args, k_reader_token); };

  for (std::int64_t seq : {1, 7, 16, 20}) {
    CAPTURE(seq);
    CliResult shown = cli({"ledger", "show", std::to_string(seq)});
    CHECK_MESSAGE(shown.exit_code == 0, shown.out << shown.err);

    json e = get("/v1/entries/" + std::to_string(seq)).json();
    REQUIRE(e["index"] == seq - 1);
    REQUIRE(e["tree_size"] == 20);
    // The leaf hash is SHA-256(0x00 || canonical JSON of the entry), recomputed here from the
    // documented format rather than taken on trust.
    const json& entry = e["entry"];
    std::string canonical = json{
        {"actor", entry["actor"]},
        {"body", entry["body"]},
        {"kind", entry["kind"]},
        {"seq", entry["seq"]},
        {"time", entry["time"]}}.dump();
    CHECK(e["leaf_hash"] == dg::to_hex(dg::sha256(std::string(1, '\0') + canonical)));

    auto inclusion = [&](const std::string& leaf, const std::string& index,
                         const std::string& proof, const std::string& root) {
      std::vector<std::string> argv = {
          "proof", "verify-inclusion", "--leaf-hash", leaf,     "--index",
          index,   "--size",           "20",          "--root", root};
      if (!proof.empty()) {
        argv.insert(argv.end(), {"--proof", proof});
      }
      return cli(argv).exit_code;
    };
    const std::string leaf = e["leaf_hash"];
    const std::string root = e["root_hash"];
    const std::string index = std::to_string(seq - 1);
    const std::string proof = proof_arg(e["inclusion_proof"]);
    REQUIRE_FALSE(proof.empty()); // 20 leaves: every path has at least one hash
    CHECK(inclusion(leaf, index, proof, root) == 0);
    CHECK(inclusion(flip(leaf), index, proof, root) == 1);
    CHECK(inclusion(leaf, index, proof, flip(root, 63)) == 1);
    CHECK(inclusion(leaf, index, flip(proof, 10), root) == 1);
    CHECK(inclusion(leaf, std::to_string(seq % 20), proof, root) == 1);
    CHECK(inclusion("zz" + leaf.substr(2), index, proof, root) == 2);
    CHECK(inclusion(leaf.substr(2), index, proof, root) == 2);
    CHECK(inclusion(leaf, index, proof + ",abc", root) == 2);
  }

  // Consistency from 7 to 20, and the degenerate equal sizes.
  json c = get("/v1/proofs/consistency?from=7&to=20").json();
  REQUIRE(c["from"] == 7);
  REQUIRE(c["to"] == 20);
  auto consistency = [&](const std::string& size1, const std::string& root1,
                         const std::string& size2, const std::string& root2,
                         const std::string& proof) {
    std::vector<std::string> argv = {"proof",   "verify-consistency",
                                     "--size1", size1,
                                     "--root1", root1,
                                     "--size2", size2,
                                     "--root2", root2};
    if (!proof.empty()) {
      argv.insert(argv.end(), {"--proof", proof});
    }
    return cli(argv).exit_code;
  };
  const std::string root1 = c["root1"];
  const std::string root2 = c["root2"];
  const std::string proof = proof_arg(c["proof"]);
  REQUIRE_FALSE(proof.empty());
  CHECK(consistency("7", root1, "20", root2, proof) == 0);
  CHECK(consistency("7", flip(root1), "20", root2, proof) == 1);
  CHECK(consistency("7", root1, "20", flip(root2), proof) == 1);
  CHECK(consistency("7", root1, "20", root2, flip(proof, 5)) == 1);
  CHECK(consistency("8", root1, "20", root2, proof) == 1);
  CHECK(consistency("7", root1.substr(0, 62) + "g0", "20", root2, proof) == 2);
  CHECK(consistency("seven", root1, "20", root2, proof) == 2);
  CHECK(consistency("20", root2, "20", root2, "") == 0);

  // Proofs are against the newest checkpoint: GET /v1/entries/7 names the same root as root2.
  json e7 = get("/v1/entries/7").json();
  CHECK(e7["root_hash"] == root2);

  // The note from GET /v1/checkpoint is signed by the key GET /v1/keys names, and covers the tree
  // whose root the entries' proofs lead to.
  std::string note = get("/v1/checkpoint").body;
  json keys = get("/v1/keys").json();
  CHECK(keys["origin"] == k_origin);
  CHECK(keys["algorithm"] == "ed25519");
  auto verifier = dg::ledger::parse_verifier(keys["verifier"].get<std::string>());
  REQUIRE(verifier);
  auto opened = dg::ledger::open_checkpoint(note, *verifier);
  REQUIRE_MESSAGE(opened, note);
  CHECK(opened->origin == k_origin);
  CHECK(opened->size == 20);
  CHECK(dg::to_hex(opened->root) == e7["root_hash"]);
  CHECK(e7["checkpoint"] == note);

  // The signature checks out by the note format alone: the signed text is the first three lines,
  // the signature line is "— <origin> base64(4-byte key hash || 64-byte Ed25519 signature)".
  auto blank = note.find("\n\n");
  REQUIRE(blank != std::string::npos);
  std::string text = note.substr(0, blank + 1);
  CHECK(text == std::string(k_origin) + "\n20\n" + base64_of(opened->root) + "\n");
  std::string sig_prefix = "\xe2\x80\x94 " + std::string(k_origin) + " ";
  std::string sig_line = trim(note.substr(blank + 2));
  REQUIRE(sig_line.rfind(sig_prefix, 0) == 0);
  auto sig = dg::base64_decode(sig_line.substr(sig_prefix.size()));
  REQUIRE(sig);
  REQUIRE(sig->size() == 4 + 64);
  auto public_key = dg::base64_decode(keys["public_key"].get<std::string>());
  REQUIRE(public_key);
  CHECK(
      dg::ed25519_verify(dg::Bytes(public_key->begin(), public_key->end()), text, sig->substr(4)));

  // Another key's verifier does not open the note.
  auto other = fresh_key();
  auto wrong =
      dg::ledger::parse_verifier(dg::ledger::verifier_string(k_origin, other.public_key()));
  REQUIRE(wrong);
  CHECK_FALSE(dg::ledger::open_checkpoint(note, *wrong));

  CliResult checkpoint = cli({"ledger", "checkpoint"});
  CHECK(checkpoint.exit_code == 0);
  CHECK(contains(checkpoint.out, note.substr(0, blank)));
}

TEST_SUITE_END();
