// Process control for tests, benchmarks and their helpers: run a program to completion with its
// output captured, or keep one running in the background (a daemon, a load generator) and stop it.
//
// Every descriptor opened here is close-on-exec, children get default signal dispositions and an
// empty signal mask, every child is reaped, and children are SIGKILLed when the thread that
// started them exits (PR_SET_PDEATHSIG), so a crashed run leaves nothing behind: start a process
// on the thread that outlives its use. SIGPIPE is ignored in the calling process.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dg::test {

struct CliResult {
  // The exit status, or 128 + the signal number when the process was killed by a signal.
  int exit_code = -1;
  std::string out;
  std::string err;

  // Standard output parsed as JSON, or a null json when it is not JSON.
  nlohmann::json json() const;
};
using ProcessResult = CliResult;

// Runs `argv` (argv[0] is searched in PATH unless it contains '/') with the test process's
// environment modified by `env_overrides` (an empty value unsets the variable), feeds it
// `stdin_data` and captures stdout and stderr completely. After `timeout_seconds` the process is
// SIGKILLed, its exit code is 128 + SIGKILL and `err` ends with a note saying so.
// Throws std::runtime_error when the program cannot be executed.
CliResult run_process(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env_overrides = {},
                      const std::string& stdin_data = "",
                      int timeout_seconds = 60);

// A background process: stdin from /dev/null, stdout and stderr appended to a log file. The
// destructor SIGKILLs and reaps a process still running. Neither copyable nor movable.
class Process {
public:
  using Clock = std::chrono::steady_clock;

  Process() = default;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts `argv` (as run_process finds and runs it) with its output appended to `log_path`.
  // Returns once the program has been executed; throws std::runtime_error when it cannot be, and
  // std::logic_error when a process is already running.
  void start(const std::vector<std::string>& argv,
             const std::string& log_path,
             const std::map<std::string, std::string>& env_overrides = {});

  bool running() const { return m_pid > 0; }
  // The running process's pid, or -1.
  pid_t pid() const { return m_pid; }
  // When start() executed the program, for start-up measurements.
  Clock::time_point started() const { return m_started; }
  // The exit code of the last process that ended (-1 if none has).
  int last_status() const { return m_last_status; }

  // Waits up to `timeout` (zero: only looks) for the process to exit and reaps it. Returns its exit
  // code, or nullopt while it runs; when not running, the last exit code.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // Sends `sig` (no-op when not running).
  void signal(int sig) const;
  // Sends `sig`, waits up to `timeout` for the exit, then SIGKILLs. Returns the exit code (when
  // not running, the last one).
  int stop(int sig, std::chrono::milliseconds timeout);
  // SIGKILLs and reaps the process; returns the exit code (when not running, the last one).
  int kill9();

private:
  pid_t m_pid = -1;
  int m_last_status = -1;
  Clock::time_point m_started;
};

} // namespace dg::test
