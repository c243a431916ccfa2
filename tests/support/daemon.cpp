#include "tests/support/daemon.hpp"

#include "util/crypto.hpp"
#include "util/files.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>

extern char** environ;

namespace dg::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int k_http_timeout_ms = 10'000;
constexpr int k_health_probe_timeout_ms = 2'000;
constexpr auto k_start_timeout = std::chrono::seconds(20);
constexpr auto k_stop_timeout = std::chrono::seconds(20);
constexpr auto k_poll_interval = std::chrono::milliseconds(20);

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

// Ignore SIGPIPE as soon as the test binary loads, before any test runs.
[[maybe_unused]] const bool k_sigpipe_ignored_at_load = [] {
  ignore_sigpipe();
  return true;
}();

std::string errno_text(int err) {
  return std::strerror(err);
}

// An owned file descriptor.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  void reset() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2: " + errno_text(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw std::runtime_error("fcntl(O_NONBLOCK): " + errno_text(errno));
  }
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 60'000));
}

// The exit status as a shell reports it: WEXITSTATUS, or 128 + the terminating signal.
int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Reaps `pid`, blocking.
int wait_blocking(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return exit_code_of(status);
}

// Reaps `pid` if it exits before `deadline`.
std::optional<int> wait_until_deadline(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return exit_code_of(status);
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(k_poll_interval);
  }
}

using Environment = std::map<std::string, std::string>;

// The test process's environment with `overrides` applied (an empty value unsets).
Environment make_environment(const std::map<std::string, std::string>& overrides) {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view item(*entry);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    env.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  for (const auto& [name, value] : overrides) {
    if (value.empty()) {
      env.erase(name);
    } else {
      env[name] = value;
    }
  }
  return env;
}

// `program` itself if it contains '/', else its first executable match in the PATH of `env`.
std::string resolve_program(const std::string& program, const Environment& env) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  const auto it = env.find("PATH");
  const std::string path = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find(':', start), path.size());
    const std::string dir = end > start ? path.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return program; // execve reports ENOENT
}

// Makes `from` the child's descriptor `to`, inheritable across exec.
void child_install_fd(int from, int to) {
  if (from == to) {
    ::fcntl(to, F_SETFD, 0);
  } else {
    ::dup2(from, to);
  }
}

// Starts `path` with `argv` and `env`, its standard streams on the given descriptors. Returns the
// pid once the exec has succeeded; throws when it failed. Only async-signal-safe calls happen
// between fork and exec, so this is safe in a multithreaded process.
pid_t spawn(const std::string& path,
            const std::vector<std::string>& argv,
            const Environment& env,
            int stdin_fd,
            int stdout_fd,
            int stderr_fd) {
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [name, value] : env) {
    env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> c_argv;
  for (const auto& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (const auto& item : env_strings) {
    c_env.push_back(const_cast<char*>(item.c_str()));
  }
  c_env.push_back(nullptr);

  // The child reports a failed exec through this close-on-exec pipe; EOF means exec succeeded.
  Pipe exec_status = make_pipe();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork: " + errno_text(errno));
  }
  if (pid == 0) {
    // A child outlives neither a crashed nor a killed test process.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    // Ignored dispositions and the signal mask survive exec; give the program a clean slate.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    child_install_fd(stdin_fd, STDIN_FILENO);
    child_install_fd(stdout_fd, STDOUT_FILENO);
    child_install_fd(stderr_fd, STDERR_FILENO);
    // Descriptors opened elsewhere without O_CLOEXEC must not leak into the program either.
    const int report_fd = exec_status.write.get();
    if (report_fd >= 3) {
      if (report_fd > 3) {
        ::close_range(3, static_cast<unsigned>(report_fd - 1), 0);
      }
      ::close_range(static_cast<unsigned>(report_fd + 1), ~0U, 0);
    }

    ::execve(path.c_str(), c_argv.data(), c_env.data());
    const int err = errno;
    [[maybe_unused]] const auto written = ::write(report_fd, &err, sizeof err);
    ::_exit(127);
  }

  exec_status.write.reset();
  int child_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(exec_status.read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    wait_blocking(pid);
    throw std::runtime_error("cannot execute " + path + ": " + errno_text(child_errno));
  }
  return pid;
}

// Reads what is available on the non-blocking `fd` into `out`; false at EOF or on an error.
bool drain(int fd, std::string& out) {
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    }
    return false;
  }
}

std::string tail_of(const std::string& text, std::size_t max_chars = 6000) {
  if (text.size() <= max_chars) {
    return text;
  }
  return "[...]\n" + text.substr(text.size() - max_chars);
}

std::string read_whole_file(const std::string& path) {
  auto content = dg::read_file(path);
  return content ? std::move(*content) : std::string();
}

void write_file_or_throw(const std::string& path, const std::string& content) {
  auto written = dg::write_file_atomic(path, content);
  if (!written) {
    throw std::runtime_error("cannot write " + path + ": " + written.error().message);
  }
}

void append_to_file(const std::string& path, const std::string& content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return;
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

struct HostPort {
  std::string host;
  int port = 0;
};

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

std::string join_host_port(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

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
  throw std::runtime_error("cannot connect to " + join_host_port(target.host, target.port) + ": " +
                           errno_text(last_error));
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

HttpResponse http_exchange(const HostPort& target,
                           const std::string& method,
                           const std::string& request_target,
                           const std::string& body,
                           const std::string& token,
                           const std::map<std::string, std::string>& extra_headers,
                           int timeout_ms) {
  ignore_sigpipe();
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", join_host_port(target.host, target.port)},
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

  const std::string where =
      method + " " + request_target + " on " + join_host_port(target.host, target.port);
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

} // namespace

nlohmann::json HttpResponse::json() const {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

nlohmann::json CliResult::json() const {
  auto parsed = nlohmann::json::parse(out, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/digestgate-e2e-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + errno_text(errno));
  }
  m_path = buffer.data();
}

TempDir::~TempDir() {
  // DG_E2E_KEEP=1 keeps the directory (state, logs) for a post-mortem.
  if (const char* keep = std::getenv("DG_E2E_KEEP"); keep != nullptr && *keep != '\0') {
    std::cerr << "keeping " << m_path << '\n';
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

std::string token_sha256(const std::string& token) {
  return dg::to_hex(dg::sha256(token));
}

nlohmann::json default_principals() {
  const auto principal = [](const char* name, std::vector<std::string> roles, const char* token) {
    return nlohmann::json{
        {"name", name}, {"roles", std::move(roles)}, {"token_sha256", token_sha256(token)}};
  };
  return nlohmann::json::array({
      principal("recorder", {"recorder"}, k_recorder_token),
      principal("promoter", {"promoter"}, k_promoter_token),
      principal("operator", {"operator"}, k_operator_token),
      principal("reader", {"reader"}, k_reader_token),
      principal("admin", {"recorder", "promoter", "operator"}, k_admin_token),
  });
}

Daemon::Daemon(const nlohmann::json& policy,
               const nlohmann::json& extra_config,
               const std::string& checkpoint_key_pem)
    : m_state_dir(m_dir.path() + "/state") {
  ignore_sigpipe();
  if (!extra_config.is_object()) {
    throw std::invalid_argument("extra_config must be a JSON object");
  }
  if (::mkdir(m_state_dir.c_str(), 0700) != 0) {
    throw std::runtime_error("mkdir " + m_state_dir + ": " + errno_text(errno));
  }
  write_policy(policy);
  nlohmann::json config = {
      {"listen", "127.0.0.1:0"},
      {"state_dir", m_state_dir},
      {"policy", policy_path()},
      {"origin", "digestgate.test/ledger"},
      {"principals", default_principals()},
  };
  for (const auto& [name, value] : extra_config.items()) {
    if (value.is_null()) {
      config.erase(name);
    } else {
      config[name] = value;
    }
  }
  write_config(config);
  if (!checkpoint_key_pem.empty()) {
    const std::string key_path = m_state_dir + "/checkpoint.key";
    const int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, checkpoint_key_pem.data(), checkpoint_key_pem.size()) !=
                      static_cast<ssize_t>(checkpoint_key_pem.size())) {
      throw std::runtime_error("cannot write " + key_path);
    }
    ::close(fd);
  }
  std::vector<std::string> init_args = {DG_DAEMON_PATH, "init", "--state-dir", m_state_dir};
  if (config.contains("ledger") && config["ledger"].value("backend", "") == "postgresql") {
    init_args.push_back("--ledger");
    init_args.push_back(config["ledger"].value("url", ""));
  }
  const CliResult init = run_process(init_args, {{"NOTIFY_SOCKET", ""}});
  append_to_file(log_path(), init.out + init.err);
  if (init.exit_code != 0) {
    throw std::runtime_error("digestgated init --state-dir " + m_state_dir + " exited with " +
                             std::to_string(init.exit_code) + ":\n" + tail_of(init.out + init.err));
  }
  start();
}

std::string Daemon::shared_key() const {
  std::ifstream in(m_state_dir + "/checkpoint.key");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Daemon::~Daemon() {
  stop();
}

void Daemon::start() {
  if (m_pid > 0) {
    throw std::logic_error("digestgated is already running");
  }
  const std::string address_file = m_state_dir + "/listen-address";
  ::unlink(address_file.c_str());
  m_host.clear();
  m_port = 0;

  Fd log_fd(::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd.valid()) {
    throw std::runtime_error("open " + log_path() + ": " + errno_text(errno));
  }
  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_input.valid()) {
    throw std::runtime_error("open /dev/null: " + errno_text(errno));
  }
  // The daemon must not talk to a service manager the tests happen to run under.
  const Environment env =
      make_environment({{"NOTIFY_SOCKET", ""}, {"LISTEN_FDS", ""}, {"LISTEN_PID", ""}});
  m_pid = spawn(DG_DAEMON_PATH, {DG_DAEMON_PATH, "--config", config_path()}, env, null_input.get(),
                log_fd.get(), log_fd.get());

  const auto deadline = Clock::now() + k_start_timeout;
  std::string last_problem = "no listen-address yet";
  while (true) {
    if (auto exited = wait_until_deadline(m_pid, Clock::now())) {
      m_pid = -1;
      m_last_status = *exited;
      throw std::runtime_error("digestgated exited with status " + std::to_string(*exited) +
                               " while starting; log:\n" + tail_of(log()));
    }
    // The file may be caught half-written: it is re-read until the health check passes.
    try {
      const std::string content = read_whole_file(address_file);
      if (!content.empty()) {
        HostPort target = split_host_port(content);
        if (target.host == "0.0.0.0") {
          target.host = "127.0.0.1";
        } else if (target.host == "::") {
          target.host = "::1";
        }
        const HttpResponse health =
            http_exchange(target, "GET", "/healthz", "", "", {}, k_health_probe_timeout_ms);
        if (health.status == 200) {
          m_host = target.host;
          m_port = target.port;
          return;
        }
        last_problem = "GET /healthz answered " + std::to_string(health.status);
      }
    } catch (const std::exception& e) {
      last_problem = e.what();
    }
    if (Clock::now() >= deadline) {
      kill9();
      throw std::runtime_error("digestgated did not become healthy within 20 s (" + last_problem +
                               "); log:\n" + tail_of(log()));
    }
    std::this_thread::sleep_for(k_poll_interval);
  }
}

int Daemon::stop(int sig) {
  if (m_pid <= 0) {
    return m_last_status;
  }
  ::kill(m_pid, sig);
  auto status = wait_until_deadline(m_pid, Clock::now() + k_stop_timeout);
  if (!status) {
    ::kill(m_pid, SIGKILL);
    status = wait_blocking(m_pid);
  }
  m_pid = -1;
  m_last_status = *status;
  return m_last_status;
}

void Daemon::kill9() {
  if (m_pid <= 0) {
    return;
  }
  ::kill(m_pid, SIGKILL);
  m_last_status = wait_blocking(m_pid);
  m_pid = -1;
}

std::string Daemon::url() const {
  return "http://" + address();
}

std::string Daemon::address() const {
  if (m_port == 0) {
    throw std::logic_error("digestgated has no listen address (never started)");
  }
  return join_host_port(m_host, m_port);
}

std::string Daemon::config_path() const {
  return dir() + "/config.json";
}

std::string Daemon::policy_path() const {
  return dir() + "/policy.json";
}

std::string Daemon::db_path() const {
  return m_state_dir + "/ledger.db";
}

std::string Daemon::log_path() const {
  return dir() + "/daemon.log";
}

void Daemon::write_config(const nlohmann::json& config) {
  write_file_or_throw(config_path(), config.dump(2) + "\n");
  m_config = config;
}

void Daemon::write_policy(const nlohmann::json& policy) {
  write_file_or_throw(policy_path(), policy.dump(2) + "\n");
}

void Daemon::reload() {
  if (m_pid <= 0) {
    throw std::logic_error("digestgated is not running");
  }
  ::kill(m_pid, SIGHUP);
}

std::string Daemon::log() const {
  return read_whole_file(log_path());
}

HttpResponse Daemon::http(const std::string& method,
                          const std::string& target,
                          const std::string& body,
                          const std::string& token,
                          const std::map<std::string, std::string>& headers) const {
  if (m_port == 0) {
    throw std::logic_error("digestgated has no listen address (never started)");
  }
  return http_exchange(HostPort{m_host, m_port}, method, target, body, token, headers,
                       k_http_timeout_ms);
}

CliResult Daemon::cli(const std::vector<std::string>& args,
                      const std::string& token,
                      const std::string& stdin_data) const {
  std::vector<std::string> argv = {DG_CLI_PATH, "--url", url()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", token}}, stdin_data);
}

CliResult run_process(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env_overrides,
                      const std::string& stdin_data,
                      int timeout_seconds) {
  ignore_sigpipe();
  if (argv.empty()) {
    throw std::invalid_argument("run_process: empty argv");
  }
  const Environment env = make_environment(env_overrides);
  const std::string program = resolve_program(argv[0], env);
  Pipe in = make_pipe();
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  const pid_t pid = spawn(program, argv, env, in.read.get(), out.write.get(), err.write.get());
  in.read.reset();
  out.write.reset();
  err.write.reset();
  set_nonblocking(in.write.get());
  set_nonblocking(out.read.get());
  set_nonblocking(err.read.get());
  if (stdin_data.empty()) {
    in.write.reset();
  }

  CliResult result;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  std::size_t written = 0;
  bool timed_out = false;
  while (out.read.valid() || err.read.valid()) {
    std::vector<pollfd> fds;
    if (out.read.valid()) {
      fds.push_back({out.read.get(), POLLIN, 0});
    }
    if (err.read.valid()) {
      fds.push_back({err.read.get(), POLLIN, 0});
    }
    if (in.write.valid()) {
      fds.push_back({in.write.get(), POLLOUT, 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), remaining_ms(deadline));
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error("poll: " + errno_text(errno));
    }
    if (ready == 0 && Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    for (const pollfd& pfd : fds) {
      if (pfd.revents == 0) {
        continue;
      }
      if (pfd.fd == out.read.get() && !drain(pfd.fd, result.out)) {
        out.read.reset();
      } else if (pfd.fd == err.read.get() && !drain(pfd.fd, result.err)) {
        err.read.reset();
      } else if (pfd.fd == in.write.get()) {
        const ssize_t n = ::write(pfd.fd, stdin_data.data() + written, stdin_data.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        // EPIPE: the program stopped reading its input, which is its business.
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
          in.write.reset();
        }
      }
    }
  }
  in.write.reset();

  std::optional<int> status;
  if (!timed_out) {
    status = wait_until_deadline(pid, deadline);
  }
  if (!status) {
    timed_out = true;
    ::kill(pid, SIGKILL);
    status = wait_blocking(pid);
  }
  result.exit_code = *status;
  if (timed_out) {
    result.err +=
        "\n[run_process: " + argv[0] + " killed after " + std::to_string(timeout_seconds) + " s]\n";
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

std::string sample_digest(int n) {
  return "sha256:" + dg::to_hex(dg::sha256("digest-" + std::to_string(n)));
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (predicate()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(k_poll_interval);
  }
}

} // namespace dg::test
