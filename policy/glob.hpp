// Shell-style globs over repository names and source refs, e.g. "ghcr.io/acme/*", "refs/tags/v*".
//
// Only '*' and '?' are special; character classes and escapes are refused by validate_glob so
// that a pattern never means something other than what it appears to say. Matching works on
// bytes. All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <string_view>

namespace dg::policy {

// True when `pattern` matches all of `text`: '*' matches any run of characters (including '/'
// and the empty run), '?' exactly one character, every other character itself. Runs in
// O(|pattern| * |text|) at worst, without recursion.
bool glob_match(std::string_view pattern, std::string_view text);

// Succeeds when `pattern` is usable with glob_match. Fails with Errc::invalid_argument naming the
// problem for an empty pattern or one containing '[', ']' or '\', which are unsupported syntax.
dg::Result<void> validate_glob(std::string_view pattern);

} // namespace dg::policy
