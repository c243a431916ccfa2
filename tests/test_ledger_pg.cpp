// The ledger on a real PostgreSQL 15 (started by the tests, see tests/support/postgres.hpp): the
// schema and its privileges, several ledgers (daemons) appending to one database, the same views
// as on SQLite, `ledger copy` both ways, and a promoted standby that is behind.
#include "ledger/ledger.hpp"
#include "tests/support/drafts.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/tempdir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace dg;
using namespace dg::ledger;
using dg::test::numbered_digest;
using dg::test::promotion_draft;
using dg::test::validation_draft;

namespace {

test::Postgres& server() {
  return test::Postgres::shared();
}

std::string fresh_database() {
  return server().fresh_database("ledger_unit");
}

struct StateDir {
  dg::test::TempDir tmp{"dg-ledger-pg"};
  std::filesystem::path dir{tmp.path()};
  std::shared_ptr<const Ed25519PrivateKey> key;

  explicit StateDir(std::shared_ptr<const Ed25519PrivateKey> k = nullptr) : key(std::move(k)) {
    if (!key) {
      key = std::make_shared<Ed25519PrivateKey>(std::move(Ed25519PrivateKey::generate().value()));
    }
  }

  Options options(const std::string& database) const {
    Options o;
    o.database = database;
    o.origin = "test.example/ledger";
    o.key = key;
    o.witness_path = (dir / "checkpoint.latest").string();
    return o;
  }
  std::unique_ptr<Ledger> open(const std::string& database) const {
    auto l = Ledger::open(options(database));
    REQUIRE(l);
    return std::move(*l);
  }
};

// Every answer of a view, as text, for comparing two backends.
std::string everything(View& v, const std::vector<std::string>& digests) {
  json out;
  out["size"] = v.size();
  auto entries = [](const std::vector<Entry>& es) {
    json a = json::array();
    for (const auto& e : es) {
      a.push_back(json{e.seq, e.bytes, to_hex(e.leaf)});
    }
    return a;
  };
  out["all"] = entries(v.entries(EntryFilter{0, 1000, "", "", ""}));
  out["staging"] = entries(v.entries(EntryFilter{0, 1000, "", "", "staging"}));
  out["promotions"] = entries(v.entries(EntryFilter{1, 1000, k_promotion, "", ""}));
  for (const auto& d : digests) {
    out["d"][d] = entries(v.digest_entries(d, ""));
    out["r"][d] = v.digest_repository(d).value_or("-");
    out["revoked"][d] = v.revocation(d) ? v.revocation(d)->reason : "-";
    out["approved"][d] = v.approved_in("staging", d);
    out["rolled"][d] = v.rolled_back_from("staging", "ghcr.io/acme/app", d);
    const DigestStanding st = v.standing("staging", "ghcr.io/acme/app", d);
    out["standing"][d] = json{st.approved_seq, st.rolled_back_seq};
  }
  for (const auto& s : v.slots("")) {
    out["slots"].push_back(json{s.environment, s.repository, s.digest, s.seq, s.time});
  }
  out["envs"] = v.environments();
  out["tags"] = v.tag_digests("ghcr.io/acme/app", "v1");
  for (const auto& a : v.approvals("staging", "ghcr.io/acme/app")) {
    out["approvals"].push_back(json{a.digest, a.seq, a.time, a.kind});
  }
  for (const auto& d : v.deployments("staging", "ghcr.io/acme/app")) {
    out["deployments"].push_back(json{d.digest, d.status, d.drift, d.seq});
  }
  out["history"] = entries(v.environment_history("staging", "ghcr.io/acme/app", 50));
  out["policy"] = v.latest_policy() ? v.latest_policy()->seq : 0;
  auto n = static_cast<std::uint64_t>(v.size());
  out["root"] = to_hex(v.root_at(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    for (const auto& h : v.inclusion_proof(i, n)) {
      out["proofs"].push_back(to_hex(h));
    }
  }
  for (const auto& h : v.consistency_proof(3, n)) {
    out["consistency"].push_back(to_hex(h));
  }
  return out.dump();
}

// A ledger with every kind of entry.
std::vector<std::string> fill(Ledger& l) {
  std::vector<std::string> digests;
  for (int i = 1; i <= 4; ++i) {
    digests.push_back(numbered_digest(i));
    REQUIRE(l.append(validation_draft(numbered_digest(i), i % 2 ? "v1" : "v2")));
  }
  REQUIRE(l.append(Draft{k_policy, "digestgated", json{{"sha256", "ab"}}}));
  REQUIRE(l.append(promotion_draft("staging", digests[0], true)));
  REQUIRE(l.append(promotion_draft("staging", digests[1], false)));
  REQUIRE(l.append(promotion_draft("staging", digests[2], true)));
  REQUIRE(l.append(Draft{k_deployment, "deploy",
                         json{{"environment", "staging"},
                              {"repository", "ghcr.io/acme/app"},
                              {"digest", digests[2]},
                              {"status", "failed"},
                              {"drift", true}}}));
  REQUIRE(l.append(Draft{k_rollback, "ops",
                         json{{"environment", "staging"},
                              {"repository", "ghcr.io/acme/app"},
                              {"digest", digests[0]},
                              {"from_digest", digests[2]},
                              {"decision", "approved"}}}));
  REQUIRE(l.append(Draft{k_revocation, "ops", json{{"digest", digests[2]}, {"reason", "CVE"}}}));
  REQUIRE(l.append(promotion_draft("production", digests[0], true)));
  return digests;
}

std::string answers(Ledger& l, const std::vector<std::string>& digests) {
  std::string out;
  auto read = l.read([&](View& v) { out = everything(v, digests); });
  if (!read) {
    FAIL_CHECK(read.error().message);
  }
  return out;
}

} // namespace

TEST_SUITE_BEGIN("ledger-postgresql");

TEST_CASE("PostgreSQL: init creates the schema once and grants the daemons' role SELECT and "
          "INSERT only") {
  if (!test::Postgres::available()) {
    MESSAGE("skipped: " << test::Postgres::unavailable_reason());
    return;
  }
  std::string db = fresh_database();
  StateDir s;
  server().create_role("dg_app", "secret");
  REQUIRE(Ledger::initialize(InitOptions{db, "", "dg_app"}, s.key->public_key()));
  REQUIRE(Ledger::initialize(InitOptions{db, "", "dg_app"}, s.key->public_key())); // a no-op
  {
    auto l = s.open(db);
    REQUIRE(l->append(validation_draft(numbered_digest(1))));
  }
  std::string name = db.substr(db.rfind('/') + 1);
  CHECK(server().psql(name, "SELECT count(*) FROM checkpoint_keys") == "1");
  // The owner is refused by the triggers; the daemons' role by its privileges too.
  for (const char* sql :
       {"UPDATE entries SET kind = 'x'", "DELETE FROM entries", "TRUNCATE entries",
        "UPDATE tree_nodes SET idx = 9", "DELETE FROM checkpoints", "TRUNCATE checkpoints CASCADE",
        "DELETE FROM digests", "UPDATE meta SET value = '2'"}) {
    const std::string statement = sql;
    CAPTURE(statement);
    CHECK_FALSE(server().psql(name, sql));
    CHECK_FALSE(server().psql(name, std::string("SET ROLE dg_app; ") + sql));
  }
  // The role may not write the derived tables either: only the entries' trigger does.
  CHECK_FALSE(server().psql(
      name, "SET ROLE dg_app; INSERT INTO revocations VALUES ('sha256:x', 9, 'forged', 't')"));
  CHECK(server().psql(name, "SET ROLE dg_app; SELECT count(*) FROM entries") == "1");
  auto report = verify_ledger(db, "");
  REQUIRE(report);
  CHECK(report->ok);
  CHECK(report->entries == 1);
}

TEST_CASE("PostgreSQL: every view answers as SQLite's does, and copies are identical both ways") {
  if (!test::Postgres::available()) {
    MESSAGE("skipped: " << test::Postgres::unavailable_reason());
    return;
  }
  StateDir s;
  std::string file = (s.dir / "ledger.db").string();
  REQUIRE(Ledger::initialize(file, s.key->public_key()));
  std::vector<std::string> digests;
  std::string from_sqlite;
  {
    auto l = s.open(file);
    digests = fill(*l);
    from_sqlite = answers(*l, digests);
  }
  std::string db = fresh_database();
  auto copied = copy_ledger(file, db);
  REQUIRE(copied);
  CHECK(copied->entries == 12);
  auto original = verify_ledger(file, "");
  auto on_pg = verify_ledger(db, "");
  REQUIRE(on_pg);
  CHECK(on_pg->ok);
  CHECK(on_pg->root_hex == original->root_hex);
  CHECK(on_pg->checkpoints == original->checkpoints);
  {
    auto l = s.open(db);
    CHECK(l->integrity().ok);
    CHECK(answers(*l, digests) == from_sqlite);
    // A copy only goes into an empty ledger.
    auto again = copy_ledger(file, db);
    REQUIRE_FALSE(again);
    CHECK(again.error().message.find("already holds entries") != std::string::npos);
    REQUIRE(l->append(validation_draft(numbered_digest(9))));
  }
  // And back: the PostgreSQL ledger (now 13 entries) into a new SQLite file.
  std::string back = (s.dir / "back.db").string();
  auto returned = copy_ledger(db, back);
  REQUIRE(returned);
  CHECK(returned->entries == 13);
  auto b = verify_ledger(back, "");
  auto p = verify_ledger(db, "");
  REQUIRE(b);
  CHECK(b->ok);
  CHECK(b->root_hex == p->root_hex);
  auto l = s.open(back);
  CHECK(l->integrity().ok);
  auto pl = s.open(db);
  digests.push_back(numbered_digest(9));
  CHECK(answers(*l, digests) == answers(*pl, digests));
}

TEST_CASE("PostgreSQL: two ledgers appending at once keep one dense order, and each sees the "
          "other's entries") {
  if (!test::Postgres::available()) {
    MESSAGE("skipped: " << test::Postgres::unavailable_reason());
    return;
  }
  std::string db = fresh_database();
  StateDir a;
  StateDir b(a.key); // every daemon of one ledger shares its key
  REQUIRE(Ledger::initialize(db, a.key->public_key()));
  auto la = a.open(db);
  auto lb = b.open(db);
  constexpr int k_threads = 4, k_each = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<std::int64_t> seqs;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t % 2 ? *la : *lb;
      for (int i = 0; i < k_each; ++i) {
        auto c = l.append(validation_draft(numbered_digest(t * 1000 + i)));
        if (!c) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mutex);
        CHECK(seqs.insert(c->entry.seq).second); // no duplicate
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == 0);
  REQUIRE(seqs.size() == k_threads * k_each);
  CHECK(*seqs.rbegin() == k_threads * k_each); // dense: 1..N
  CHECK(la->size() == k_threads * k_each);
  CHECK(lb->size() == k_threads * k_each);
  // A revocation through A is seen by B's next read and by B's next writer step.
  REQUIRE(la->append(
      Draft{k_revocation, "ops", json{{"digest", numbered_digest(7)}, {"reason", "x"}}}));
  bool revoked = false;
  REQUIRE(lb->read([&](View& v) { revoked = v.revocation(numbered_digest(7)).has_value(); }));
  CHECK(revoked);
  std::promise<bool> seen_by_step;
  lb->submit(
      [&](View& v) -> std::optional<Draft> {
        seen_by_step.set_value(v.revocation(numbered_digest(7)).has_value());
        return std::nullopt;
      },
      [](Result<std::optional<Committed>>) {});
  CHECK(seen_by_step.get_future().get());
  la->close();
  lb->close();
  auto report = verify_ledger(db, "");
  REQUIRE(report);
  CHECK(report->ok);
  CHECK(report->entries == k_threads * k_each + 1);
  // Each daemon's checkpoints are consistent with the other's: one tree.
  auto again = a.open(db);
  CHECK(again->integrity().ok);
}

TEST_CASE("PostgreSQL: a database that lacks entries this daemon saw is refused, not extended") {
  if (!test::Postgres::available()) {
    MESSAGE("skipped: " << test::Postgres::unavailable_reason());
    return;
  }
  std::string db = fresh_database();
  std::string behind = fresh_database();
  StateDir s;
  REQUIRE(Ledger::initialize(db, s.key->public_key()));
  REQUIRE(Ledger::initialize(behind, s.key->public_key()));
  {
    auto l = s.open(behind);
    REQUIRE(l->append(validation_draft(numbered_digest(1))));
  }
  std::filesystem::remove(s.dir / "checkpoint.latest");
  {
    auto l = s.open(db);
    REQUIRE(l->append(validation_draft(numbered_digest(1))));
    REQUIRE(l->append(validation_draft(numbered_digest(2))));
  }
  // The witness now says 2 entries; the other database (a standby that was behind) holds 1.
  auto l = s.open(behind);
  CHECK_FALSE(l->integrity().ok);
  auto refused = l->append(validation_draft(numbered_digest(3)));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::corrupt);
}
