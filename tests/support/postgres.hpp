// A real PostgreSQL 15 server for tests, started from Debian's binaries
// (/usr/lib/postgresql/15/bin) in a temporary directory as the unprivileged `postgres` user (initdb
// refuses root), on a free loopback port with its unix socket in that directory; stopped and
// removed when the object goes away.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace dg::test {

class Postgres {
public:
  // Start a new cluster. `primary_url`: instead, a streaming standby of that server (made with
  // pg_basebackup), started in recovery.
  static std::unique_ptr<Postgres> start(const Postgres* primary = nullptr);
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
  // Create a database (and, given `role`, a login role with `password`) and return its URL.
  std::string create_database(const std::string& name);
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
  bool run_as_postgres(const std::string& command) const;

  std::string m_dir;
  int m_port = 0;
  bool m_running = false;
};

} // namespace dg::test
