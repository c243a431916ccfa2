#include "tests/support/daemon.hpp"

#include "tests/support/files.hpp"
#include "tests/support/posix.hpp"
#include "tests/support/postgres.hpp"
#include "util/crypto.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace dg::test {

namespace {

using namespace posix;

constexpr int k_http_timeout_ms = 10'000;
constexpr int k_health_probe_timeout_ms = 2'000;
constexpr auto k_start_timeout = std::chrono::seconds(20);
// The daemon gives up draining connections 20 s after SIGTERM and then closes its ledger: the
// fixture waits longer, so that a slow drain meets the daemon's own bound and not a SIGKILL.
constexpr auto k_stop_timeout = std::chrono::seconds(60);
constexpr auto k_slow_stop = std::chrono::seconds(5);

std::string tail_of(const std::string& text, std::size_t max_chars = 6000) {
  if (text.size() <= max_chars) {
    return text;
  }
  return "[...]\n" + text.substr(text.size() - max_chars);
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

// One line per thread of `pid`: its name, state and where it sleeps in the kernel.
std::string thread_states(pid_t pid) {
  std::string out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    const std::string dir = task.path().string();
    std::string comm = trim(read_text(dir + "/comm"));
    const std::string stat = read_text(dir + "/stat");
    const auto close = stat.rfind(')');
    const std::string state = close != std::string::npos && close + 2 < stat.size()
                                  ? stat.substr(close + 2, 1)
                                  : std::string("?");
    out.append("  ")
        .append(task.path().filename().string())
        .append(" ")
        .append(comm)
        .append(" state ")
        .append(state)
        .append(" wchan ")
        .append(read_text(dir + "/wchan"))
        .append("\n");
  }
  return out;
}

bool is_postgresql(const nlohmann::json& config) {
  return config.contains("ledger") && config["ledger"].is_object() &&
         config["ledger"].value("backend", "") == "postgresql";
}

} // namespace

bool on_postgresql() {
  const char* backend = std::getenv("DG_TEST_LEDGER");
  return backend != nullptr && std::string(backend) == "postgresql";
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
  if (!config.contains("ledger") && on_postgresql()) {
    config["ledger"] = {{"backend", "postgresql"},
                        {"url", Postgres::shared().fresh_database("e2e_fixture")}};
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
  const CliResult init = run_process(init_argv(), {{"NOTIFY_SOCKET", ""}});
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
  if (m_process.running()) {
    throw std::logic_error("digestgated is already running");
  }
  const std::string address_file = m_state_dir + "/listen-address";
  ::unlink(address_file.c_str());
  m_address = HostPort{};

  // The daemon must not talk to a service manager the tests happen to run under.
  m_process.start({DG_DAEMON_PATH, "--config", config_path()}, log_path(),
                  {{"NOTIFY_SOCKET", ""}, {"LISTEN_FDS", ""}, {"LISTEN_PID", ""}});

  const auto deadline = Clock::now() + k_start_timeout;
  std::string last_problem = "no listen-address yet";
  while (true) {
    if (auto exited = m_process.wait_for(std::chrono::milliseconds(0))) {
      throw std::runtime_error("digestgated exited with status " + std::to_string(*exited) +
                               " while starting; log:\n" + tail_of(log()));
    }
    // The file may be caught half-written: it is re-read until the health check passes.
    try {
      const std::string content = read_text(address_file);
      if (!content.empty()) {
        HostPort target = split_host_port(content);
        if (target.host == "0.0.0.0") {
          target.host = "127.0.0.1";
        } else if (target.host == "::") {
          target.host = "::1";
        }
        const HttpResponse health =
            http_request(target, "GET", "/healthz", "", "", {}, k_health_probe_timeout_ms);
        if (health.status == 200) {
          m_address = target;
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
  if (!m_process.running()) {
    return m_process.last_status();
  }
  const auto signalled = Clock::now();
  m_process.signal(sig);
  if (auto status = m_process.wait_for(k_stop_timeout)) {
    const auto took = Clock::now() - signalled;
    if (took > k_slow_stop) {
      std::cerr << "digestgated took "
                << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                << " ms to stop after signal " << sig << "; log:\n"
                << tail_of(log(), 2000) << '\n';
    }
    return *status;
  }
  // A daemon that does not stop is a finding: say where its threads are before killing it.
  std::cerr << "digestgated (pid " << m_process.pid() << ") did not stop within "
            << std::chrono::duration_cast<std::chrono::seconds>(k_stop_timeout).count()
            << " s of signal " << sig << "; its threads:\n"
            << thread_states(m_process.pid()) << "log:\n"
            << tail_of(log(), 4000) << '\n';
  return m_process.kill9();
}

void Daemon::kill9() {
  m_process.kill9();
}

std::string Daemon::url() const {
  return "http://" + address();
}

std::string Daemon::address() const {
  if (m_address.port == 0) {
    throw std::logic_error("digestgated has no listen address (never started)");
  }
  return m_address.text();
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

std::vector<std::string> Daemon::init_argv() const {
  std::vector<std::string> argv = {DG_DAEMON_PATH, "init", "--state-dir", m_state_dir};
  if (is_postgresql(m_config)) {
    argv.push_back("--ledger");
    argv.push_back(m_config["ledger"].value("url", ""));
  }
  return argv;
}

std::string Daemon::ledger_db() const {
  return is_postgresql(m_config) ? m_config["ledger"].value("url", "") : db_path();
}

std::string Daemon::log_path() const {
  return dir() + "/daemon.log";
}

void Daemon::write_config(const nlohmann::json& config) {
  write_text(config_path(), config.dump(2) + "\n");
  m_config = config;
}

void Daemon::write_policy(const nlohmann::json& policy) {
  write_text(policy_path(), policy.dump(2) + "\n");
}

void Daemon::reload() {
  if (!m_process.running()) {
    throw std::logic_error("digestgated is not running");
  }
  m_process.signal(SIGHUP);
}

std::string Daemon::log() const {
  return read_text(log_path());
}

HttpResponse Daemon::http(const std::string& method,
                          const std::string& target,
                          const std::string& body,
                          const std::string& token,
                          const std::map<std::string, std::string>& headers) const {
  if (m_address.port == 0) {
    throw std::logic_error("digestgated has no listen address (never started)");
  }
  return http_request(m_address, method, target, body, token, headers, k_http_timeout_ms);
}

CliResult Daemon::cli(const std::vector<std::string>& args,
                      const std::string& token,
                      const std::string& stdin_data) const {
  std::vector<std::string> argv = {DG_CLI_PATH, "--url", url()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", token}}, stdin_data);
}

double metric_sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return 0;
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
