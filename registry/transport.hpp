// One HTTP/1.1 exchange with a registry, over plain TCP or TLS: the registry room's seam between
// the protocol (client.cpp) and the network (beast_transport.cpp, the room's only translation unit
// that includes Boost.Asio and Boost.Beast). Tests may substitute their own Transport.
//
// Thread-safety: a Transport's send() may be called from several threads at once.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dg::registry {

// An absolute http(s) URL split for sending.
struct Url {
  bool tls = true;
  std::string host;        // without brackets
  std::string port;        // numeric
  std::string host_header; // host[:port] as sent in the Host header
  std::string target;      // path and query, at least "/"

  // "https://host[:port]" (the port only when it is not the scheme's default).
  std::string origin() const;
};

// Parse an absolute URL (`http://` or `https://`). Fails with Errc::invalid_argument on another
// scheme, user info, an empty host or a bad port. A fragment is dropped.
Result<Url> parse_url(std::string_view text);

struct HttpRequest {
  std::string method; // GET or HEAD (PUT, POST for tests)
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  // Header names in lowercase; a repeated header appears once per occurrence.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; // empty for HEAD

  // The first value of header `name` (lowercase), or empty.
  std::string header(std::string_view name) const;
};

struct SendOptions {
  // Deadline of the whole exchange: resolve, connect, handshake, send and receive.
  std::chrono::milliseconds timeout{10000};
  // The largest body read; a larger Content-Length is refused before any of it is read.
  std::uint64_t max_body_bytes = 4 * 1024 * 1024;
  // PEM CA certificates trusted beside the system's (https only); empty for the system's alone.
  std::string ca_file;
};

// Every failure's message starts with one of these words, then ": " and the details. They are
// stable: observations ledger them and operators grep for them.
//   unreachable     name resolution or connection failed (refused, no route)
//   timeout         the deadline passed
//   tls             TLS handshake or certificate verification failed
//   bad-response    not HTTP, a malformed or cut-short response, or not the JSON expected
//   too-large       a body beyond the bound (announced by Content-Length or read)
//   unauthorized    401 after authenticating, or credentials or a token could not be had
//   not-found       404 (the manifest, blob, tag or repository is unknown)
//   digest-mismatch the bytes received do not hash to the digest asked for or announced
//   http-status     any other unexpected status
//   redirect        too many redirects, or a redirect to a scheme the endpoint does not allow
//   config          the registry settings are unusable (a bad endpoint, an unreadable ca_file)
std::string_view failure_kind(const Error& error);

class Transport {
public:
  virtual ~Transport() = default;
  // Send `request` and read the whole response. Every HTTP status is a success; failures carry
  // one of the failure kinds above (unreachable, timeout, tls, bad-response, too-large, config).
  virtual Result<HttpResponse> send(const HttpRequest& request, const SendOptions& options) = 0;
};

// The real transport (Boost.Beast and OpenSSL), one connection per exchange.
std::shared_ptr<Transport> make_network_transport();

} // namespace dg::registry
