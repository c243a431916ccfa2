// Image references and globs. The input is a reference for parse_reference and
// normalize_repository; for the globs, its first line is the pattern and the rest the text.
#include "fuzz/fixtures.hpp"

#include "policy/glob.hpp"
#include "policy/reference.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using dg::policy::glob_match;
using dg::policy::normalize_repository;
using dg::policy::parse_reference;
using dg::policy::Reference;

std::string canonical(const Reference& ref) {
  std::string text = ref.name();
  if (!ref.tag.empty()) {
    text += ":" + ref.tag;
  }
  if (!ref.digest.empty()) {
    text += "@" + ref.digest;
  }
  return text;
}

// A parsed reference is normalized: printing and parsing it again changes nothing.
void check_reference(const Reference& ref) {
  DG_FUZZ_CHECK(!ref.domain.empty() && !ref.path.empty(), "a reference has a domain and a path");
  DG_FUZZ_CHECK(ref.is_mutable() == ref.digest.empty(), "mutable means without digest");

  auto again = parse_reference(canonical(ref));
  DG_FUZZ_CHECK(again.ok(), "the canonical form of a reference parses");
  DG_FUZZ_CHECK(again->domain == ref.domain && again->path == ref.path && again->tag == ref.tag &&
                    again->digest == ref.digest,
                "parsing the canonical form of a reference gives it back");

  auto name = normalize_repository(ref.name());
  DG_FUZZ_CHECK(name.ok() && *name == ref.name(), "a reference's name is a normalized repository");

  if (ref.digest.empty()) {
    DG_FUZZ_CHECK(ref.digest_algorithm().empty(), "no digest, no algorithm");
    DG_FUZZ_CHECK(ref.familiar_tag() == (ref.tag.empty() ? "latest" : ref.tag),
                  "a reference without digest means its tag, or latest");
    return;
  }
  DG_FUZZ_CHECK(ref.familiar_tag() == ref.tag, "a digest reference has no implied tag");
  std::string algorithm = ref.digest_algorithm();
  DG_FUZZ_CHECK(ref.digest.compare(0, algorithm.size() + 1, algorithm + ":") == 0,
                "the algorithm is the digest's prefix");
  if (algorithm == "sha256") {
    DG_FUZZ_CHECK(dg::policy::is_sha256_digest(ref.digest),
                  "an accepted sha256 digest is 64 lowercase hex characters");
  }
  auto pinned = parse_reference(ref.pinned());
  DG_FUZZ_CHECK(pinned.ok() && pinned->name() == ref.name() && pinned->digest == ref.digest &&
                    pinned->tag.empty(),
                "the pinned form parses to the same name and digest");
}

void check_globs(std::string_view pattern, std::string_view text) {
  bool valid = dg::policy::validate_glob(pattern).ok();
  DG_FUZZ_CHECK(valid == (!pattern.empty() && pattern.find_first_of("[]\\") == pattern.npos),
                "validate_glob refuses exactly the empty pattern and '[', ']', '\\'");

  bool matches = glob_match(pattern, text);
  DG_FUZZ_CHECK(glob_match(pattern, pattern), "every pattern matches its own text");
  DG_FUZZ_CHECK(glob_match("*", text), "'*' matches everything");
  if (pattern.find_first_of("*?") == pattern.npos) {
    DG_FUZZ_CHECK(matches == (pattern == text), "a pattern without wildcards matches only itself");
  }
  if (matches) {
    DG_FUZZ_CHECK(glob_match("*" + std::string(pattern) + "*", "<" + std::string(text) + ">"),
                  "a match stays a match inside '*' on both sides");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto ref = parse_reference(input)) {
    check_reference(*ref);
  }
  if (auto name = normalize_repository(input)) {
    auto again = normalize_repository(*name);
    DG_FUZZ_CHECK(again.ok() && *again == *name, "normalize_repository is idempotent");
    auto ref = parse_reference(*name);
    DG_FUZZ_CHECK(ref.ok() && ref->name() == *name && ref->tag.empty() && ref->digest.empty(),
                  "a normalized repository parses as a reference to itself");
  }

  auto newline = input.find('\n');
  std::string_view pattern = input.substr(0, newline);
  std::string_view text = newline == input.npos ? std::string_view() : input.substr(newline + 1);
  check_globs(pattern, text);
  return 0;
}
