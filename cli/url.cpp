// parse_url (declared in cli/http_client.hpp), on Boost.URL's RFC 3986 parser. Kept apart from
// http_client.cpp so that only that file includes Asio and Beast.
#include "cli/http_client.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>

namespace dg::cli {

namespace {

Error bad_url(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

// The port of `u`: its own, or the scheme's default. Fails on a port that is not 1-65535.
Result<std::string> port_of(const boost::urls::url_view& u, bool tls) {
  if (!u.has_port() || u.port().empty()) {
    if (u.has_port()) {
      return bad_url("URL has a bad port ''");
    }
    return std::string(tls ? "443" : "80");
  }
  const std::string port = u.port();
  const bool digits =
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || port.size() > 5 || std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return bad_url("URL has a bad port '" + port + "'");
  }
  return port;
}

} // namespace

Result<Url> parse_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    const std::size_t authority = text.find("://");
    if (authority == std::string_view::npos) {
      return bad_url("URL '" + std::string(text) + "' must start with http:// or https://");
    }
    const std::string_view rest = text.substr(authority + 3);
    if (!rest.empty() && rest.front() == '[' && rest.find(']') == std::string_view::npos) {
      return bad_url("URL has an unterminated IPv6 address");
    }
    return bad_url("URL '" + std::string(text) + "' is not a valid URL (RFC 3986)");
  }
  const boost::urls::url_view u = *parsed;
  Url url;
  if (u.scheme_id() == boost::urls::scheme::https) {
    url.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    return bad_url("URL '" + std::string(text) + "' must start with http:// or https://");
  }
  if (u.has_query() || u.has_fragment()) {
    return bad_url("URL must not have a query or fragment");
  }
  if (u.has_userinfo()) {
    return bad_url("URL must not carry credentials (use --token or DIGESTGATE_TOKEN)");
  }
  const auto type = u.host_type();
  if (type == boost::urls::host_type::ipvfuture) {
    return bad_url("URL has a bad IPv6 address");
  }
  url.host = u.host_address();
  if (url.host.empty()) {
    return bad_url("URL has no host");
  }
  auto port = port_of(u, url.tls);
  if (!port) {
    return port.error();
  }
  url.port = *port;
  url.host_header = type == boost::urls::host_type::ipv6 ? "[" + url.host + "]" : url.host;
  if (u.has_port()) {
    url.host_header += ":" + url.port;
  }
  std::string_view path = u.encoded_path();
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  url.prefix = std::string(path);
  return url;
}

} // namespace dg::cli
