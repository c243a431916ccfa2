#include "policy/glob.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using dg::Errc;
using dg::policy::glob_match;
using dg::policy::validate_glob;

namespace {

struct Case {
  std::string pattern;
  std::string text;
  bool matches;
};

void check_cases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    INFO("pattern: ", c.pattern, "  text: ", c.text);
    CHECK(glob_match(c.pattern, c.text) == c.matches);
  }
}

// The definition of glob matching, written as directly as possible; exponential, so only for
// short inputs.
bool reference_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) {
    return text.empty();
  }
  if (pattern.front() == '*') {
    for (std::size_t skip = 0; skip <= text.size(); ++skip) {
      if (reference_match(pattern.substr(1), text.substr(skip))) {
        return true;
      }
    }
    return false;
  }
  if (text.empty()) {
    return false;
  }
  if (pattern.front() == '?' || pattern.front() == text.front()) {
    return reference_match(pattern.substr(1), text.substr(1));
  }
  return false;
}

} // namespace

TEST_SUITE_BEGIN("PolicyGlob");

TEST_CASE("Repository globs match across path separators") {
  check_cases({
      {"ghcr.io/acme/*", "ghcr.io/acme/app", true},
      {"ghcr.io/acme/*", "ghcr.io/acme/team/app", true},
      {"ghcr.io/acme/*", "ghcr.io/acme/", true},
      {"ghcr.io/acme/*", "ghcr.io/acme", false},
      {"ghcr.io/acme/*", "ghcr.io/acmex/app", false},
      {"ghcr.io/acme/*", "docker.io/acme/app", false},
      {"ghcr.io/acme/*", "GHCR.io/acme/app", false},
      {"*/app", "ghcr.io/acme/app", true},
      {"*/app", "ghcr.io/acme/app2", false},
      {"ghcr.io/*/app", "ghcr.io/acme/team/app", true},
      {"ghcr.io/*/app", "ghcr.io/acme/web", false},
      {"ghcr.io/acme/app", "ghcr.io/acme/app", true},
      {"ghcr.io/acme/app", "ghcr.io/acme/app2", false},
      {"ghcr.io/acme/app", "ghcr.io/acme/ap", false},
      {"localhost:5000/*", "localhost:5000/x", true},
  });
}

TEST_CASE("Source ref globs") {
  check_cases({
      {"refs/tags/v*", "refs/tags/v1.2.3", true},
      {"refs/tags/v*", "refs/tags/v", true},
      {"refs/tags/v*", "refs/tags/1.0", false},
      {"refs/tags/v*", "refs/heads/v1", false},
      {"refs/tags/v*", "refs/tags", false},
      {"refs/heads/main", "refs/heads/main", true},
      {"refs/heads/main", "refs/heads/main2", false},
      {"refs/heads/release-*", "refs/heads/release-1.x", true},
  });
}

TEST_CASE("Star and question mark semantics") {
  check_cases({
      {"*", "", true},
      {"*", "anything/at/all", true},
      {"**", "abc", true},
      {"", "", true},
      {"", "a", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"v?.?", "v1.2", true},
      {"v?.?", "v10.2", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "abbbc", true},
      {"a*b*c", "acbc", true},
      {"a*b*c", "acb", false},
      {"a*b*c", "abcd", false},
      {"*a", "bbbba", true},
      {"*a", "bbbb", false},
      {"a*", "a", true},
      {"*?", "", false},
      {"*?", "x", true},
      {"*x*", "abxcd", true},
      {"*x*", "abcd", false},
      // Everything except '*' and '?' is literal.
      {"a.b", "aXb", false},
      {"a.b", "a.b", true},
      {"a+b", "aab", false},
      {"a+b", "a+b", true},
      {"^a$", "^a$", true},
  });
}

TEST_CASE("Matching agrees with the recursive definition") {
  // Every pattern over {a, b, *, ?} up to length 5 against every text over {a, b} up to length 6.
  const char k_pattern_alphabet[] = {'a', 'b', '*', '?'};
  const char k_text_alphabet[] = {'a', 'b'};
  std::vector<std::string> patterns = {""};
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (patterns[i].size() < 5) {
      for (char c : k_pattern_alphabet) {
        patterns.push_back(patterns[i] + c);
      }
    }
  }
  std::vector<std::string> texts = {""};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].size() < 6) {
      for (char c : k_text_alphabet) {
        texts.push_back(texts[i] + c);
      }
    }
  }
  std::size_t mismatches = 0;
  for (const auto& pattern : patterns) {
    for (const auto& text : texts) {
      if (glob_match(pattern, text) != reference_match(pattern, text)) {
        ++mismatches;
        INFO("pattern: ", pattern, "  text: ", text);
        CHECK(glob_match(pattern, text) == reference_match(pattern, text));
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("Pathological patterns finish quickly") {
  // Exponential backtracking would not finish for these.
  const std::string text(20000, 'a');
  CHECK_FALSE(glob_match("a*a*a*a*a*a*a*a*a*a*a*a*b", text));
  CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", text));
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*?b", text));
  CHECK(glob_match(std::string(1000, '*') + "a", text));
}

TEST_CASE("validate_glob refuses empty patterns and unsupported syntax") {
  SUBCASE("usable patterns") {
    for (const char* pattern : {"ghcr.io/acme/*", "refs/tags/v*", "*", "?", "a.b+c", "x"}) {
      INFO("pattern: ", pattern);
      CHECK(validate_glob(pattern).ok());
    }
  }
  SUBCASE("empty pattern") {
    const auto result = validate_glob("");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::invalid_argument);
    CHECK(result.error().message == "glob pattern is empty");
  }
  SUBCASE("character classes and escapes") {
    struct Refusal {
      std::string pattern;
      std::string message;
    };
    const std::vector<Refusal> refusals = {
        {"ghcr.io/[ab]*",
         "glob pattern \"ghcr.io/[ab]*\" uses unsupported '[' at offset 8 (only '*' and '?' are "
         "special)"},
        {"a]",
         "glob pattern \"a]\" uses unsupported ']' at offset 1 (only '*' and '?' are special)"},
        {"a\\*",
         "glob pattern \"a\\*\" uses unsupported '\\' at offset 1 (only '*' and '?' are special)"},
        {"[", "glob pattern \"[\" uses unsupported '[' at offset 0 (only '*' and '?' are special)"},
    };
    for (const auto& r : refusals) {
      INFO("pattern: ", r.pattern);
      const auto result = validate_glob(r.pattern);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().code == Errc::invalid_argument);
      CHECK(result.error().message == r.message);
    }
  }
}

TEST_SUITE_END();
