// End-to-end on the PostgreSQL ledger: real digestgated processes sharing one real PostgreSQL 15
// database (started by the tests, see tests/support/postgres.hpp), driven over HTTP and the CLI.
#include "tests/support/daemon.hpp"
#include "tests/support/postgres.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace dg::test;
using nlohmann::json;

namespace {

constexpr const char* k_app = "ghcr.io/acme/app";

Postgres& server() {
  return Postgres::shared();
}

std::string fresh_database(Postgres& pg) {
  return pg.fresh_database("e2e");
}

json ledger_config(const std::string& url) {
  return {{"ledger", {{"backend", "postgresql"}, {"url", url}}}};
}

json lenient_policy() {
  return {{"environments",
           {{"staging",
             {{"repositories", {"ghcr.io/acme/*"}}, {"require_complete_evidence", false}}}}}};
}

std::string digest_of(int n) {
  std::ostringstream hex;
  hex << std::hex << n;
  std::string h = hex.str();
  return "sha256:" + std::string(64 - h.size(), 'a') + h;
}

HttpResponse record(const Daemon& d, const std::string& digest) {
  json evidence = {{"subject", {{"name", k_app}, {"digest", digest}}}};
  return d.http("POST", "/v1/validations", evidence.dump(), k_recorder_token);
}

HttpResponse promote(const Daemon& d, const std::string& digest) {
  json body = {{"reference", std::string(k_app) + "@" + digest}, {"environment", "staging"}};
  return d.http("POST", "/v1/promotions", body.dump(), k_promoter_token);
}

HttpResponse revoke(const Daemon& d, const std::string& digest) {
  json body = {{"digest", digest}, {"reason", "CVE-2026-0001"}};
  return d.http("POST", "/v1/revocations", body.dump(), k_operator_token);
}

std::string db_name(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

// The stored seqs, in order.
std::vector<long long> stored_seqs(const Postgres& pg, const std::string& url) {
  auto out = pg.psql(db_name(url), "SELECT seq FROM entries ORDER BY seq");
  REQUIRE(out);
  std::vector<long long> seqs;
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      seqs.push_back(std::stoll(line));
    }
  }
  return seqs;
}

template <class F>
bool eventually(F&& f, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

} // namespace

TEST_SUITE_BEGIN("E2E postgresql");

TEST_CASE("PostgreSQL: a revocation acknowledged by one daemon refuses the next promotion on "
          "another; ledger verify reads the database") {
  if (!Postgres::available()) {
    MESSAGE("skipped: " << Postgres::unavailable_reason());
    return;
  }
  const std::string url = fresh_database(server());
  Daemon a(lenient_policy(), ledger_config(url));
  Daemon b(lenient_policy(), ledger_config(url), a.shared_key());
  const std::string d = digest_of(1);
  REQUIRE(record(a, d).status == 201);
  auto approved = promote(b, d);
  CHECK(approved.status == 200);
  CHECK(approved.json()["decision"] == "approved");
  REQUIRE(revoke(a, d).status == 201);
  auto refused = promote(b, d);
  CHECK(refused.status == 403);
  CHECK(refused.body.find("revoked") != std::string::npos);
  // A dry run on B sees it too, and B's reads carry the database's tree size.
  json dry = {
      {"reference", std::string(k_app) + "@" + d}, {"environment", "staging"}, {"dry_run", true}};
  auto dry_answer = b.http("POST", "/v1/promotions", dry.dump(), k_promoter_token);
  CHECK(dry_answer.body.find("revoked") != std::string::npos);
  auto status = b.http("GET", "/v1/digests/" + d, "", k_reader_token);
  CHECK(status.status == 200);
  CHECK(status.body.find("CVE-2026-0001") != std::string::npos);
  auto checkpoint_a = a.http("GET", "/v1/checkpoint", "", k_reader_token);
  auto checkpoint_b = b.http("GET", "/v1/checkpoint", "", k_reader_token);
  CHECK(checkpoint_a.body == checkpoint_b.body);
  auto verify = a.cli({"ledger", "verify", "--db", url});
  CHECK(verify.exit_code == 0);
  CHECK(verify.out.find("ledger ok: 5 entries") != std::string::npos);
  auto ready = b.http("GET", "/readyz");
  CHECK(ready.status == 200);
}

TEST_CASE("PostgreSQL: two daemons under concurrent load, one of them SIGKILLed: every "
          "acknowledged entry is stored once, seqs are dense and the ledger verifies") {
  if (!Postgres::available()) {
    MESSAGE("skipped: " << Postgres::unavailable_reason());
    return;
  }
  const std::string url = fresh_database(server());
  Daemon a(lenient_policy(), ledger_config(url));
  Daemon b(lenient_policy(), ledger_config(url), a.shared_key());
  std::mutex mutex;
  std::multiset<long long> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Daemon& d = t % 2 ? a : b;
      for (int i = 0; i < 40 && !stop; ++i) {
        HttpResponse r;
        try {
          r = record(d, digest_of(t * 1000 + i));
        } catch (const std::exception&) {
          continue; // the daemon was killed: no answer, nothing acknowledged
        }
        if (r.status == 201) {
          std::lock_guard lock(mutex);
          acknowledged.insert(r.json()["seq"].get<long long>());
        }
      }
    });
  }
  // Kill A while the load runs (its in-flight batch is never acknowledged).
  CHECK(eventually([&] {
    std::lock_guard lock(mutex);
    return acknowledged.size() >= 40;
  }));
  a.kill9();
  for (auto& th : threads) {
    th.join();
  }
  std::set<long long> unique(acknowledged.begin(), acknowledged.end());
  CHECK(unique.size() == acknowledged.size()); // no seq acknowledged twice
  auto seqs = stored_seqs(server(), url);
  REQUIRE_FALSE(seqs.empty());
  CHECK(seqs.back() == static_cast<long long>(seqs.size())); // dense 1..N, no duplicate (PK)
  std::set<long long> stored(seqs.begin(), seqs.end());
  for (long long s : unique) {
    CAPTURE(s);
    CHECK(stored.count(s) == 1);
  }
  CHECK(b.cli({"ledger", "verify", "--db", url}).exit_code == 0);
  // A comes back, checks the ledger B extended, and goes on.
  a.start();
  CHECK(a.http("GET", "/readyz").status == 200);
  CHECK(record(a, digest_of(99999)).status == 201);
}

TEST_CASE("PostgreSQL: the database SIGKILLed under load loses no acknowledged entry, and the "
          "daemon goes on once it is back") {
  if (!Postgres::available()) {
    MESSAGE("skipped: " << Postgres::unavailable_reason());
    return;
  }
  auto pg = Postgres::start();
  const std::string url = fresh_database(*pg);
  Daemon d(lenient_policy(), ledger_config(url + "?connect_timeout=2"));
  std::mutex mutex;
  std::set<long long> acknowledged;
  std::atomic<int> refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400 && !stop; ++i) {
        HttpResponse r;
        try {
          r = record(d, digest_of(t * 1000 + i));
        } catch (const std::exception&) {
          continue;
        }
        if (r.status == 201) {
          std::lock_guard lock(mutex);
          acknowledged.insert(r.json()["seq"].get<long long>());
        } else if (r.status == 503) {
          ++refused;
        }
      }
    });
  }
  CHECK(eventually([&] {
    std::lock_guard lock(mutex);
    return acknowledged.size() >= 30;
  }));
  pg->kill(); // SIGKILL, while batches are in flight
  CHECK(eventually([&] { return refused.load() > 0; }));
  stop = true;
  for (auto& th : threads) {
    th.join();
  }
  REQUIRE(pg->restart());
  // The daemon reconnects by itself, checks the head against its last checkpoint, and appends.
  HttpResponse after;
  CHECK(eventually([&] {
    after = record(d, digest_of(99999));
    return after.status == 201;
  }));
  auto seqs = stored_seqs(*pg, url);
  REQUIRE_FALSE(seqs.empty());
  CHECK(seqs.back() == static_cast<long long>(seqs.size()));
  std::set<long long> stored(seqs.begin(), seqs.end());
  for (long long s : acknowledged) {
    CAPTURE(s);
    CHECK(stored.count(s) == 1);
  }
  CHECK(d.cli({"ledger", "verify", "--db", url}).exit_code == 0);
  CHECK(d.http("GET", "/readyz").status == 200);
}

TEST_CASE("PostgreSQL: ledger copy moves a SQLite ledger into PostgreSQL and back unchanged") {
  if (!Postgres::available()) {
    MESSAGE("skipped: " << Postgres::unavailable_reason());
    return;
  }
  Daemon sqlite(lenient_policy());
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(record(sqlite, digest_of(i)).status == 201);
    REQUIRE(promote(sqlite, digest_of(i)).status == 200);
  }
  REQUIRE(sqlite.stop() == 0);
  const std::string url = fresh_database(server());
  auto to_pg = sqlite.cli({"ledger", "copy", "--from", sqlite.db_path(), "--to", url, "--json"});
  REQUIRE(to_pg.exit_code == 0);
  const std::string root = to_pg.json()["root_hash"];
  auto verify_file = sqlite.cli({"--json", "ledger", "verify", "--db", sqlite.db_path()});
  auto verify_pg = sqlite.cli({"--json", "ledger", "verify", "--db", url});
  CHECK(verify_file.json()["root_hash"] == root);
  CHECK(verify_pg.json()["root_hash"] == root);
  CHECK(verify_pg.json()["entries"] == verify_file.json()["entries"]);
  CHECK(verify_pg.json()["checkpoints"] == verify_file.json()["checkpoints"]);
  // Into a ledger that holds entries: refused, nothing changed.
  auto again = sqlite.cli({"ledger", "copy", "--from", sqlite.db_path(), "--to", url});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already holds entries") != std::string::npos);
  // And back into a new file: the same bytes, so the same root and every checkpoint.
  const std::string back = sqlite.dir() + "/back.db";
  REQUIRE(sqlite.cli({"ledger", "copy", "--from", url, "--to", back}).exit_code == 0);
  auto verify_back = sqlite.cli({"--json", "ledger", "verify", "--db", back});
  CHECK(verify_back.json()["ok"] == true);
  CHECK(verify_back.json()["root_hash"] == root);
  // A daemon serves the copied PostgreSQL ledger with the same key.
  Daemon served(lenient_policy(), ledger_config(url), sqlite.shared_key());
  CHECK(served.http("GET", "/readyz").status == 200);
  CHECK(promote(served, digest_of(1)).status == 200);
}

TEST_CASE("PostgreSQL: failover to a synchronous standby loses nothing; a standby that is behind "
          "is refused with ledger-integrity") {
  if (!Postgres::available()) {
    MESSAGE("skipped: " << Postgres::unavailable_reason());
    return;
  }
  auto primary = Postgres::start();
  const std::string url = fresh_database(*primary);
  const std::string name = db_name(url);
  auto standby = Postgres::start(primary.get());
  REQUIRE(primary->psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'"));
  REQUIRE(primary->psql("postgres", "SELECT pg_reload_conf()"));
  // A second standby that stops early: it will be behind.
  auto behind = Postgres::start(primary.get());
  const std::string multi = "postgresql://postgres@127.0.0.1:" + std::to_string(primary->port()) +
                            ",127.0.0.1:" + std::to_string(standby->port()) + "/" + name +
                            "?target_session_attrs=read-write&connect_timeout=2";
  Daemon d(lenient_policy(), ledger_config(multi));
  std::vector<long long> acknowledged;
  for (int i = 1; i <= 5; ++i) {
    auto r = record(d, digest_of(i));
    REQUIRE(r.status == 201);
    acknowledged.push_back(r.json()["seq"].get<long long>());
  }
  behind->kill(); // holds at most the first entries
  for (int i = 6; i <= 8; ++i) {
    auto r = record(d, digest_of(i));
    REQUIRE(r.status == 201);
    acknowledged.push_back(r.json()["seq"].get<long long>());
  }

  primary->kill();
  // No primary: not ready, noticed without a write; writes are refused, nothing half-written.
  CHECK(eventually([&] { return d.http("GET", "/readyz").status == 503; }));
  CHECK(d.http("GET", "/readyz").body.find("ledger-unavailable") != std::string::npos);
  auto refused = record(d, digest_of(50));
  CHECK(refused.status == 503);
  CHECK(refused.json()["error"] == "ledger-unavailable");
  CHECK(d.http("GET", "/readyz").status == 503);

  REQUIRE(standby->promote());
  // Ready again once the promoted standby answers, before any write.
  CHECK(eventually([&] { return d.http("GET", "/readyz").status == 200; }));
  HttpResponse after;
  CHECK(eventually([&] {
    after = record(d, digest_of(51));
    return after.status == 201;
  }));
  CHECK(d.http("GET", "/readyz").status == 200);
  auto seqs = stored_seqs(*standby, standby->url(name));
  std::set<long long> stored(seqs.begin(), seqs.end());
  for (long long s : acknowledged) {
    CHECK(stored.count(s) == 1);
  }
  CHECK(d.cli({"ledger", "verify", "--db", standby->url(name)}).exit_code == 0);

  // The standby that was behind, promoted and pointed at: refused, not extended.
  REQUIRE(d.stop() == 0);
  REQUIRE(behind->restart());
  REQUIRE(behind->promote());
  json config = d.config();
  config["ledger"]["url"] = behind->url(name);
  d.write_config(config);
  d.start();
  auto integrity = record(d, digest_of(52));
  CHECK(integrity.status == 503);
  CHECK(integrity.json()["error"] == "ledger-integrity");
  CHECK(d.http("GET", "/readyz").status == 503);
  const auto behind_seqs = stored_seqs(*behind, behind->url(name));
  CHECK(behind_seqs.size() < 8);
}
