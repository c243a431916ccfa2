#include "daemon/facts_cache.hpp"
#include "daemon/service.hpp"
#include "daemon/snapshot_memo.hpp"
#include "policy/decision.hpp"
#include "tests/support/evidence.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <future>
#include <thread>

using namespace dg;
using namespace dg::daemon;
using nlohmann::json;

namespace {

using test::k_builder;
using test::k_commit;
using test::k_repo;
constexpr TimeNs k_second = 1000000000LL;

std::string digest_of(const std::string& seed) {
  return test::digest_of(seed);
}

std::string timestamp(TimeNs at) {
  return format_rfc3339(at);
}

// An Ed25519 signing key, as a CI system would hold it.
test::KeySigner make_signer() {
  return test::KeySigner::ed25519();
}

json gate(const std::string& digest,
          const std::string& name,
          const std::string& result,
          TimeNs at) {
  return {{"name", name},
          {"tool", {{"name", name + "-tool"}, {"version", "1.0.0"}}},
          {"target", std::string(k_repo) + "@" + digest},
          {"started_at", timestamp(at)},
          {"finished_at", timestamp(at + 60 * k_second)},
          {"result", result},
          {"findings", {{"critical", 0}, {"high", 0}}},
          {"artifacts",
           {{{"name", name + ".json"},
             {"sha256", to_hex(sha256(name + digest))},
             {"created_at", timestamp(at + 60 * k_second)}}}}};
}

// A build record that passes policy_json(): pushed at `pushed`, with two gates, a signature and
// an attestation.
json build_record(const test::Signer& signer, const std::string& digest, TimeNs pushed) {
  return {{"subject",
           {{"name", k_repo},
            {"digest", digest},
            {"media_type", "application/vnd.oci.image.manifest.v1+json"},
            {"tags", {"v1.4.2"}},
            {"labels", {{"org.opencontainers.image.revision", k_commit}}}}},
          {"source",
           {{"repository", "https://github.com/acme/app"},
            {"commit", k_commit},
            {"ref", "refs/tags/v1.4.2"}}},
          {"build",
           {{"builder_id", k_builder},
            {"base_image", "docker.io/library/node:22-slim@sha256:" + to_hex(sha256("node"))}}},
          {"pushed_at", timestamp(pushed)},
          {"gates",
           {gate(digest, "vuln-scan", "pass", pushed + 60 * k_second),
            gate(digest, "sbom", "pass", pushed + 60 * k_second)}},
          {"signatures", {test::cosign_signature(signer, k_repo, digest)}},
          {"attestations", {test::slsa_attestation(signer, digest)}}};
}

// A later record of the same digest: one more gate result, of a gate that starts now.
json gate_record(const std::string& digest, const std::string& name, const std::string& result) {
  return {{"subject", {{"name", k_repo}, {"digest", digest}}},
          {"gates", {gate(digest, name, result, now_ns())}}};
}

// The strict policy without parity, platforms and stable semver, with fewer findings allowed, any
// workflow as builder, and an hour's evidence age.
json policy_json(const std::string& signer_pem,
                 const std::vector<std::string>& gates = {"vuln-scan", "sbom"}) {
  test::PolicyOptions options;
  options.gates = gates;
  options.key = "ci";
  json doc = test::strict_policy_with(signer_pem, options);
  for (auto& [name, env] : doc["environments"].items()) {
    env.erase("require_registry_parity");
    env.erase("require_platforms");
    env.erase("stable_semver_only");
    env["max_findings"] = {{"critical", 0}};
    env["require_provenance"]["builder_ids"] = {"https://github.com/acme/app/.github/workflows/*"};
    env["max_evidence_age"] = "1h";
  }
  return doc;
}

std::shared_ptr<const policy::Policy> make_policy(const json& doc) {
  auto parsed = policy::parse_policy(doc.dump());
  REQUIRE(parsed);
  return std::make_shared<const policy::Policy>(std::move(*parsed));
}

ledger::Draft validation(const json& record) {
  return ledger::Draft{ledger::k_validation, "ci",
                       json{{"digest", record["subject"]["digest"]},
                            {"repository", k_repo},
                            {"tags", json::array()},
                            {"evidence", record}}};
}

// A temporary state directory with an initialized ledger.
struct StateDir {
  test::TempDir dir{"dg-facts-cache-test"};
  std::shared_ptr<const Ed25519PrivateKey> key =
      std::make_shared<Ed25519PrivateKey>(std::move(Ed25519PrivateKey::generate().value()));

  StateDir() { REQUIRE(ledger::Ledger::initialize(db(), key->public_key())); }

  std::string db() const { return dir.file("ledger.db"); }

  std::unique_ptr<ledger::Ledger> open() const {
    ledger::Options o;
    o.database = db();
    o.origin = "test.example/facts-cache";
    o.key = key;
    o.witness_path = dir.file("checkpoint.latest");
    auto l = ledger::Ledger::open(o);
    REQUIRE(l);
    return std::move(*l);
  }
};

void append(ledger::Ledger& ledger, ledger::Draft draft) {
  REQUIRE(ledger.append(std::move(draft)));
}

// Facts compared in everything evaluation reads of them.
void check_same_facts(const policy::Facts* cached, const std::optional<policy::Facts>& loaded) {
  REQUIRE((cached != nullptr) == loaded.has_value());
  if (cached == nullptr) {
    return;
  }
  CHECK(cached->to_json() == loaded->to_json());
  CHECK(cached->signatures == loaded->signatures);
  CHECK(cached->attestations == loaded->attestations);
}

// Read `digest` through `cache` and through load_facts on one snapshot, and compare.
std::shared_ptr<const CachedFacts>
get_and_compare(ledger::Ledger& ledger, FactsCache& cache, const std::string& digest) {
  std::shared_ptr<const CachedFacts> out;
  REQUIRE(ledger.read([&](ledger::View& view) {
    out = cache.get(view, digest);
    check_same_facts(out->facts().get(), load_facts(view, digest));
  }));
  return out;
}

std::vector<std::string> codes(const policy::Reasons& reasons) {
  std::vector<std::string> out;
  for (const auto& r : reasons) {
    out.push_back(r.code);
  }
  return out;
}

void check_same_reasons(const policy::Reasons& a, const policy::Reasons& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].code == b[i].code);
    CHECK(a[i].message == b[i].message);
    CHECK(a[i].gate == b[i].gate);
    CHECK(a[i].reference == b[i].reference);
  }
}

policy::Candidate candidate_for(const std::string& digest) {
  policy::Candidate c;
  c.input = std::string(k_repo) + "@" + digest;
  c.reference = policy::parse_reference(c.input);
  return c;
}

// Evaluate through the cache's facts and memo, as the daemon does.
policy::Reasons evaluate_cached(const std::shared_ptr<const policy::Policy>& pol,
                                const std::string& env,
                                const std::shared_ptr<const CachedFacts>& cached,
                                TimeNs now) {
  policy::EvaluationOptions options;
  options.now = now;
  return policy::evaluate(
      *pol, env, candidate_for(cached->facts()->digest), cached->facts().get(),
      [](const std::string&, const std::string&) { return true; }, options,
      [&](const policy::EnvironmentPolicy& e, const policy::Facts&) {
        return cached->timeless_evidence(pol, e);
      });
}

// Evaluate a copy of the facts without any cache.
policy::Reasons evaluate_plain(const policy::Policy& pol,
                               const std::string& env,
                               const policy::Facts& facts,
                               TimeNs now) {
  policy::Candidate c = candidate_for(facts.digest);
  c.facts = facts;
  policy::EvaluationOptions options;
  options.now = now;
  return policy::evaluate(
      pol, env, c, [](const std::string&, const std::string&) { return true; }, options);
}

} // namespace

TEST_SUITE_BEGIN("facts-cache");

TEST_CASE(
    "A repeated lookup of a digest is answered from the cache with the facts of a full load") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-1");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  append(*ledger, validation(gate_record(d, "e2e", "pass")));
  FactsCache cache;

  auto first = get_and_compare(*ledger, cache, d);
  REQUIRE(first->facts());
  CHECK(first->facts()->validations == std::vector<std::int64_t>{1, 2});
  CHECK(first->facts()->gates.count("e2e") == 1);
  CHECK(cache.stats().loaded == 1);
  CHECK(cache.stats().hits == 0);

  auto second = get_and_compare(*ledger, cache, d);
  CHECK(second == first);
  CHECK(cache.stats().hits == 1);
  CHECK(cache.stats().loaded == 1);
}

TEST_CASE("A digest without validation entries has no facts until one is recorded") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-unknown");
  FactsCache cache;
  CHECK(get_and_compare(*ledger, cache, d)->facts() == nullptr);
  CHECK(get_and_compare(*ledger, cache, d)->facts() == nullptr);
  CHECK(cache.stats().hits == 1);

  append(*ledger, validation(build_record(signer, d, now_ns())));
  auto recorded = get_and_compare(*ledger, cache, d);
  REQUIRE(recorded->facts());
  CHECK(recorded->facts()->digest == d);
}

TEST_CASE("A new validation entry of the digest is merged into the cached facts") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-2");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  FactsCache cache;
  auto before = get_and_compare(*ledger, cache, d);
  CHECK(before->facts()->gates.count("e2e") == 0);

  SUBCASE("a gate result is added") {
    append(*ledger, validation(gate_record(d, "e2e", "fail")));
    auto after = get_and_compare(*ledger, cache, d);
    CHECK(after != before);
    CHECK(after->facts()->gates.at("e2e")["result"] == "fail");
    CHECK(cache.stats().extended == 1);
    CHECK(cache.stats().loaded == 1);
    // The earlier object is unchanged: callers holding it keep consistent facts.
    CHECK(before->facts()->gates.count("e2e") == 0);
  }
  SUBCASE("a later result of the same gate replaces the earlier one") {
    append(*ledger, validation(gate_record(d, "sbom", "fail")));
    auto after = get_and_compare(*ledger, cache, d);
    CHECK(after->facts()->gates.at("sbom")["result"] == "fail");
    append(*ledger, validation(gate_record(d, "sbom", "pass")));
    after = get_and_compare(*ledger, cache, d);
    CHECK(after->facts()->gates.at("sbom")["result"] == "pass");
    CHECK(after->facts()->validations == std::vector<std::int64_t>{1, 2, 3});
    CHECK(cache.stats().extended == 2);
  }
  SUBCASE("a record that no longer parses is skipped as a full load skips it") {
    json bad = gate_record(d, "e2e", "pass");
    bad["pushed_at"] = "yesterday";
    append(*ledger, validation(bad));
    auto after = get_and_compare(*ledger, cache, d);
    CHECK(after->facts()->validations == std::vector<std::int64_t>{1});
  }
}

TEST_CASE("Entries of other digests and kinds confirm the cached facts without a reload") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-3");
  std::string other = digest_of("app-4");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  FactsCache cache;
  auto before = get_and_compare(*ledger, cache, d);

  append(*ledger, validation(build_record(signer, other, now_ns())));
  append(*ledger, ledger::Draft{ledger::k_revocation, "ops",
                                json{{"digest", d}, {"reason", "CVE"}, {"repository", k_repo}}});
  auto after = get_and_compare(*ledger, cache, d);
  CHECK(after == before);
  CHECK(cache.stats().confirmed == 1);
  CHECK(cache.stats().loaded == 1);
  // Confirmed up to the new size: the next lookup needs no query.
  get_and_compare(*ledger, cache, d);
  CHECK(cache.stats().hits == 1);
}

TEST_CASE("A snapshot older than the cached facts gets the facts it sees") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-5");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  FactsCache cache;
  get_and_compare(*ledger, cache, d);

  REQUIRE(ledger->read([&](ledger::View& old_view) {
    REQUIRE(old_view.size() == 1); // the snapshot starts here
    // A writer appends, and another reader caches the newer facts.
    append(*ledger, validation(gate_record(d, "e2e", "fail")));
    auto newer = get_and_compare(*ledger, cache, d);
    CHECK(newer->facts()->gates.count("e2e") == 1);

    auto seen = cache.get(old_view, d);
    check_same_facts(seen->facts().get(), load_facts(old_view, d));
    CHECK(seen->facts()->gates.count("e2e") == 0);
  }));
  // The newer facts stay cached.
  auto now_seen = get_and_compare(*ledger, cache, d);
  CHECK(now_seen->facts()->gates.count("e2e") == 1);
}

TEST_CASE("clear() forgets every digest") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("app-6");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  FactsCache cache;
  get_and_compare(*ledger, cache, d);
  cache.clear();
  CHECK(cache.stats().digests == 0);
  CHECK(cache.stats().bytes == 0);
  get_and_compare(*ledger, cache, d);
  CHECK(cache.stats().loaded == 2);
}

TEST_CASE("The cache holds at most max_digests digests, dropping the least recently used") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::vector<std::string> digests;
  for (int i = 0; i < 5; ++i) {
    digests.push_back(digest_of("lru-" + std::to_string(i)));
    append(*ledger, validation(build_record(signer, digests.back(), now_ns())));
  }
  FactsCacheLimits limits;
  limits.max_digests = 3;
  FactsCache cache(limits);
  for (int i = 0; i < 3; ++i) {
    get_and_compare(*ledger, cache, digests[i]);
  }
  get_and_compare(*ledger, cache, digests[0]); // digests[1] is now the least recently used
  CHECK(cache.stats().hits == 1);
  get_and_compare(*ledger, cache, digests[3]);
  get_and_compare(*ledger, cache, digests[4]);
  auto s = cache.stats();
  CHECK(s.digests == 3);
  CHECK(s.evicted == 2);

  get_and_compare(*ledger, cache, digests[0]);
  CHECK(cache.stats().hits == 2);
  get_and_compare(*ledger, cache, digests[1]);
  CHECK(cache.stats().loaded == 6); // 5 first loads, and digests[1] again
  CHECK(cache.stats().digests == 3);
}

TEST_CASE("The cache holds at most max_bytes of merged entries") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::vector<std::string> digests;
  for (int i = 0; i < 6; ++i) {
    digests.push_back(digest_of("bytes-" + std::to_string(i)));
    append(*ledger, validation(build_record(signer, digests.back(), now_ns())));
  }
  std::size_t one = 0;
  {
    FactsCache probe;
    get_and_compare(*ledger, probe, digests[0]);
    one = probe.stats().bytes;
    REQUIRE(one > 1000); // the entry's stored bytes count, not just the digest
  }

  SUBCASE("digests are dropped to stay within the byte budget") {
    FactsCacheLimits limits;
    limits.max_bytes = one * 2 + one / 2;
    FactsCache cache(limits);
    for (const auto& d : digests) {
      get_and_compare(*ledger, cache, d);
      CHECK(cache.stats().bytes <= limits.max_bytes);
    }
    CHECK(cache.stats().digests == 2);
    CHECK(cache.stats().evicted == 4);
  }
  SUBCASE("a digest larger than the budget is answered but not held") {
    FactsCacheLimits limits;
    limits.max_bytes = one / 2;
    FactsCache cache(limits);
    auto cached = get_and_compare(*ledger, cache, digests[0]);
    REQUIRE(cached->facts());
    CHECK(cache.stats().digests == 0);
    CHECK(cache.stats().bytes == 0);
  }
}

TEST_CASE("Timeless evidence reasons are memoized per policy object and environment") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("memo-1");
  append(*ledger, validation(build_record(signer, d, now_ns() - 60 * k_second)));
  FactsCache cache;
  auto cached = get_and_compare(*ledger, cache, d);
  auto pol = make_policy(policy_json(signer.public_key_pem()));
  TimeNs now = now_ns();

  auto staging = evaluate_cached(pol, "staging", cached, now);
  CHECK(staging.empty());
  CHECK(cached->memos() == 1);
  check_same_reasons(evaluate_cached(pol, "staging", cached, now), staging);
  CHECK(cached->memos() == 1);
  evaluate_cached(pol, "production", cached, now);
  CHECK(cached->memos() == 2);

  SUBCASE("a reloaded policy with another key under the same name is judged anew") {
    auto other = make_signer();
    auto reloaded = make_policy(policy_json(other.public_key_pem()));
    auto reasons = evaluate_cached(reloaded, "staging", cached, now);
    CHECK(codes(reasons) == std::vector<std::string>{"signature-invalid", "provenance-invalid"});
    check_same_reasons(reasons, evaluate_plain(*reloaded, "staging", *cached->facts(), now));
    // The memo of the first policy still answers for it.
    CHECK(evaluate_cached(pol, "staging", cached, now).empty());
  }
  SUBCASE("a reloaded policy with the same text but a new object is judged anew") {
    auto reloaded = make_policy(policy_json(signer.public_key_pem()));
    CHECK(evaluate_cached(reloaded, "staging", cached, now).empty());
    CHECK(cached->memos() == 3);
  }
  SUBCASE("a policy requiring another gate refuses") {
    auto stricter = make_policy(policy_json(signer.public_key_pem(), {"vuln-scan", "sbom", "e2e"}));
    auto reasons = evaluate_cached(stricter, "staging", cached, now);
    CHECK(codes(reasons) == std::vector<std::string>{"gate-missing"});
    check_same_reasons(reasons, evaluate_plain(*stricter, "staging", *cached->facts(), now));
  }
  SUBCASE("memos of a policy no longer in use are dropped") {
    {
      auto temporary = make_policy(policy_json(signer.public_key_pem()));
      evaluate_cached(temporary, "staging", cached, now);
      CHECK(cached->memos() == 3);
    }
    auto another = make_policy(policy_json(signer.public_key_pem()));
    evaluate_cached(another, "staging", cached, now);
    CHECK(cached->memos() == 3); // the dead one's memo made room
  }
}

TEST_CASE("Memos per digest are bounded") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("memo-2");
  append(*ledger, validation(build_record(signer, d, now_ns())));
  FactsCacheLimits limits;
  limits.max_memos_per_digest = 2;
  FactsCache cache(limits);
  auto cached = get_and_compare(*ledger, cache, d);
  std::vector<std::shared_ptr<const policy::Policy>> policies;
  for (int i = 0; i < 4; ++i) {
    policies.push_back(make_policy(policy_json(signer.public_key_pem())));
    CHECK(evaluate_cached(policies.back(), "staging", cached, now_ns()).empty());
    CHECK(cached->memos() <= 2);
  }
  CHECK(cached->memos() == 2);
}

TEST_CASE("The evidence's age is judged at every evaluation, not cached") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::string d = digest_of("age-1");
  TimeNs pushed = now_ns() - 30 * 60 * k_second; // max_evidence_age is 1h
  append(*ledger, validation(build_record(signer, d, pushed)));
  FactsCache cache;
  auto cached = get_and_compare(*ledger, cache, d);
  auto pol = make_policy(policy_json(signer.public_key_pem()));

  CHECK(evaluate_cached(pol, "staging", cached, pushed + 30 * 60 * k_second).empty());
  TimeNs later = pushed + 2 * 3600 * k_second;
  auto stale = evaluate_cached(pol, "staging", cached, later);
  CHECK(codes(stale) == std::vector<std::string>{"evidence-stale"});
  check_same_reasons(stale, evaluate_plain(*pol, "staging", *cached->facts(), later));
  CHECK(evaluate_cached(pol, "staging", cached, pushed + 59 * 60 * k_second).empty());
}

TEST_CASE("Concurrent lookups and evaluations agree with uncached ones") {
  StateDir state;
  auto ledger = state.open();
  auto signer = make_signer();
  std::vector<std::string> digests;
  for (int i = 0; i < 4; ++i) {
    digests.push_back(digest_of("concurrent-" + std::to_string(i)));
    append(*ledger, validation(build_record(signer, digests.back(), now_ns())));
  }
  auto pol = make_policy(policy_json(signer.public_key_pem()));
  FactsCacheLimits limits;
  limits.max_digests = 2; // force evictions while others read
  FactsCache cache(limits);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string& d = digests[static_cast<std::size_t>((t + i) % 4)];
        auto r = ledger->read([&](ledger::View& view) {
          auto cached = cache.get(view, d);
          auto loaded = load_facts(view, d);
          if (!cached->facts() || !loaded || cached->facts()->to_json() != loaded->to_json() ||
              !evaluate_cached(pol, "staging", cached, now_ns()).empty()) {
            ++failures;
          }
        });
        if (!r) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 10; ++i) {
    append(*ledger,
           validation(gate_record(digests[static_cast<std::size_t>(i % 4)], "e2e", "pass")));
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(failures == 0);
  for (const auto& d : digests) {
    get_and_compare(*ledger, cache, d);
  }
}

TEST_CASE("A snapshot memo answers only for the ledger size its values were computed at") {
  SnapshotMemo<std::string> memo(3, 100, 40);
  auto value = [](const char* text) { return std::make_shared<const std::string>(text); };
  memo.store(5, "a", value("a@5"), 10);
  REQUIRE(memo.find(5, "a"));
  CHECK(*memo.find(5, "a") == "a@5");
  CHECK(memo.find(5, "b") == nullptr);
  CHECK(memo.find(6, "a") == nullptr); // the ledger grew
  CHECK(memo.find(4, "a") == nullptr);
  CHECK(memo.bytes() == 11); // the value's and the key's

  SUBCASE("a value of a newer snapshot drops every older value") {
    memo.store(6, "b", value("b@6"), 10);
    CHECK(memo.find(5, "a") == nullptr);
    CHECK(memo.size() == 1);
    CHECK(*memo.find(6, "b") == "b@6");
  }
  SUBCASE("a value of an older snapshot is not stored") {
    memo.store(6, "b", value("b@6"), 10);
    memo.store(5, "a", value("a@5 again"), 10);
    CHECK(memo.find(5, "a") == nullptr);
    CHECK(memo.size() == 1);
  }
  SUBCASE("at most max_entries values are held") {
    memo.store(5, "b", value("b"), 10);
    memo.store(5, "c", value("c"), 10);
    CHECK(memo.size() == 3);
    memo.store(5, "c", value("c2"), 10); // a replacement
    CHECK(memo.size() == 3);
    CHECK(memo.bytes() == 33);
    memo.store(5, "d", value("d"), 10);
    CHECK(memo.size() <= 3);
    CHECK(*memo.find(5, "d") == "d");
  }
  SUBCASE("at most max_bytes are held") {
    memo.store(5, "b", value("b"), 39);
    memo.store(5, "c", value("c"), 39);
    CHECK(memo.bytes() == 91);
    memo.store(5, "d", value("d"), 39);
    CHECK(memo.bytes() <= 100);
    CHECK(*memo.find(5, "d") == "d");
  }
  SUBCASE("a value over max_entry_bytes is not stored") {
    memo.store(5, "b", value("big"), 40);
    CHECK(memo.find(5, "b") == nullptr);
    memo.store(5, "b", value("fits"), 39);
    CHECK(memo.find(5, "b") != nullptr);
  }
  SUBCASE("clear() drops everything") {
    memo.clear();
    CHECK(memo.find(5, "a") == nullptr);
    CHECK(memo.size() == 0);
    CHECK(memo.bytes() == 0);
  }
}

TEST_SUITE_END();

// --- Through the service --------------------------------------------------------------------

namespace {

constexpr const char* k_token = "facts-cache-test-token";

struct ServiceFixture {
  StateDir state;
  test::KeySigner signer = make_signer();
  Metrics metrics;
  std::string policy_path;
  std::unique_ptr<Service> service;

  FactsCacheLimits limits;

  explicit ServiceFixture(FactsCacheLimits cache_limits = {}) : limits(cache_limits) {
    policy_path = state.dir.file("policy.json");
    write_policy(policy_json(signer.public_key_pem()));
    start();
  }

  void write_policy(const json& doc) const {
    REQUIRE(write_file_atomic(policy_path, doc.dump(2), 0644));
  }

  void start() {
    Config config;
    config.state_dir = state.dir.path();
    config.policy_path = policy_path;
    config.origin = "test.example/facts-cache";
    config.principals.push_back(Principal{
        "ci", {"recorder", "promoter", "operator"}, to_hex(sha256(std::string(k_token)))});
    service = std::make_unique<Service>(config, state.open(), metrics, limits);
    REQUIRE(service->load_policy());
  }

  void restart() {
    service.reset();
    start();
  }

  Response call(const std::string& method, const std::string& target, const json& body) {
    Request request;
    request.method = method;
    request.target = target;
    request.body = body.dump();
    request.authorization = std::string("Bearer ") + k_token;
    request.content_type = "application/json";
    request.request_id = "test";
    std::promise<Response> promise;
    auto future = promise.get_future();
    service->handle(std::move(request),
                    [&promise](Response r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  void record(const json& evidence) {
    auto r = call("POST", "/v1/validations", evidence);
    INFO(r.body);
    REQUIRE(r.status == 201);
  }

  Response dry_run(const std::string& digest, const std::string& env = "staging") {
    return call("POST", "/v1/promotions",
                json{{"environment", env},
                     {"reference", std::string(k_repo) + "@" + digest},
                     {"dry_run", true}});
  }
};

std::vector<std::string> reason_codes(const Response& r) {
  std::vector<std::string> out;
  json body = json::parse(r.body);
  for (const auto& reason : body.value("reasons", json::array())) {
    out.push_back(reason["code"].get<std::string>());
  }
  return out;
}

} // namespace

TEST_SUITE_BEGIN("facts-cache-service");

TEST_CASE("Dry runs follow every ledger and policy change that concerns the digest") {
  ServiceFixture f;
  std::string d = digest_of("service-1");
  f.record(build_record(f.signer, d, now_ns() - 60 * k_second));

  auto first = f.dry_run(d);
  INFO(first.body);
  REQUIRE(first.status == 200);
  auto repeat = f.dry_run(d);
  CHECK(repeat.status == 200);
  CHECK(repeat.body == first.body);

  SUBCASE("a failed gate recorded later refuses, and a pass recorded after it approves") {
    f.record(gate_record(d, "sbom", "fail"));
    auto refused = f.dry_run(d);
    CHECK(refused.status == 403);
    CHECK(reason_codes(refused) == std::vector<std::string>{"gate-failed"});
    f.record(gate_record(d, "sbom", "pass"));
    CHECK(f.dry_run(d).status == 200);
  }
  SUBCASE("a revocation refuses") {
    auto r = f.call("POST", "/v1/revocations", json{{"digest", d}, {"reason", "CVE-2026-1"}});
    REQUIRE(r.status == 201);
    auto refused = f.dry_run(d);
    CHECK(refused.status == 403);
    CHECK(reason_codes(refused) == std::vector<std::string>{"revoked"});
  }
  SUBCASE("a reloaded policy that trusts another key refuses, and the old key approves again") {
    auto other = make_signer();
    f.write_policy(policy_json(other.public_key_pem()));
    REQUIRE(f.service->load_policy());
    auto refused = f.dry_run(d);
    CHECK(refused.status == 403);
    CHECK(reason_codes(refused) ==
          std::vector<std::string>{"signature-invalid", "provenance-invalid"});
    f.write_policy(policy_json(f.signer.public_key_pem()));
    REQUIRE(f.service->load_policy());
    CHECK(f.dry_run(d).body == first.body);
  }
  SUBCASE("a new policy with another requirement refuses") {
    f.write_policy(policy_json(f.signer.public_key_pem(), {"vuln-scan", "sbom", "e2e"}));
    REQUIRE(f.service->load_policy());
    auto refused = f.dry_run(d);
    CHECK(refused.status == 403);
    CHECK(reason_codes(refused) == std::vector<std::string>{"gate-missing"});
  }
  SUBCASE("an approval in staging lifts the stage order of production") {
    auto refused = f.dry_run(d, "production");
    CHECK(refused.status == 403);
    CHECK(reason_codes(refused) == std::vector<std::string>{"stage-order"});
    auto promoted =
        f.call("POST", "/v1/promotions",
               json{{"environment", "staging"}, {"reference", std::string(k_repo) + "@" + d}});
    REQUIRE(promoted.status == 200);
    CHECK(f.dry_run(d, "production").status == 200);
  }
}

TEST_CASE("A repeated dry run judges the evidence's age at each request") {
  ServiceFixture f;
  std::string clean = digest_of("service-age");
  std::string failing = digest_of("service-age-failing");
  // max_evidence_age is 1h: fresh for two more seconds.
  f.record(build_record(f.signer, clean, now_ns() - 3598 * k_second));
  f.record(build_record(f.signer, failing, now_ns() - 3598 * k_second));
  f.record(gate_record(failing, "sbom", "fail"));
  for (int i = 0; i < 2; ++i) {
    auto approved = f.dry_run(clean);
    INFO(approved.body);
    CHECK(approved.status == 200);
    auto refused = f.dry_run(failing);
    CHECK(reason_codes(refused) == std::vector<std::string>{"gate-failed"});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto stale = f.dry_run(clean);
  CHECK(stale.status == 403);
  CHECK(reason_codes(stale) == std::vector<std::string>{"evidence-stale"});
  CHECK(reason_codes(f.dry_run(failing)) ==
        std::vector<std::string>{"gate-failed", "evidence-stale"});
}

TEST_CASE("Dry runs of one reference answer each request's own break glass and bundle form") {
  ServiceFixture f;
  std::string d = digest_of("service-break-glass");
  f.record(build_record(f.signer, d, now_ns() - 60 * k_second));
  f.record(gate_record(d, "sbom", "fail"));
  std::string reference = std::string(k_repo) + "@" + d;
  auto ask = [&](const json& extra) {
    json body = {{"environment", "staging"}, {"dry_run", true}};
    body.update(extra);
    if (!body.contains("references")) {
      body["reference"] = reference;
    }
    return f.call("POST", "/v1/promotions", body);
  };
  for (int round = 0; round < 2; ++round) { // the second round is answered from memory
    CAPTURE(round);
    auto plain = ask(json::object());
    CHECK(plain.status == 403);
    CHECK(reason_codes(plain) == std::vector<std::string>{"gate-failed"});

    auto glass = ask({{"break_glass", {{"reason", "hotfix INC-1"}}}});
    CHECK(glass.status == 200);
    json body = json::parse(glass.body);
    CHECK(body["break_glass"]["reason"] == "hotfix INC-1");
    CHECK(body["break_glass"]["overridden"][0]["code"] == "gate-failed");

    auto other = ask({{"break_glass", {{"reason", "hotfix INC-2"}}}});
    CHECK(json::parse(other.body)["break_glass"]["reason"] == "hotfix INC-2");

    auto bundle = ask({{"references", {reference}}});
    CHECK(bundle.status == 403);
    json bundled = json::parse(bundle.body);
    REQUIRE(bundled.contains("promotions"));
    CHECK(bundled["promotions"][0]["reasons"][0]["code"] == "gate-failed");
    CHECK(!bundled.contains("digest"));

    auto production = ask({{"environment", "production"}});
    CHECK(reason_codes(production) == std::vector<std::string>{"stage-order", "gate-failed"});
  }
}

TEST_CASE("Dry runs stay right when the facts cache drops what remembered lookups point to") {
  FactsCacheLimits limits;
  limits.max_digests = 1; // every dry run of the other digest evicts this one's facts
  ServiceFixture f(limits);
  std::string good = digest_of("service-evict-1");
  std::string failing = digest_of("service-evict-2");
  f.record(build_record(f.signer, good, now_ns() - 60 * k_second));
  f.record(build_record(f.signer, failing, now_ns() - 60 * k_second));
  f.record(gate_record(failing, "sbom", "fail"));
  std::string good_body;
  for (int i = 0; i < 3; ++i) {
    auto approved = f.dry_run(good);
    CHECK(approved.status == 200);
    if (i == 0) {
      good_body = approved.body;
    }
    CHECK(approved.body == good_body);
    auto refused = f.dry_run(failing);
    CHECK(reason_codes(refused) == std::vector<std::string>{"gate-failed"});
    auto bundle = f.call(
        "POST", "/v1/promotions",
        json{{"environment", "staging"},
             {"references", {std::string(k_repo) + "@" + good, "ghcr.io/acme/lib@" + failing}},
             {"dry_run", true}});
    CHECK(bundle.status == 403);
    CHECK(reason_codes(bundle) == std::vector<std::string>{"repository-mismatch", "gate-failed"});
  }
}

TEST_CASE("A warm cache answers byte for byte what a cold one does") {
  ServiceFixture f;
  std::string good = digest_of("service-2");
  std::string bad = digest_of("service-3");
  f.record(build_record(f.signer, good, now_ns() - 60 * k_second));
  json tampered = build_record(f.signer, bad, now_ns() - 60 * k_second);
  tampered["signatures"][0]["payload"] = base64_encode(std::string("{\"critical\":{}}"));
  tampered["gates"][0]["findings"]["critical"] = 3;
  tampered["build"]["base_image"] = "docker.io/library/node:22-slim";
  f.record(tampered);
  f.record(gate_record(bad, "e2e", "fail"));

  std::vector<std::string> warm;
  for (const auto& d : {good, bad, digest_of("never-recorded")}) {
    for (const char* env : {"staging", "production"}) {
      f.dry_run(d, env); // fills the cache
      warm.push_back(f.dry_run(d, env).body);
    }
  }
  CHECK(json::parse(warm[2]).value("reasons", json::array()).size() >= 3);
  f.restart();
  std::size_t i = 0;
  for (const auto& d : {good, bad, digest_of("never-recorded")}) {
    for (const char* env : {"staging", "production"}) {
      CHECK(f.dry_run(d, env).body == warm[i++]);
    }
  }
}

TEST_SUITE_END();
