#include "bench/support.hpp"

#include "util/crypto.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <thread>

namespace dg::bench {

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

// --- Command lines ------------------------------------------------------------------------

std::optional<CommandLine> CommandLine::parse(int argc,
                                              char** argv,
                                              const std::set<std::string, std::less<>>& names,
                                              const std::string& program,
                                              const std::string& usage,
                                              const std::set<std::string, std::less<>>& flags) {
  CommandLine line;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (flags.count(name) != 0) {
      line.m_flags.insert(name);
      continue;
    }
    std::string problem;
    if (names.count(name) == 0) {
      problem = "unknown argument '" + name + "'";
    } else if (i + 1 >= argc) {
      problem = name + " needs a value";
    }
    if (!problem.empty()) {
      std::cerr << program << ": " << problem << "\n" << usage;
      return std::nullopt;
    }
    line.m_values[name].push_back(argv[++i]);
  }
  return line;
}

std::string CommandLine::text(std::string_view name, const std::string& fallback) const {
  const auto it = m_values.find(name);
  return it == m_values.end() ? fallback : it->second.back();
}

std::vector<std::string> CommandLine::texts(std::string_view name) const {
  const auto it = m_values.find(name);
  return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

long long CommandLine::integer(std::string_view name, long long fallback) const {
  const auto it = m_values.find(name);
  if (it == m_values.end()) {
    return fallback;
  }
  const std::string& text = it->second.back();
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size()) {
      return value;
    }
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(name) + " takes a whole number, not '" + text + "'");
}

double CommandLine::number(std::string_view name, double fallback) const {
  const auto it = m_values.find(name);
  if (it == m_values.end()) {
    return fallback;
  }
  const std::string& text = it->second.back();
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) {
      return value;
    }
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(name) + " takes a number, not '" + text + "'");
}

int program_main(int argc,
                 char** argv,
                 const Program& program,
                 const std::function<void(const CommandLine&)>& configure,
                 const std::function<int()>& run) {
  auto flags = program.flags;
  flags.insert({"--help", "-h"});
  const auto args =
      CommandLine::parse(argc, argv, program.options, program.name, program.usage, flags);
  if (!args) {
    return 2;
  }
  if (args->flag("--help") || args->flag("-h")) {
    std::cout << program.usage;
    return 0;
  }
  try {
    configure(*args);
  } catch (const std::exception& e) {
    std::cerr << program.name << ": " << e.what() << "\n" << program.usage;
    return 2;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << program.name << ": " << e.what() << "\n";
    return 1;
  }
}

// --- Files and the machine ----------------------------------------------------------------

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
