#include "bench/support.hpp"

#include "util/crypto.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dg::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

json Percentiles::to_json() const {
  return json{{"p50_ms", p50_ms},
              {"p90_ms", p90_ms},
              {"p99_ms", p99_ms},
              {"max_ms", max_ms},
              {"mean_ms", mean_ms}};
}

Percentiles percentiles(std::vector<std::uint32_t>& samples_us) {
  Percentiles p;
  if (samples_us.empty()) {
    return p;
  }
  std::sort(samples_us.begin(), samples_us.end());
  auto rank = [&](double q) {
    auto i = static_cast<std::size_t>(q * static_cast<double>(samples_us.size()));
    return static_cast<double>(samples_us[std::min(i, samples_us.size() - 1)]) / 1000.0;
  };
  p.p50_ms = rank(0.50);
  p.p90_ms = rank(0.90);
  p.p99_ms = rank(0.99);
  p.max_ms = static_cast<double>(samples_us.back()) / 1000.0;
  double sum = std::accumulate(samples_us.begin(), samples_us.end(), 0.0);
  p.mean_ms = sum / static_cast<double>(samples_us.size()) / 1000.0;
  return p;
}

// --- Processes ----------------------------------------------------------------------------

namespace {

int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Fork and exec `argv` with its standard streams on the given descriptors. Only
// async-signal-safe calls run between fork and exec.
pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd) {
  std::vector<char*> c_argv;
  for (const auto& a : argv) {
    c_argv.push_back(const_cast<char*>(a.c_str()));
  }
  c_argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(in_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::execv(c_argv[0], c_argv.data());
    ::_exit(127);
  }
  return pid;
}

int open_or_throw(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  }
  return fd;
}

std::optional<int> wait_for(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return exit_code_of(status);
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

} // namespace

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::string& scratch_dir,
                          int timeout_seconds) {
  static int counter = 0;
  std::string base =
      scratch_dir + "/proc-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  int in = open_or_throw("/dev/null", O_RDONLY);
  int out = open_or_throw(base + ".out", O_WRONLY | O_CREAT | O_TRUNC);
  int err = open_or_throw(base + ".err", O_WRONLY | O_CREAT | O_TRUNC);
  auto started = Clock::now();
  pid_t pid = spawn(argv, in, out, err);
  ::close(in);
  ::close(out);
  ::close(err);
  ProcessResult result;
  auto code = wait_for(pid, started + std::chrono::seconds(timeout_seconds));
  if (!code) {
    ::kill(pid, SIGKILL);
    code = wait_for(pid, Clock::now() + std::chrono::seconds(10));
  }
  result.seconds = seconds_since(started);
  result.exit_code = code.value_or(-1);
  result.out = read_text(base + ".out");
  result.err = read_text(base + ".err");
  ::unlink((base + ".out").c_str());
  ::unlink((base + ".err").c_str());
  return result;
}

Child::Child(const std::vector<std::string>& argv, const std::string& log_path) {
  int in = open_or_throw("/dev/null", O_RDONLY);
  int log = open_or_throw(log_path, O_WRONLY | O_CREAT | O_APPEND);
  m_started = Clock::now();
  m_pid = spawn(argv, in, log, log);
  ::close(in);
  ::close(log);
}

Child::~Child() {
  if (m_pid > 0) {
    stop(SIGTERM);
  }
}

bool Child::alive() {
  if (m_pid <= 0) {
    return false;
  }
  if (auto code = wait_for(m_pid, Clock::now())) {
    m_status = *code;
    m_pid = -1;
    return false;
  }
  return true;
}

int Child::stop(int sig, int timeout_seconds) {
  if (m_pid <= 0) {
    return m_status;
  }
  ::kill(m_pid, sig);
  auto code = wait_for(m_pid, Clock::now() + std::chrono::seconds(timeout_seconds));
  if (!code) {
    ::kill(m_pid, SIGKILL);
    code = wait_for(m_pid, Clock::now() + std::chrono::seconds(10));
  }
  m_status = code.value_or(-1);
  m_pid = -1;
  return m_status;
}

// --- HTTP ---------------------------------------------------------------------------------

json HttpResult::json_body() const {
  auto parsed = json::parse(body, nullptr, false);
  return parsed.is_discarded() ? json() : parsed;
}

HttpResult http_request(const std::string& host,
                        int port,
                        const std::string& method,
                        const std::string& target,
                        const std::string& body,
                        const std::string& token,
                        int timeout_ms) {
  HttpResult result;
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::connection, "close");
    if (!token.empty()) {
      req.set(http::field::authorization, "Bearer " + token);
    }
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    result.status = static_cast<int>(parser.get().result_int());
    result.body = std::move(parser.get().body());
  } catch (const std::exception&) {
    result.status = 0;
  }
  return result;
}

// --- Files and the machine ----------------------------------------------------------------

TempDir::TempDir(const std::string& base, bool keep) : m_keep(keep) {
  std::string root = base;
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = root + "/digestgate-bench-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  m_path = buffer.data();
}

TempDir::~TempDir() {
  if (m_keep) {
    std::cerr << "kept " << m_path << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
}

std::int64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return -1;
  }
  return static_cast<std::int64_t>(st.st_size);
}

Memory process_memory(pid_t pid) {
  Memory m;
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    auto value = [&] { return std::strtoll(line.c_str() + line.find(':') + 1, nullptr, 10); };
    if (line.rfind("VmRSS:", 0) == 0) {
      m.rss_kb = value();
    } else if (line.rfind("VmHWM:", 0) == 0) {
      m.hwm_kb = value();
    }
  }
  return m;
}

std::vector<double> load_average() {
  std::istringstream in(read_text("/proc/loadavg"));
  std::vector<double> out(3, 0.0);
  in >> out[0] >> out[1] >> out[2];
  return out;
}

json machine_facts(const std::string& dir) {
  json facts;
  facts["nproc"] = std::thread::hardware_concurrency();
  std::string model;
  std::string mhz;
  std::istringstream cpu(read_text("/proc/cpuinfo"));
  std::string line;
  while (std::getline(cpu, line)) {
    auto value = [&] {
      auto colon = line.find(':');
      return colon == std::string::npos ? std::string() : line.substr(colon + 2);
    };
    if (model.empty() && line.rfind("model name", 0) == 0) {
      model = value();
    } else if (mhz.empty() && line.rfind("cpu MHz", 0) == 0) {
      mhz = value();
    }
  }
  facts["cpu_model"] = model;
  facts["cpu_mhz"] = mhz;
  std::istringstream mem(read_text("/proc/meminfo"));
  while (std::getline(mem, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      facts["memory_kb"] = std::strtoll(line.c_str() + 9, nullptr, 10);
    }
  }
  struct utsname u {};
  if (::uname(&u) == 0) {
    facts["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  }
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) == 0) {
    // The magic numbers of the file systems a benchmark directory is likely to be on.
    switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53UL:
      facts["filesystem"] = "ext4";
      break;
    case 0x58465342UL:
      facts["filesystem"] = "xfs";
      break;
    case 0x9123683EUL:
      facts["filesystem"] = "btrfs";
      break;
    case 0x01021994UL:
      facts["filesystem"] = "tmpfs";
      break;
    case 0x794C7630UL:
      facts["filesystem"] = "overlayfs";
      break;
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
      facts["filesystem"] = hex;
    }
    }
  }
  facts["directory"] = dir;
  return facts;
}

std::string sha256_hex(const std::string& text) {
  return to_hex(sha256(text));
}

} // namespace dg::bench
