#include "registry/transport.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>

namespace dg::registry {

namespace {

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
      return false;
    }
  }
  return true;
}

bool is_ipv6(const std::string& host) {
  in6_addr address{};
  return ::inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

bool is_port(std::string_view port) {
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const unsigned long value = std::stoul(std::string(port));
  return value > 0 && value <= 65535;
}

} // namespace

std::string Url::origin() const {
  std::string text = tls ? "https://" : "http://";
  return text + host_header;
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest;
  if (starts_with_icase(text, "https://")) {
    rest = text.substr(8);
  } else if (starts_with_icase(text, "http://")) {
    url.tls = false;
    rest = text.substr(7);
  } else {
    return make_error(Errc::invalid_argument,
                      "URL '" + std::string(text) + "' must start with http:// or https://");
  }
  rest = rest.substr(0, rest.find('#'));
  const std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return make_error(Errc::invalid_argument, "URL must not carry credentials");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return make_error(Errc::invalid_argument, "URL has an unterminated IPv6 address");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return make_error(Errc::invalid_argument, "URL has junk after the IPv6 address");
      }
      port = after.substr(1);
      if (port.empty()) {
        return make_error(Errc::invalid_argument, "URL has an empty port");
      }
    }
    if (!is_ipv6(url.host)) {
      return make_error(Errc::invalid_argument, "URL has a bad IPv6 address");
    }
  } else {
    const std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return make_error(Errc::invalid_argument, "URL has an empty port");
      }
    }
  }
  if (url.host.empty()) {
    return make_error(Errc::invalid_argument, "URL has no host");
  }
  if (!port.empty() && !is_port(port)) {
    return make_error(Errc::invalid_argument, "URL has a bad port '" + std::string(port) + "'");
  }
  const std::string default_port = url.tls ? "443" : "80";
  url.port = port.empty() ? default_port : std::string(port);
  url.host_header = authority.front() == '[' ? "[" + url.host + "]" : url.host;
  if (url.port != default_port) {
    url.host_header += ":" + url.port;
  }
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

std::string_view failure_kind(const Error& error) {
  const std::string_view message = error.message;
  return message.substr(0, message.find(':'));
}

} // namespace dg::registry
