#include "tests/support/postgres.hpp"

#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dg::test {

namespace {

const std::string k_bin = "/usr/lib/postgresql/15/bin/";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// How PostgreSQL's programs are run here: a command prefix (empty: as the caller), and whether
// the files they create must belong to the `postgres` user.
struct Runner {
  std::string prefix;
  bool as_postgres_user = false;
};

// Runs "$@" as the postgres user in a private mount namespace whose root directory is a mode 0755
// tmpfs holding the system's directories (bound, same paths): the way through a root directory
// that only root may search, when a user namespace cannot be made (inside a chroot). The view
// lives as long as the processes in it (the server started by pg_ctl among them). The mounts must
// not propagate out: the root is made private, or (in a chroot, whose root is no mount point) no
// mount may be shared.
const std::string k_view_script = R"sh(set -e
mount --make-rprivate / 2>/dev/null || ! grep -q ' shared:' /proc/self/mountinfo
v=/mnt
mount -t tmpfs -o mode=0755,size=1m dg-pg-view "$v"
for d in bin sbin lib lib32 lib64 libx32 usr etc var run tmp dev proc; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$v/$d"
  elif [ -d "/$d" ]; then mkdir "$v/$d"; mount --rbind "/$d" "$v/$d"
  fi
done
t=${TMPDIR:-/tmp}
if [ ! -d "$v$t" ]; then mkdir -p "$v$t"; mount --rbind "$t" "$v$t"; fi
exec chroot "$v" runuser -u postgres -- "$@")sh";

// Whether `runner` can run the server's binary as a user other than root.
bool runner_works(const Runner& runner) {
  const std::string probe =
      runner.prefix + "sh -c " +
      quote("test \"$(id -u)\" != 0 && exec " + k_bin + "postgres --version") + " >/dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

struct Choice {
  std::optional<Runner> runner;
  std::string why_not;
};

Choice choose_runner() {
  if (!std::filesystem::exists(k_bin + "initdb")) {
    return {std::nullopt, "PostgreSQL 15 is not installed (" + k_bin + "initdb)"};
  }
  if (::geteuid() != 0) {
    Runner self;
    if (runner_works(self)) {
      return {self, {}};
    }
    return {std::nullopt, "cannot run " + k_bin + "postgres"};
  }
  // DG_TEST_PG_RUNNER=runuser|unshare|view tries that way only (to test each of them).
  const char* only = std::getenv("DG_TEST_PG_RUNNER");
  const auto wanted = [&](const char* name) {
    return only == nullptr || *only == '\0' || std::string(only) == name;
  };
  std::vector<Runner> candidates;
  const bool has_user = ::getpwnam("postgres") != nullptr;
  if (has_user && wanted("runuser")) {
    candidates.push_back({"runuser -u postgres -- ", true});
  }
  if (wanted("unshare")) {
    candidates.push_back({"unshare --user --map-user=1000 --map-group=1000 ", false});
  }
  if (has_user && wanted("view")) {
    candidates.push_back(
        {"unshare --mount --propagation unchanged sh -c " + quote(k_view_script) + " dg-pg-view ",
         true});
  }
  for (const auto& candidate : candidates) {
    if (runner_works(candidate)) {
      return {candidate, {}};
    }
  }
  return {std::nullopt,
          "running as root, and PostgreSQL's programs can be run neither as the postgres user "
          "(runuser, directly or in a private view of the root directory) nor in a user "
          "namespace (unshare --user)"};
}

const Choice& choice() {
  static const Choice chosen = choose_runner();
  return chosen;
}

std::optional<int> postmaster_pid(const std::string& data) {
  std::ifstream in(data + "/postmaster.pid");
  long pid = 0;
  if (in >> pid && pid > 0) {
    return static_cast<int>(pid);
  }
  return std::nullopt;
}

bool alive(int pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Whether `pid` is a PostgreSQL server (a stale postmaster.pid may name a reused pid).
bool is_postgres(int pid) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe.filename() == "postgres";
}

bool wait_gone(int pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

} // namespace

std::string Postgres::unavailable_reason() {
  return choice().why_not;
}

bool Postgres::available() {
  return choice().runner.has_value();
}

bool Postgres::run_server_program(const std::string& command) const {
  const auto& runner = choice().runner;
  if (!runner) {
    throw std::runtime_error("PostgreSQL cannot run here: " + unavailable_reason());
  }
  std::string line = runner->prefix + "sh -c " + quote(command) + " >>" +
                     quote(m_dir + "/commands.log") + " 2>&1 </dev/null";
  return std::system(line.c_str()) == 0;
}

std::unique_ptr<Postgres> Postgres::start(const Postgres* primary) {
  if (!available()) {
    throw std::runtime_error("PostgreSQL cannot run here: " + unavailable_reason());
  }
  std::unique_ptr<Postgres> pg(new Postgres());
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/dg-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + tmpl + " failed");
  }
  pg->m_dir = tmpl;
  if (choice().runner->as_postgres_user) {
    struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr || ::chown(pg->m_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + pg->m_dir + " to the postgres user");
    }
  }
  pg->m_port = free_port();
  const std::string data = pg->m_dir + "/data";
  if (primary == nullptr) {
    if (!pg->run_server_program(k_bin + "initdb -D " + data +
                                " -U postgres --auth=trust --locale=C.UTF-8 -E UTF8 --no-sync")) {
      throw std::runtime_error("initdb failed; see " + pg->m_dir + "/commands.log");
    }
  } else {
    if (!pg->run_server_program(k_bin + "pg_basebackup -D " + data + " -h 127.0.0.1 -p " +
                                std::to_string(primary->port()) +
                                " -U postgres -X stream -R -c fast --no-sync")) {
      throw std::runtime_error("pg_basebackup failed; see " + pg->m_dir + "/commands.log");
    }
  }
  if (!pg->restart()) {
    throw std::runtime_error("PostgreSQL did not start; see " + pg->m_dir + "/commands.log");
  }
  return pg;
}

Postgres& Postgres::shared() {
  static std::unique_ptr<Postgres> pg = start();
  return *pg;
}

bool Postgres::restart() {
  const std::string data = m_dir + "/data";
  std::string options = "-p " + std::to_string(m_port) + " -k " + m_dir +
                        " -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
                        " -c wal_level=replica -c max_wal_senders=4";
  m_running = run_server_program(k_bin + "pg_ctl -D " + data + " -l " + m_dir + "/server.log -o " +
                                 quote(options) + " -w -t 60 start");
  if (!m_running) {
    stop("immediate"); // a server that started but did not answer in time
  }
  return m_running;
}

void Postgres::stop(const std::string& mode) {
  const std::string data = m_dir + "/data";
  run_server_program(k_bin + "pg_ctl -D " + data + " -m " + mode + " -w -t 60 stop");
  m_running = false;
  // A server pg_ctl could not stop (or one it left running) is stopped here.
  const auto pid = postmaster_pid(data);
  if (!pid || !alive(*pid) || !is_postgres(*pid)) {
    return;
  }
  ::kill(*pid, SIGQUIT);
  if (!wait_gone(*pid, std::chrono::seconds(10))) {
    ::kill(*pid, SIGKILL);
    wait_gone(*pid, std::chrono::seconds(10));
  }
}

void Postgres::kill() {
  if (m_running) {
    stop("immediate");
  }
}

bool Postgres::promote() {
  return run_server_program(k_bin + "pg_ctl -D " + m_dir + "/data -w -t 60 promote");
}

Postgres::~Postgres() {
  if (m_running) {
    stop("fast");
  }
  std::error_code ec;
  std::filesystem::remove_all(m_dir, ec);
}

std::string Postgres::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(m_port) + "/" + database;
}

std::optional<std::string> Postgres::psql(const std::string& database,
                                          const std::string& sql) const {
  std::string command = "/usr/bin/psql -X -q -t -A -v ON_ERROR_STOP=1 " + quote(url(database)) +
                        " -c " + quote(sql) + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return std::nullopt;
  }
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) {
    out.append(buf.data(), n);
  }
  int rc = ::pclose(p);
  if (rc != 0) {
    return std::nullopt;
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

std::string Postgres::create_database(const std::string& name) {
  if (!psql("postgres", "CREATE DATABASE " + name)) {
    throw std::runtime_error("CREATE DATABASE " + name + " failed");
  }
  return url(name);
}

std::string Postgres::fresh_database(const std::string& prefix) {
  static std::atomic<int> n{0};
  return create_database(prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n));
}

void Postgres::create_role(const std::string& role, const std::string& password) {
  psql("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
}

} // namespace dg::test
