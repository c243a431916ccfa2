// The observation benchmark (issue 13, docs/performance.md "Observations beside the read path"):
// does a busy observation loop slow the read path? Two digestgated are prepared identically, with
// the same 1,000 digests current in environment "fleet" (one repository each) and the dry-run
// target of the read scenario; one observes (registries on a loopback registry that answers every
// request after 50 ms, observe_interval 1s), the other does not (no registries). Dry-run
// promotions are sent to each, alternating, beside a bare Beast server, and the busy figure is
// compared with the idle one. The registry serves real manifests (an index of two platforms per
// digest, whose bytes hash to the recorded digests): the observations find every digest present.
#include "bench/driver.hpp"

#include "tests/support/daemon.hpp"
#include "tests/support/http.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace dg::bench {
namespace {

constexpr const char* k_fleet = "fleet";
constexpr const char* k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr const char* k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";

// One image of the fleet: a two-platform index in its own repository.
struct Image {
  std::string repository; // 127.0.0.1:PORT/bench/app-0001
  std::string digest;     // of the index
  std::string amd64;
  std::string arm64;
};

// The bytes of an OCI image manifest for `seed`, one config and one layer.
std::string image_manifest(const std::string& seed) {
  return json{{"schemaVersion", 2},
              {"mediaType", k_oci_manifest},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", digest_of(seed + "/config")},
                {"size", 1469}}},
              {"layers",
               {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                 {"digest", digest_of(seed + "/layer")},
                 {"size", 3370706}}}}}
      .dump();
}

json platform_entry(const std::string& body, const std::string& arch) {
  return {{"mediaType", k_oci_manifest},
          {"digest", "sha256:" + sha256_hex(body)},
          {"size", body.size()},
          {"platform", {{"architecture", arch}, {"os", "linux"}}}};
}

// Makes `n` images in `host`'s repositories and writes dg_bench_registry's content file.
std::vector<Image> write_fleet(const std::string& file, const std::string& host, int n) {
  std::vector<Image> images;
  std::string content;
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "bench/app-%04d", i);
    const std::string seed = std::string("bench-observe-") + name;
    const std::string amd64 = image_manifest(seed + "/amd64");
    const std::string arm64 = image_manifest(seed + "/arm64");
    const std::string index =
        json{{"schemaVersion", 2},
             {"mediaType", k_oci_index},
             {"manifests", {platform_entry(amd64, "amd64"), platform_entry(arm64, "arm64")}}}
            .dump();
    for (const auto& [tag, type, body] :
         {std::tuple{"-", k_oci_manifest, amd64}, std::tuple{"-", k_oci_manifest, arm64},
          std::tuple{"v1", k_oci_index, index}}) {
      content.append(name).append("\t").append(tag).append("\t").append(type).append("\t");
      content.append(body).append("\n");
    }
    images.push_back({host + "/" + name, "sha256:" + sha256_hex(index),
                      "sha256:" + sha256_hex(amd64), "sha256:" + sha256_hex(arm64)});
  }
  write_text(file, content);
  return images;
}

// What CI records of `image`: its platforms, tag v1, a passing e2e gate.
json fleet_record(const Image& image) {
  json platforms = {{{"platform", "linux/amd64"}, {"digest", image.amd64}},
                    {{"platform", "linux/arm64"}, {"digest", image.arm64}}};
  return {{"subject",
           {{"name", image.repository},
            {"digest", image.digest},
            {"media_type", k_oci_index},
            {"platforms", platforms},
            {"tags", {"v1"}}}},
          {"pushed_at", test::timestamp(-3600)},
          {"gates", {test::named_gate("e2e", image.repository, image.digest, now_ns())}}};
}

// Records and promotes every image of the fleet into "fleet", over a few connections at once.
void make_current(const Daemon& d, const std::vector<Image>& fleet) {
  constexpr int k_threads = 4;
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&] {
      try {
        for (std::size_t i = next++; i < fleet.size(); i = next++) {
          const Image& image = fleet[i];
          auto r = d.request("POST", "/v1/validations", fleet_record(image).dump());
          if (r.status != 201) {
            throw std::runtime_error("recording " + image.repository + " answered " +
                                     std::to_string(r.status) + ": " + r.body);
          }
          json promotion = {{"reference", image.repository + "@" + image.digest},
                            {"environment", k_fleet}};
          r = d.request("POST", "/v1/promotions", promotion.dump());
          if (r.status != 200 || r.json().value("decision", "") != "approved") {
            throw std::runtime_error("promoting " + image.repository + " answered " +
                                     std::to_string(r.status) + ": " + r.body);
          }
        }
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        failure = std::current_exception();
        next = fleet.size();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// The dry-run target of the read scenario and the fleet, current in "fleet"; returns the seconds
// it took.
double prepare(const Daemon& d,
               const Signer& signer,
               const std::string& target,
               const std::vector<Image>& fleet) {
  auto started = Clock::now();
  record_target(d, signer, target);
  make_current(d, fleet);
  auto env = d.request("GET", std::string("/v1/environments/") + k_fleet);
  if (env.status != 200) {
    throw std::runtime_error("GET /v1/environments/fleet answered " + std::to_string(env.status));
  }
  return seconds_since(started);
}

// The CPU seconds (user and system) `pid` has used so far.
double cpu_seconds(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i >= 14) { // utime, stime
      ticks += std::strtod(field.c_str(), nullptr);
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

json registry_stats(const std::string& address) {
  auto colon = address.rfind(':');
  auto r = test::http_request({address.substr(0, colon), std::atoi(address.c_str() + colon + 1)},
                              "GET", "/bench/stats");
  return r.json();
}

// The observation entries of the busy daemon about fleet digests, checked: every registry answered
// and served the index with the recorded platforms. Returns {"checked", "present"}.
json check_observations(const Daemon& d, const std::vector<Image>& fleet) {
  std::map<std::string, const Image*> by_digest;
  for (const auto& image : fleet) {
    by_digest[image.digest] = &image;
  }
  auto r = d.request("GET", "/v1/entries?kind=observation&limit=1000");
  if (r.status != 200) {
    throw std::runtime_error("GET /v1/entries answered " + std::to_string(r.status));
  }
  std::size_t checked = 0;
  std::size_t present = 0;
  json example;
  const json entries = r.json()["entries"];
  for (const json& e : entries) {
    auto it = by_digest.find(e["body"].value("digest", ""));
    if (it == by_digest.end()) {
      continue; // the dry-run target's, asked of registries that do not hold it
    }
    ++checked;
    const json& reg = e["body"]["registries"];
    std::set<std::string> platforms;
    for (const json& p : reg.empty() ? json::array() : reg[0]["platforms"]) {
      platforms.insert(p["digest"].get<std::string>());
    }
    if (reg.size() == 1 && reg[0]["name"] == it->second->repository && reg[0]["present"] == true &&
        reg[0]["error"].is_null() &&
        platforms == std::set<std::string>{it->second->amd64, it->second->arm64}) {
      ++present;
      example = e;
    } else {
      throw std::runtime_error("an observation of " + it->first +
                               " is not what the registry serves: " + e.dump());
    }
  }
  if (checked == 0) {
    throw std::runtime_error("the busy daemon ledgered no observation of the fleet");
  }
  return {{"checked", checked}, {"present", present}, {"example", example}};
}

// What each daemon uses of the CPU, in % of one core, over `seconds` without requests: for the
// busy one, the observation loop's own cost.
json quiet_cpu(const Daemon& busy,
               const Daemon& idle,
               const std::string& registry,
               double seconds) {
  const double busy_before = cpu_seconds(busy.pid());
  const double idle_before = cpu_seconds(idle.pid());
  const std::int64_t entries_before = busy.entries();
  const json stats_before = registry_stats(registry);
  const auto started = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed = seconds_since(started);
  const double observed = static_cast<double>(busy.entries() - entries_before);
  const double busy_cpu = cpu_seconds(busy.pid()) - busy_before;
  return {{"seconds", elapsed},
          {"busy_cpu_percent", 100 * busy_cpu / elapsed},
          {"idle_cpu_percent", 100 * (cpu_seconds(idle.pid()) - idle_before) / elapsed},
          {"observations_per_second", observed / elapsed},
          {"cpu_ms_per_observation", observed > 0 ? 1000 * busy_cpu / observed : 0.0},
          {"registry_requests_per_second", (registry_stats(registry)["requests"].get<double>() -
                                            stats_before["requests"].get<double>()) /
                                               elapsed}};
}

struct Side {
  const char* name;
  Daemon* daemon;
  std::vector<double> rps, p50, p99, ratio, observations_per_second, registry_rps,
      cpu_us_per_request;
};

// One load on `side`; for the busy side, the observations ledgered and the registry requests
// served meanwhile.
json measure(Side& side, const Load& base, const std::string& registry) {
  Load load = base;
  load.address = side.daemon->address();
  const std::int64_t before = side.daemon->entries();
  const json stats_before = registry_stats(registry);
  const double cpu_before = cpu_seconds(side.daemon->pid());
  const auto started = Clock::now();
  json d = run_load(load);
  const double seconds = seconds_since(started);
  const double cpu = cpu_seconds(side.daemon->pid()) - cpu_before;
  const std::int64_t appended = side.daemon->entries() - before;
  const json stats_after = registry_stats(registry);
  expect_status(d, 200, std::string("dry-run promotions (") + side.name + ")");
  side.rps.push_back(d["rps"]);
  side.p50.push_back(d["latency"]["p50_ms"]);
  side.p99.push_back(d["latency"]["p99_ms"]);
  // Dry runs append nothing: every entry appended meanwhile is an observation.
  side.observations_per_second.push_back(static_cast<double>(appended) / seconds);
  side.registry_rps.push_back(
      (stats_after["requests"].get<double>() - stats_before["requests"].get<double>()) / seconds);
  // The CPU counts the warm-up too: per request at the measured rate over the whole load.
  side.cpu_us_per_request.push_back(1e6 * cpu / (d["rps"].get<double>() * seconds));
  d["daemon_cpu_seconds"] = cpu;
  d["entries_appended"] = appended;
  d["wall_seconds"] = seconds;
  return d;
}

json side_json(const Side& side) {
  return {{"digestgate_rps", median(side.rps)},
          {"digestgate_p50_ms", median(side.p50)},
          {"digestgate_p99_ms", median(side.p99)},
          {"ratio", median(side.ratio)},
          {"observations_per_second", median(side.observations_per_second)},
          {"cpu_us_per_request", median(side.cpu_us_per_request)}};
}

} // namespace

json observation_path(const Settings& s, const std::string& work) {
  say("observations: dry-run promotions with " + std::to_string(s.observe_digests) +
      " current digests observed every 1s (registry answering after " +
      std::to_string(s.observe_delay_ms) + " ms) vs not observed, " +
      std::to_string(s.read_connections) + " connections");
  const std::string dir = work + "/observe";
  std::filesystem::create_directories(dir);

  // Repositories are "<registry host>/bench/app-NNNN"; the host is known once the registry has
  // bound its port, after it read its content, so the content names paths only.
  test::Process registry;
  const std::string content = dir + "/registry.tsv";
  std::vector<Image> fleet = write_fleet(content, "HOST", s.observe_digests);
  registry.start({DG_BENCH_REGISTRY, "--address-file", dir + "/registry-address", "--content",
                  content, "--delay-ms", std::to_string(s.observe_delay_ms)},
                 dir + "/registry.log");
  const std::string host = wait_for_address(dir + "/registry-address");
  if (host.empty()) {
    throw std::runtime_error("dg_bench_registry did not start:\n" +
                             tail(read_text(dir + "/registry.log")));
  }
  for (auto& image : fleet) {
    image.repository.replace(0, 4, host);
  }
  // ghcr.io and docker.io (the target's repository and mirror) lead to the same registry, which
  // does not hold the target: its one observation after validation stays on loopback.
  const json endpoint = {{"endpoint", "http://" + host}};
  const json observing = {
      {"registries", {{host, endpoint}, {"ghcr.io", endpoint}, {"docker.io", endpoint}}},
      {"observe_interval", "1s"}};

  Signer signer;
  json policy = bench_policy(signer.key.public_key_pem());
  policy["environments"][k_fleet] = {{"require_gates", {"e2e"}}};
  Daemon busy(dir + "/busy", policy, DG_BENCH_DAEMON, observing);
  Daemon idle(dir + "/idle", policy);
  busy.start();
  idle.start();
  const std::string target = digest_of("bench-read-target");
  json prepared = json::object();
  for (auto* d : {&idle, &busy}) {
    prepared[d == &busy ? "busy_s" : "idle_s"] = prepare(*d, signer, target, fleet);
  }
  say("  prepared in " + std::to_string(prepared["idle_s"].get<double>()) + " s (idle), " +
      std::to_string(prepared["busy_s"].get<double>()) + " s (busy)");
  const std::string body = promotion_body(target, true);
  expect_approved(busy, body);
  expect_approved(idle, body);
  write_text(dir + "/dry-run.json", body);

  const json quiet = quiet_cpu(busy, idle, host, std::min(s.duration, 5.0));
  say("  without requests: the busy daemon uses " +
      std::to_string(quiet["busy_cpu_percent"].get<double>()) + " % of a core for " +
      std::to_string(quiet["observations_per_second"].get<double>()) +
      " observations/s, the idle one " + std::to_string(quiet["idle_cpu_percent"].get<double>()) +
      " %");

  BareServer bare(dir);

  Load load{
      "", s.read_connections, s.duration, s.warmup, "POST", "/v1/promotions", dir + "/dry-run.json",
      ""};
  Side sides[2] = {{"busy", &busy, {}, {}, {}, {}, {}, {}, {}},
                   {"idle", &idle, {}, {}, {}, {}, {}, {}, {}}};
  std::vector<double> base_rps;
  std::vector<double> quotients;
  json rounds = json::array();
  for (int r = 0; r < s.rounds; ++r) {
    // bare, busy, idle; then bare, idle, busy: the two daemons are measured one right after the
    // other, and the machine's drift favours neither.
    Side& first = sides[r % 2];
    Side& second = sides[1 - r % 2];
    load.address = bare.address();
    json b = run_load(load);
    expect_status(b, 200, "bare server");
    json a = measure(first, load, host);
    json c = measure(second, load, host);
    const double bare_rps = b["rps"];
    quotients.push_back(sides[0].rps.back() / sides[1].rps.back());
    base_rps.push_back(bare_rps);
    first.ratio.push_back(a["rps"].get<double>() / bare_rps);
    second.ratio.push_back(c["rps"].get<double>() / bare_rps);
    const Side& busy_side = sides[0];
    say("  round " + std::to_string(r + 1) + " (" + first.name + " first): busy " +
        std::to_string(busy_side.rps.back()) + " req/s with " +
        std::to_string(busy_side.observations_per_second.back()) + " observations/s, idle " +
        std::to_string(sides[1].rps.back()) + " req/s (" + std::to_string(quotients.back()) +
        "), bare " + std::to_string(bare_rps) + " req/s");
    rounds.push_back({{"baseline", b},
                      {first.name, a},
                      {second.name, c},
                      {"quotient", quotients.back()},
                      {"busy_ratio", sides[0].ratio.back()},
                      {"idle_ratio", sides[1].ratio.back()},
                      {"order", std::string("bare, ") + first.name + ", " + second.name},
                      {"load_average", load_average()}});
  }
  for (std::size_t r = 0; r < quotients.size(); ++r) {
    if (sides[0].observations_per_second[r] <= 0 || sides[1].observations_per_second[r] != 0) {
      throw std::runtime_error("round " + std::to_string(r + 1) +
                               ": the observing daemon ledgered no observation during its load, "
                               "or the other appended entries");
    }
  }
  json observations = check_observations(busy, fleet);
  std::string metrics = busy.request("GET", "/metrics").body;
  if (test::metric_sample(metrics, "digestgate_observation_drift") != 0) {
    throw std::runtime_error(
        "the observing daemon counted drift: the registry serves every digest");
  }
  json registry_end = registry_stats(host);
  // busy rps / idle rps of each round (the quotient of the round's two ratios), the median.
  const double quotient = median(quotients);
  json out = {{"connections", s.read_connections},
              {"request", "POST /v1/promotions dry_run, complete signed evidence, strict policy"},
              {"current_digests", s.observe_digests},
              {"registry_delay_ms", s.observe_delay_ms},
              {"observe_interval", "1s"},
              {"baseline", "bare Boost.Beast server, fixed JSON body, same threads"},
              {"baseline_rps", median(base_rps)},
              {"busy", side_json(sides[0])},
              {"idle", side_json(sides[1])},
              {"busy_registry_requests_per_second", median(sides[0].registry_rps)},
              {"quotient", quotient},
              {"target", ">= 0.9"},
              {"met", quotient >= 0.9},
              {"prepared_s", prepared},
              {"without_requests", quiet},
              {"observations", observations},
              {"observation_drift", test::metric_sample(metrics, "digestgate_observation_drift")},
              {"registry", registry_end},
              {"busy_entries", busy.entries()},
              {"busy_memory", memory_json(busy.pid())},
              {"idle_memory", memory_json(idle.pid())},
              {"rounds", rounds}};
  bare.stop();
  busy.stop();
  idle.stop();
  registry.stop(SIGTERM, std::chrono::seconds(30));
  return out;
}

} // namespace dg::bench
