// Values computed from a read snapshot of the ledger, remembered for as long as the ledger has the
// size that snapshot had. The ledger is append-only and a committed entry never changes, so the
// answers of a snapshot of size S hold for every later snapshot of size S; once the ledger grows,
// everything remembered is dropped. Lets a repeated read skip its read transaction entirely.
//
// Bounded: at most `max_entries` values and `max_bytes` bytes (each value's size as its caller
// counts it, plus its key's); a value over `max_entry_bytes` is never stored, and when a new value
// does not fit, everything is dropped before it is stored.
//
// Thread-safety: every member function may be called from any thread, concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace dg::daemon {

template <typename T>
class SnapshotMemo {
public:
  SnapshotMemo(std::size_t max_entries, std::size_t max_bytes, std::size_t max_entry_bytes)
      : m_max_entries(max_entries), m_max_bytes(max_bytes), m_max_entry_bytes(max_entry_bytes) {}

  // The value stored under `key` from a snapshot of `ledger_size` entries; nullptr if none.
  std::shared_ptr<const T> find(std::int64_t ledger_size, const std::string& key) const {
    std::lock_guard lock(m_mutex);
    if (ledger_size != m_ledger_size) {
      return nullptr;
    }
    auto it = m_values.find(key);
    return it == m_values.end() ? nullptr : it->second.first;
  }

  // Remember `value` of `bytes` bytes, computed from a snapshot of `ledger_size` entries. A value
  // of an older snapshot than the newest stored is ignored; a newer one drops every older value.
  void store(std::int64_t ledger_size,
             const std::string& key,
             std::shared_ptr<const T> value,
             std::size_t bytes) {
    const std::size_t cost = key.size() + bytes;
    if (cost > m_max_entry_bytes || cost > m_max_bytes || m_max_entries == 0) {
      return;
    }
    std::lock_guard lock(m_mutex);
    if (ledger_size < m_ledger_size) {
      return;
    }
    if (ledger_size > m_ledger_size) {
      clear_locked();
      m_ledger_size = ledger_size;
    }
    if (auto it = m_values.find(key); it != m_values.end()) {
      m_bytes -= it->second.second;
      m_values.erase(it);
    }
    if (m_values.size() >= m_max_entries || m_bytes + cost > m_max_bytes) {
      clear_locked();
    }
    m_values.emplace(key, std::make_pair(std::move(value), cost));
    m_bytes += cost;
  }

  void clear() {
    std::lock_guard lock(m_mutex);
    clear_locked();
  }

  // Values held, and their bytes as counted against max_bytes.
  std::size_t size() const {
    std::lock_guard lock(m_mutex);
    return m_values.size();
  }
  std::size_t bytes() const {
    std::lock_guard lock(m_mutex);
    return m_bytes;
  }

private:
  void clear_locked() {
    m_values.clear();
    m_bytes = 0;
  }

  std::size_t m_max_entries;
  std::size_t m_max_bytes;
  std::size_t m_max_entry_bytes;
  mutable std::mutex m_mutex;
  std::int64_t m_ledger_size = -1;
  std::size_t m_bytes = 0;
  std::unordered_map<std::string, std::pair<std::shared_ptr<const T>, std::size_t>> m_values;
};

} // namespace dg::daemon
