// Inputs found by the fuzz targets (fuzz/regressions/) that once crashed or stalled the parsers,
// kept here as specifications of how they are refused.
#include "policy/evidence.hpp"
#include "policy/policy.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace {

using nlohmann::json;

const char* const k_digest =
    "sha256:c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426";

// `levels` arrays nested in one another: "[[...]]".
std::string nested_arrays(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// A record whose Sigstore bundle (a map open by nature) holds `extra`.
std::string record_with_bundle_extra(const std::string& extra) {
  return R"({"subject": {"name": "ghcr.io/acme/app", "digest": ")" + std::string(k_digest) +
         R"("}, "bundles": [{"bundle": {"extra": )" + extra + "}}]}";
}

// A policy whose environments e0 .. e<n-1> each come after the previous one; with `loop`, e0
// comes after the last.
std::string stage_chain(int n, bool loop) {
  std::string text = R"({"environments": {"e0": {)";
  if (loop) {
    text += R"("after": ["e)" + std::to_string(n - 1) + R"("])";
  }
  text += "}";
  for (int i = 1; i < n; ++i) {
    text +=
        R"(, "e)" + std::to_string(i) + R"(": {"after": ["e)" + std::to_string(i - 1) + R"("]})";
  }
  return text + "}}";
}

} // namespace

TEST_SUITE_BEGIN("hostile inputs");

TEST_CASE("Timestamps past what nanoseconds in 64 bits hold are refused, not overflowed") {
  SUBCASE("The last representable second parses") {
    auto t = dg::parse_rfc3339("2262-04-11T23:47:16Z");
    REQUIRE(t);
    CHECK(*t == 9223372036000000000LL);
  }
  SUBCASE("The first representable second parses") {
    auto t = dg::parse_rfc3339("1677-09-21T00:12:44Z");
    REQUIRE(t);
    CHECK(*t == -9223372036000000000LL);
  }
  SUBCASE("Later years are refused") {
    for (const char* text : {"2262-04-11T23:47:17Z", "4052-11-20T10:05:40Z",
                             "9999-12-31T23:59:59.999999999Z", "2262-04-12T00:00:00+00:00"}) {
      CAPTURE(text);
      auto t = dg::parse_rfc3339(text);
      REQUIRE_FALSE(t);
      CHECK(t.error().code == dg::Errc::invalid_argument);
      CHECK(t.error().message.find("out of range") != std::string::npos);
    }
  }
  SUBCASE("Earlier years are refused") {
    for (const char* text : {"0000-01-01T00:00:00Z", "1677-09-21T00:12:43Z"}) {
      CAPTURE(text);
      CHECK_FALSE(dg::parse_rfc3339(text));
    }
  }
  SUBCASE("An offset that brings a time back into range is honoured") {
    auto t = dg::parse_rfc3339("2262-04-12T00:00:00+01:00");
    REQUIRE(t);
    CHECK(*t == 9223369200000000000LL);
  }
}

TEST_CASE("A record is refused, not copied, when it nests deeper than the limit") {
  SUBCASE("20000 nested arrays in an open field are refused with the reason") {
    auto record =
        dg::policy::parse_record(json::parse(record_with_bundle_extra(nested_arrays(20000))));
    REQUIRE_FALSE(record);
    CHECK(record.error().code == dg::Errc::invalid_argument);
    CHECK(record.error().message.find("deeper than 64 levels") != std::string::npos);
  }
  SUBCASE("A record exactly at the limit is accepted") {
    // The record, "bundles", its item and "bundle" are four levels.
    std::size_t arrays = dg::policy::k_max_record_depth - 4;
    auto record =
        dg::policy::parse_record(json::parse(record_with_bundle_extra(nested_arrays(arrays))));
    CHECK(record);
    auto deeper =
        dg::policy::parse_record(json::parse(record_with_bundle_extra(nested_arrays(arrays + 1))));
    CHECK_FALSE(deeper);
  }
}

TEST_CASE("Long stage orders are checked without recursion or quadratic time") {
  SUBCASE("A chain of 20000 environments parses") {
    auto policy = dg::policy::parse_policy(stage_chain(20000, false));
    REQUIRE(policy);
    CHECK(policy->environments.size() == 20000);
  }
  SUBCASE("A loop through 20000 environments is found and named") {
    auto policy = dg::policy::parse_policy(stage_chain(20000, true));
    REQUIRE_FALSE(policy);
    CHECK(policy.error().message.find("the stage order loops: ") != std::string::npos);
    CHECK(policy.error().message.find("e19999 -> ") != std::string::npos);
  }
  SUBCASE("A loop among later environments is found past an acyclic start") {
    auto policy = dg::policy::parse_policy(
        R"({"environments": {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b", "d"]},
                             "d": {"after": ["c"]}}})");
    REQUIRE_FALSE(policy);
    CHECK(policy.error().message.find("the stage order loops: c -> d -> c") != std::string::npos);
  }
  SUBCASE("Diamonds are no loops") {
    auto policy = dg::policy::parse_policy(
        R"({"environments": {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["a"]},
                             "d": {"after": ["b", "c"]}}})");
    CHECK(policy);
  }
}

TEST_SUITE_END();
