#include "tests/support/postgres.hpp"

#include <arpa/inet.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <pwd.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

} // namespace

std::string Postgres::unavailable_reason() {
  if (!std::filesystem::exists(k_bin + "initdb") || ::getpwnam("postgres") == nullptr) {
    return "PostgreSQL 15 is not installed";
  }
  // The server runs as the unprivileged `postgres` user, who must be able to reach its binaries:
  // a root directory that only root may search (as in some chroots) stops it.
  struct stat root {};
  if (::geteuid() == 0 && (::stat("/", &root) != 0 || (root.st_mode & S_IXOTH) == 0)) {
    return "the root directory is not searchable by the postgres user";
  }
  return {};
}

bool Postgres::available() {
  return unavailable_reason().empty();
}

bool Postgres::run_as_postgres(const std::string& command) const {
  std::string line = (::geteuid() == 0 ? "runuser -u postgres -- sh -c " : "sh -c ") +
                     quote(command) + " >>" + quote(m_dir + "/commands.log") + " 2>&1";
  return std::system(line.c_str()) == 0;
}

std::unique_ptr<Postgres> Postgres::start(const Postgres* primary) {
  std::unique_ptr<Postgres> pg(new Postgres());
  char tmpl[] = "/tmp/dg-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  pg->m_dir = tmpl;
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr || ::chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + pg->m_dir + " to the postgres user");
    }
  }
  pg->m_port = free_port();
  const std::string data = pg->m_dir + "/data";
  if (primary == nullptr) {
    if (!pg->run_as_postgres(k_bin + "initdb -D " + data +
                             " -U postgres --auth=trust --locale=C.UTF-8 -E UTF8 --no-sync")) {
      throw std::runtime_error("initdb failed; see " + pg->m_dir + "/commands.log");
    }
  } else {
    if (!pg->run_as_postgres(k_bin + "pg_basebackup -D " + data + " -h 127.0.0.1 -p " +
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

bool Postgres::restart() {
  const std::string data = m_dir + "/data";
  std::string options = "-p " + std::to_string(m_port) + " -k " + m_dir +
                        " -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=100"
                        " -c wal_level=replica -c max_wal_senders=4";
  m_running = run_as_postgres(k_bin + "pg_ctl -D " + data + " -l " + m_dir + "/server.log -o " +
                              quote(options) + " -w -t 60 start");
  return m_running;
}

void Postgres::kill() {
  if (m_running) {
    run_as_postgres(k_bin + "pg_ctl -D " + m_dir + "/data -m immediate -w stop");
    m_running = false;
  }
}

bool Postgres::promote() {
  return run_as_postgres(k_bin + "pg_ctl -D " + m_dir + "/data -w -t 60 promote");
}

Postgres::~Postgres() {
  if (m_running) {
    run_as_postgres(k_bin + "pg_ctl -D " + m_dir + "/data -m fast -w stop");
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

void Postgres::create_role(const std::string& role, const std::string& password) {
  psql("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
}

} // namespace dg::test
