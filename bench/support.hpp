// Shared pieces of the benchmark programs: child processes, a blocking HTTP/1.1 client, latency
// statistics and facts about the machine. Benchmark code only: errors are thrown as
// std::runtime_error and end the run with a message.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dg::bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start);

// Latency percentiles (nearest rank) over `samples` in microseconds; sorts `samples`.
struct Percentiles {
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  json to_json() const;
};
Percentiles percentiles(std::vector<std::uint32_t>& samples_us);

// --- Processes ----------------------------------------------------------------------------

struct ProcessResult {
  int exit_code = -1; // WEXITSTATUS, or 128 + the signal that ended it
  std::string out;
  std::string err;
  double seconds = 0; // from fork to exit
};

// Runs `argv` (argv[0] is a path) to completion with stdin from /dev/null; stdout and stderr are
// captured through files under `scratch_dir`. SIGKILLs it after `timeout_seconds`.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::string& scratch_dir,
                          int timeout_seconds);

// A background process whose stdout and stderr go to `log_path` (appended). Killed with SIGKILL
// when the benchmark process dies. The destructor stops it (SIGTERM, then SIGKILL).
class Child {
public:
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return m_pid; }
  // False once the process has exited (reaps it).
  bool alive();
  // Sends `sig`, waits up to `timeout_seconds` and then SIGKILLs; returns the exit code.
  int stop(int sig, int timeout_seconds = 30);
  // Fork-to-exec start time, for start-up measurements.
  Clock::time_point started() const { return m_started; }

private:
  pid_t m_pid = -1;
  int m_status = -1;
  Clock::time_point m_started;
};

// --- HTTP ---------------------------------------------------------------------------------

struct HttpResult {
  int status = 0; // 0: no connection or no answer
  std::string body;
  json json_body() const;
};

// One request on a fresh connection ("Connection: close"); never throws on transport errors (the
// status is then 0). `token` adds "Authorization: Bearer".
HttpResult http_request(const std::string& host,
                        int port,
                        const std::string& method,
                        const std::string& target,
                        const std::string& body = "",
                        const std::string& token = "",
                        int timeout_ms = 10000);

// --- Files and the machine ----------------------------------------------------------------

// A fresh directory under `base` (or $TMPDIR, or /tmp), removed on destruction unless `keep`.
class TempDir {
public:
  explicit TempDir(const std::string& base, bool keep);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }

private:
  std::string m_path;
  bool m_keep;
};

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& content);
std::int64_t file_size(const std::string& path); // -1 when absent

// Fields of /proc/PID/status in kB: VmRSS, VmHWM.
struct Memory {
  std::int64_t rss_kb = 0;
  std::int64_t hwm_kb = 0;
};
Memory process_memory(pid_t pid);

// nproc, CPU model, memory, kernel, load average and the file system of `dir`.
json machine_facts(const std::string& dir);
// The 1-, 5- and 15-minute load averages.
std::vector<double> load_average();

// Hex SHA-256 of `text`.
std::string sha256_hex(const std::string& text);

} // namespace dg::bench
