#include "ledger/ledger.hpp"
#include "ledger/seal.hpp"
#include "tests/support/drafts.hpp"
#include "tests/support/tempdir.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace dg;
using namespace dg::ledger;
using dg::test::numbered_digest;
using dg::test::validation_draft;

namespace {

// A temporary state directory with an initialized ledger.
struct LedgerDir {
  dg::test::TempDir tmp{"dg-ledger-test"};
  std::filesystem::path dir{tmp.path()};
  std::shared_ptr<const Ed25519PrivateKey> key;

  LedgerDir() {
    key = std::make_shared<Ed25519PrivateKey>(std::move(Ed25519PrivateKey::generate().value()));
    REQUIRE(Ledger::initialize(db(), key->public_key()));
  }

  std::string db() const { return (dir / "ledger.db").string(); }

  std::unique_ptr<Ledger> open() const {
    Options o;
    o.database = db();
    o.origin = "test.example/ledger";
    o.key = key;
    o.witness_path = (dir / "checkpoint.latest").string();
    auto l = Ledger::open(o);
    REQUIRE(l);
    return std::move(*l);
  }

  // Run SQL directly against the file, as someone with shell access would.
  int exec(const std::string& sql, std::string* error = nullptr) const {
    sqlite3* h = nullptr;
    sqlite3_open(db().c_str(), &h);
    char* err = nullptr;
    int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
    if (error != nullptr && err != nullptr) {
      *error = err;
    }
    sqlite3_free(err);
    sqlite3_close(h);
    return rc;
  }

  // The first column of the first row `sql` returns ("" when none).
  std::string value(const std::string& sql) const {
    sqlite3* h = nullptr;
    sqlite3_open(db().c_str(), &h);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(h, sql.c_str(), -1, &stmt, nullptr);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    return out;
  }

  std::string note(std::int64_t size) const {
    return value("SELECT note FROM checkpoints WHERE size = " + std::to_string(size));
  }

  // Replace the stored note of checkpoint `size` (its root column stays), as someone with shell
  // access would.
  void replace_note(std::int64_t size, const std::string& note) const {
    REQUIRE(exec("DROP TRIGGER IF EXISTS checkpoints_no_UPDATE") == SQLITE_OK);
    sqlite3* h = nullptr;
    sqlite3_open(db().c_str(), &h);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(h, "UPDATE checkpoints SET note = ? WHERE size = ?", -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, note.data(), static_cast<int>(note.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, size);
    CHECK(sqlite3_step(stmt) == SQLITE_DONE);
    CHECK(sqlite3_changes(h) == 1);
    sqlite3_finalize(stmt);
    sqlite3_close(h);
  }
};

} // namespace

TEST_SUITE_BEGIN("ledger");

TEST_CASE("Appended entries are stored as canonical JSON with their RFC 6962 leaf hash") {
  LedgerDir d;
  auto ledger = d.open();
  auto c = ledger->append(validation_draft(numbered_digest(1)));
  REQUIRE(c);
  CHECK(c->entry.seq == 1);
  CHECK(c->entry.bytes.rfind("{\"actor\":\"ci\",\"body\":{", 0) == 0);
  std::string prefixed = std::string(1, '\0') + c->entry.bytes;
  CHECK(c->entry.leaf == sha256(prefixed));
  auto cp = parse_checkpoint(c->checkpoint);
  REQUIRE(cp);
  CHECK(cp->size == 1);
  CHECK(cp->root == c->entry.leaf);
  CHECK(cp->origin == "test.example/ledger");
}

TEST_CASE("The schema's triggers abort UPDATE and DELETE of entries, tree nodes and checkpoints") {
  LedgerDir d;
  {
    auto ledger = d.open();
    REQUIRE(ledger->append(validation_draft(numbered_digest(1))));
  }
  for (const char* sql : {"UPDATE entries SET kind = 'promotion' WHERE seq = 1",
                          "DELETE FROM entries WHERE seq = 1", "UPDATE tree_nodes SET hash = x'00'",
                          "DELETE FROM tree_nodes", "UPDATE checkpoints SET note = ''",
                          "DELETE FROM checkpoints", "DELETE FROM checkpoint_keys"}) {
    CAPTURE(sql);
    std::string error;
    CHECK(d.exec(sql, &error) != SQLITE_OK);
    CHECK(error.find("append-only") != std::string::npos);
  }
  auto report = verify_ledger(d.db(), "");
  REQUIRE(report);
  CHECK(report->ok);
  CHECK(report->entries == 1);
}

TEST_CASE("Entries survive a reopen and the derived tables answer lookups") {
  LedgerDir d;
  std::string first = numbered_digest(1), second = numbered_digest(2);
  {
    auto ledger = d.open();
    REQUIRE(ledger->append(validation_draft(first, "v1")));
    REQUIRE(ledger->append(validation_draft(second, "v1")));
    json promotion{{"environment", "staging"},
                   {"decision", "approved"},
                   {"promotions", {{{"repository", "ghcr.io/acme/app"}, {"digest", first}}}}};
    REQUIRE(ledger->append(Draft{k_promotion, "deploy", promotion}));
  }
  auto ledger = d.open();
  CHECK(ledger->integrity().ok);
  CHECK(ledger->size() == 3);
  REQUIRE(ledger->read([&](View& view) {
    CHECK(view.digest_repository(first) == std::optional<std::string>("ghcr.io/acme/app"));
    CHECK_FALSE(view.digest_repository(numbered_digest(3)));
    CHECK(view.tag_digests("ghcr.io/acme/app", "v1") == std::vector<std::string>{second, first});
    auto slots = view.slots("staging");
    REQUIRE(slots.size() == 1);
    CHECK(slots[0].digest == first);
    CHECK(view.approved_in("staging", first));
    CHECK_FALSE(view.approved_in("staging", second));
    CHECK(view.entries(EntryFilter{0, 10, k_validation, "", ""}).size() == 2);
    CHECK(view.entries(EntryFilter{0, 10, "", first, ""}).size() == 2);
    CHECK(view.entries(EntryFilter{0, 10, "", "", "staging"}).size() == 1);
    CHECK(view.entries(EntryFilter{2, 10, "", "", ""}).size() == 1);
  }));
}

TEST_CASE("A digest's standing: its newest approval there and the newest rollback away from it") {
  LedgerDir d;
  const std::string good = numbered_digest(1), bad = numbered_digest(2);
  const std::string repo = "ghcr.io/acme/app";
  auto ledger = d.open();
  auto promote = [&](const std::string& digest) {
    json body{{"environment", "production"},
              {"decision", "approved"},
              {"promotions", {{{"repository", repo}, {"digest", digest}}}}};
    return ledger->append(Draft{k_promotion, "deploy", body}).value().entry.seq;
  };
  std::int64_t good_seq = promote(good);
  std::int64_t bad_seq = promote(bad);
  json rollback{{"environment", "production"},
                {"decision", "approved"},
                {"repository", repo},
                {"digest", good},
                {"from_digest", bad}};
  std::int64_t rollback_seq = ledger->append(Draft{k_rollback, "ops", rollback}).value().entry.seq;
  REQUIRE(ledger->read([&](View& view) {
    DigestStanding g = view.standing("production", repo, good);
    CHECK(g.approved_seq == rollback_seq); // the rollback approved it again
    CHECK(g.rolled_back_seq == 0);
    DigestStanding b = view.standing("production", repo, bad);
    CHECK(b.approved_seq == bad_seq);
    CHECK(b.rolled_back_seq == rollback_seq);
    CHECK(view.standing("staging", repo, good).approved_seq == 0);
    CHECK(view.standing("production", "docker.io/acme/app", good).approved_seq == 0);
  }));
  CHECK(good_seq < bad_seq);
  // Promoted again after the rollback: the newer approval is what counts.
  std::int64_t again = promote(bad);
  REQUIRE(ledger->read([&](View& view) {
    DigestStanding b = view.standing("production", repo, bad);
    CHECK(b.approved_seq == again);
    CHECK(b.rolled_back_seq == rollback_seq);
  }));
}

TEST_CASE("Concurrent appends share commits and each is acknowledged with its own durable entry") {
  LedgerDir d;
  auto ledger = d.open();
  constexpr int k_threads = 8, k_each = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<std::int64_t>> seqs(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_each; ++i) {
        auto c = ledger->append(validation_draft(numbered_digest(t * 1000 + i)));
        if (!c) {
          ++failures;
        } else {
          seqs[t].push_back(c->entry.seq);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == 0);
  std::set<std::int64_t> all;
  for (const auto& v : seqs) {
    all.insert(v.begin(), v.end());
  }
  CHECK(all.size() == k_threads * k_each);
  CHECK(*all.rbegin() == k_threads * k_each);
  ledger->close();
  auto report = verify_ledger(d.db(), "");
  REQUIRE(report);
  CHECK(report->ok);
  CHECK(report->entries == k_threads * k_each);
}

TEST_CASE("Completions run in commit order on their own thread, while the writer commits on") {
  LedgerDir d;
  auto ledger = d.open();
  std::mutex mutex;
  std::vector<std::int64_t> order;
  // Called on the completion thread, where only CHECK may fail (REQUIRE would throw there).
  auto record = [&](const Result<std::optional<Committed>>& r) {
    CHECK((r && r->has_value()));
    std::lock_guard lock(mutex);
    order.push_back(r && r->has_value() ? (*r)->entry.seq : -1);
  };

  // The first completion submits another step and waits for it to become durable: the writer
  // commits it meanwhile, since no completion runs on the writer thread.
  std::promise<void> second_done;
  std::atomic<bool> second_durable{false};
  ledger->submit(
      [](View&) -> std::optional<Draft> { return validation_draft(numbered_digest(1)); },
      [&](Result<std::optional<Committed>> r) {
        record(r);
        ledger->submit(
            [](View&) -> std::optional<Draft> { return validation_draft(numbered_digest(2)); },
            [&](Result<std::optional<Committed>> r2) {
              record(r2);
              second_done.set_value();
            });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (ledger->size() < 2 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        second_durable = ledger->size() == 2;
      });
  second_done.get_future().wait();
  CHECK(second_durable);

  // Many concurrent steps: each completion comes after its entry is durable, in seq order.
  constexpr int k_steps = 200;
  std::vector<std::promise<void>> done(k_steps);
  for (int i = 0; i < k_steps; ++i) {
    ledger->submit(
        [i](View&) -> std::optional<Draft> { return validation_draft(numbered_digest(100 + i)); },
        [&, i](Result<std::optional<Committed>> r) {
          record(r);
          CHECK((r && r->has_value() && ledger->size() >= (*r)->entry.seq));
          done[static_cast<std::size_t>(i)].set_value();
        });
  }
  for (auto& p : done) {
    p.get_future().wait();
  }
  std::lock_guard lock(mutex);
  REQUIRE(order.size() == k_steps + 2);
  for (std::size_t i = 0; i < order.size(); ++i) {
    CHECK(order[i] == static_cast<std::int64_t>(i + 1));
  }
}

TEST_CASE(
    "A step that appends nothing leaves no entry and a failing step does not poison its batch") {
  LedgerDir d;
  auto ledger = d.open();
  std::promise<Result<std::optional<Committed>>> nothing, thrown;
  ledger->submit([](View&) -> std::optional<Draft> { return std::nullopt; },
                 [&](Result<std::optional<Committed>> r) { nothing.set_value(std::move(r)); });
  ledger->submit([](View&) -> std::optional<Draft> { throw std::runtime_error("boom"); },
                 [&](Result<std::optional<Committed>> r) { thrown.set_value(std::move(r)); });
  auto ok = ledger->append(validation_draft(numbered_digest(1)));
  auto n = nothing.get_future().get();
  REQUIRE(n);
  CHECK_FALSE(n->has_value());
  auto t = thrown.get_future().get();
  CHECK_FALSE(t);
  REQUIRE(ok);
  CHECK(ok->entry.seq == 1);
}

TEST_CASE("A completion that throws neither stops the writer nor loses its entry") {
  LedgerDir d;
  Options o;
  o.database = d.db();
  o.origin = "test.example/ledger";
  o.key = d.key;
  o.witness_path = (d.dir / "checkpoint.latest").string();
  std::mutex mutex;
  std::vector<std::string> problems;
  o.on_callback_error = [&](const std::string& problem) {
    std::lock_guard lock(mutex);
    problems.push_back(problem);
  };
  auto opened = Ledger::open(o);
  REQUIRE(opened);
  auto& ledger = **opened;
  std::promise<std::int64_t> first;
  ledger.submit([](View&) -> std::optional<Draft> { return validation_draft(numbered_digest(1)); },
                [&](Result<std::optional<Committed>> r) {
                  first.set_value(r && r->has_value() ? (*r)->entry.seq : -1);
                  throw std::runtime_error("the caller's bug");
                });
  ledger.submit([](View&) -> std::optional<Draft> { return validation_draft(numbered_digest(2)); },
                [](Result<std::optional<Committed>>) { throw 42; }); // not a std::exception
  CHECK(first.get_future().get() == 1);
  // The writer and the completion thread go on.
  auto later = ledger.append(validation_draft(numbered_digest(3)));
  REQUIRE(later);
  CHECK(later->entry.seq == 3);
  CHECK(ledger.callback_failures() == 2);
  {
    std::lock_guard lock(mutex);
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].find("the caller's bug") != std::string::npos);
  }
  ledger.close();
  auto report = verify_ledger(d.db(), "");
  REQUIRE(report);
  CHECK(report->ok);
  CHECK(report->entries == 3);
  bool found = false;
  auto reopened = d.open();
  REQUIRE(reopened->read([&](View& view) { found = view.entry(1).has_value(); }));
  CHECK(found);
}

TEST_CASE("An edited entry fails the integrity check when the ledger is opened") {
  LedgerDir d;
  {
    auto ledger = d.open();
    REQUIRE(ledger->append(validation_draft(numbered_digest(1))));
    REQUIRE(ledger->append(validation_draft(numbered_digest(2))));
  }
  REQUIRE(d.exec("DROP TRIGGER entries_no_UPDATE; UPDATE entries SET bytes = "
                 "replace(bytes, 'ghcr.io', 'evil.io') WHERE seq = 2") == SQLITE_OK);
  auto ledger = d.open();
  CHECK_FALSE(ledger->integrity().ok);
  CHECK(ledger->integrity().first_bad_seq == 2);
  auto appended = ledger->append(validation_draft(numbered_digest(3)));
  REQUIRE_FALSE(appended);
  CHECK(appended.error().code == Errc::corrupt);
  auto report = verify_ledger(d.db(), "");
  REQUIRE(report);
  CHECK_FALSE(report->ok);
  CHECK(report->first_bad_seq == 2);
}

TEST_CASE("Derived tables edited outside the daemon are rebuilt from the entries on open") {
  LedgerDir d;
  std::string revoked = numbered_digest(1), forged = numbered_digest(2);
  {
    auto ledger = d.open();
    REQUIRE(ledger->append(validation_draft(revoked)));
    REQUIRE(
        ledger->append(Draft{k_revocation, "ops", json{{"digest", revoked}, {"reason", "CVE"}}}));
  }
  REQUIRE(d.exec("DELETE FROM revocations; INSERT INTO approvals(environment, repository, seq, "
                 "digest, time, kind) VALUES('staging', 'ghcr.io/acme/app', 1, '" +
                 forged + "', 'x', 'promotion')") == SQLITE_OK);
  auto ledger = d.open();
  CHECK(ledger->integrity().ok);
  REQUIRE(ledger->read([&](View& view) {
    auto r = view.revocation(revoked);
    REQUIRE(r);
    CHECK(r->reason == "CVE");
    CHECK_FALSE(view.approved_in("staging", forged));
  }));
}

TEST_CASE("The derived-state sum is a sum of hashes modulo 2^256") {
  auto hash = [](std::initializer_list<std::pair<std::size_t, std::uint8_t>> bytes) {
    Hash h{};
    for (auto [at, value] : bytes) {
      h[at] = value;
    }
    return h;
  };
  const std::string zero(64, '0');
  seal::Sum sum;
  CHECK(sum.hex() == zero);

  SUBCASE("a carry crosses from one 64-bit limb into the next") {
    // Little-endian: 2^64 - 1 (bytes 0..7 set) plus 1 is 2^64, byte 8 = 1.
    sum.add(hash(
        {{0, 0xff}, {1, 0xff}, {2, 0xff}, {3, 0xff}, {4, 0xff}, {5, 0xff}, {6, 0xff}, {7, 0xff}}));
    sum.add(hash({{0, 0x01}}));
    CHECK(sum.hex() == "000000000000000001" + std::string(46, '0'));
    sum.subtract(hash({{0, 0x01}}));
    CHECK(sum.hex() == "ffffffffffffffff" + std::string(48, '0'));
  }
  SUBCASE("the sum wraps modulo 2^256 both ways") {
    Hash all{};
    all.fill(0xff);
    sum.add(all);               // 2^256 - 1
    sum.add(hash({{0, 0x01}})); // wraps to 0
    CHECK(sum.hex() == zero);
    sum.subtract(hash({{0, 0x02}})); // 0 - 2 = 2^256 - 2
    CHECK(sum.hex() == "fe" + std::string(62, 'f'));
  }
  SUBCASE("order does not matter, and a row added then removed leaves no trace") {
    Hash a = sha256("a"), b = sha256("b"), c = sha256("c");
    seal::Sum other;
    sum.add(a);
    sum.add(b);
    sum.add(c);
    sum.subtract(b);
    other.add(c);
    other.add(a);
    CHECK(sum == other);
    CHECK(seal::Sum::from_hex(sum.hex()) == std::optional<seal::Sum>(sum));
  }
  CHECK_FALSE(seal::Sum::from_hex("not hex"));
}

TEST_CASE("The seal's MAC is HMAC-SHA-256: RFC 4231 and the hand-built HMAC agree with it") {
  // RFC 4231 test case 1: a 20-byte key; HMAC pads keys with zeros to the block size, so the
  // same key padded to 32 bytes gives the same MAC.
  Hash key{};
  std::fill_n(key.begin(), 20, std::uint8_t{0x0b});
  seal::RowHasher hasher(key);
  CHECK(to_hex(hasher.mac("Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // The construction the seal was first written with (RFC 2104 by hand over SHA-256), so that
  // seals already stored still verify.
  auto by_hand = [](const Hash& k, const std::string& message) {
    std::string ipad(64, '\x36'), opad(64, '\x5c');
    for (std::size_t i = 0; i < k.size(); ++i) {
      ipad[i] = static_cast<char>(k[i] ^ 0x36);
      opad[i] = static_cast<char>(k[i] ^ 0x5c);
    }
    Hash inner = sha256(ipad + message);
    return sha256(opad + std::string(reinterpret_cast<const char*>(inner.data()), inner.size()));
  };
  Hash seal_key = sha256("a seal key");
  seal::RowHasher sealer(seal_key);
  for (const std::string& message :
       {std::string(), std::string("v2 1 00 11 22"), std::string(1000, 'x')}) {
    CHECK(sealer.mac(message) == by_hand(seal_key, message));
  }
  // A checkpoint row's hash is the MAC of its canonical encoding.
  std::string row = std::string("\0\0\0\x0b", 4) + "checkpoints" + "i" +
                    std::string("\0\0\0\0\0\0\0\x07", 8) + "b" + std::string("\0\0\0\x20", 4) +
                    std::string(32, '\0') + "t" + std::string("\0\0\0\x04", 4) + "note";
  CHECK(sealer.checkpoint(7, Hash{}, "note") == by_hand(seal_key, row));
}

TEST_CASE("Derived tables written by the ledger are sealed and confirmed without a rebuild") {
  LedgerDir d;
  const std::string first = numbered_digest(1), second = numbered_digest(2);
  {
    auto ledger = d.open();
    CHECK(ledger->start_report().entries == 0);
    REQUIRE(ledger->append(validation_draft(first)));
    REQUIRE(ledger->append(validation_draft(second)));
    for (const auto& digest : {first, second, first}) { // slots updated in place
      json promotion{{"environment", "staging"},
                     {"decision", "approved"},
                     {"promotions", {{{"repository", "ghcr.io/acme/app"}, {"digest", digest}}}}};
      REQUIRE(ledger->append(Draft{k_promotion, "deploy", promotion}));
    }
    REQUIRE(ledger->append(Draft{k_revocation, "ops", json{{"digest", second}, {"reason", "x"}}}));
    // A step that fails leaves nothing behind, in the tables or in the sum.
    std::promise<Result<std::optional<Committed>>> failed;
    ledger->submit([](View&) -> std::optional<Draft> { throw std::runtime_error("step failed"); },
                   [&](Result<std::optional<Committed>> r) { failed.set_value(std::move(r)); });
    CHECK_FALSE(failed.get_future().get());
    REQUIRE(ledger->append(validation_draft(numbered_digest(3))));
  }
  auto ledger = d.open();
  CHECK(ledger->integrity().ok);
  StartReport report = ledger->start_report();
  CHECK(report.entries == 7);
  CHECK_MESSAGE(!report.derived_rebuilt, report.derived_problem);
}

TEST_CASE("Any change to the derived tables or their seal outside the ledger forces a rebuild") {
  LedgerDir d;
  const std::string revoked = numbered_digest(1);
  {
    auto ledger = d.open();
    REQUIRE(ledger->append(validation_draft(revoked)));
    REQUIRE(ledger->append(validation_draft(numbered_digest(2))));
    REQUIRE(ledger->append(Draft{k_revocation, "ops", json{{"digest", revoked}, {"reason", "x"}}}));
  }
  std::string problem = "the derived tables changed since the daemon sealed them";
  SUBCASE("a row deleted") {
    REQUIRE(d.exec("DELETE FROM revocations") == SQLITE_OK);
  }
  SUBCASE("a row added") {
    REQUIRE(d.exec("INSERT INTO tags(repository, tag, digest, seq) VALUES('ghcr.io/acme/app', "
                   "'v9', '" +
                   revoked + "', 1)") == SQLITE_OK);
  }
  SUBCASE("a value changed, even to the same digits as a blob") {
    REQUIRE(d.exec("UPDATE revocations SET seq = CAST('3' AS BLOB)") == SQLITE_OK);
  }
  SUBCASE("the seal removed") {
    REQUIRE(d.exec("DELETE FROM meta WHERE key = 'derived_seal'") == SQLITE_OK);
    problem = "there is no seal";
  }
  SUBCASE("the seal's MAC changed") {
    REQUIRE(d.exec("UPDATE meta SET value = substr(value, 1, length(value) - 1) || "
                   "CASE WHEN substr(value, -1) = '0' THEN '1' ELSE '0' END "
                   "WHERE key = 'derived_seal'") == SQLITE_OK);
    problem = "not signed by this daemon's checkpoint key";
  }
  SUBCASE("an earlier seal put back") {
    sqlite3* h = nullptr;
    sqlite3_open(d.db().c_str(), &h);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = 'derived_seal'", -1, &stmt, nullptr);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    std::string earlier = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    {
      auto ledger = d.open();
      REQUIRE(ledger->append(validation_draft(numbered_digest(4))));
    }
    REQUIRE(d.exec("UPDATE meta SET value = '" + earlier + "' WHERE key = 'derived_seal'") ==
            SQLITE_OK);
    problem = "the seal covers 3 entries, the ledger has 4";
  }

  {
    auto ledger = d.open();
    CHECK(ledger->integrity().ok);
    StartReport report = ledger->start_report();
    CHECK(report.derived_rebuilt);
    CHECK_MESSAGE(report.derived_problem.find(problem) != std::string::npos,
                  report.derived_problem);
    REQUIRE(ledger->read([&](View& view) {
      auto r = view.revocation(revoked);
      REQUIRE(r);
      CHECK(r->seq == 3);
      CHECK(view.tag_digests("ghcr.io/acme/app", "v9").empty());
    }));
  }
  // The rebuild sealed the tables again.
  auto ledger = d.open();
  CHECK_MESSAGE(!ledger->start_report().derived_rebuilt, ledger->start_report().derived_problem);
}

// The fields of the stored seal, split at spaces.
std::vector<std::string> seal_fields(const LedgerDir& d) {
  std::string text = d.value("SELECT value FROM meta WHERE key = 'derived_seal'");
  std::vector<std::string> fields;
  for (std::size_t at = 0; !text.empty();) {
    auto space = text.find(' ', at);
    fields.push_back(text.substr(at, space - at));
    if (space == std::string::npos) {
      break;
    }
    at = space + 1;
  }
  return fields;
}

// A ledger of `n` entries, one commit (and so one checkpoint) each.
void fill(const LedgerDir& d, int n) {
  auto ledger = d.open();
  for (int i = 1; i <= n; ++i) {
    REQUIRE(ledger->append(validation_draft(numbered_digest(i))));
  }
}

TEST_CASE("Checkpoints written by the ledger are confirmed by the seal, not by every signature") {
  LedgerDir d;
  {
    auto ledger = d.open();
    // A new ledger has no seal yet: its (no) checkpoints are verified, and then sealed.
    CHECK(ledger->start_report().checkpoints_verified);
    REQUIRE(ledger->append(validation_draft(numbered_digest(1))));
    REQUIRE(ledger->append(validation_draft(numbered_digest(2))));
    // A failed step adds no checkpoint, and nothing to either sum.
    std::promise<Result<std::optional<Committed>>> failed;
    ledger->submit([](View&) -> std::optional<Draft> { throw std::runtime_error("step failed"); },
                   [&](Result<std::optional<Committed>> r) { failed.set_value(std::move(r)); });
    CHECK_FALSE(failed.get_future().get());
    REQUIRE(ledger->append(validation_draft(numbered_digest(3))));
  }
  auto ledger = d.open();
  CHECK(ledger->integrity().ok);
  StartReport report = ledger->start_report();
  CHECK(report.entries == 3);
  CHECK_MESSAGE(!report.checkpoints_verified, report.checkpoints_problem);
  CHECK_MESSAGE(!report.derived_rebuilt, report.derived_problem);

  // The seal is "v2 SIZE ROOT SUM CPSUM MAC", and CPSUM is the sum of the HMACs of the checkpoint
  // rows, encoded as any row is (table name, then each typed value).
  auto fields = seal_fields(d);
  REQUIRE(fields.size() == 6);
  CHECK(fields[0] == "v2");
  CHECK(fields[1] == "3");
  seal::RowHasher hasher(seal::derive_key(*d.key));
  seal::Sum expected;
  sqlite3* h = nullptr;
  sqlite3_open(d.db().c_str(), &h);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(h, "SELECT size, root, note FROM checkpoints", -1, &stmt, nullptr);
  int rows = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    sqlite3_value* values[3] = {sqlite3_column_value(stmt, 0), sqlite3_column_value(stmt, 1),
                                sqlite3_column_value(stmt, 2)};
    Hash row = hasher.row("checkpoints", values, 3);
    const auto* root = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, 1));
    Hash root_hash{};
    std::copy(root, root + root_hash.size(), root_hash.begin());
    CHECK(row == hasher.checkpoint(sqlite3_column_int64(stmt, 0), root_hash,
                                   reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2))));
    expected.add(row);
    ++rows;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(h);
  CHECK(rows == 3);
  CHECK(fields[4] == expected.hex());
}

TEST_CASE("An older checkpoint changed outside the ledger fails the open") {
  LedgerDir d;
  fill(d, 4);
  auto genuine = parse_checkpoint(d.note(2));
  REQUIRE(genuine);
  std::string problem;
  SUBCASE("its note re-signed by another key, over the true root") {
    auto other = Ed25519PrivateKey::generate();
    REQUIRE(other);
    d.replace_note(2, sign_checkpoint(*genuine, genuine->origin, *other));
    problem = "checkpoint at size 2 is not signed by a trusted ledger key";
  }
  SUBCASE("the same, and the seal deleted with it") {
    auto other = Ed25519PrivateKey::generate();
    REQUIRE(other);
    d.replace_note(2, sign_checkpoint(*genuine, genuine->origin, *other));
    REQUIRE(d.exec("DELETE FROM meta WHERE key = 'derived_seal'") == SQLITE_OK);
    problem = "checkpoint at size 2 is not signed by a trusted ledger key";
  }
  SUBCASE("its note swapped for another genuine one") {
    d.replace_note(2, d.note(3));
    problem = "checkpoint at size 2 does not match its stored root and size";
  }

  auto ledger = d.open();
  Integrity integrity = ledger->integrity();
  CHECK_FALSE(integrity.ok);
  CHECK(integrity.first_bad_seq == 2);
  CHECK(integrity.message == problem);
  CHECK(ledger->start_report().checkpoints_verified);
  auto appended = ledger->append(validation_draft(numbered_digest(5)));
  REQUIRE_FALSE(appended);
  CHECK(appended.error().code == Errc::corrupt);
  ledger->close();

  auto report = verify_ledger(d.db(), "");
  REQUIRE(report);
  CHECK_FALSE(report->ok);
  CHECK(report->first_bad_seq == 2);
  CHECK(report->message == problem);
}

TEST_CASE("Checkpoints the seal does not cover are all verified once, then sealed") {
  LedgerDir d;
  fill(d, 3);
  std::string problem;
  bool rebuilt = false;
  SUBCASE("the seal deleted") {
    REQUIRE(d.exec("DELETE FROM meta WHERE key = 'derived_seal'") == SQLITE_OK);
    problem = "there is no seal";
    rebuilt = true;
  }
  SUBCASE("a v1 seal, written by an earlier version, that covers the derived tables only") {
    auto fields = seal_fields(d);
    REQUIRE(fields.size() == 6);
    std::string body = "v1 " + fields[1] + " " + fields[2] + " " + fields[3];
    seal::RowHasher hasher(seal::derive_key(*d.key));
    std::string v1 = body + " " + to_hex(hasher.mac("digestgate derived-state seal\n" + body));
    REQUIRE(d.exec("UPDATE meta SET value = '" + v1 + "' WHERE key = 'derived_seal'") == SQLITE_OK);
    problem = "the seal does not cover the checkpoints";
  }
  SUBCASE("the seal's checkpoint sum changed") {
    auto fields = seal_fields(d);
    REQUIRE(fields.size() == 6);
    fields[4][0] = fields[4][0] == '0' ? '1' : '0';
    std::string text;
    for (const auto& f : fields) {
      text += (text.empty() ? "" : " ") + f;
    }
    REQUIRE(d.exec("UPDATE meta SET value = '" + text + "' WHERE key = 'derived_seal'") ==
            SQLITE_OK);
    problem = "not signed by this daemon's checkpoint key";
    rebuilt = true;
  }

  {
    auto ledger = d.open();
    CHECK(ledger->integrity().ok);
    StartReport report = ledger->start_report();
    CHECK(report.checkpoints_verified);
    CHECK_MESSAGE(report.checkpoints_problem.find(problem) != std::string::npos,
                  report.checkpoints_problem);
    CHECK_MESSAGE(report.derived_rebuilt == rebuilt, report.derived_problem);
  }
  // The check wrote a seal that covers the checkpoints again.
  auto fields = seal_fields(d);
  REQUIRE(fields.size() == 6);
  CHECK(fields[0] == "v2");
  auto ledger = d.open();
  CHECK(ledger->integrity().ok);
  StartReport report = ledger->start_report();
  CHECK_MESSAGE(!report.checkpoints_verified, report.checkpoints_problem);
  CHECK_MESSAGE(!report.derived_rebuilt, report.derived_problem);
}

TEST_SUITE_END();
