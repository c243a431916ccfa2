// Prometheus metrics in the text exposition format (version 0.0.4). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dg::daemon {

class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Lines for `name` (with _bucket, _sum, _count).
  std::string render(const std::string& name) const;

private:
  std::vector<double> m_bounds;
  mutable std::mutex m_mutex;
  std::vector<std::uint64_t> m_counts; // per bucket, not cumulative
  double m_sum = 0;
  std::uint64_t m_count = 0;
};

class Metrics {
public:
  Metrics();

  void request(const std::string& route, const std::string& method, int status);
  void decision(const std::string& kind, const std::string& outcome);
  void reason(const std::string& code);
  void commit(std::size_t batch, double seconds);
  void ledger_size(std::int64_t entries) { m_ledger_entries = entries; }
  void checkpoint_size(std::int64_t size) { m_checkpoint_size = size; }
  void connection_opened() { ++m_connections; }
  void connection_closed() { --m_connections; }
  void rejected(const std::string& why);
  // One admission review answered for `environment` (a name the policy defines, or "unknown"),
  // and the time it took.
  void admission(const std::string& environment, bool allowed, double seconds);
  // A reason code given to one refused image of an admission review.
  void admission_reason(const std::string& environment, const std::string& code);
  // A current digest found drifted by a periodic observation.
  void observation_drift() { ++m_observation_drift; }

  std::string render() const;

private:
  mutable std::mutex m_mutex;
  std::map<std::string, std::uint64_t> m_requests; // label set -> count
  std::map<std::string, std::uint64_t> m_decisions;
  std::map<std::string, std::uint64_t> m_reasons;
  std::map<std::string, std::uint64_t> m_rejected;
  std::map<std::string, std::uint64_t> m_admissions;
  std::map<std::string, std::uint64_t> m_admission_reasons;
  std::atomic<std::int64_t> m_ledger_entries{0};
  std::atomic<std::int64_t> m_checkpoint_size{0};
  std::atomic<std::int64_t> m_connections{0};
  std::atomic<std::uint64_t> m_observation_drift{0};
  Histogram m_append_seconds;
  Histogram m_batch_size;
  Histogram m_admission_seconds;
};

// Escape a label value for the exposition format.
std::string escape_label(const std::string& value);

} // namespace dg::daemon
