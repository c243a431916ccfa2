// End-to-end test fixture: a real digestgated in a temporary state directory, driven over plain
// HTTP (POSIX sockets) and through the real digestgate CLI.
//
// Transport failures (connection refused, timeouts, a response that does not parse) throw
// std::runtime_error so that a test reports them instead of asserting on a half-read response.
// Functions without shared state (http, cli, run_process, raw_request) may be called from several
// threads at once; start, stop, kill9, reload and write_policy must not race with each other.
//
// Every file descriptor the fixture opens is close-on-exec, children get default signal
// dispositions and an empty signal mask, every child is reaped, and SIGPIPE is ignored in the test
// process (a peer that closes early surfaces as EPIPE, never as a signal). Children are SIGKILLed
// when the thread that started them exits, so a crashed test run leaves no daemon behind: start a
// Daemon on the thread that outlives its use.
//
// DG_E2E_KEEP=1 in the environment keeps each temporary directory (config, policy, state and
// daemon.log) and prints its path.
//
// DG_TEST_LEDGER=postgresql in the environment runs every daemon whose configuration names no
// ledger on PostgreSQL instead of SQLite: one server per test process (Postgres::shared(), stopped
// at exit) and a fresh database per daemon. Tests that are about the SQLite file itself skip
// themselves then (see on_postgresql()).
#pragma once

#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tempdir.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dg::test {

// Bearer tokens of the principals every Daemon configures (see default_principals()).
inline constexpr const char* k_recorder_token = "recorder-token"; // roles: recorder
inline constexpr const char* k_promoter_token = "promoter-token"; // roles: promoter
inline constexpr const char* k_operator_token = "operator-token"; // roles: operator
inline constexpr const char* k_reader_token = "reader-token";     // roles: reader
inline constexpr const char* k_admin_token = "admin-token"; // roles: recorder, promoter, operator

// The principals array the fixture writes into config.json: recorder, promoter, operator,
// reader and admin, each with the SHA-256 of its k_*_token. Tests that override "principals"
// through `extra_config` can start from this.
nlohmann::json default_principals();

// Whether DG_TEST_LEDGER=postgresql: daemons that name no ledger run on PostgreSQL.
bool on_postgresql();

// Hex SHA-256 of `token`, as the config's token_sha256 expects it.
std::string token_sha256(const std::string& token);

// A digestgated process with its own state directory. Neither copyable nor movable.
//
// Layout under dir(): config.json, policy.json, daemon.log (the daemon's stdout and stderr,
// appended across restarts) and state/ (the --state-dir, holding ledger.db and listen-address).
class Daemon {
public:
  // Writes policy.json (`policy`) and config.json (listen "127.0.0.1:0", state_dir, policy,
  // origin "digestgate.test/ledger", default_principals(); then each top-level member of
  // `extra_config` replaces the member of that name, and a null member removes it), runs
  // `digestgated init --state-dir DIR` (which must exit 0), and start()s.
  // Throws std::runtime_error, with the daemon's output, when any step fails.
  //
  // The ledger backend follows the config: with `"ledger": {"backend": "postgresql", "url": ...}`
  // in `extra_config`, init runs with `--ledger URL`. Without a "ledger" member, the ledger is
  // SQLite, or a fresh PostgreSQL database when on_postgresql(). `checkpoint_key_pem`, when not
  // empty, is written as the state directory's checkpoint.key before init (every daemon of one
  // shared ledger has the same key; see shared_key()).
  explicit Daemon(const nlohmann::json& policy,
                  const nlohmann::json& extra_config = nlohmann::json::object(),
                  const std::string& checkpoint_key_pem = "");
  // stop()s, then removes dir().
  ~Daemon();
  // Not copyable. The deleted copy operations take non-const references so that
  // `Daemon daemon({{"environments", ...}})` is not ambiguous with a copy from a braced list.
  Daemon(Daemon&) = delete;
  Daemon& operator=(Daemon&) = delete;

  // Starts `digestgated --config config_path()` and returns once it has written
  // state_dir()/listen-address and GET /healthz answers 200 (at most 20 s). Throws
  // std::runtime_error with the tail of the log if the daemon exits or does not become healthy;
  // in the latter case it is killed first. Throws if the daemon is already running.
  void start();
  // Sends `sig` and waits up to 60 s (longer than the daemon's own 20 s drain deadline) for the
  // daemon to exit, then prints its threads' states and its log on stderr and SIGKILLs it; a stop
  // slower than 5 s is reported on stderr too. Returns its exit status (WEXITSTATUS, or 128 + the
  // signal that ended it). When the daemon is not running, returns the status of its last exit
  // (or -1 if it never ran).
  int stop(int sig = SIGTERM);
  // SIGKILLs the daemon and reaps it (no-op when not running).
  void kill9();
  bool running() const { return m_process.running(); }

  // "http://HOST:PORT" of the running daemon (from listen-address).
  std::string url() const;
  // "HOST:PORT" of the running daemon, for raw_request().
  std::string address() const;
  const std::string& dir() const { return m_dir.path(); }
  const std::string& state_dir() const { return m_state_dir; }
  std::string config_path() const;
  std::string policy_path() const;
  std::string db_path() const;
  // `digestgated init --state-dir DIR`, with `--ledger URL` on PostgreSQL.
  std::vector<std::string> init_argv() const;
  // Where this daemon's ledger is, as `digestgate ledger verify --db` takes it: db_path() on
  // SQLite, the database's URL on PostgreSQL.
  std::string ledger_db() const;
  std::string log_path() const;
  // The running daemon's pid, or -1.
  pid_t pid() const { return m_process.pid(); }

  // The checkpoint key (PEM) in the state directory, to start another daemon of the same ledger.
  std::string shared_key() const;
  // The configuration as last written.
  const nlohmann::json& config() const { return m_config; }
  // Replaces config.json atomically; takes effect on the next start().
  void write_config(const nlohmann::json& config);
  // Replaces policy.json atomically (a reload never sees a partial file).
  void write_policy(const nlohmann::json& policy);
  // Sends SIGHUP. The reload is asynchronous: poll for its effect (see wait_until()).
  void reload();

  // The content of daemon.log.
  std::string log() const;

  // One request on a fresh connection with "Connection: close". Adds "Content-Type:
  // application/json" when `body` is not empty and "Authorization: Bearer <token>" when `token` is
  // not empty; an entry of `headers` replaces a default header of the same name. Reads the whole
  // response (Content-Length, chunked, or until close). Each network wait times out after 10 s.
  HttpResponse http(const std::string& method,
                    const std::string& target,
                    const std::string& body = "",
                    const std::string& token = "",
                    const std::map<std::string, std::string>& headers = {}) const;

  // Runs the CLI as `digestgate --url url() ARGS...`, with DIGESTGATE_TOKEN=`token` in the
  // environment (unset when empty) and DIGESTGATE_URL unset.
  CliResult cli(const std::vector<std::string>& args,
                const std::string& token = "",
                const std::string& stdin_data = "") const;

private:
  TempDir m_dir; // first member: removed after everything else is torn down
  std::string m_state_dir;
  nlohmann::json m_config;
  Process m_process;
  HostPort m_address;
};

// "sha256:" + 64 lowercase hex, deterministic in `n` (the SHA-256 of "digest-<n>").
std::string sample_digest(int n);

// The value of the sample `series` ("name", or "name{labels}" spelled as the daemon writes it) in
// the Prometheus exposition `text` (GET /metrics), or 0 when it has no such sample.
double metric_sample(const std::string& text, const std::string& series);

// Polls `predicate` every 20 ms until it returns true (then returns true) or `timeout` elapses
// (then returns false).
bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace dg::test
