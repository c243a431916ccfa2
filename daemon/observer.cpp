#include "daemon/observer.hpp"

#include "daemon/log.hpp"
#include "daemon/render.hpp"
#include "policy/evidence.hpp"
#include "policy/reference.hpp"
#include "registry/observe.hpp"
#include "util/time.hpp"

#include <algorithm>
#include <unordered_set>

namespace dg::daemon {

namespace {

using json = nlohmann::json;

constexpr const char* k_observer_actor = "digestgated";

ObservationOutcome failed(int status, const std::string& code, const std::string& message) {
  return {status, json{{"error", code}, {"message", message}}};
}

// The repositories to ask: the recorded subject first, then its mirrors, then `extra`.
std::vector<std::string> repositories_of(const std::optional<policy::Facts>& facts,
                                         const std::vector<std::string>& extra) {
  std::vector<std::string> names;
  const auto add = [&names](const std::string& name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  if (facts) {
    add(facts->repository);
    for (const auto& name : facts->repositories()) {
      add(name);
    }
  }
  for (const auto& name : extra) {
    add(name);
  }
  return names;
}

// What the validation entries of `digest` recorded, or nullopt when it has none: all an
// observation asks (the repositories, the tags) and is judged against (the platforms). Unlike
// load_facts it reads no observation entry: a current digest gathers one per interval, and
// reading them all before each new one would make every observation slower than the last.
std::optional<policy::Facts> recorded_facts(ledger::View& view, const std::string& digest) {
  policy::Facts facts;
  for (const auto& e : view.digest_entries(digest, ledger::k_validation)) {
    auto record =
        policy::parse_record(e.body.value("evidence", json()), policy::RecordSource::ledger);
    if (record) {
      std::ignore = policy::merge_record(facts, *record, e.seq); // ledgered records never conflict
    }
  }
  if (facts.validations.empty()) {
    return std::nullopt;
  }
  return facts;
}

} // namespace

Observer::Observer(ObserverOptions options, ledger::Ledger& ledger, Append append, Metrics& metrics)
    : m_options(std::move(options)), m_ledger(ledger), m_append(std::move(append)),
      m_metrics(metrics), m_client(std::make_unique<registry::Client>(m_options.client)) {}

Observer::~Observer() {
  stop();
}

void Observer::start() {
  std::lock_guard lock(m_mutex);
  if (m_started) {
    return;
  }
  m_started = true;
  for (std::size_t i = 0; i < std::max<std::size_t>(m_options.workers, 1); ++i) {
    m_threads.emplace_back([this] { work(); });
  }
  if (m_options.background && m_options.interval.count() > 0) {
    m_threads.emplace_back([this] {
      std::unique_lock timer(m_mutex);
      while (!m_stopping) {
        if (m_timer_wake.wait_for(timer, m_options.interval,
                                  [this] { return m_stopping.load(); })) {
          break;
        }
        timer.unlock();
        tick();
        timer.lock();
      }
    });
  }
}

void Observer::request_stop() {
  std::deque<std::function<void()>> urgent;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_background.clear();
    m_queued.clear();
    urgent.swap(m_urgent);
  }
  m_wake.notify_all();
  m_timer_wake.notify_all();
  // Requests still queued are answered now (503: each job sees m_stopping).
  for (auto& job : urgent) {
    job();
  }
}

void Observer::stop() {
  request_stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(m_mutex);
    threads.swap(m_threads);
  }
  for (auto& thread : threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

void Observer::work() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_wake.wait(lock,
                [this] { return m_stopping.load() || !m_urgent.empty() || !m_background.empty(); });
    if (m_stopping) {
      return;
    }
    std::function<void()> job;
    if (!m_urgent.empty()) {
      job = std::move(m_urgent.front());
      m_urgent.pop_front();
    } else {
      job = std::move(m_background.front());
      m_background.pop_front();
    }
    lock.unlock();
    job();
    lock.lock();
  }
}

void Observer::after_validation(const std::string& digest) {
  if (!m_options.background) {
    return;
  }
  std::lock_guard lock(m_mutex);
  if (m_stopping || m_queued.count(digest)) {
    return;
  }
  if (m_background.size() >= m_options.max_queue) {
    log("warn", "observation queue full; an observation was dropped", {{"digest", digest}});
    return;
  }
  m_queued.insert(digest);
  m_background.push_back([this, digest] {
    {
      std::lock_guard inner(m_mutex);
      m_queued.erase(digest);
    }
    std::ignore = observe_and_ledger(digest, {}, k_observer_actor);
  });
  m_wake.notify_one();
}

void Observer::tick() {
  std::vector<std::string> digests; // in slot order, each once
  auto read = m_ledger.read([&](ledger::View& view) {
    std::unordered_set<std::string> seen;
    for (auto& slot : view.slots("")) {
      if (seen.insert(slot.digest).second) {
        digests.push_back(std::move(slot.digest));
      }
    }
  });
  if (!read) {
    log("error", "cannot list the current digests to observe", {{"error", read.error().message}});
    return;
  }
  std::lock_guard lock(m_mutex);
  for (const auto& digest : digests) {
    if (m_stopping || m_queued.count(digest) || m_background.size() >= m_options.max_queue) {
      continue;
    }
    m_queued.insert(digest);
    m_background.push_back([this, digest] {
      {
        std::lock_guard inner(m_mutex);
        m_queued.erase(digest);
      }
      std::ignore = observe_and_ledger(digest, {}, k_observer_actor);
    });
  }
  m_wake.notify_all();
}

void Observer::observe_now(std::string digest,
                           std::vector<std::string> names,
                           std::string actor,
                           std::function<void(ObservationOutcome)> done) {
  std::unique_lock lock(m_mutex);
  if (m_stopping) {
    lock.unlock();
    done(failed(503, "unavailable", "the daemon is stopping"));
    return;
  }
  m_urgent.push_back([this, digest = std::move(digest), names = std::move(names),
                      actor = std::move(actor), done = std::move(done)] {
    if (m_stopping) {
      done(failed(503, "unavailable", "the daemon is stopping"));
      return;
    }
    done(observe_and_ledger(digest, names, actor));
  });
  m_wake.notify_one();
}

void Observer::resolve(std::string reference, std::function<void(ObservationOutcome)> done) {
  std::unique_lock lock(m_mutex);
  if (m_stopping) {
    lock.unlock();
    done(failed(503, "unavailable", "the daemon is stopping"));
    return;
  }
  m_urgent.push_back([this, reference = std::move(reference), done = std::move(done)] {
    if (m_stopping) {
      done(failed(503, "unavailable", "the daemon is stopping"));
      return;
    }
    done(do_resolve(reference));
  });
  m_wake.notify_one();
}

ObservationOutcome Observer::observe_and_ledger(const std::string& digest,
                                                const std::vector<std::string>& names,
                                                const std::string& actor) {
  std::optional<policy::Facts> facts;
  bool current = false;
  auto read = m_ledger.read([&](ledger::View& view) {
    facts = recorded_facts(view, digest);
    for (const auto& slot : view.slots("")) {
      current = current || slot.digest == digest;
    }
  });
  if (!read) {
    return failed(503, "ledger-unavailable", read.error().message);
  }
  const std::vector<std::string> repositories = repositories_of(facts, names);
  if (repositories.empty()) {
    return failed(404, "unknown-digest",
                  digest + " has no recorded evidence and no names were given to look in");
  }
  registry::ObservationRequest request;
  request.digest = digest;
  request.repositories = repositories;
  if (facts) {
    request.tags.assign(facts->tags.begin(), facts->tags.end());
  }
  request.observed_at = format_rfc3339(now_ns());
  json body = registry::observe(*m_client, request);

  const auto unanswered = registry::unanswered(body);
  if (unanswered.size() == repositories.size() && actor != k_observer_actor) {
    std::string message = "no registry could be asked:";
    for (const json& r : body["registries"]) {
      // Appended piece by piece: gcc 12 -O3 warns falsely on " " + std::string&& (GCC bug 105329).
      message.append(" ")
          .append(r["name"].get<std::string>())
          .append(" (")
          .append(r["error"].get<std::string>())
          .append(")");
    }
    return {
        502,
        json{{"error", "registry-unreachable"}, {"message", message}, {"registries", unanswered}}};
  }
  auto committed = m_append(ledger::Draft{ledger::k_observation, actor, body});
  if (!committed) {
    return failed(503, "ledger-unavailable", committed.error().message);
  }
  const ledger::Entry& entry = committed->entry;
  if (current && facts) {
    report_drift(*facts, body, *committed);
  }
  json answer = entry_json(entry);
  answer["checkpoint"] = committed->checkpoint;
  return {201, std::move(answer)};
}

void Observer::report_drift(const policy::Facts& facts,
                            const json& body,
                            const ledger::Committed& committed) {
  const auto findings = policy::judge_observation(facts, body);
  if (findings.ok()) {
    return;
  }
  m_metrics.observation_drift();
  log("warn", "observation drift: a current digest is not as recorded in its registries",
      {{"digest", facts.digest}, {"seq", committed.entry.seq}, {"problems", findings.problems()}});
}

ObservationOutcome Observer::do_resolve(const std::string& text) {
  auto reference = policy::parse_reference(text);
  if (!reference) {
    return failed(400, "bad-request", "reference: " + reference.error().message);
  }
  const std::string name = reference->name();
  const std::string tag = reference->familiar_tag();
  const std::string asked = reference->digest.empty() ? tag : reference->digest;
  auto head = m_client->head_manifest(name, asked);
  if (!head) {
    if (registry::failure_kind(head.error()) == "not-found") {
      return failed(404, "not-found", name + ":" + asked + " is unknown to its registry");
    }
    return {502, json{{"error", "registry-unreachable"},
                      {"message", name + ": " + head.error().message},
                      {"registries", json::array({name})}}};
  }
  json known = {{"recorded", false},        {"repository", nullptr},
                {"tags", json::array()},    {"revoked", nullptr},
                {"current", json::array()}, {"recorded_under_tag", json::array()},
                {"tag_moved", false}};
  auto read = m_ledger.read([&](ledger::View& view) {
    if (auto facts = recorded_facts(view, head->digest)) {
      known["recorded"] = true;
      known["repository"] = facts->repository;
      known["tags"] = facts->tags;
    }
    if (auto revocation = view.revocation(head->digest)) {
      known["revoked"] = revocation->reason;
    }
    for (const auto& slot : view.slots("")) {
      if (slot.digest == head->digest) {
        known["current"].push_back(
            {{"environment", slot.environment}, {"repository", slot.repository}});
      }
    }
    if (!tag.empty()) {
      const auto digests = view.tag_digests(name, tag);
      known["recorded_under_tag"] = digests;
      known["tag_moved"] = !digests.empty() && digests.front() != head->digest;
    }
  });
  if (!read) {
    return failed(503, "ledger-unavailable", read.error().message);
  }
  return {200, json{{"reference", text},
                    {"repository", name},
                    {"tag", tag.empty() ? json() : json(tag)},
                    {"digest", head->digest},
                    {"media_type", head->media_type},
                    {"pinned", name + "@" + head->digest},
                    {"ledger", known}}};
}

} // namespace dg::daemon
