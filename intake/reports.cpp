#include "intake/reports.hpp"

#include "policy/reference.hpp"
#include "util/time.hpp"

#include <algorithm>
#include <cctype>

namespace dg::intake {

using nlohmann::json;

namespace detail {

std::string string_at(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return {};
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* object_at(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return nullptr;
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? &*it : nullptr;
}

const json* array_at(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return nullptr;
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? &*it : nullptr;
}

std::optional<std::string> timestamp(std::string text) {
  if (text.empty()) {
    return std::nullopt;
  }
  bool has_offset = text.back() == 'Z' || text.back() == 'z' ||
                    (text.size() > 19 && text.find_first_of("+-", 19) != std::string::npos);
  if (text.size() >= 19 && text[10] == 'T' && !has_offset) {
    text += 'Z'; // JUnit and some SPDX writers leave the offset out; they mean UTC
  }
  if (!parse_rfc3339(text)) {
    return std::nullopt;
  }
  return text;
}

std::string severity(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.empty() ? std::string("unknown") : text;
}

std::pair<std::string, std::string> split_tool(std::string_view creator) {
  auto dash = creator.rfind('-');
  bool versioned = dash != std::string_view::npos && dash + 1 < creator.size() &&
                   (std::isdigit(static_cast<unsigned char>(creator[dash + 1])) != 0 ||
                    creator[dash + 1] == 'v');
  if (!versioned) {
    return {std::string(creator), {}};
  }
  return {std::string(creator.substr(0, dash)), std::string(creator.substr(dash + 1))};
}

} // namespace detail

namespace {

using detail::array_at;
using detail::object_at;
using detail::string_at;

Error bad(ReportKind kind, const std::string& message) {
  return make_error(Errc::invalid_argument, std::string(to_string(kind)) + " report: " + message);
}

} // namespace

const char* to_string(ReportKind kind) {
  switch (kind) {
  case ReportKind::trivy:
    return "trivy";
  case ReportKind::grype:
    return "grype";
  case ReportKind::sarif:
    return "sarif";
  case ReportKind::spdx:
    return "spdx";
  case ReportKind::cyclonedx:
    return "cyclonedx";
  case ReportKind::junit:
    return "junit";
  }
  return "unknown";
}

std::optional<ReportKind> detect_report(std::string_view bytes) {
  auto first = bytes.find_first_not_of(" \t\r\n\xef\xbb\xbf");
  if (first != std::string_view::npos && bytes[first] == '<') {
    return bytes.find("<testsuite") != std::string_view::npos
               ? std::optional<ReportKind>(ReportKind::junit)
               : std::nullopt;
  }
  json doc = json::parse(bytes, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::nullopt;
  }
  if (doc.contains("SchemaVersion") && doc.contains("ArtifactName")) {
    return ReportKind::trivy;
  }
  if (const json* descriptor = object_at(doc, "descriptor");
      descriptor != nullptr && doc.contains("matches")) {
    return ReportKind::grype;
  }
  if (doc.contains("runs") && (doc.contains("$schema") || doc.contains("version")) &&
      (string_at(doc, "$schema").find("sarif") != std::string::npos ||
       string_at(doc, "version") == "2.1.0")) {
    return ReportKind::sarif;
  }
  if (string_at(doc, "spdxVersion").rfind("SPDX-", 0) == 0) {
    return ReportKind::spdx;
  }
  if (string_at(doc, "bomFormat") == "CycloneDX") {
    return ReportKind::cyclonedx;
  }
  return std::nullopt;
}

Result<GateReport> read_report(ReportKind kind, std::string_view bytes) {
  auto looks_like = detect_report(bytes);
  if (looks_like && *looks_like != kind) {
    return bad(kind, std::string("this is a ") + to_string(*looks_like) + " report, not a " +
                         to_string(kind) + " report");
  }
  if (kind == ReportKind::junit) {
    return read_junit(bytes);
  }
  json doc = json::parse(bytes, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad(kind, "not a JSON object");
  }
  if (!looks_like) {
    return bad(kind, "not a report of this kind (its identifying fields are missing)");
  }
  switch (kind) {
  case ReportKind::trivy:
    return read_trivy(doc);
  case ReportKind::grype:
    return read_grype(doc);
  case ReportKind::sarif:
    return read_sarif(doc);
  case ReportKind::spdx:
    return read_spdx(doc);
  case ReportKind::cyclonedx:
    return read_cyclonedx(doc);
  case ReportKind::junit:
    break;
  }
  return bad(kind, "unsupported");
}

Result<GateReport> read_trivy(const json& doc) {
  GateReport out;
  out.kind = ReportKind::trivy;
  out.tool_name = "trivy";
  if (const json* trivy = object_at(doc, "Trivy")) {
    out.tool_version = string_at(*trivy, "Version");
  }
  out.target = string_at(doc, "ArtifactName");
  out.created_at = detail::timestamp(string_at(doc, "CreatedAt"));
  out.started_at = out.created_at;
  out.finished_at = out.created_at;
  out.has_findings = true;
  if (const json* results = array_at(doc, "Results")) {
    for (const json& result : *results) {
      if (const json* vulns = array_at(result, "Vulnerabilities")) {
        for (const json& v : *vulns) {
          ++out.findings[detail::severity(string_at(v, "Severity"))];
        }
      }
    }
  }
  return out;
}

Result<GateReport> read_grype(const json& doc) {
  const json& descriptor = *object_at(doc, "descriptor");
  if (string_at(descriptor, "name") != "grype") {
    return bad(ReportKind::grype,
               "descriptor.name is '" + string_at(descriptor, "name") + "', not grype");
  }
  GateReport out;
  out.kind = ReportKind::grype;
  out.tool_name = "grype";
  out.tool_version = string_at(descriptor, "version");
  out.created_at = detail::timestamp(string_at(descriptor, "timestamp"));
  out.started_at = out.created_at;
  out.finished_at = out.created_at;
  if (const json* source = object_at(doc, "source")) {
    if (const json* target = object_at(*source, "target")) {
      out.target = string_at(*target, "userInput");
    }
  }
  out.has_findings = true;
  if (const json* matches = array_at(doc, "matches")) {
    for (const json& m : *matches) {
      if (const json* vuln = object_at(m, "vulnerability")) {
        ++out.findings[detail::severity(string_at(*vuln, "severity"))];
      }
    }
  }
  return out;
}

namespace {

// A SARIF result's severity: a severity word among its rule's tags (trivy writes them), else the
// rule's CVSS "security-severity" score, else the result's level.
std::string sarif_severity(const json& result, const std::map<std::string, const json*>& rules) {
  const json* rule = nullptr;
  if (auto it = rules.find(string_at(result, "ruleId")); it != rules.end()) {
    rule = it->second;
  }
  if (rule != nullptr) {
    if (const json* props = object_at(*rule, "properties")) {
      if (const json* tags = array_at(*props, "tags")) {
        for (const json& tag : *tags) {
          std::string word = tag.is_string() ? detail::severity(tag.get<std::string>()) : "";
          if (word == "critical" || word == "high" || word == "medium" || word == "low") {
            return word;
          }
        }
      }
      std::string score = string_at(*props, "security-severity");
      if (!score.empty()) {
        double s = std::strtod(score.c_str(), nullptr);
        return s >= 9.0 ? "critical" : s >= 7.0 ? "high" : s >= 4.0 ? "medium" : "low";
      }
    }
  }
  std::string level = string_at(result, "level");
  if (level == "error") {
    return "high";
  }
  if (level == "note") {
    return "low";
  }
  if (level == "none") {
    return "";
  }
  return "medium"; // SARIF's default level is "warning"
}

} // namespace

Result<GateReport> read_sarif(const json& doc) {
  const json* runs = array_at(doc, "runs");
  if (runs == nullptr || runs->empty() || !(*runs)[0].is_object()) {
    return bad(ReportKind::sarif, "no runs");
  }
  const json& run = (*runs)[0];
  GateReport out;
  out.kind = ReportKind::sarif;
  const json* driver = nullptr;
  if (const json* tool = object_at(run, "tool")) {
    driver = object_at(*tool, "driver");
  }
  if (driver == nullptr) {
    return bad(ReportKind::sarif, "runs[0].tool.driver is missing");
  }
  std::string name = string_at(*driver, "name");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  out.tool_name = name;
  out.tool_version = string_at(*driver, "semanticVersion");
  if (out.tool_version.empty()) {
    out.tool_version = string_at(*driver, "version");
  }
  if (const json* props = object_at(run, "properties")) {
    out.target = string_at(*props, "imageName");
  }
  if (const json* invocations = array_at(run, "invocations");
      invocations != nullptr && !invocations->empty()) {
    out.started_at = detail::timestamp(string_at((*invocations)[0], "startTimeUtc"));
    out.finished_at = detail::timestamp(string_at((*invocations)[0], "endTimeUtc"));
  }
  std::map<std::string, const json*> rules;
  if (const json* all = array_at(*driver, "rules")) {
    for (const json& rule : *all) {
      rules[string_at(rule, "id")] = &rule;
    }
  }
  out.has_findings = true;
  for (const json& r : *runs) {
    if (const json* results = array_at(r, "results")) {
      for (const json& result : *results) {
        if (std::string s = sarif_severity(result, rules); !s.empty()) {
          ++out.findings[s];
        }
      }
    }
  }
  return out;
}

namespace {

std::string pick(const std::optional<std::string>& override_value, const std::string& value) {
  return override_value ? *override_value : value;
}

// The subject's digest must be what `target` pins.
Result<void>
check_target(const std::string& target, const std::string& subject, const std::string& label) {
  auto ref = policy::parse_reference(target);
  auto want = policy::parse_reference(subject);
  if (!want || want->digest.empty()) {
    return make_error(Errc::invalid_argument,
                      "the subject '" + subject + "' is not a digest reference");
  }
  if (!ref) {
    return make_error(Errc::invalid_argument,
                      label + ": its target '" + target + "' is not an image reference");
  }
  if (ref->digest.empty()) {
    return make_error(Errc::invalid_argument,
                      label + " is about '" + target + "', a tag, not the digest: run it on " +
                          want->pinned() + " so the result is bound to what is promoted");
  }
  if (ref->digest != want->digest) {
    return make_error(Errc::invalid_argument,
                      label + " is about " + ref->digest + ", not " + want->digest);
  }
  return {};
}

} // namespace

namespace {

// `label` names the source in messages: "the trivy report", "the gate".
Result<json> build_gate(const GateReport& report,
                        const GateOptions& options,
                        const std::string& label,
                        bool may_default_target) {
  std::string target = pick(options.target, report.target);
  if (target.empty()) {
    if (!may_default_target) {
      return make_error(Errc::invalid_argument,
                        label + " does not name the image it looked at; pass --target");
    }
    target = options.subject;
  }
  DG_TRY(check_target(target, options.subject, label));
  json gate = {{"name", options.name}};
  std::string tool_name = pick(options.tool_name, report.tool_name);
  std::string tool_version = pick(options.tool_version, report.tool_version);
  if (tool_name.empty() || tool_version.empty()) {
    return make_error(Errc::invalid_argument,
                      label + " does not say which tool (and version) made it; pass "
                              "--tool NAME --tool-version VERSION");
  }
  gate["tool"] = {{"name", tool_name}, {"version", tool_version}};
  gate["target"] = target;
  auto started = options.started_at ? options.started_at : report.started_at;
  auto finished = options.finished_at ? options.finished_at : report.finished_at;
  if (!started || !finished) {
    return make_error(Errc::invalid_argument,
                      label + " does not say when it ran; pass --started and --finished");
  }
  gate["started_at"] = *started;
  gate["finished_at"] = *finished;
  gate["result"] = options.result ? *options.result : report.result.value_or("pass");
  if (report.has_findings) {
    json findings = json::object();
    for (const char* s : {"critical", "high", "medium", "low"}) {
      findings[s] = 0;
    }
    for (const auto& [severity, count] : report.findings) {
      findings[severity] = count;
    }
    gate["findings"] = findings;
  }
  auto created = report.created_at ? report.created_at : finished;
  if (!options.artifact.empty()) {
    gate["artifacts"] = json::array({{{"name", options.artifact},
                                      {"sha256", options.artifact_sha256},
                                      {"created_at", *created}}});
  }
  return gate;
}

} // namespace

Result<json> make_gate(const GateReport& report, const GateOptions& options) {
  return build_gate(report, options, std::string("the ") + to_string(report.kind) + " report",
                    report.kind == ReportKind::junit);
}

Result<json> make_generic_gate(const GateOptions& options) {
  if (!options.result) {
    return make_error(Errc::invalid_argument, "a gate without a report needs --result pass|fail");
  }
  GateReport report; // says nothing: everything comes from the options
  report.result = options.result;
  return build_gate(report, options, "the gate", true);
}

} // namespace dg::intake
