// A small blocking HTTP/1.1 client over POSIX sockets, for tests and benchmarks: one request per
// connection ("Connection: close"), the whole response read (Content-Length, chunked, or until
// close). Transport failures (connection refused, timeouts, a response that does not parse) throw
// std::runtime_error, so that a test reports them instead of asserting on a half-read response.
// Safe to call from several threads at once.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>

namespace dg::test {

struct HttpResponse {
  int status = 0;
  std::string body;
  // Header names are lowercase; repeated headers are joined with ", ".
  std::map<std::string, std::string> headers;

  // The parsed body, or a null json when the body is not JSON.
  nlohmann::json json() const;
};

struct HostPort {
  std::string host;
  int port = 0;

  // "HOST:PORT", or "[V6]:PORT".
  std::string text() const;
};

// Parses "HOST:PORT" or "[V6]:PORT", optionally with an http:// or https:// prefix and a path.
// Throws std::runtime_error on anything else.
HostPort split_host_port(std::string_view text);

// One request on a fresh connection with "Connection: close". Adds "Content-Type:
// application/json" when `body` is not empty and "Authorization: Bearer <token>" when `token` is
// not empty; an entry of `headers` replaces a default header of the same name. Each network wait
// times out after `timeout_ms`.
HttpResponse http_request(const HostPort& target,
                          const std::string& method,
                          const std::string& request_target,
                          const std::string& body = "",
                          const std::string& token = "",
                          const std::map<std::string, std::string>& headers = {},
                          int timeout_ms = 10'000);

// Connects to `host_port` ("HOST:PORT", an "http://" prefix is accepted), sends `bytes` (without
// half-closing), and returns everything received until the peer closes or `timeout_ms` elapses
// (counted from the end of sending). A peer that resets the connection ends the read. Throws
// std::runtime_error when the connection cannot be made.
std::string
raw_request(const std::string& host_port, const std::string& bytes, int timeout_ms = 5000);

// One TCP connection held open by a test, for what a one-shot request cannot do: keep a
// connection open, send slowly or in pieces, pipeline, and observe when the server closes it.
// Not for concurrent use.
class Connection {
public:
  enum class Read { data, closed, reset, timeout };

  // Connects to `host_port` ("HOST:PORT", "[V6]:PORT"). Throws std::runtime_error when it cannot.
  explicit Connection(const std::string& host_port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void close();
  // Sends all of `bytes`. False when the peer has closed or reset the connection, or 10 s pass
  // without progress.
  bool send(const std::string& bytes);
  // Waits up to `timeout_ms` for bytes, appending them to received().
  Read read_some(int timeout_ms);
  // Reads until the peer closes or resets the connection (true) or `timeout_ms` passes (false).
  bool read_until_closed(int timeout_ms);
  // Everything read so far, for the test to consume.
  std::string& received() { return m_received; }

private:
  int m_fd = -1;
  std::string m_received;
};

} // namespace dg::test
