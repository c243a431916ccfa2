// The CLI's server URL (--url, DIGESTGATE_URL), parsed by parse_url on Boost.URL, and the
// percent-encoding of path segments.
#include "cli/http_client.hpp"
#include "cli/verb.hpp"

#include <doctest/doctest.h>

#include <string>

using dg::cli::parse_url;

TEST_SUITE_BEGIN("CliUrl");

TEST_CASE("Server URLs give the host, port, Host header and path prefix") {
  struct Case {
    std::string text;
    bool tls;
    std::string host;
    std::string port;
    std::string host_header;
    std::string prefix;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8470", false, "127.0.0.1", "8470", "127.0.0.1:8470", ""},
      {"http://localhost", false, "localhost", "80", "localhost", ""},
      {"https://gate.example.org", true, "gate.example.org", "443", "gate.example.org", ""},
      {"HTTPS://gate.example.org:8443/", true, "gate.example.org", "8443", "gate.example.org:8443",
       ""},
      {"https://gate.example.org/digestgate//", true, "gate.example.org", "443", "gate.example.org",
       "/digestgate"},
      {"http://[::1]:8470/a/b", false, "::1", "8470", "[::1]:8470", "/a/b"},
      {"http://[2001:db8::1]", false, "2001:db8::1", "80", "[2001:db8::1]", ""},
  };
  for (const auto& c : cases) {
    INFO("url: ", c.text);
    const auto url = parse_url(c.text);
    REQUIRE_MESSAGE(url.ok(), url.error().message);
    CHECK(url->tls == c.tls);
    CHECK(url->host == c.host);
    CHECK(url->port == c.port);
    CHECK(url->host_header == c.host_header);
    CHECK(url->prefix == c.prefix);
  }
}

TEST_CASE("Malformed server URLs are refused with what is wrong") {
  const std::pair<std::string, std::string> cases[] = {
      {"127.0.0.1:8470", "URL '127.0.0.1:8470' must start with http:// or https://"},
      {"ftp://x", "URL 'ftp://x' must start with http:// or https://"},
      {"http://user:pw@x", "URL must not carry credentials (use --token or DIGESTGATE_TOKEN)"},
      {"http://x/?q=1", "URL must not have a query or fragment"},
      {"http://x#f", "URL must not have a query or fragment"},
      {"http://[::1", "URL has an unterminated IPv6 address"},
      {"http://[::g]/", "URL 'http://[::g]/' is not a valid URL (RFC 3986)"},
      {"http://x y/", "URL 'http://x y/' is not a valid URL (RFC 3986)"},
      {"http://", "URL has no host"},
      {"http://x:0", "URL has a bad port '0'"},
      {"http://x:65536", "URL has a bad port '65536'"},
      {"http://x:", "URL has a bad port ''"},
  };
  for (const auto& item : cases) {
    // INFO keeps a reference in a lambda, which clang 14 refuses for a structured binding.
    const auto& text = item.first;
    const auto& message = item.second;
    INFO("url: ", text);
    const auto url = parse_url(text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == dg::Errc::invalid_argument);
    CHECK(url.error().message == message);
  }
}

TEST_CASE("Path segments are percent-encoded except unreserved characters, ':' and '@'") {
  CHECK(dg::cli::path_segment("sha256:abc") == "sha256:abc");
  CHECK(dg::cli::path_segment("a@b~c-d.e_f") == "a@b~c-d.e_f");
  CHECK(dg::cli::path_segment("a/b?c#d%e f") == "a%2Fb%3Fc%23d%25e%20f");
  CHECK(dg::cli::path_segment("a+b;c=d") == "a%2Bb%3Bc%3Dd");
  CHECK(dg::cli::query_value("a:b&c") == "a%3Ab%26c");
}

TEST_SUITE_END();
