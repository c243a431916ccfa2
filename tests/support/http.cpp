#include "tests/support/http.hpp"

#include "tests/support/posix.hpp"

#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <tuple>
#include <vector>

namespace dg::test {

namespace {

using namespace posix;

// A connected non-blocking TCP socket, or throws.
Fd connect_to(const HostPort& target, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(target.port);
  const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    throw std::runtime_error("cannot resolve " + target.host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  int last_error = 0;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd.valid()) {
      last_error = errno;
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      return fd;
    }
    if (errno != EINPROGRESS) {
      last_error = errno;
      continue;
    }
    pollfd pfd{fd.get(), POLLOUT, 0};
    int ready = 0;
    do {
      ready = ::poll(&pfd, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      last_error = ETIMEDOUT;
      continue;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0) {
      return fd;
    }
    last_error = so_error != 0 ? so_error : errno;
  }
  throw std::runtime_error("cannot connect to " + target.text() + ": " + errno_text(last_error));
}

// Sends all of `data`; returns 0, or the errno that stopped it (ETIMEDOUT after `timeout_ms` of no
// progress).
int send_all(int fd, std::string_view data, int timeout_ms) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd, POLLOUT, 0};
      int ready = 0;
      do {
        ready = ::poll(&pfd, 1, timeout_ms);
      } while (ready < 0 && errno == EINTR);
      if (ready == 0) {
        return ETIMEDOUT;
      }
      continue;
    }
    return n < 0 ? errno : EPIPE;
  }
  return 0;
}

enum class ReadStatus { data, eof, timeout };

// Waits up to `timeout_ms` for data and appends it to `out`. A reset counts as EOF.
ReadStatus read_some(int fd, std::string& out, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&pfd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    return ReadStatus::timeout;
  }
  char buf[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return ReadStatus::data;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return ReadStatus::data; // spurious wake-up; the caller polls again
    }
    return ReadStatus::eof;
  }
}

// Decodes a chunked body starting at `pos`. Returns the body once the terminating chunk and the
// trailers are in `buf`; nullopt when more bytes are needed (or, at EOF, when the terminating
// chunk is present but the final CRLF is missing it accepts what it has).
std::optional<std::string> decode_chunked(const std::string& buf, std::size_t pos, bool eof) {
  std::string body;
  while (true) {
    const auto line_end = buf.find("\r\n", pos);
    if (line_end == std::string::npos) {
      return std::nullopt;
    }
    const std::string size_line = buf.substr(pos, line_end - pos);
    const std::string size_text = trim(size_line.substr(0, size_line.find(';')));
    std::size_t size = 0;
    try {
      std::size_t used = 0;
      size = std::stoul(size_text, &used, 16);
      if (used != size_text.size()) {
        throw std::invalid_argument(size_text);
      }
    } catch (const std::exception&) {
      throw std::runtime_error("malformed chunk size '" + size_text + "'");
    }
    pos = line_end + 2;
    if (size == 0) {
      // Trailers end with an empty line; the simplest case is an immediate CRLF.
      if (buf.compare(pos, 2, "\r\n") == 0 || buf.find("\r\n\r\n", pos) != std::string::npos ||
          eof) {
        return body;
      }
      return std::nullopt;
    }
    if (buf.size() < pos + size + 2) {
      return std::nullopt;
    }
    body.append(buf, pos, size);
    pos += size + 2;
  }
}

// Parses a complete response out of `buf`; nullopt when more bytes are needed. Throws on a
// malformed response, or at EOF on a truncated one.
std::optional<HttpResponse> parse_response(const std::string& buf, bool eof, bool head_request) {
  std::size_t start = 0;
  while (true) {
    const auto header_end = buf.find("\r\n\r\n", start);
    if (header_end == std::string::npos) {
      if (eof) {
        throw std::runtime_error(buf.size() == start ? "connection closed without a response"
                                                     : "connection closed inside the headers: " +
                                                           buf.substr(start, 200));
      }
      return std::nullopt;
    }
    HttpResponse response;
    const std::string head = buf.substr(start, header_end - start);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12 || status_line[8] != ' ') {
      throw std::runtime_error("malformed status line: '" + status_line + "'");
    }
    try {
      response.status = std::stoi(status_line.substr(9, 3));
    } catch (const std::exception&) {
      throw std::runtime_error("malformed status line: '" + status_line + "'");
    }
    while (line_end != std::string::npos) {
      const std::size_t line_start = line_end + 2;
      line_end = head.find("\r\n", line_start);
      const std::string line = head.substr(
          line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        throw std::runtime_error("malformed header line: '" + line + "'");
      }
      const std::string name = lowercase(trim(line.substr(0, colon)));
      const std::string value = trim(line.substr(colon + 1));
      auto [it, inserted] = response.headers.emplace(name, value);
      if (!inserted) {
        it->second += ", " + value;
      }
    }
    const std::size_t body_start = header_end + 4;
    if (response.status >= 100 && response.status < 200 && response.status != 101) {
      start = body_start; // an interim response; the real one follows
      continue;
    }
    if (head_request || response.status == 204 || response.status == 304 ||
        response.status == 101) {
      return response;
    }
    if (const auto te = response.headers.find("transfer-encoding");
        te != response.headers.end() &&
        lowercase(te->second).find("chunked") != std::string::npos) {
      auto body = decode_chunked(buf, body_start, eof);
      if (!body) {
        if (eof) {
          throw std::runtime_error("connection closed inside a chunked body");
        }
        return std::nullopt;
      }
      response.body = std::move(*body);
      return response;
    }
    if (const auto cl = response.headers.find("content-length"); cl != response.headers.end()) {
      std::size_t length = 0;
      try {
        length = std::stoul(cl->second);
      } catch (const std::exception&) {
        throw std::runtime_error("malformed Content-Length: '" + cl->second + "'");
      }
      if (buf.size() - body_start < length) {
        if (eof) {
          throw std::runtime_error("connection closed after " +
                                   std::to_string(buf.size() - body_start) + " of " +
                                   std::to_string(length) + " body bytes");
        }
        return std::nullopt;
      }
      response.body = buf.substr(body_start, length);
      return response;
    }
    if (!eof) {
      return std::nullopt;
    }
    response.body = buf.substr(body_start);
    return response;
  }
}

} // namespace

HttpResponse http_request(const HostPort& target,
                          const std::string& method,
                          const std::string& request_target,
                          const std::string& body,
                          const std::string& token,
                          const std::map<std::string, std::string>& extra_headers,
                          int timeout_ms) {
  ignore_sigpipe();
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", target.text()},
      {"User-Agent", "digestgate-e2e"},
      {"Connection", "close"},
  };
  if (!body.empty()) {
    headers.emplace_back("Content-Type", "application/json");
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    headers.emplace_back("Content-Length", std::to_string(body.size()));
  }
  if (!token.empty()) {
    headers.emplace_back("Authorization", "Bearer " + token);
  }
  for (const auto& [name, value] : extra_headers) {
    // A copy: clang 14 cannot capture a structured binding in a lambda.
    const std::string wanted = lowercase(name);
    const auto same = [&](const auto& h) { return lowercase(h.first) == wanted; };
    if (auto it = std::find_if(headers.begin(), headers.end(), same); it != headers.end()) {
      it->second = value;
    } else {
      headers.emplace_back(name, value);
    }
  }
  std::string request = method + " " + request_target + " HTTP/1.1\r\n";
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
  }
  request += "\r\n";
  request += body;

  const std::string where = method + " " + request_target + " on " + target.text();
  Fd fd = connect_to(target, timeout_ms);
  // A server may answer and close before reading everything (413, say): read what it sent.
  const int send_error = send_all(fd.get(), request, timeout_ms);
  if (send_error == ETIMEDOUT) {
    throw std::runtime_error(where + ": timed out sending the request");
  }
  std::string received;
  bool eof = false;
  while (true) {
    try {
      if (auto response = parse_response(received, eof, method == "HEAD")) {
        return std::move(*response);
      }
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
    switch (read_some(fd.get(), received, timeout_ms)) {
    case ReadStatus::data:
      break;
    case ReadStatus::eof:
      eof = true;
      break;
    case ReadStatus::timeout:
      throw std::runtime_error(where + ": timed out waiting for the response (" +
                               std::to_string(received.size()) + " bytes received)");
    }
  }
}

nlohmann::json HttpResponse::json() const {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

std::string HostPort::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Parses "HOST:PORT", "[V6]:PORT", optionally with an http:// or https:// prefix and a path.
HostPort split_host_port(std::string_view text) {
  std::string s = trim(text);
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (s.rfind(scheme, 0) == 0) {
      s.erase(0, scheme.size());
    }
  }
  s = s.substr(0, s.find_first_of("/ \t\r\n"));
  HostPort result;
  std::string port_text;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find("]:");
    if (close == std::string::npos) {
      throw std::runtime_error("not a host:port: '" + std::string(text) + "'");
    }
    result.host = s.substr(1, close - 1);
    port_text = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) {
      throw std::runtime_error("not a host:port: '" + std::string(text) + "'");
    }
    result.host = s.substr(0, colon);
    port_text = s.substr(colon + 1);
  }
  if (result.host.empty() || port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::runtime_error("not a host:port: '" + std::string(text) + "'");
  }
  result.port = std::stoi(port_text);
  if (result.port <= 0 || result.port > 65535) {
    throw std::runtime_error("not a host:port: '" + std::string(text) + "'");
  }
  return result;
}

std::string raw_request(const std::string& host_port, const std::string& bytes, int timeout_ms) {
  ignore_sigpipe();
  const HostPort target = split_host_port(host_port);
  Fd fd = connect_to(target, timeout_ms);
  // A failed send is not an error here: the server may legitimately close on bad input.
  std::ignore = send_all(fd.get(), bytes, timeout_ms);
  std::string received;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const int left = remaining_ms(deadline);
    if (left == 0 || read_some(fd.get(), received, left) != ReadStatus::data) {
      return received;
    }
  }
}

Connection::Connection(const std::string& host_port) {
  ignore_sigpipe();
  Fd fd = connect_to(split_host_port(host_port), 10'000);
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  m_fd = fd.release();
}

Connection::~Connection() {
  close();
}

void Connection::close() {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

bool Connection::send(const std::string& bytes) {
  return send_all(m_fd, bytes, 10'000) == 0;
}

Connection::Read Connection::read_some(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    pollfd pfd{m_fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return Read::timeout;
    }
    char buffer[16384];
    const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      m_received.append(buffer, static_cast<std::size_t>(n));
      return Read::data;
    }
    if (n == 0) {
      return Read::closed;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Read::reset;
    }
  }
}

bool Connection::read_until_closed(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const int left = remaining_ms(deadline);
    if (left <= 0) {
      return false;
    }
    const Read r = read_some(left);
    if (r == Read::closed || r == Read::reset) {
      return true;
    }
  }
}

} // namespace dg::test
