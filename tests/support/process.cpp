#include "tests/support/process.hpp"

#include "tests/support/posix.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace dg::test {

namespace {

using namespace posix;

// Ignore SIGPIPE as soon as the program loads, before any test runs.
[[maybe_unused]] const bool k_sigpipe_ignored_at_load = [] {
  ignore_sigpipe();
  return true;
}();

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

} // namespace

nlohmann::json CliResult::json() const {
  auto parsed = nlohmann::json::parse(out, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
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

Process::~Process() {
  kill9();
}

void Process::start(const std::vector<std::string>& argv,
                    const std::string& log_path,
                    const std::map<std::string, std::string>& env_overrides) {
  ignore_sigpipe();
  if (m_pid > 0) {
    throw std::logic_error(argv.empty() ? "a process" : argv[0] + " is already running");
  }
  if (argv.empty()) {
    throw std::invalid_argument("Process::start: empty argv");
  }
  Fd log_fd(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd.valid()) {
    throw std::runtime_error("open " + log_path + ": " + errno_text(errno));
  }
  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_input.valid()) {
    throw std::runtime_error("open /dev/null: " + errno_text(errno));
  }
  const Environment env = make_environment(env_overrides);
  m_started = Clock::now();
  m_pid =
      spawn(resolve_program(argv[0], env), argv, env, null_input.get(), log_fd.get(), log_fd.get());
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  if (m_pid <= 0) {
    return m_last_status;
  }
  auto status = wait_until_deadline(m_pid, Clock::now() + timeout);
  if (status) {
    m_pid = -1;
    m_last_status = *status;
  }
  return status;
}

void Process::signal(int sig) const {
  if (m_pid > 0) {
    ::kill(m_pid, sig);
  }
}

int Process::stop(int sig, std::chrono::milliseconds timeout) {
  if (m_pid <= 0) {
    return m_last_status;
  }
  ::kill(m_pid, sig);
  if (wait_for(timeout)) {
    return m_last_status;
  }
  return kill9();
}

int Process::kill9() {
  if (m_pid <= 0) {
    return m_last_status;
  }
  ::kill(m_pid, SIGKILL);
  m_last_status = wait_blocking(m_pid);
  m_pid = -1;
  return m_last_status;
}

} // namespace dg::test
