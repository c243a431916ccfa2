#include "policy/glob.hpp"

#include <cstddef>
#include <string>

namespace dg::policy {

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  // Where to resume after the most recent '*': the pattern just past it, and the text position
  // it has been tried to extend to. Backtracking to the last '*' alone suffices because an
  // earlier '*' could only absorb text the last one can absorb as well.
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star_p != std::string_view::npos) {
      p = star_p;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

dg::Result<void> validate_glob(std::string_view pattern) {
  if (pattern.empty()) {
    return make_error(Errc::invalid_argument, "glob pattern is empty");
  }
  if (const std::size_t pos = pattern.find_first_of("[]\\"); pos != std::string_view::npos) {
    return make_error(Errc::invalid_argument,
                      "glob pattern \"" + std::string(pattern) + "\" uses unsupported '" +
                          std::string(1, pattern[pos]) + "' at offset " + std::to_string(pos) +
                          " (only '*' and '?' are special)");
  }
  return {};
}

} // namespace dg::policy
