// Gate results from the tools' own output files: vulnerability scanners (trivy and grype JSON,
// SARIF from trivy or any other scanner), SBOM generators (SPDX and CycloneDX JSON, from syft,
// trivy or others) and test reports (JUnit XML). Each reader checks that the file is of its kind,
// refusing another tool's file with a message that says what it looks like, and ignores fields it
// does not use.
//
// All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dg::intake {

enum class ReportKind { trivy, grype, sarif, spdx, cyclonedx, junit };

// "trivy", "grype", "sarif", "spdx", "cyclonedx", "junit".
const char* to_string(ReportKind kind);

// What one report says. Empty strings and nullopt are things the report does not say.
struct GateReport {
  ReportKind kind = ReportKind::trivy;
  std::string tool_name;
  std::string tool_version;
  std::string target;                     // the image reference the tool looked at, as written
  std::optional<std::string> started_at;  // RFC 3339
  std::optional<std::string> finished_at; // RFC 3339
  std::optional<std::string> created_at;  // when the report was written, RFC 3339
  bool has_findings = false;              // a scanner: findings below, possibly all zero
  std::map<std::string, std::int64_t> findings; // lowercase severity -> count
  std::optional<std::string> result;            // "pass" / "fail" when the report decides (tests)
};

// Read `bytes` as a report of `kind`. Fails with Errc::invalid_argument; a file of another known
// kind is named in the message ("this is a grype report, not a trivy report").
Result<GateReport> read_report(ReportKind kind, std::string_view bytes);

// The kind `bytes` looks like, if any.
std::optional<ReportKind> detect_report(std::string_view bytes);

// How a gate of the evidence record is made from a report.
struct GateOptions {
  std::string name;     // the gate's name in the policy, e.g. "vuln-scan"
  std::string subject;  // the subject's digest reference, "name@sha256:<hex>"
  std::string artifact; // the artifact's file name
  std::string artifact_sha256;
  // Overrides, for what the report does not say (or says wrongly).
  std::optional<std::string> tool_name;
  std::optional<std::string> tool_version;
  std::optional<std::string> target;
  std::optional<std::string> started_at;
  std::optional<std::string> finished_at;
  std::optional<std::string> result;
};

// The record's gate object: {"name","tool":{"name","version"},"target","started_at",
// "finished_at","result","findings"?,"artifacts":[{"name","sha256","created_at"}]}. The target
// must be a digest reference to the subject's digest: a report about a tag, or about another
// digest, is refused (the daemon would refuse it as not digest-bound anyway). A report without a
// target (a test report) takes the subject's reference. A scanner's or SBOM generator's result
// is "pass" (the policy judges its findings); a test report's is "fail" when any test failed.
Result<nlohmann::json> make_gate(const GateReport& report, const GateOptions& options);

// A gate for any other tool: no report file to read, everything given.
Result<nlohmann::json> make_generic_gate(const GateOptions& options);

// Reader entry points, used by read_report.
Result<GateReport> read_trivy(const nlohmann::json& doc);
Result<GateReport> read_grype(const nlohmann::json& doc);
Result<GateReport> read_sarif(const nlohmann::json& doc);
Result<GateReport> read_spdx(const nlohmann::json& doc);
Result<GateReport> read_cyclonedx(const nlohmann::json& doc);
Result<GateReport> read_junit(std::string_view xml);

// Helpers shared by the readers.
namespace detail {
std::string string_at(const nlohmann::json& obj, const char* key);
const nlohmann::json* object_at(const nlohmann::json& obj, const char* key);
const nlohmann::json* array_at(const nlohmann::json& obj, const char* key);
// `text` as an RFC 3339 time, or nullopt when it is not one. A time without offset is UTC.
std::optional<std::string> timestamp(std::string text);
// "critical", "high", "medium", "low", "negligible", "unknown" from any case; others lowercased.
std::string severity(std::string text);
// "syft-1.4.1" -> {"syft", "1.4.1"}.
std::pair<std::string, std::string> split_tool(std::string_view creator);
} // namespace detail

} // namespace dg::intake
