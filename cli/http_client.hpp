// The CLI's HTTP/1.1 client: one request per connection, over plain TCP or TLS.
//
// This header is free of Boost: http_client.cpp is the only translation unit of the CLI that
// includes Asio and Beast.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace dg::cli {

// Where and how to reach digestgated.
struct ClientOptions {
  // "http://host[:port][/prefix]" or "https://host[:port][/prefix]"; IPv6 hosts in brackets.
  std::string url;
  // PEM file of the CA certificates that verify the server (https). Empty: the system's default
  // verify paths.
  std::string cacert;
  // PEM client certificate chain and private key for mutual TLS; both empty for none.
  std::string cert;
  std::string key;
  // Deadline of the whole exchange: resolve, connect, handshake, send and receive.
  std::chrono::milliseconds timeout{30000};
};

// A parsed server URL.
struct Url {
  bool tls = false;
  std::string host;        // without brackets
  std::string port;        // numeric
  std::string host_header; // host[:port] as sent in the Host header
  std::string prefix;      // path prefix without a trailing '/', often empty
};

// Parse `text` as a server URL. Fails with Errc::invalid_argument on another scheme, user info,
// a query or fragment, an empty host or a bad port.
Result<Url> parse_url(std::string_view text);

// A response of any status.
struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;
};

// Send one request with `method` to `target` (a path with optional query, appended to the URL's
// prefix), with `body` as application/json when not empty and `token` as a bearer token when not
// empty, and read the whole response. Every HTTP status is a successful result.
//
// Fails with Errc::invalid_argument when the URL is malformed or a certificate or key file cannot
// be loaded, and with Errc::unavailable when the server cannot be reached: resolution, connection,
// TLS handshake or certificate verification failed, the deadline passed, or the response was
// malformed or cut short. Error messages never contain the token.
Result<HttpResult> http_request(const ClientOptions& options,
                                const std::string& method,
                                const std::string& target,
                                const std::string& body,
                                const std::string& token);

} // namespace dg::cli
