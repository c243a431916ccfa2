// dg_bench_fill: fills a digestgate ledger with N realistic entries through the ledger library,
// then measures lookups on it.
//
// usage: dg_bench_fill --state-dir DIR --entries N [--origin ORIGIN] [--repositories R]
//                      [--in-flight K] [--lookups L]
//
// DIR must have been made by `digestgated init --state-dir DIR` (the ledger and its checkpoint
// key); ORIGIN should be the origin of the configuration that will serve DIR. Entries are
// submitted many at a time (up to K in flight) so that the writer commits them in large groups,
// exactly as it does for concurrent requests: each entry still gets its seq, time, leaf, tree
// nodes and derived-table rows, and each commit a signed checkpoint.
//
// The entries follow a release's life: per image digest, a build record (complete evidence:
// platforms, mirrors, four gates with artifacts, a cosign signature and an SLSA provenance
// attestation), a scan record and a test record, a promotion to staging, a promotion to
// production (one in ten refused), and for every other digest a deployment report; digests are
// spread over R repositories. Bodies have the shape and size the daemon writes. The signatures in
// the filler evidence are well-formed ECDSA signatures over another payload: the ledger never
// verifies evidence, and the benchmarks that promote sign their own evidence for real.
//
// Prints one JSON object on stdout: entries, seconds, append rate, commits, the database size and
// lookup latencies (entry by seq, inclusion proof, a digest's validation entries).
#include "bench/evidence.hpp"
#include "bench/support.hpp"

#include "ledger/ledger.hpp"
#include "policy/evidence.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <random>

namespace {

using dg::bench::Clock;
using dg::bench::json;

constexpr const char* k_usage =
    "usage: dg_bench_fill --state-dir DIR --entries N [--origin ORIGIN] [--repositories R]\n"
    "                     [--in-flight K] [--lookups L]\n";

struct Options {
  std::string state_dir;
  std::int64_t entries = 0;
  std::string origin = "bench.digestgate/ledger";
  int repositories = 50;
  std::size_t in_flight = 16384;
  int lookups = 2000;
};

// Produces the drafts of successive release groups, one at a time.
class Producer {
public:
  Producer(int repositories, std::string signature, json checks)
      : m_repositories(repositories), m_signer("", std::move(signature)),
        m_checks(std::move(checks)), m_now(dg::now_ns()),
        m_policy_sha(dg::to_hex(dg::sha256(std::string("bench-policy")))) {}

  dg::ledger::Draft next() {
    if (m_pending.empty()) {
      refill();
    }
    dg::ledger::Draft d = std::move(m_pending.front());
    m_pending.erase(m_pending.begin());
    return d;
  }

  std::int64_t groups() const { return m_group; }

  static std::string digest(std::int64_t group) {
    return dg::bench::digest_of("bench-fill-" + std::to_string(group));
  }

private:
  void refill() {
    std::int64_t g = m_group++;
    std::string digest = Producer::digest(g);
    std::string repository = "ghcr.io/acme/svc-" + std::to_string(g % m_repositories);
    json full = dg::bench::complete_evidence(m_signer, digest, repository, m_now);
    full["subject"]["tags"] = {"v1." + std::to_string(g / 100) + "." + std::to_string(g % 100),
                               "latest"};
    m_pending.push_back(validation(digest, repository, std::move(full)));
    m_pending.push_back(
        validation(digest, repository,
                   dg::bench::gate_evidence(digest, repository, {"vuln-scan", "sbom"}, m_now)));
    m_pending.push_back(
        validation(digest, repository,
                   dg::bench::gate_evidence(digest, repository, {"e2e", "unit-tests"}, m_now)));
    m_pending.push_back(promotion("staging", digest, repository, true));
    m_pending.push_back(promotion("production", digest, repository, g % 10 != 9));
    if (g % 2 == 0) {
      json body{{"environment", "production"}, {"repository", repository}, {"digest", digest},
                {"status", "succeeded"},       {"drift", false},           {"current", true},
                {"running_digest", nullptr}};
      m_pending.push_back(dg::ledger::Draft{dg::ledger::k_deployment, "deploy", std::move(body)});
    }
  }

  dg::ledger::Draft
  validation(const std::string& digest, const std::string& repository, json evidence) {
    json tags = json::array();
    if (evidence["subject"].contains("tags")) {
      tags = evidence["subject"]["tags"];
    }
    return dg::ledger::Draft{dg::ledger::k_validation, "ci",
                             json{{"digest", digest},
                                  {"repository", repository},
                                  {"tags", std::move(tags)},
                                  {"evidence", std::move(evidence)},
                                  {"checks", m_checks}}};
  }

  dg::ledger::Draft promotion(const std::string& env,
                              const std::string& digest,
                              const std::string& repository,
                              bool approved) {
    std::string& current = m_current[env + " " + repository];
    json item{{"input", repository + "@" + digest},
              {"reference", repository + "@" + digest},
              {"repository", repository},
              {"digest", digest},
              {"previous_digest", current.empty() ? json(nullptr) : json(current)}};
    json reasons = json::array();
    if (!approved) {
      reasons.push_back({{"code", "gate-failed"},
                         {"message", "gate e2e reported result fail"},
                         {"gate", "e2e"},
                         {"reference", repository + "@" + digest}});
    } else {
      current = digest;
    }
    json body{{"environment", env},
              {"decision", approved ? "approved" : "refused"},
              {"bundle", false},
              {"policy_sha256", m_policy_sha},
              {"promotions", json::array({item})},
              {"reasons", reasons},
              {"deploy_commit", "89abcdef0123456789abcdef0123456789abcdef"}};
    return dg::ledger::Draft{dg::ledger::k_promotion, "deploy", std::move(body)};
  }

  int m_repositories;
  // Every record carries the same signature: the filler never verifies them.
  dg::test::FixedSigner m_signer;
  json m_checks;
  dg::TimeNs m_now;
  std::string m_policy_sha;
  std::int64_t m_group = 0;
  std::vector<dg::ledger::Draft> m_pending;
  std::map<std::string, std::string> m_current;
};

// The daemon's checks for a complete record, computed once by the policy library.
json template_checks(const std::string& signature) {
  std::string digest = Producer::digest(0);
  json evidence = dg::bench::complete_evidence(dg::test::FixedSigner("", signature), digest,
                                               dg::bench::k_repository, dg::now_ns());
  auto record = dg::policy::parse_record(evidence);
  if (!record) {
    throw std::runtime_error("the filler evidence does not parse: " + record.error().message);
  }
  dg::policy::Facts facts;
  if (!dg::policy::merge_record(facts, *record, 1)) {
    throw std::runtime_error("the filler evidence does not merge");
  }
  return dg::policy::compute_checks(facts).to_json();
}

json lookups(dg::ledger::Ledger& ledger, std::int64_t groups, int count) {
  std::mt19937_64 rng(42);
  std::int64_t size = ledger.size();
  std::vector<std::uint32_t> entry_us;
  std::vector<std::uint32_t> proof_us;
  std::vector<std::uint32_t> digest_us;
  auto timed = [](std::vector<std::uint32_t>& out, const auto& fn) {
    auto t0 = Clock::now();
    fn();
    out.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
  };
  std::size_t found = 0;
  for (int i = 0; i < count; ++i) {
    auto seq = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(size)) + 1;
    auto group = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(groups));
    timed(entry_us, [&] {
      std::ignore = ledger.read([&](dg::ledger::View& v) { found += v.entry(seq) ? 1 : 0; });
    });
    timed(proof_us, [&] {
      std::ignore = ledger.read([&](dg::ledger::View& v) {
        found +=
            v.inclusion_proof(static_cast<std::uint64_t>(seq - 1), static_cast<std::uint64_t>(size))
                .size();
      });
    });
    timed(digest_us, [&] {
      std::ignore = ledger.read([&](dg::ledger::View& v) {
        found += v.digest_entries(Producer::digest(group), dg::ledger::k_validation).size();
      });
    });
  }
  if (found == 0) {
    throw std::runtime_error("lookups found nothing");
  }
  return json{{"count", count},
              {"entry_by_seq", dg::bench::percentiles(entry_us).to_json()},
              {"inclusion_proof", dg::bench::percentiles(proof_us).to_json()},
              {"digest_validations", dg::bench::percentiles(digest_us).to_json()}};
}

int run(const Options& o) {
  std::string key_path = o.state_dir + "/checkpoint.key";
  auto pem = dg::read_file(key_path);
  if (!pem) {
    std::cerr << "dg_bench_fill: " << pem.error().message << "\n";
    return 1;
  }
  auto key = dg::Ed25519PrivateKey::from_pem(*pem);
  if (!key) {
    std::cerr << "dg_bench_fill: " << key.error().message << "\n";
    return 1;
  }
  std::mutex stats_mutex;
  std::uint64_t commits = 0;
  std::uint64_t committed_jobs = 0;
  double commit_seconds = 0;
  dg::ledger::Options options;
  options.database = o.state_dir + "/ledger.db";
  options.origin = o.origin;
  options.key = std::make_shared<const dg::Ed25519PrivateKey>(std::move(*key));
  options.witness_path = o.state_dir + "/checkpoint.latest";
  options.on_commit = [&](std::size_t batch, double seconds) {
    std::lock_guard lock(stats_mutex);
    ++commits;
    committed_jobs += batch;
    commit_seconds += seconds;
  };
  auto opened = dg::ledger::Ledger::open(options);
  if (!opened) {
    std::cerr << "dg_bench_fill: " << opened.error().message << "\n";
    return 1;
  }
  auto& ledger = **opened;
  std::int64_t initial = ledger.size();

  auto signer = dg::test::KeySigner::ecdsa_p256();
  std::string signature = signer.sign("another payload");
  Producer producer(o.repositories, signature, template_checks(signature));

  std::mutex mutex;
  std::condition_variable cv;
  std::size_t in_flight = 0;
  std::int64_t failed = 0;
  std::string first_error;
  auto started = Clock::now();
  for (std::int64_t i = 0; i < o.entries; ++i) {
    dg::ledger::Draft draft = producer.next();
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return in_flight < o.in_flight; });
      ++in_flight;
    }
    ledger.submit(
        [d = std::move(draft)](dg::ledger::View&) mutable {
          return std::optional<dg::ledger::Draft>(std::move(d));
        },
        [&](dg::Result<std::optional<dg::ledger::Committed>> r) {
          std::lock_guard lock(mutex);
          if (!r || !*r) {
            ++failed;
            if (first_error.empty()) {
              first_error = r ? "nothing appended" : r.error().message;
            }
          }
          --in_flight;
          cv.notify_one();
        });
  }
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  double seconds = dg::bench::seconds_since(started);
  if (failed > 0) {
    std::cerr << "dg_bench_fill: " << failed << " appends failed: " << first_error << "\n";
    return 1;
  }
  json lookup = lookups(ledger, producer.groups(), o.lookups);
  ledger.close();
  opened->reset();

  std::int64_t db = dg::bench::file_size(options.database);
  std::int64_t wal = std::max<std::int64_t>(0, dg::bench::file_size(options.database + "-wal"));
  json report = {
      {"entries", initial + o.entries},
      {"appended", o.entries},
      {"digests", producer.groups()},
      {"seconds", seconds},
      {"append_rate", static_cast<double>(o.entries) / seconds},
      {"commits", commits},
      {"mean_batch",
       commits ? static_cast<double>(committed_jobs) / static_cast<double>(commits) : 0.0},
      {"mean_commit_ms", commits ? commit_seconds * 1000 / static_cast<double>(commits) : 0.0},
      {"db_bytes", db},
      {"wal_bytes", wal},
      {"lookups", lookup}};
  std::cout << report.dump() << "\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const dg::bench::Program program{
      "dg_bench_fill",
      k_usage,
      {"--state-dir", "--entries", "--origin", "--repositories", "--in-flight", "--lookups"}};
  Options o;
  return dg::bench::program_main(
      argc, argv, program,
      [&](const dg::bench::CommandLine& args) {
        o.state_dir = args.text("--state-dir");
        o.entries = args.integer("--entries", 0);
        o.origin = args.text("--origin", o.origin);
        o.repositories = static_cast<int>(args.integer("--repositories", o.repositories));
        const long long in_flight =
            args.integer("--in-flight", static_cast<long long>(o.in_flight));
        o.in_flight = static_cast<std::size_t>(std::max(0LL, in_flight));
        o.lookups = static_cast<int>(args.integer("--lookups", o.lookups));
        if (o.state_dir.empty() || o.entries < 1 || o.repositories < 1 || o.in_flight < 1) {
          throw std::invalid_argument("--state-dir and a positive --entries are required");
        }
      },
      [&] { return run(o); });
}
