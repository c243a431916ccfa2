// A real PostgreSQL 15 server for tests and benchmarks, started from Debian's binaries
// (/usr/lib/postgresql/15/bin) in a temporary directory, on a free loopback port with its unix
// socket in that directory; stopped and removed when the object goes away.
//
// PostgreSQL's programs refuse to run as root. Run by root, the helper starts them in the first
// of these ways that works here (each is probed once by running `postgres --version` through it):
//   1. as the `postgres` user (runuser), when that user can reach the binaries;
//   2. in a user namespace where root is mapped to an unprivileged uid (unshare --user), so that
//      files are reached as their root owner: a repository under a root-only directory (a fresh
//      root made by mktemp -d is mode 0700) still works, but not inside a chroot, where the
//      kernel refuses user namespaces;
//   3. as the `postgres` user in a private mount namespace whose root is a 0755 view of the
//      system's directories (mount --rbind, then chroot): for a root-only root directory inside a
//      chroot, such as ../shared/tools/fresh-debian's.
// Not run by root, the programs run as the caller. DG_TEST_PG_RUNNER=runuser|unshare|view in the
// environment tries that way only.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace dg::test {

class Postgres {
public:
  // Start a new cluster. `primary`: instead, a streaming standby of that server (made with
  // pg_basebackup), started in recovery.
  static std::unique_ptr<Postgres> start(const Postgres* primary = nullptr);
  // One server for the whole test process, started on first use and stopped at exit.
  static Postgres& shared();
  // Whether a cluster can be started here (tests skip the PostgreSQL cases when it cannot), and
  // why not: empty when it can.
  static bool available();
  static std::string unavailable_reason();
  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  int port() const { return m_port; }
  // A URL for `database` as the superuser over TCP on the loopback.
  std::string url(const std::string& database = "postgres") const;
  // Create a database and return its URL.
  std::string create_database(const std::string& name);
  // A new database with a name unique in this process, prefixed with `prefix`; its URL.
  std::string fresh_database(const std::string& prefix = "dg");
  // Create a login role with `password`.
  void create_role(const std::string& role, const std::string& password);
  // Run SQL as the superuser on `database`; the output of psql, or nullopt on an error.
  std::optional<std::string> psql(const std::string& database, const std::string& sql) const;
  // pg_ctl stop -m immediate (a crash), and start again; promote a standby.
  void kill();
  bool restart();
  bool promote();
  const std::string& dir() const { return m_dir; }

private:
  Postgres() = default;
  bool run_server_program(const std::string& command) const;
  // pg_ctl stop in `mode`; when that fails, signals the postmaster directly (SIGQUIT, then
  // SIGKILL) so that no server outlives its test.
  void stop(const std::string& mode);

  std::string m_dir;
  int m_port = 0;
  bool m_running = false;
};

} // namespace dg::test
