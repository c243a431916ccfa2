// dg_bench: runs every digestgate benchmark and its baseline in the same run, on the same
// machine, prints a table and writes a JSON report. See docs/performance.md.
//
// Each figure is a ratio against a baseline measured alongside it (the machine may be shared and
// noisy); where a scenario has rounds, baseline and digestgated alternate and the medians are
// compared. Every digestgated runs from a fresh state directory under a temporary directory
// (config with port 0, `digestgated init`, the listen-address file), and every load comes from
// dg_bench_load, started here.
#include "bench/driver.hpp"
#include "bench/slow_sync_vfs.hpp"

#include "tests/support/daemon.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "tests/support/tempdir.hpp"
#include "util/crypto.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace dg::bench {
namespace {

constexpr int k_write_digests = 256;

constexpr const char* k_usage = R"(usage: dg_bench [options]
  --quick            small ledgers and short runs (a smoke test of a minute or two)
  --out FILE         where to write the JSON report (default: bench/report.json beside this tree)
  --dir DIR          where to make the temporary directory (default: $TMPDIR or /tmp)
  --keep             keep the temporary directory (state, logs)
  --only LIST        comma-separated scenarios: read,admission,observe,write,slow-disk,record,
                     ledger,postgresql (default: all)
  --sync-delays LIST slow-disk: extra microseconds per sync (default 1000,5000)
  --duration S       measured seconds per load run (default 10; quick 3)
  --rounds N         alternating baseline/digestgated rounds for read and write (default 3; quick 1)
  --sizes LIST       ledger sizes (default 1000,100000,1000000; quick 1000,10000)
  --scale N          the scale run: ledgers of 10^3 and 10^N entries (N from 4 to 9), and only
                     the ledger scenario unless --only says otherwise; 10^7 needs ~30 GB
)";

// --- Scenarios ----------------------------------------------------------------------------

json read_path(const Settings& s, const std::string& work) {
  say("read path: bare Beast server vs dry-run promotions, " + std::to_string(s.read_connections) +
      " connections");
  std::string dir = work + "/read";
  Signer signer;
  Daemon daemon(dir, bench_policy(signer.key.public_key_pem()));
  daemon.start();
  std::string digest = digest_of("bench-read-target");
  record_target(daemon, signer, digest);
  std::string body = promotion_body(digest, true);
  expect_approved(daemon, body);
  write_text(dir + "/dry-run.json", body);

  BareServer bare(dir);
  Load load{
      "", s.read_connections, s.duration, s.warmup, "POST", "/v1/promotions", dir + "/dry-run.json",
      ""};
  const BareRounds r = rounds_against_bare(s.rounds, load, bare.address(), daemon.address(),
                                           "dry-run promotions", "req/s");
  // Where a gap comes from: the daemon's cost per request without an evaluation (an
  // authenticated GET /v1/checkpoint) against the same bare server.
  Load floor{bare.address(), s.read_connections, s.duration, s.warmup,
             "GET",          "/v1/checkpoint",   "",         ""};
  json floor_bare = run_load(floor);
  expect_status(floor_bare, 200, "bare server");
  floor.address = daemon.address();
  json floor_daemon = run_load(floor);
  expect_status(floor_daemon, 200, "GET /v1/checkpoint");
  say("  floor: bare " + std::to_string(floor_bare["rps"].get<double>()) +
      " req/s, digestgated GET /v1/checkpoint " +
      std::to_string(floor_daemon["rps"].get<double>()) + " req/s");
  json out = {
      {"connections", s.read_connections},
      {"request", "POST /v1/promotions dry_run, complete signed evidence, strict policy"},
      {"http_floor",
       {{"request", "GET /v1/checkpoint (authenticated, logged, no evaluation)"},
        {"digestgate_rps", floor_daemon["rps"]},
        {"baseline_rps", floor_bare["rps"]},
        {"ratio", floor_daemon["rps"].get<double>() / floor_bare["rps"].get<double>()},
        {"target", ">= 0.85"},
        {"met", floor_daemon["rps"].get<double>() / floor_bare["rps"].get<double>() >= 0.85},
        {"digestgate_p99_ms", floor_daemon["latency"]["p99_ms"]},
        {"digestgate", floor_daemon},
        {"baseline", floor_bare}}},
      {"baseline", "bare Boost.Beast server, fixed JSON body, same threads"},
      {"digestgate_rps", median(r.dg_rps)},
      {"baseline_rps", median(r.base_rps)},
      {"ratio", median(r.dg_rps) / median(r.base_rps)},
      {"target", ">= 0.75"},
      {"met", median(r.dg_rps) / median(r.base_rps) >= 0.75},
      {"digestgate_p50_ms", median(r.dg_p50)},
      {"digestgate_p99_ms", median(r.dg_p99)},
      {"baseline_p50_ms", median(r.base_p50)},
      {"baseline_p99_ms", median(r.base_p99)},
      {"daemon_memory", memory_json(daemon.pid())},
      {"rounds", r.rounds}};
  return out;
}

// An AdmissionReview of a Deployment whose pod has 5 containers (2 of them init containers), each
// a digest approved in staging, as the API server sends it.
std::string admission_review(const std::vector<std::string>& digests) {
  json containers = json::array();
  json init = json::array();
  for (std::size_t i = 0; i < digests.size(); ++i) {
    std::string name = "c"; // appended, not "c" + std::string&&: GCC bug 105329 at -O3
    name += std::to_string(i);
    json c = {{"name", name},
              {"image", std::string(k_repository) + "@" + digests[i]},
              {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}}}};
    (i < 2 ? init : containers).push_back(std::move(c));
  }
  json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "app"}, {"namespace", "staging"}, {"labels", {{"app", "app"}}}}},
      {"spec",
       {{"replicas", 3},
        {"selector", {{"matchLabels", {{"app", "app"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "app"}}}}},
          {"spec", {{"initContainers", init}, {"containers", containers}}}}}}}};
  json review = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
        {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
        {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
        {"name", "app"},
        {"namespace", "staging"},
        {"operation", "CREATE"},
        {"userInfo", {{"username", "system:serviceaccount:argocd:argocd-application-controller"}}},
        {"object", deployment},
        {"oldObject", nullptr},
        {"dryRun", false}}}};
  return review.dump();
}

// Admission reviews of a 5-container pod against the same bare server, alternating.
json admission_path(const Settings& s, const std::string& work) {
  say("admission: bare Beast server vs AdmissionReviews of a 5-container pod, " +
      std::to_string(s.read_connections) + " connections");
  std::string dir = work + "/admission";
  Signer signer;
  Daemon daemon(dir, bench_policy(signer.key.public_key_pem()));
  daemon.start();
  std::vector<std::string> digests;
  for (int i = 0; i < 5; ++i) {
    digests.push_back(digest_of("bench-admission-" + std::to_string(i)));
    record_target(daemon, signer, digests.back());
    expect_approved(daemon, promotion_body(digests.back(), false));
  }
  std::string body = admission_review(digests);
  auto check = daemon.request("POST", "/v1/admission/staging", body);
  json answer = check.json();
  if (check.status != 200 || !answer["response"].value("allowed", false)) {
    throw std::runtime_error("the benchmark review is not allowed (" +
                             std::to_string(check.status) + "): " + check.body);
  }
  write_text(dir + "/review.json", body);

  BareServer bare(dir);
  Load load{"",     s.read_connections,      s.duration,           s.warmup,
            "POST", "/v1/admission/staging", dir + "/review.json", ""};
  const BareRounds r = rounds_against_bare(s.rounds, load, bare.address(), daemon.address(),
                                           "admission reviews", "reviews/s");
  return {{"connections", s.read_connections},
          {"request", "POST /v1/admission/staging, a Deployment of 5 approved images (2 init)"},
          {"baseline", "bare Boost.Beast server, fixed JSON body, same threads"},
          {"digestgate_rps", median(r.dg_rps)},
          {"baseline_rps", median(r.base_rps)},
          {"ratio", median(r.dg_rps) / median(r.base_rps)},
          {"target", "report"},
          {"digestgate_p50_ms", median(r.dg_p50)},
          {"digestgate_p99_ms", median(r.dg_p99)},
          {"baseline_p99_ms", median(r.base_p99)},
          {"rounds", r.rounds}};
}

// Sets DG_BENCH_SYNC_DELAY_US for the programs started while it lives (digestgated_bench and
// dg_bench_sqlite read it), so that the baseline and the daemon pay the same extra per sync.
class SyncDelay {
public:
  explicit SyncDelay(int us) : m_on(us > 0) {
    if (m_on) {
      ::setenv(k_sync_delay_variable, std::to_string(us).c_str(), 1);
    }
  }
  ~SyncDelay() {
    if (m_on) {
      ::unsetenv(k_sync_delay_variable);
    }
  }
  SyncDelay(const SyncDelay&) = delete;
  SyncDelay& operator=(const SyncDelay&) = delete;

private:
  bool m_on;
};

// `sync_delay_us` > 0: every sync of both sides takes that much longer (the slow-sync seam), as on
// a cloud volume.
json write_path(const Settings& s, const std::string& work, int sync_delay_us = 0) {
  say("write path: durable approved promotions (" + std::to_string(s.write_connections) +
      " clients) vs single-row durable SQLite inserts" +
      (sync_delay_us > 0 ? ", every sync " + std::to_string(sync_delay_us) + " us slower" : ""));
  std::string dir =
      work + "/write" + (sync_delay_us > 0 ? "-" + std::to_string(sync_delay_us) : "");
  Signer signer;
  SyncDelay delay(sync_delay_us);
  Daemon daemon(dir, bench_policy(signer.key.public_key_pem()),
                sync_delay_us > 0 ? DG_BENCH_DAEMON_SLOW : DG_BENCH_DAEMON);
  daemon.start();
  // Deploy tooling promotes many releases: the promotions rotate over k_write_digests recorded
  // digests, so that no digest gathers an unrealistic number of entries.
  std::string bodies;
  for (int i = 0; i < k_write_digests; ++i) {
    std::string digest = digest_of("bench-write-" + std::to_string(i));
    record_target(daemon, signer, digest);
    bodies += promotion_body(digest, false) + "\n";
  }
  expect_approved(daemon, promotion_body(digest_of("bench-write-0"), false));
  write_text(dir + "/promotions.jsonl", bodies);

  Load load{daemon.address(),
            s.write_connections,
            s.duration,
            s.warmup,
            "POST",
            "/v1/promotions",
            "",
            dir + "/promotions.jsonl",
            true};
  json rounds = json::array();
  std::vector<double> base_rps, dg_rps, dg_p50, dg_p99;
  for (int r = 0; r < s.rounds; ++r) {
    json b = parse_output(
        test::run_process({DG_BENCH_SQLITE, "--dir", dir, "--seconds", std::to_string(s.duration)},
                          {}, "", static_cast<int>(s.duration) + 120),
        "dg_bench_sqlite");
    std::int64_t before = daemon.entries();
    json d = run_load(load);
    std::int64_t after = daemon.entries();
    expect_status(d, 200, "approved promotions");
    // Every 200 counted must be a ledgered entry.
    if (after - before < static_cast<std::int64_t>(d["requests"].get<std::uint64_t>())) {
      throw std::runtime_error("fewer ledger entries than approvals: " + std::to_string(before) +
                               " -> " + std::to_string(after));
    }
    d["ledger_entries_added"] = after - before;
    base_rps.push_back(b["rps"]);
    dg_rps.push_back(d["rps"]);
    dg_p50.push_back(d["latency"]["p50_ms"]);
    dg_p99.push_back(d["latency"]["p99_ms"]);
    say("  round " + std::to_string(r + 1) + ": sqlite " + std::to_string(b["rps"].get<double>()) +
        " rows/s, digestgated " + std::to_string(d["rps"].get<double>()) + " approvals/s");
    rounds.push_back({{"baseline", b},
                      {"digestgate", d},
                      {"ratio", d["rps"].get<double>() / b["rps"].get<double>()},
                      {"load_average", load_average()}});
  }
  std::string metrics = daemon.request("GET", "/metrics").body;
  double batches = test::metric_sample(metrics, "digestgate_ledger_commit_batch_size_count");
  json out = {
      {"connections", s.write_connections},
      {"request", "POST /v1/promotions (approved, ledgered, durable before the answer), "
                  "round-robin over 256 recorded digests"},
      {"baseline", "SQLite WAL synchronous=FULL, one INSERT per transaction, same directory"},
      {"sync_delay_us", sync_delay_us},
      {"digestgate_rps", median(dg_rps)},
      {"baseline_rps", median(base_rps)},
      {"ratio", median(dg_rps) / median(base_rps)},
      {"target", sync_delay_us > 0 ? ">= 20" : ">= 1.5"},
      {"met", median(dg_rps) / median(base_rps) >= (sync_delay_us > 0 ? 20 : 1.5)},
      {"p99_over_p50", median(dg_p99) / median(dg_p50)},
      {"digestgate_p50_ms", median(dg_p50)},
      {"digestgate_p99_ms", median(dg_p99)},
      {"commits", batches},
      {"mean_commit_batch",
       batches > 0
           ? test::metric_sample(metrics, "digestgate_ledger_commit_batch_size_sum") / batches
           : 0.0},
      {"mean_commit_ms",
       batches > 0
           ? 1000 * test::metric_sample(metrics, "digestgate_ledger_append_seconds_sum") / batches
           : 0.0},
      {"rounds", rounds}};
  return out;
}

// Records of distinct digests, one a line, each complete signed evidence; with `pki`, each also
// carries one keyless bundle over a cosign payload naming its digest.
void write_records(const Settings& s,
                   const Signer& signer,
                   const test::SigstorePki* pki,
                   const std::string& prefix,
                   const std::string& file) {
  auto t0 = Clock::now();
  std::ofstream out(file);
  TimeNs now = now_ns();
  for (std::size_t i = 0; i < s.record_bodies; ++i) {
    std::string digest = digest_of(prefix + std::to_string(i));
    json record = complete_evidence(signer.key, digest, k_repository, now);
    if (pki != nullptr) {
      const std::string payload = test::SigstorePki::cosign_payload(k_repository, digest);
      record["bundles"] = json::array(
          {{{"bundle", pki->bundle(payload, {})}, {"payload", base64_encode(payload)}}});
    }
    out << record.dump() << "\n";
  }
  say("  made " + std::to_string(s.record_bodies) + " records" +
      (pki != nullptr ? " with a keyless bundle each" : "") + " in " +
      std::to_string(seconds_since(t0)) + " s");
}

// POST /v1/validations of every line of `bodies_file` to a fresh digestgated under `policy`.
json record_load(const Settings& s,
                 const std::string& dir,
                 const json& policy,
                 const std::string& bodies_file,
                 const std::string& check_digest,
                 bool check_bundle) {
  Daemon daemon(dir, policy);
  daemon.start();
  Load load{daemon.address(),
            s.record_connections,
            s.duration * 3,
            s.warmup,
            "POST",
            "/v1/validations",
            "",
            bodies_file};
  json d = run_load(load);
  expect_status(d, 201, "validations");
  // The recorded evidence is what it claims: a recorded digest is approved under the strict
  // policy, which verifies both signatures; a recorded bundle verifies under the trust root.
  expect_approved(daemon, promotion_body(check_digest, true));
  if (check_bundle) {
    json status = daemon.request("GET", "/v1/digests/" + check_digest).json();
    if (!status["bundles"].is_array() || status["bundles"].size() != 1 ||
        status["bundles"][0].value("verified", false) != true) {
      throw std::runtime_error("the recorded bundle does not verify: " + status.dump());
    }
  }
  return d;
}

json record_path(const Settings& s, const std::string& work) {
  say("record path: validations with signed evidence, with and without a keyless bundle, vs bare "
      "OpenSSL verifications");
  std::string dir = work + "/record";
  ::mkdir(dir.c_str(), 0700);
  Signer signer;
  const test::SigstorePki pki;
  write_text(dir + "/signer.pub", signer.key.public_key_pem());
  write_text(dir + "/trusted_root.json", pki.trusted_root().dump());
  json policy = bench_policy(signer.key.public_key_pem());
  policy["trusted_roots"] = {{"bench", {{"file", dir + "/trusted_root.json"}}}};

  std::string bodies_file = dir + "/records.jsonl";
  std::string bundle_bodies_file = dir + "/records-bundle.jsonl";
  write_records(s, signer, nullptr, "bench-record-", bodies_file);
  write_records(s, signer, &pki, "bench-record-bundle-", bundle_bodies_file);
  json d = record_load(s, dir + "/plain", policy, bodies_file, digest_of("bench-record-0"), false);
  json db = record_load(s, dir + "/bundle", policy, bundle_bodies_file,
                        digest_of("bench-record-bundle-0"), true);
  json b = parse_output(test::run_process({DG_BENCH_VERIFY, "--bodies-file", bodies_file,
                                           "--public-key", dir + "/signer.pub"},
                                          {}, "", 600),
                        "dg_bench_verify");
  json sig =
      parse_output(test::run_process({DG_BENCH_SIGSTORE, "--bundles", s.quick ? "100" : "300",
                                      "--rounds", s.quick ? "3" : "5"},
                                     {}, "", 600),
                   "dg_bench_sigstore");
  double ratio = d["rps"].get<double>() / b["records_per_second"].get<double>();
  say("  digestgated " + std::to_string(d["rps"].get<double>()) + " records/s, with a bundle " +
      std::to_string(db["rps"].get<double>()) + " records/s; OpenSSL " +
      std::to_string(b["records_per_second"].get<double>()) + " records/s (" +
      std::to_string(b["verifications_per_second"].get<double>()) + " verifications/s)");
  say("  one bundle: verified in " + std::to_string(sig["verify_us_per_bundle"].get<double>()) +
      " us, bare OpenSSL " + std::to_string(sig["baseline_us_per_bundle"].get<double>()) +
      " us (ratio " + std::to_string(sig["ratio"].get<double>()) + ")");
  return json{{"connections", s.record_connections},
              {"request", "POST /v1/validations, a distinct digest each, complete signed evidence"},
              {"baseline", "bare OpenSSL EVP_DigestVerify of the same records' signatures (2 per "
                           "record), one thread"},
              {"digestgate_rps", d["rps"]},
              {"baseline_records_per_second", b["records_per_second"]},
              {"baseline_verifications_per_second", b["verifications_per_second"]},
              {"ratio", ratio},
              {"digestgate_p50_ms", d["latency"]["p50_ms"]},
              {"digestgate_p99_ms", d["latency"]["p99_ms"]},
              {"with_bundle_rps", db["rps"]},
              {"with_bundle_p50_ms", db["latency"]["p50_ms"]},
              {"with_bundle_p99_ms", db["latency"]["p99_ms"]},
              {"with_bundle_ratio", db["rps"].get<double>() / d["rps"].get<double>()},
              {"sigstore", sig},
              {"digestgate", d},
              {"digestgate_with_bundle", db},
              {"baseline_run", b},
              {"load_average", load_average()}};
}

// A digestgated serving a filled ledger, with a dry-run promotion it approves.
struct Served {
  std::unique_ptr<Daemon> daemon;
  std::string dir;
  std::string body_file;
};

json ledger_sizes(const Settings& s, const std::string& work) {
  json sizes = json::array();
  std::int64_t smallest = *std::min_element(s.sizes.begin(), s.sizes.end());
  std::int64_t largest = *std::max_element(s.sizes.begin(), s.sizes.end());
  json verify;
  // The smallest and the largest ledgers stay served until both are up; their dry-run loads then
  // alternate, round by round, like the other comparisons.
  std::map<std::int64_t, Served> served;
  std::vector<std::string> dirs;
  Signer signer;
  for (std::int64_t n : s.sizes) {
    say("ledger of " + std::to_string(n) + " entries: fill");
    std::string dir = work + "/ledger-" + std::to_string(n);
    dirs.push_back(dir);
    json item = {{"entries", n}};
    auto daemon = std::make_unique<Daemon>(dir, bench_policy(signer.key.public_key_pem()));
    json fill =
        parse_output(test::run_process({DG_BENCH_FILL, "--state-dir", daemon->state_dir(),
                                        "--entries", std::to_string(n), "--origin", k_origin},
                                       {}, "", 4 * 3600),
                     "dg_bench_fill");
    item["fill"] = fill;
    say("  " + std::to_string(fill["append_rate"].get<double>()) + " entries/s, " +
        std::to_string(fill["db_bytes"].get<std::int64_t>() / (1024 * 1024)) + " MiB");

    if (n == largest) {
      say("  digestgate ledger verify vs SHA-256 over the file");
      std::string db = daemon->db_path();
      json sha1 =
          parse_output(test::run_process({DG_BENCH_SHA256, db}, {}, "", 3600), "dg_bench_sha256");
      const auto verify_started = Clock::now();
      auto v = test::run_process({DG_BENCH_CLI, "ledger", "verify", "--db", db, "--json"}, {}, "",
                                 4 * 3600);
      const double verify_seconds = seconds_since(verify_started);
      json report = parse_output(v, "digestgate ledger verify");
      if (!report.value("ok", false)) {
        throw std::runtime_error("the filled ledger does not verify: " + v.out);
      }
      json sha2 =
          parse_output(test::run_process({DG_BENCH_SHA256, db}, {}, "", 3600), "dg_bench_sha256");
      double bytes = static_cast<double>(file_size(db));
      // The faster of two SHA-256 runs, one before and one after the verification (the file is
      // then in the page cache for all three).
      double sha_rate =
          std::max(sha1["bytes_per_second"].get<double>(), sha2["bytes_per_second"].get<double>());
      double verify_rate = bytes / verify_seconds;
      verify = {{"entries", report["entries"]},
                {"checkpoints", report["checkpoints"]},
                {"bytes", bytes},
                {"verify_seconds", verify_seconds},
                {"verify_bytes_per_second", verify_rate},
                {"sha256_bytes_per_second", sha_rate},
                {"sha256_runs", {sha1, sha2}},
                {"ratio", verify_rate / sha_rate},
                {"target", ">= 0.5"},
                {"met", verify_rate / sha_rate >= 0.5},
                {"load_average", load_average()}};
      say("  verify " + std::to_string(verify_rate / 1e6) + " MB/s, SHA-256 " +
          std::to_string(sha_rate / 1e6) + " MB/s");
    }

    say("  start digestgated");
    item["start"] = daemon->start();
    item["memory_after_start"] = memory_json(daemon->pid());
    say("  healthy after " + std::to_string(item["start"]["healthz_s"].get<double>()) +
        " s, ready after " + std::to_string(item["start"]["readyz_s"].get<double>()) + " s");
    item["load_average"] = load_average();
    sizes.push_back(item);
    if (n == smallest || n == largest) {
      std::string digest = digest_of("bench-scale-target");
      record_target(*daemon, signer, digest);
      std::string body = promotion_body(digest, true);
      expect_approved(*daemon, body);
      write_text(dir + "/dry-run.json", body);
      served[n] = Served{std::move(daemon), dir, dir + "/dry-run.json"};
    } else {
      daemon->stop();
      daemon.reset();
      if (!s.keep) {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
      }
    }
  }

  json rounds = json::array();
  std::map<std::int64_t, std::vector<double>> p50, p99, rps;
  std::map<std::int64_t, json> last;
  for (int r = 0; r < s.rounds; ++r) {
    json round = json::object();
    // The machine drifts during a run: the order alternates (small, large; large, small; ...) so
    // that drift does not favour one ledger.
    std::vector<std::int64_t> order;
    for (const auto& item : served) {
      order.push_back(item.first);
    }
    if (r % 2 == 1) {
      std::reverse(order.begin(), order.end());
    }
    for (std::int64_t n : order) {
      Served& srv = served[n];
      Load load{srv.daemon->address(), s.read_connections, s.duration, s.warmup, "POST",
                "/v1/promotions",      srv.body_file,      ""};
      json d = run_load(load);
      expect_status(d, 200, "dry-run promotions");
      p50[n].push_back(d["latency"]["p50_ms"]);
      p99[n].push_back(d["latency"]["p99_ms"]);
      rps[n].push_back(d["rps"]);
      say("  dry-run at " + std::to_string(n) +
          " entries: " + std::to_string(d["rps"].get<double>()) + " req/s, p99 " +
          std::to_string(d["latency"]["p99_ms"].get<double>()) + " ms");
      round[std::to_string(n)] = d;
    }
    round["load_average"] = load_average();
    rounds.push_back(round);
  }
  json memory = json::object();
  for (auto& [n, srv] : served) {
    memory[std::to_string(n)] = memory_json(srv.daemon->pid());
  }
  for (auto& item : sizes) {
    std::string key = item["entries"].dump();
    if (memory.contains(key)) {
      item["memory_after_load"] = memory[key];
    }
  }
  for (auto& [n, srv] : served) {
    srv.daemon->stop();
  }
  served.clear();
  if (!s.keep) {
    for (const auto& dir : dirs) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored); // the largest ledger takes gigabytes
    }
  }

  json scale;
  if (smallest != largest) {
    double p99_small = median(p99[smallest]);
    double p99_large = median(p99[largest]);
    std::string small_key = std::to_string(smallest);
    std::string large_key = std::to_string(largest);
    scale = {{"small_entries", smallest},
             {"large_entries", largest},
             {"p99_ms_small", p99_small},
             {"p99_ms_large", p99_large},
             {"p50_ms_small", median(p50[smallest])},
             {"p50_ms_large", median(p50[largest])},
             {"rps_small", median(rps[smallest])},
             {"rps_large", median(rps[largest])},
             {"ratio", p99_large / p99_small},
             {"target", "<= 1.5"},
             {"met", p99_large / p99_small <= 1.5},
             {"rss_kb_small", memory[small_key]["rss_kb"]},
             {"rss_kb_large", memory[large_key]["rss_kb"]},
             {"hwm_kb_small", memory[small_key]["hwm_kb"]},
             {"hwm_kb_large", memory[large_key]["hwm_kb"]},
             {"rounds", rounds}};
  }
  return json{{"sizes", sizes}, {"scale", scale}, {"verify", verify}};
}

// --- Output -------------------------------------------------------------------------------

std::string fixed(double v, int digits) {
  std::ostringstream ss;
  ss << std::fixed << std::setprecision(digits) << v;
  return ss.str();
}

std::string yes_no(const json& j) {
  return j.is_boolean() ? (j.get<bool>() ? "yes" : "NO") : "-";
}

void print_table(const json& report) {
  std::ostringstream t;
  auto row = [&](const std::string& a, const std::string& b, const std::string& c,
                 const std::string& d, const std::string& e, const std::string& f) {
    t << std::left << std::setw(24) << a << std::setw(36) << b << std::setw(34) << c << std::setw(8)
      << d << std::setw(9) << e << f << "\n";
  };
  t << "\n";
  row("benchmark", "digestgate", "baseline", "ratio", "target", "met");
  row(std::string(23, '-'), std::string(35, '-'), std::string(33, '-'), "-------", "--------",
      "---");
  if (report.contains("read_path")) {
    const json& r = report["read_path"];
    row("read: dry-run",
        fixed(r["digestgate_rps"], 0) + "/s p50 " + fixed(r["digestgate_p50_ms"], 2) + " p99 " +
            fixed(r["digestgate_p99_ms"], 2) + " ms",
        fixed(r["baseline_rps"], 0) + "/s bare Beast", fixed(r["ratio"], 2),
        r["target"].get<std::string>(), yes_no(r["met"]));
  }
  if (report.contains("read_path")) {
    const json& f = report["read_path"]["http_floor"];
    row("read: HTTP floor", fixed(f["digestgate_rps"], 0) + "/s GET /v1/checkpoint",
        fixed(f["baseline_rps"], 0) + "/s bare Beast", fixed(f["ratio"], 2),
        f["target"].get<std::string>(), yes_no(f["met"]));
  }
  if (report.contains("observation")) {
    const json& o = report["observation"];
    row("observe: dry-run busy",
        fixed(o["busy"]["digestgate_rps"], 0) + "/s, " +
            fixed(o["busy"]["observations_per_second"], 1) + " observations/s",
        fixed(o["idle"]["digestgate_rps"], 0) + "/s not observing", fixed(o["quotient"], 2),
        o["target"].get<std::string>(), yes_no(o["met"]));
    row("observe: vs bare Beast",
        "busy " + fixed(o["busy"]["ratio"], 2) + ", idle " + fixed(o["idle"]["ratio"], 2),
        fixed(o["baseline_rps"], 0) + "/s bare Beast", fixed(o["quotient"], 2), "report", "-");
  }
  if (report.contains("write_path")) {
    const json& r = report["write_path"];
    row("write: approvals",
        fixed(r["digestgate_rps"], 0) + "/s p50 " + fixed(r["digestgate_p50_ms"], 1) + " p99 " +
            fixed(r["digestgate_p99_ms"], 1) + " ms",
        fixed(r["baseline_rps"], 0) + "/s SQLite 1 row/txn", fixed(r["ratio"], 2),
        r["target"].get<std::string>(), yes_no(r["met"]));
  }
  if (report.contains("postgresql") && !report["postgresql"].contains("skipped")) {
    const json& p = report["postgresql"];
    for (const char* part : {"one_daemon", "two_daemons"}) {
      row(std::string("pg write: ") + (p[part]["daemons"] == 1 ? "1 daemon" : "2 daemons"),
          fixed(p[part]["rps"], 0) + "/s, " + fixed(p[part]["mean_commit_batch"], 1) +
              " entries/commit",
          fixed(p["insert_baseline"]["rps"], 0) + "/s PG 1 row/txn",
          fixed(p[part]["ratio_to_inserts"], 2), "report", "-");
    }
    row("pg read: dry-run", fixed(p["read"]["digestgate_rps"], 0) + "/s",
        fixed(p["read"]["baseline_rps"], 0) + "/s bare Beast", fixed(p["read"]["ratio"], 2),
        "report", "-");
  }
  if (report.contains("admission")) {
    const json& r = report["admission"];
    row("admission: 5 images",
        fixed(r["digestgate_rps"], 0) + "/s p50 " + fixed(r["digestgate_p50_ms"], 2) + " p99 " +
            fixed(r["digestgate_p99_ms"], 2) + " ms",
        fixed(r["baseline_rps"], 0) + "/s bare Beast", fixed(r["ratio"], 2), "report", "-");
  }
  if (report.contains("write_slow_disk")) {
    for (const json& r : report["write_slow_disk"]) {
      row("write: sync +" + fixed(r["sync_delay_us"].get<double>() / 1000, 0) + " ms",
          fixed(r["digestgate_rps"], 0) + "/s p50 " + fixed(r["digestgate_p50_ms"], 1) + " p99 " +
              fixed(r["digestgate_p99_ms"], 1) + " ms",
          fixed(r["baseline_rps"], 0) + "/s SQLite 1 row/txn", fixed(r["ratio"], 2),
          r["target"].get<std::string>(), yes_no(r["met"]));
    }
  }
  if (report.contains("record_path")) {
    const json& r = report["record_path"];
    row("record: validations",
        fixed(r["digestgate_rps"], 0) + "/s p99 " + fixed(r["digestgate_p99_ms"], 1) + " ms",
        fixed(r["baseline_records_per_second"], 0) + "/s (2 OpenSSL verifies)",
        fixed(r["ratio"], 2), "report", "-");
    if (r.contains("with_bundle_rps")) {
      row("record: + 1 bundle",
          fixed(r["with_bundle_rps"], 0) + "/s p99 " + fixed(r["with_bundle_p99_ms"], 1) + " ms",
          fixed(r["digestgate_rps"], 0) + "/s without", fixed(r["with_bundle_ratio"], 2), "report",
          "-");
      const json& g = r["sigstore"];
      row("sigstore: 1 bundle", fixed(g["verify_us_per_bundle"], 0) + " us verify_bundle",
          fixed(g["baseline_us_per_bundle"], 0) + " us chain + 4 EVP verifies",
          fixed(g["ratio"], 2), "report", "-");
    }
  }
  if (report.contains("ledger")) {
    const json& v = report["ledger"]["verify"];
    if (!v.is_null()) {
      row("verify: " + v["entries"].dump() + " entries",
          fixed(v["verify_bytes_per_second"].get<double>() / 1e6, 0) + " MB/s in " +
              fixed(v["verify_seconds"], 1) + " s",
          fixed(v["sha256_bytes_per_second"].get<double>() / 1e6, 0) + " MB/s SHA-256",
          fixed(v["ratio"], 2), v["target"].get<std::string>(), yes_no(v["met"]));
    }
    const json& sc = report["ledger"]["scale"];
    if (!sc.is_null()) {
      row("scale: dry-run p99",
          fixed(sc["p99_ms_large"], 2) + " ms at " + sc["large_entries"].dump(),
          fixed(sc["p99_ms_small"], 2) + " ms at " + sc["small_entries"].dump(),
          fixed(sc["ratio"], 2), sc["target"].get<std::string>(), yes_no(sc["met"]));
      row("scale: daemon RSS", sc["rss_kb_large"].dump() + " kB at " + sc["large_entries"].dump(),
          sc["rss_kb_small"].dump() + " kB at " + sc["small_entries"].dump(),
          fixed(sc["rss_kb_large"].get<double>() / sc["rss_kb_small"].get<double>(), 2), "report",
          "-");
    }
    t << "\n";
    t << std::left << std::setw(10) << "entries" << std::setw(11) << "append/s" << std::setw(9)
      << "db MiB" << std::setw(40) << "lookup p50/p99 us (by seq, by digest)" << std::setw(24)
      << "start healthz/readyz"
      << "RSS after start\n";
    for (const auto& item : report["ledger"]["sizes"]) {
      const json& l = item["fill"]["lookups"];
      t << std::left << std::setw(10) << item["entries"].dump() << std::setw(11)
        << fixed(item["fill"]["append_rate"], 0) << std::setw(9)
        << fixed(item["fill"]["db_bytes"].get<double>() / (1024 * 1024), 1) << std::setw(40)
        << (fixed(l["entry_by_seq"]["p50_ms"].get<double>() * 1000, 0) + "/" +
            fixed(l["entry_by_seq"]["p99_ms"].get<double>() * 1000, 0) + ", " +
            fixed(l["digest_validations"]["p50_ms"].get<double>() * 1000, 0) + "/" +
            fixed(l["digest_validations"]["p99_ms"].get<double>() * 1000, 0))
        << std::setw(24)
        << (fixed(item["start"]["healthz_s"], 2) + "/" + fixed(item["start"]["readyz_s"], 2) + " s")
        << item["memory_after_start"]["rss_kb"].dump() << " kB\n";
    }
  }
  const json& m = report["machine"];
  t << "\nmachine: " << m.value("nproc", 0) << " CPUs, " << m.value("cpu_model", "") << ", "
    << m.value("memory_kb", std::int64_t{0}) / 1024 << " MiB, " << m.value("filesystem", "")
    << "; load average at start " << report["load_average_start"].dump() << ", at end "
    << report["load_average_end"].dump() << "\n";
  std::cout << t.str();
}

// The PostgreSQL ledger's scenarios (bench/postgres.cpp), or why they were skipped.
json postgresql_path(const Settings& s) {
  say("postgresql: durable approvals on 1 and 2 daemons vs single-row synchronous INSERTs, and "
      "dry-run promotions vs bare Beast, on one PostgreSQL 15 server");
  auto r = test::run_process({DG_BENCH_POSTGRES, "--duration", std::to_string(s.duration),
                              "--warmup", std::to_string(s.warmup), "--write-connections",
                              std::to_string(s.write_connections), "--read-connections",
                              std::to_string(s.read_connections)},
                             {}, "", static_cast<int>(4 * (s.duration + s.warmup)) + 600);
  if (r.exit_code == 77) {
    say("  skipped: " + r.err);
    return {{"skipped", r.err}};
  }
  return parse_output(r, "dg_bench_postgres");
}

int run(const Settings& s) {
  test::TempDir work("digestgate-bench", s.dir, s.keep);
  json report;
  report["mode"] = s.quick ? "quick" : "full";
  report["started_at"] = format_rfc3339(now_ns());
  report["version"] = DG_VERSION;
  report["machine"] = machine_facts(work.path());
  report["load_average_start"] = load_average();
  report["settings"] = {
      {"duration_s", s.duration}, {"warmup_s", s.warmup}, {"rounds", s.rounds}, {"sizes", s.sizes}};
  auto save = [&] {
    report["load_average_end"] = load_average();
    write_text(s.out, report.dump(2) + "\n");
  };
  auto started = Clock::now();
  if (s.wants("read")) {
    report["read_path"] = read_path(s, work.path());
    save();
  }
  if (s.wants("observe")) {
    report["observation"] = observation_path(s, work.path());
    save();
  }
  if (s.wants("write")) {
    report["write_path"] = write_path(s, work.path());
    save();
  }
  if (s.wants("admission")) {
    report["admission"] = admission_path(s, work.path());
    save();
  }
  if (s.wants("slow-disk")) {
    report["write_slow_disk"] = json::array();
    for (int us : s.sync_delays_us) {
      report["write_slow_disk"].push_back(write_path(s, work.path(), us));
      save();
    }
  }
  if (s.wants("record")) {
    report["record_path"] = record_path(s, work.path());
    save();
  }
  if (s.wants("postgresql")) {
    report["postgresql"] = postgresql_path(s);
    save();
  }
  if (s.wants("ledger")) {
    report["ledger"] = ledger_sizes(s, work.path());
    save();
  }
  report["seconds"] = seconds_since(started);
  save();
  print_table(report);
  std::cout << "report: " << s.out << "\n";
  return 0;
}

std::vector<std::int64_t> parse_sizes(const std::string& text) {
  std::vector<std::int64_t> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    out.push_back(std::stoll(item));
    if (out.back() < 1) {
      throw std::invalid_argument("sizes must be positive");
    }
  }
  if (out.empty()) {
    throw std::invalid_argument("--sizes needs at least one size");
  }
  return out;
}

// The run's settings; throws std::invalid_argument naming a bad option.
Settings settings(const CommandLine& args) {
  Settings s;
  // --quick first, so that explicit options override its defaults.
  if (args.flag("--quick")) {
    s.quick = true;
    s.duration = 3;
    s.warmup = 1;
    s.rounds = 1;
    s.sizes = {1000, 10000};
    s.record_bodies = 5000;
  }
  s.out = args.text("--out", s.out);
  s.dir = args.text("--dir", s.dir);
  s.keep = args.flag("--keep");
  for (const std::string& list : args.texts("--only")) {
    std::istringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
      if (item != "read" && item != "admission" && item != "observe" && item != "write" &&
          item != "slow-disk" && item != "record" && item != "ledger" && item != "postgresql") {
        throw std::invalid_argument("unknown scenario '" + item + "'");
      }
      s.only.insert(item);
    }
  }
  s.duration = args.number("--duration", s.duration);
  s.rounds = static_cast<int>(args.integer("--rounds", s.rounds));
  if (const auto sizes = args.texts("--sizes"); !sizes.empty()) {
    s.sizes = parse_sizes(sizes.back());
  }
  if (!args.texts("--scale").empty()) {
    const std::int64_t power = args.integer("--scale", 0);
    if (power < 4 || power > 9) {
      throw std::invalid_argument("--scale takes a power of ten from 4 to 9");
    }
    std::int64_t large = 1;
    for (std::int64_t i = 0; i < power; ++i) {
      large *= 10;
    }
    s.sizes = {1000, large};
    if (s.only.empty()) {
      s.only.insert("ledger");
    }
  }
  if (const auto delays = args.texts("--sync-delays"); !delays.empty()) {
    s.sync_delays_us.clear();
    for (auto size : parse_sizes(delays.back())) {
      s.sync_delays_us.push_back(static_cast<int>(size));
    }
  }
  if (s.duration <= 0 || s.rounds < 1) {
    throw std::invalid_argument("--duration and --rounds must be positive");
  }
  return s;
}

} // namespace
} // namespace dg::bench

int main(int argc, char** argv) {
  using namespace dg::bench;
  std::signal(SIGPIPE, SIG_IGN);
  const Program program{
      "dg_bench",
      k_usage,
      {"--out", "--dir", "--only", "--duration", "--rounds", "--sizes", "--scale", "--sync-delays"},
      {"--quick", "--keep"}};
  Settings s;
  return program_main(
      argc, argv, program, [&](const CommandLine& args) { s = settings(args); },
      [&] { return run(s); });
}
