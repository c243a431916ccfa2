#include "daemon/facts_cache.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

namespace dg::daemon {

namespace {

using nlohmann::json;

// Merge `entries` (validation and observation entries, in seq order) into `facts` as load_facts
// does; returns their stored bytes.
std::size_t merge_entries(policy::Facts& facts, const std::vector<ledger::Entry>& entries) {
  std::size_t bytes = 0;
  for (const auto& e : entries) {
    if (e.kind == ledger::k_observation) {
      policy::merge_observation(facts, e.body, e.seq, e.time);
      bytes += e.bytes.size();
      continue;
    }
    auto record =
        policy::parse_record(e.body.value("evidence", json()), policy::RecordSource::ledger);
    if (record) {
      std::ignore = policy::merge_record(facts, *record, e.seq); // ledgered records never conflict
    }
    bytes += e.bytes.size();
  }
  return bytes;
}

// The entries of `kind` about `digest` with seq > `after` that `view` holds, in seq order.
std::vector<ledger::Entry>
entries_after(ledger::View& view, const std::string& digest, const char* kind, std::int64_t after) {
  constexpr std::int64_t k_page = 1000;
  std::vector<ledger::Entry> out;
  ledger::EntryFilter filter;
  filter.after = after;
  filter.limit = k_page;
  filter.kind = kind;
  filter.digest = digest;
  for (;;) {
    auto page = view.entries(filter);
    if (page.empty()) {
      break;
    }
    bool full = static_cast<std::int64_t>(page.size()) == k_page;
    filter.after = page.back().seq;
    std::move(page.begin(), page.end(), std::back_inserter(out));
    if (!full) {
      break;
    }
  }
  return out;
}

std::vector<ledger::Entry> by_seq(std::vector<ledger::Entry> a, std::vector<ledger::Entry> b) {
  std::vector<ledger::Entry> out;
  out.reserve(a.size() + b.size());
  std::merge(std::make_move_iterator(a.begin()), std::make_move_iterator(a.end()),
             std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()),
             std::back_inserter(out),
             [](const ledger::Entry& x, const ledger::Entry& y) { return x.seq < y.seq; });
  return out;
}

// The validation and observation entries of `digest` with seq > `after`, in seq order.
std::vector<ledger::Entry>
evidence_entries_after(ledger::View& view, const std::string& digest, std::int64_t after) {
  return by_seq(entries_after(view, digest, ledger::k_validation, after),
                entries_after(view, digest, ledger::k_observation, after));
}

// Every validation and observation entry of `digest`, in seq order.
std::vector<ledger::Entry> evidence_entries(ledger::View& view, const std::string& digest) {
  return by_seq(view.digest_entries(digest, ledger::k_validation),
                view.digest_entries(digest, ledger::k_observation));
}

// Facts merged only from observations are no facts: the digest was never recorded.
std::shared_ptr<const policy::Facts> recorded_only(policy::Facts facts) {
  if (facts.validations.empty()) {
    return nullptr;
  }
  return std::make_shared<const policy::Facts>(std::move(facts));
}

bool same_policy(const std::weak_ptr<const policy::Policy>& a,
                 const std::shared_ptr<const policy::Policy>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

} // namespace

std::optional<policy::Facts> load_facts(ledger::View& view, const std::string& digest) {
  auto entries = evidence_entries(view, digest);
  policy::Facts facts;
  merge_entries(facts, entries);
  if (facts.validations.empty()) {
    return std::nullopt;
  }
  return facts;
}

// --- CachedFacts --------------------------------------------------------------------------

CachedFacts::CachedFacts(std::shared_ptr<const policy::Facts> facts, std::size_t max_memos)
    : m_facts(std::move(facts)), m_max_memos(max_memos) {}

policy::Reasons CachedFacts::timeless_evidence(const std::shared_ptr<const policy::Policy>& policy,
                                               const policy::EnvironmentPolicy& env) const {
  {
    std::lock_guard lock(m_mutex);
    for (auto it = m_memos.begin(); it != m_memos.end(); ++it) {
      if (it->environment == env.name && same_policy(it->policy, policy)) {
        m_memos.splice(m_memos.begin(), m_memos, it);
        return m_memos.front().reasons;
      }
    }
  }
  // Computed outside the lock: it verifies signatures. Two threads may both compute it; they
  // get the same reasons.
  policy::Reasons reasons = policy::evaluate_timeless_evidence(*policy, env, *m_facts);
  if (m_max_memos == 0) {
    return reasons;
  }
  std::lock_guard lock(m_mutex);
  // Memos of policies no longer in use can never match again.
  m_memos.remove_if([](const Memo& m) { return m.policy.expired(); });
  bool held = std::any_of(m_memos.begin(), m_memos.end(), [&](const Memo& m) {
    return m.environment == env.name && same_policy(m.policy, policy);
  });
  if (!held) {
    m_memos.push_front(Memo{policy, env.name, reasons});
    while (m_memos.size() > m_max_memos) {
      m_memos.pop_back();
    }
  }
  return reasons;
}

std::size_t CachedFacts::memos() const {
  std::lock_guard lock(m_mutex);
  return m_memos.size();
}

// --- FactsCache ---------------------------------------------------------------------------

FactsCache::FactsCache(FactsCacheLimits limits) : m_limits(limits) {}

std::shared_ptr<const CachedFacts> FactsCache::get(ledger::View& view, const std::string& digest) {
  const std::int64_t size = view.size();
  std::optional<Node> found;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_index.find(digest);
    if (it != m_index.end()) {
      m_lru.splice(m_lru.begin(), m_lru, it->second);
      found = *it->second;
      // The view sees everything the facts were merged from, and nothing newer was appended.
      if (found->newest <= size && size <= found->through) {
        ++m_stats.hits;
        return found->value;
      }
    }
  }

  if (found && found->newest <= size) {
    // size > through: only validation entries after `through` can change the facts.
    auto newer = evidence_entries_after(view, digest, found->through);
    if (newer.empty()) {
      std::lock_guard lock(m_mutex);
      ++m_stats.confirmed;
      auto it = m_index.find(digest);
      if (it != m_index.end() && it->second->value == found->value) {
        it->second->through = std::max(it->second->through, size);
      }
      return found->value;
    }
    const auto& old = found->value->facts();
    policy::Facts facts = old ? *old : policy::Facts{};
    Node node;
    node.digest = digest;
    node.through = size;
    node.newest = newer.back().seq;
    node.bytes = found->bytes + merge_entries(facts, newer);
    node.value = std::make_shared<const CachedFacts>(recorded_only(std::move(facts)),
                                                     m_limits.max_memos_per_digest);
    auto value = node.value;
    {
      std::lock_guard lock(m_mutex);
      ++m_stats.extended;
    }
    store(std::move(node));
    return value;
  }

  // Not held, or held for a newer ledger than this view sees: load everything.
  auto entries = evidence_entries(view, digest);
  Node node;
  node.digest = digest;
  node.through = size;
  node.bytes = digest.size();
  std::shared_ptr<const policy::Facts> facts;
  if (!entries.empty()) {
    policy::Facts merged;
    node.bytes += merge_entries(merged, entries);
    node.newest = entries.back().seq;
    facts = recorded_only(std::move(merged));
  }
  node.value = std::make_shared<const CachedFacts>(std::move(facts), m_limits.max_memos_per_digest);
  auto value = node.value;
  {
    std::lock_guard lock(m_mutex);
    ++m_stats.loaded;
  }
  store(std::move(node));
  return value;
}

void FactsCache::store(Node node) {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(node.digest);
  if (it != m_index.end()) {
    if (it->second->through >= node.through) {
      return; // what is held was checked against a ledger at least as new
    }
    m_bytes -= it->second->bytes;
    m_lru.erase(it->second);
    m_index.erase(it);
  }
  if (node.bytes > m_limits.max_bytes || m_limits.max_digests == 0) {
    return;
  }
  m_bytes += node.bytes;
  m_lru.push_front(std::move(node));
  m_index.emplace(m_lru.front().digest, m_lru.begin());
  evict_locked();
}

void FactsCache::evict_locked() {
  while (m_lru.size() > m_limits.max_digests || m_bytes > m_limits.max_bytes) {
    m_bytes -= m_lru.back().bytes;
    m_index.erase(m_lru.back().digest);
    m_lru.pop_back();
    ++m_stats.evicted;
  }
}

void FactsCache::clear() {
  std::lock_guard lock(m_mutex);
  m_index.clear();
  m_lru.clear();
  m_bytes = 0;
}

FactsCache::Stats FactsCache::stats() const {
  std::lock_guard lock(m_mutex);
  Stats s = m_stats;
  s.digests = m_lru.size();
  s.bytes = m_bytes;
  return s;
}

} // namespace dg::daemon
