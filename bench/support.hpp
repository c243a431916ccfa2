// Shared pieces of the benchmark programs: latency statistics and facts about the machine.
// Processes, temporary directories, files and the HTTP client are the test kit's (tests/support:
// process.hpp, tempdir.hpp, files.hpp, http.hpp). Benchmark code only: errors are thrown as
// std::runtime_error and end the run with a message.
#pragma once

#include "tests/support/files.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// --- Command lines ------------------------------------------------------------------------

// The command line of a benchmark program: `--name value` pairs, each name one of those it was
// parsed against (a name given twice keeps both values), and `--flag`s without a value. The
// number readers throw std::invalid_argument naming the option whose value is not a number.
class CommandLine {
public:
  // Parses argv[1..]. On an argument that is neither one of `names` nor one of `flags`, or that
  // lacks its value, prints "`program`: ..." and `usage` on stderr and returns nullopt.
  static std::optional<CommandLine> parse(int argc,
                                          char** argv,
                                          const std::set<std::string, std::less<>>& names,
                                          const std::string& program,
                                          const std::string& usage,
                                          const std::set<std::string, std::less<>>& flags = {});

  // The (last) value of `name`, or `fallback` when it is not given.
  std::string text(std::string_view name, const std::string& fallback = "") const;
  // Every value of `name`, in order.
  std::vector<std::string> texts(std::string_view name) const;
  long long integer(std::string_view name, long long fallback) const;
  double number(std::string_view name, double fallback) const;
  // Whether the flag `name` is given.
  bool flag(std::string_view name) const { return m_flags.count(name) > 0; }

private:
  std::map<std::string, std::vector<std::string>, std::less<>> m_values;
  std::set<std::string, std::less<>> m_flags;
};

// What a benchmark program's main() is made of: its name (the prefix of its error messages), its
// usage text, the names of its options with a value and of its flags.
struct Program {
  std::string name;
  std::string usage;
  std::set<std::string, std::less<>> options;
  std::set<std::string, std::less<>> flags = {};
};

// The main() of a benchmark program. Parses the command line (CommandLine::parse; `--help` or
// `-h` prints the usage on stdout and returns 0), then `configure` reads it: an exception there
// prints "NAME: what" and the usage on stderr and returns 2. Then returns what `run` returns, or 1
// after "NAME: what" on stderr when it throws.
int program_main(int argc,
                 char** argv,
                 const Program& program,
                 const std::function<void(const CommandLine&)>& configure,
                 const std::function<int()>& run);

// --- Files and the machine ----------------------------------------------------------------

using test::read_text;                           // "" when absent
using test::write_text;                          // atomic; throws
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
