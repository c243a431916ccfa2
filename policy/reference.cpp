#include "policy/reference.hpp"

#include <cassert>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dg::policy {

namespace {

constexpr std::string_view k_default_domain = "docker.io";
constexpr std::string_view k_legacy_default_domain = "index.docker.io";
constexpr std::string_view k_official_repo_prefix = "library/";
// distribution/reference's RepositoryNameTotalLengthMax, which it applies to the path alone (after
// normalization), not to the domain nor to the tag.
constexpr std::size_t k_path_length_max = 255;
constexpr std::size_t k_tag_length_max = 128;
// Longest slice of user input quoted in an error message: a 255-character name with the longest
// tag and a sha512 digest, so that only input far out of bounds is cut.
constexpr std::size_t k_quote_length_max = 255 + 1 + k_tag_length_max + 1 + 7 + 128;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_lower_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

// \w in the tag grammar.
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}

bool is_lower_hex_of_length(std::string_view s, std::size_t length) {
  if (s.size() != length) {
    return false;
  }
  for (char c : s) {
    if (!is_lower_hex(c)) {
      return false;
    }
  }
  return true;
}

// `s` in double quotes, safe to embed in a message: control and non-ASCII bytes become \xNN, and
// long input is cut so that a hostile reference cannot bloat logs and responses.
std::string quote(std::string_view s) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out = "\"";
  const bool cut = s.size() > k_quote_length_max;
  if (cut) {
    s = s.substr(0, k_quote_length_max);
  }
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += k_digits[u >> 4];
      out += k_digits[u & 0xf];
    } else {
      out += c;
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

dg::Error invalid(std::string_view text, const std::string& problem) {
  return make_error(Errc::invalid_argument, "invalid reference " + quote(text) + ": " + problem);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) {
    return false;
  }
  for (char c : s) {
    if (!is_alnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

// A colon-separated run of 1-4 digit hex groups; `count` receives the number of groups.
bool parse_ipv6_groups(std::string_view s, std::size_t& count) {
  count = 0;
  if (s.empty()) {
    return true;
  }
  for (std::string_view group : split(s, ':')) {
    if (group.empty() || group.size() > 4) {
      return false;
    }
    for (char c : group) {
      if (!is_hex(c)) {
        return false;
      }
    }
    ++count;
  }
  return true;
}

// RFC 4291 text form of an IPv6 address without an embedded IPv4 part or zone, which the
// distribution grammar does not admit either.
bool is_ipv6_address(std::string_view s) {
  const std::size_t gap = s.find("::");
  std::size_t left = 0;
  std::size_t right = 0;
  if (gap == std::string_view::npos) {
    return parse_ipv6_groups(s, left) && left == 8;
  }
  const std::string_view tail = s.substr(gap + 2);
  if (tail.find("::") != std::string_view::npos) {
    return false;
  }
  return parse_ipv6_groups(s.substr(0, gap), left) && parse_ipv6_groups(tail, right) &&
         left + right <= 7;
}

dg::Result<void> check_port(std::string_view text, std::string_view port) {
  if (port.empty()) {
    return invalid(text, "port after ':' in the domain is empty");
  }
  for (char c : port) {
    if (!is_digit(c)) {
      return invalid(text, "port " + quote(port) + " must be decimal digits");
    }
  }
  return {};
}

dg::Result<void> check_domain(std::string_view text, std::string_view domain) {
  std::string_view port;
  bool has_port = false;
  if (!domain.empty() && domain.front() == '[') {
    const std::size_t close = domain.find(']');
    if (close == std::string_view::npos) {
      return invalid(text, "domain " + quote(domain) + " has no ']' closing the IPv6 address");
    }
    const std::string_view address = domain.substr(1, close - 1);
    if (!is_ipv6_address(address)) {
      return invalid(text, "domain " + quote(domain) + " has an invalid IPv6 address");
    }
    const std::string_view rest = domain.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return invalid(text, "domain " + quote(domain) +
                                 " must have only a ':port' after the IPv6 address");
      }
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = domain.find(':');
    const std::string_view host = domain.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = domain.substr(colon + 1);
    }
    if (host.empty()) {
      return invalid(text, "domain " + quote(domain) + " has an empty host");
    }
    for (std::string_view component : split(host, '.')) {
      if (!is_domain_component(component)) {
        return invalid(text, "domain " + quote(domain) + " has an invalid component " +
                                 quote(component) +
                                 " (letters, digits and inner '-' separated by '.')");
      }
    }
  }
  if (has_port) {
    DG_TRY(check_port(text, port));
  }
  return {};
}

// path-component := alpha-numeric ( separator alpha-numeric )*, separator := /[_.]|__|[-]+/
bool is_path_component(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (true) {
    const std::size_t run_start = i;
    while (i < n && is_lower_alnum(s[i])) {
      ++i;
    }
    if (i == run_start) {
      return false;
    }
    if (i == n) {
      return true;
    }
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < n && s[i] == '_') {
        ++i;
      }
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
  }
}

dg::Result<void> check_path(std::string_view text, std::string_view path) {
  for (char c : path) {
    if (is_upper(c)) {
      return invalid(text, "repository name must be lowercase");
    }
  }
  for (std::string_view component : split(path, '/')) {
    if (component.empty()) {
      return invalid(text, "repository name has an empty path component");
    }
    if (!is_path_component(component)) {
      return invalid(text, "path component " + quote(component) +
                               " is invalid (lowercase letters and digits, separated by '.', "
                               "'_', '__' or '-')");
    }
  }
  return {};
}

dg::Result<void> check_tag(std::string_view text, std::string_view tag) {
  if (tag.size() > k_tag_length_max) {
    return invalid(text, "tag is " + std::to_string(tag.size()) + " characters long, more than " +
                             std::to_string(k_tag_length_max));
  }
  bool valid = is_word(tag.front());
  for (char c : tag.substr(1)) {
    valid = valid && (is_word(c) || c == '.' || c == '-');
  }
  if (!valid) {
    return invalid(text, "tag " + quote(tag) +
                             " is invalid (a letter, digit or '_', then letters, digits, '_', '.' "
                             "or '-')");
  }
  return {};
}

// algorithm := /[a-z0-9]+/ ( /[+._-]/ /[a-z0-9]+/ )*
bool is_digest_algorithm(std::string_view s) {
  bool after_separator = true;
  for (char c : s) {
    if (is_lower_alnum(c)) {
      after_separator = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      if (after_separator) {
        return false;
      }
      after_separator = true;
    } else {
      return false;
    }
  }
  return !after_separator;
}

dg::Result<void> check_digest(std::string_view text, std::string_view digest) {
  const std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return invalid(text, "digest " + quote(digest) + " must have the form algorithm:encoded");
  }
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view encoded = digest.substr(colon + 1);
  if (algorithm.empty()) {
    return invalid(text, "digest algorithm before ':' is empty");
  }
  if (!is_digest_algorithm(algorithm)) {
    return invalid(text, "digest algorithm " + quote(algorithm) +
                             " is invalid (lowercase letters and digits, separated by '+', '.', "
                             "'_' or '-')");
  }
  if (encoded.empty()) {
    return invalid(text, "digest after '" + std::string(algorithm) + ":' is empty");
  }
  for (char c : encoded) {
    if (!is_alnum(c) && c != '=' && c != '_' && c != '-') {
      return invalid(text, "digest " + quote(digest) +
                               " has an invalid encoded part (letters, digits, '=', '_' or '-')");
    }
  }
  if (algorithm == "sha256" && !is_lower_hex_of_length(encoded, 64)) {
    return invalid(text, "sha256 digest must be 64 lowercase hexadecimal characters");
  }
  if (algorithm == "sha512" && !is_lower_hex_of_length(encoded, 128)) {
    return invalid(text, "sha512 digest must be 128 lowercase hexadecimal characters");
  }
  return {};
}

// Docker's rule (splitDockerDomain): the first component names a registry if it looks like a
// host, or if it holds an uppercase letter, which a path component may not.
bool is_domain_like(std::string_view component) {
  if (component.find_first_of(".:") != std::string_view::npos || component == "localhost") {
    return true;
  }
  for (char c : component) {
    if (is_upper(c)) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string Reference::name() const {
  return domain + "/" + path;
}

std::string Reference::pinned() const {
  assert(!digest.empty());
  return name() + "@" + digest;
}

std::string Reference::digest_algorithm() const {
  const std::size_t colon = digest.find(':');
  return colon == std::string::npos ? std::string() : digest.substr(0, colon);
}

std::string Reference::familiar_tag() const {
  if (tag.empty() && digest.empty()) {
    return "latest";
  }
  return tag;
}

dg::Result<Reference> parse_reference(std::string_view text) {
  if (text.empty()) {
    return invalid(text, "reference is empty");
  }

  std::string_view rest = text;
  std::string_view digest;
  bool has_digest = false;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    has_digest = true;
    if (digest.find('@') != std::string_view::npos) {
      return invalid(text, "reference has more than one '@'");
    }
    if (digest.empty()) {
      return invalid(text, "digest after '@' is empty");
    }
  }

  // A ':' after the last '/' starts the tag; one before it belongs to the domain's port.
  std::string_view tag;
  bool has_tag = false;
  const std::size_t colon = rest.rfind(':');
  const std::size_t last_slash = rest.rfind('/');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    has_tag = true;
    if (tag.empty()) {
      return invalid(text, "tag after ':' is empty");
    }
  }

  if (rest.empty()) {
    return invalid(text, "repository name is empty");
  }
  if (is_lower_hex_of_length(rest, 64)) {
    // Docker refuses these too: they are image IDs, and taking one for a repository would hide
    // the mistake.
    return invalid(text, "a 64-character hexadecimal string is an image ID, not a repository name");
  }

  Reference ref;
  std::string_view path = rest;
  if (const std::size_t slash = rest.find('/');
      slash != std::string_view::npos && is_domain_like(rest.substr(0, slash))) {
    const std::string_view domain = rest.substr(0, slash);
    DG_TRY(check_domain(text, domain));
    ref.domain = domain == k_legacy_default_domain ? k_default_domain : domain;
    path = rest.substr(slash + 1);
  } else {
    ref.domain = k_default_domain;
  }
  DG_TRY(check_path(text, path));
  if (ref.domain == k_default_domain && path.find('/') == std::string_view::npos) {
    ref.path = k_official_repo_prefix;
  }
  ref.path += path;

  if (ref.path.size() > k_path_length_max) {
    return invalid(text, "repository path is " + std::to_string(ref.path.size()) +
                             " characters long, more than " + std::to_string(k_path_length_max));
  }

  if (has_tag) {
    DG_TRY(check_tag(text, tag));
    ref.tag = tag;
  }
  if (has_digest) {
    DG_TRY(check_digest(text, digest));
    ref.digest = digest;
  }
  return ref;
}

dg::Result<std::string> normalize_repository(std::string_view name) {
  auto ref = parse_reference(name);
  if (!ref) {
    return ref.error();
  }
  if (!ref->tag.empty() || !ref->digest.empty()) {
    return make_error(Errc::invalid_argument,
                      "repository name " + quote(name) + " must not carry a tag or digest");
  }
  return ref->name();
}

bool is_sha256_digest(std::string_view digest) {
  constexpr std::string_view k_prefix = "sha256:";
  return digest.substr(0, k_prefix.size()) == k_prefix &&
         is_lower_hex_of_length(digest.substr(k_prefix.size()), 64);
}

} // namespace dg::policy
