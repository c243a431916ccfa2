// A bounded cache of what the ledger says about digests: the merged facts of each digest's
// validation and observation entries, and what a policy's environment makes of that evidence apart
// from its age. Both are pure functions of immutable inputs, so a repeated evaluation of the same
// digest parses no ledgered JSON and verifies no signature.
//
// Correctness rests on the ledger being append-only. An entry holds the facts merged from every
// validation entry of its digest with seq <= `through`; it answers for a view of size S when
// S <= through and the newest of those entries is visible to the view, and otherwise after asking
// the view for the digest's validation and observation entries in (through, S] — none: the facts
// stand; some: they are merged onto a copy, in seq order, exactly as a full load would.
// Revocations, slots and approvals are not cached: callers ask the view for them every time.
//
// Thread-safety: every member function may be called from any thread, concurrently.
#pragma once

#include "ledger/ledger.hpp"
#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dg::daemon {

// Everything the validation entries of `digest` say, with its observations (the newest one, and
// the signatures and attestations they found), merged in seq order; nullopt if the digest has no
// validation entry. Records that no longer parse are skipped, and a merge conflict is ignored
// (ledgered records never conflict). The uncached reference the cache must agree with.
std::optional<policy::Facts> load_facts(ledger::View& view, const std::string& digest);

// One digest's merged facts at some ledger size, and memos of their timeless evidence reasons.
// Immutable apart from the memo, which is filled on demand.
class CachedFacts {
public:
  CachedFacts(std::shared_ptr<const policy::Facts> facts, std::size_t max_memos);

  // nullptr: the digest has no validation entry.
  const std::shared_ptr<const policy::Facts>& facts() const { return m_facts; }

  // policy::evaluate_timeless_evidence(*policy, env, *facts()), memoized per (policy object,
  // environment name). `env` must be an environment of `policy` and facts() non-null. A policy
  // is told apart by its object, never by its address or contents: each (re)load makes a new one,
  // so a reload with other trusted keys never reuses a memo.
  policy::Reasons timeless_evidence(const std::shared_ptr<const policy::Policy>& policy,
                                    const policy::EnvironmentPolicy& env) const;

  // Number of memos held (at most the cache's max_memos_per_digest).
  std::size_t memos() const;

private:
  struct Memo {
    std::weak_ptr<const policy::Policy> policy;
    std::string environment;
    policy::Reasons reasons;
  };

  std::shared_ptr<const policy::Facts> m_facts;
  std::size_t m_max_memos;
  mutable std::mutex m_mutex;
  mutable std::list<Memo> m_memos; // most recently used first
};

struct FactsCacheLimits {
  // Digests held at most.
  std::size_t max_digests = 1024;
  // The stored bytes of the validation entries merged into the held facts, summed, at most. A
  // digest whose entries alone exceed it is not cached.
  std::size_t max_bytes = 2 * 1024 * 1024;
  // Memos of timeless evidence reasons per digest (policies x environments) at most.
  std::size_t max_memos_per_digest = 8;
};

class FactsCache {
public:
  explicit FactsCache(FactsCacheLimits limits = {});

  // The facts of `digest` as `view` sees them: facts() equals load_facts(view, digest). Never
  // nullptr. Throws what the view throws.
  //
  // `view` must show committed entries, or entries a later failed commit removes only if the
  // caller then calls clear() before any other write can be committed (a writer step's view:
  // call clear() when its commit fails).
  std::shared_ptr<const CachedFacts> get(ledger::View& view, const std::string& digest);

  // Forget everything.
  void clear();

  struct Stats {
    std::uint64_t hits = 0;      // answered from the cache, no query beyond the view's size
    std::uint64_t confirmed = 0; // answered from the cache after finding no newer entries
    std::uint64_t extended = 0;  // newer entries merged onto cached facts
    std::uint64_t loaded = 0;    // loaded from every validation entry of the digest
    std::uint64_t evicted = 0;   // dropped to stay within the limits
    std::size_t digests = 0;     // held now
    std::size_t bytes = 0;       // held now, as counted against max_bytes
  };
  Stats stats() const;

private:
  struct Node {
    std::string digest;
    std::shared_ptr<const CachedFacts> value;
    std::int64_t through = 0; // the ledger size the value was checked against
    std::int64_t newest = 0;  // seq of the newest validation entry merged; 0: none
    std::size_t bytes = 0;
  };
  using Lru = std::list<Node>; // most recently used first

  // Store `node` unless a node of the same digest checked against a newer ledger is held.
  void store(Node node);
  void evict_locked();

  FactsCacheLimits m_limits;
  mutable std::mutex m_mutex;
  Lru m_lru;
  std::unordered_map<std::string, Lru::iterator> m_index;
  std::size_t m_bytes = 0;
  Stats m_stats;
};

} // namespace dg::daemon
