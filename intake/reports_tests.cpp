// Test reports: JUnit XML, as most test runners write it.
#include "intake/reports.hpp"

#include "util/time.hpp"

#include <cmath>
#include <pugixml.hpp>

namespace dg::intake {

namespace {

Error bad(const std::string& message) {
  return make_error(Errc::invalid_argument, "junit report: " + message);
}

struct Totals {
  long tests = 0;
  long failures = 0;
  long errors = 0;
  double seconds = 0;
  std::string timestamp;
};

void add_suite(Totals& totals, const pugi::xml_node& suite) {
  totals.tests += suite.attribute("tests").as_llong();
  totals.failures += suite.attribute("failures").as_llong();
  totals.errors += suite.attribute("errors").as_llong();
  totals.seconds += suite.attribute("time").as_double();
  std::string ts = suite.attribute("timestamp").as_string();
  if (!ts.empty() && (totals.timestamp.empty() || ts < totals.timestamp)) {
    totals.timestamp = ts;
  }
  // Some runners leave the counts out: count the failed cases themselves.
  if (suite.attribute("failures").empty() && suite.attribute("errors").empty()) {
    for (const pugi::xml_node& c : suite.children("testcase")) {
      totals.tests += suite.attribute("tests").empty() ? 1 : 0;
      if (c.child("failure") || c.child("error")) {
        ++totals.failures;
      }
    }
  }
}

} // namespace

Result<GateReport> read_junit(std::string_view xml) {
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return bad(std::string("not XML: ") + parsed.description());
  }
  pugi::xml_node root = doc.document_element();
  std::string root_name = root.name();
  Totals totals;
  if (root_name == "testsuites") {
    for (const pugi::xml_node& suite : root.children("testsuite")) {
      add_suite(totals, suite);
    }
  } else if (root_name == "testsuite") {
    add_suite(totals, root);
  } else {
    return bad("the root element is <" + root_name + ">, not <testsuites> or <testsuite>");
  }
  GateReport out;
  out.kind = ReportKind::junit;
  out.result = totals.failures + totals.errors > 0 ? "fail" : "pass";
  if (auto started = detail::timestamp(totals.timestamp)) {
    out.started_at = started;
    auto start_ns = parse_rfc3339(*started);
    if (start_ns && std::isfinite(totals.seconds) && totals.seconds >= 0 && totals.seconds < 1e9) {
      out.finished_at = format_rfc3339(*start_ns + static_cast<TimeNs>(totals.seconds * 1e9));
    }
    out.created_at = out.finished_at;
  }
  return out;
}

} // namespace dg::intake
