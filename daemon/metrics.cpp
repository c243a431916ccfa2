#include "daemon/metrics.hpp"

#include <cstdio>
#include <set>

namespace dg::daemon {

namespace {
const std::string k_other_method = "other";

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
} // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : m_bounds(std::move(bounds)), m_counts(m_bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::lock_guard lock(m_mutex);
  std::size_t i = 0;
  while (i < m_bounds.size() && value > m_bounds[i]) {
    ++i;
  }
  ++m_counts[i];
  m_sum += value;
  ++m_count;
}

std::string Histogram::render(const std::string& name) const {
  std::lock_guard lock(m_mutex);
  std::string out;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < m_bounds.size(); ++i) {
    cumulative += m_counts[i];
    out +=
        name + "_bucket{le=\"" + number(m_bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(m_count) + "\n";
  out += name + "_sum " + number(m_sum) + "\n";
  out += name + "_count " + std::to_string(m_count) + "\n";
  return out;
}

Metrics::Metrics()
    : m_append_seconds({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      m_batch_size({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}),
      m_admission_seconds(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}) {}

void Metrics::request(const std::string& route, const std::string& method, int status) {
  // The method is the client's choice: any other token would make a new series, so the label set
  // (and the daemon's memory) would grow without bound.
  static const std::set<std::string> k_methods = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                                  "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  const std::string& label = k_methods.count(method) != 0 ? method : k_other_method;
  std::string key = "route=\"" + escape_label(route) + "\",method=\"" + escape_label(label) +
                    "\",status=\"" + std::to_string(status) + "\"";
  std::lock_guard lock(m_mutex);
  ++m_requests[key];
}

void Metrics::decision(const std::string& kind, const std::string& outcome) {
  std::string key = "kind=\"" + escape_label(kind) + "\",outcome=\"" + escape_label(outcome) + "\"";
  std::lock_guard lock(m_mutex);
  ++m_decisions[key];
}

void Metrics::reason(const std::string& code) {
  std::lock_guard lock(m_mutex);
  ++m_reasons["reason=\"" + escape_label(code) + "\""];
}

void Metrics::rejected(const std::string& why) {
  std::lock_guard lock(m_mutex);
  ++m_rejected["reason=\"" + escape_label(why) + "\""];
}

void Metrics::admission(const std::string& environment, bool allowed, double seconds) {
  std::string key = "environment=\"" + escape_label(environment) + "\",allowed=\"" +
                    (allowed ? "true" : "false") + "\"";
  {
    std::lock_guard lock(m_mutex);
    ++m_admissions[key];
  }
  m_admission_seconds.observe(seconds);
}

void Metrics::admission_reason(const std::string& environment, const std::string& code) {
  std::string key =
      "environment=\"" + escape_label(environment) + "\",reason=\"" + escape_label(code) + "\"";
  std::lock_guard lock(m_mutex);
  ++m_admission_reasons[key];
}

void Metrics::commit(std::size_t batch, double seconds) {
  m_append_seconds.observe(seconds);
  m_batch_size.observe(static_cast<double>(batch));
}

std::string Metrics::render() const {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help,
                    const std::map<std::string, std::uint64_t>& values) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
    for (const auto& [labels, v] : values) {
      out += std::string(name) + "{" + labels + "} " + std::to_string(v) + "\n";
    }
  };
  {
    std::lock_guard lock(m_mutex);
    family("digestgate_http_requests_total", "counter",
           "HTTP requests by route, method and status.", m_requests);
    family("digestgate_decisions_total", "counter",
           "Promotion and rollback decisions by kind and outcome.", m_decisions);
    family("digestgate_decision_reasons_total", "counter",
           "Reasons given in refusals (and overridden by break glass), by reason code.", m_reasons);
    family("digestgate_connections_rejected_total", "counter",
           "Connections or requests cut off by a limit, by limit.", m_rejected);
    family("digestgate_admission_reviews_total", "counter",
           "Kubernetes admission reviews answered, by environment and verdict.", m_admissions);
    family("digestgate_admission_refusals_total", "counter",
           "Reason codes given to refused images in admission reviews, by environment and reason.",
           m_admission_reasons);
  }
  out += "# HELP digestgate_ledger_entries Entries in the ledger.\n"
         "# TYPE digestgate_ledger_entries gauge\n"
         "digestgate_ledger_entries " +
         std::to_string(m_ledger_entries.load()) + "\n";
  out += "# HELP digestgate_checkpoint_size Tree size of the newest signed checkpoint.\n"
         "# TYPE digestgate_checkpoint_size gauge\n"
         "digestgate_checkpoint_size " +
         std::to_string(m_checkpoint_size.load()) + "\n";
  out += "# HELP digestgate_observation_drift Observations that found a current digest vanished "
         "from a registry or its platforms changed.\n"
         "# TYPE digestgate_observation_drift counter\n"
         "digestgate_observation_drift " +
         std::to_string(m_observation_drift.load()) + "\n";
  out += "# HELP digestgate_open_connections Open client connections.\n"
         "# TYPE digestgate_open_connections gauge\n"
         "digestgate_open_connections " +
         std::to_string(m_connections.load()) + "\n";
  out += "# HELP digestgate_ledger_append_seconds Time to commit a batch of ledger appends "
         "durably.\n# TYPE digestgate_ledger_append_seconds histogram\n";
  out += m_append_seconds.render("digestgate_ledger_append_seconds");
  out += "# HELP digestgate_ledger_commit_batch_size Entries appended per durable commit.\n"
         "# TYPE digestgate_ledger_commit_batch_size histogram\n";
  out += m_batch_size.render("digestgate_ledger_commit_batch_size");
  out += "# HELP digestgate_admission_seconds Time to answer an admission review, from the parsed "
         "request to the answer.\n# TYPE digestgate_admission_seconds histogram\n";
  out += m_admission_seconds.render("digestgate_admission_seconds");
  return out;
}

} // namespace dg::daemon
