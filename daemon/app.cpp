#include "daemon/app.hpp"

#include "daemon/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/notify.hpp"
#include "daemon/service.hpp"
#include "ledger/ledger.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace dg::daemon {

namespace {

constexpr const char* k_usage = R"(usage:
  digestgated --config FILE            serve (SIGTERM/SIGINT drain and stop, SIGHUP reloads the policy)
  digestgated init --state-dir DIR [--ledger URL [--app-role ROLE] [--password-file FILE]]
                                       create the ledger database and the checkpoint signing key;
                                       on an existing ledger, record a new key and check and
                                       witness a restored ledger (docs/operations.md)
  digestgated --version | --help

The configuration file is JSON: listen, state_dir, policy, origin, principals, and optionally tls
and limits and ledger. See docs/operations.md.
)";

struct InitArgs {
  std::string state_dir;
  std::string ledger; // a PostgreSQL URL; empty: SQLite in the state directory
  std::string app_role;
  std::string password_file;
};

int usage_error(const std::string& message) {
  std::cerr << "digestgated: " << message << "\n"
            << "Try 'digestgated --help'.\n";
  return 2;
}

// The checkpoint key in `dir`, created if absent (`created` says so).
std::shared_ptr<Ed25519PrivateKey> key_in(const std::string& dir, bool& created) {
  std::string key_path = dir + "/checkpoint.key";
  created = false;
  if (auto pem = read_file(key_path)) {
    auto loaded = Ed25519PrivateKey::from_pem(*pem);
    if (!loaded) {
      std::cerr << "digestgated: " << key_path << ": " << loaded.error().message << "\n";
      return nullptr;
    }
    return std::make_shared<Ed25519PrivateKey>(std::move(*loaded));
  }
  auto generated = Ed25519PrivateKey::generate();
  if (!generated) {
    std::cerr << "digestgated: " << generated.error().message << "\n";
    return nullptr;
  }
  auto key = std::make_shared<Ed25519PrivateKey>(std::move(*generated));
  if (auto w = write_file_atomic(key_path, key->to_pem(), 0600); !w) {
    std::cerr << "digestgated: " << w.error().message << "\n";
    return nullptr;
  }
  created = true;
  return key;
}

// An existing ledger without this key's witness (restored from a backup, the key rotated, or a
// PostgreSQL ledger other daemons share): check it and witness its current head, so that the
// daemon accepts it.
int witness_existing(const std::string& dir,
                     const InitArgs& a,
                     const std::shared_ptr<Ed25519PrivateKey>& key) {
  ledger::Options options;
  options.database = a.ledger.empty() ? dir + "/ledger.db" : a.ledger;
  options.password_file = a.password_file;
  options.key = key;
  options.witness_path = dir + "/checkpoint.latest";
  auto renewed = ledger::Ledger::renew_witness(options);
  if (!renewed) {
    std::cerr << "digestgated: the ledger does not verify, so no witness was written: "
              << renewed.error().message << "\n";
    return 1;
  }
  std::cout << (*renewed ? "checked the ledger and wrote its witness: "
                         : "witness already present: ")
            << options.witness_path << "\n";
  return 0;
}

int init(const InitArgs& a) {
  const std::string& dir = a.state_dir;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::cerr << "digestgated: cannot create " << dir << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  bool created_key = false;
  auto key = key_in(dir, created_key);
  if (!key) {
    return 1;
  }
  if (auto w = write_file_atomic(dir + "/checkpoint.pub", key->public_key_pem(), 0644); !w) {
    std::cerr << "digestgated: " << w.error().message << "\n";
    return 1;
  }
  const bool postgresql = !a.ledger.empty();
  std::string database = postgresql ? a.ledger : dir + "/ledger.db";
  struct stat st {};
  bool had_db = postgresql || ::stat(database.c_str(), &st) == 0;
  if (auto r = ledger::Ledger::initialize(
          ledger::InitOptions{database, a.password_file, a.app_role}, key->public_key());
      !r) {
    std::cerr << "digestgated: " << r.error().message << "\n";
    return 1;
  }
  std::cout << (postgresql ? "ledger schema present: "
                : had_db   ? "ledger already present: "
                           : "created ledger: ")
            << ledger::redact_database(database) << "\n"
            << (created_key ? "created checkpoint key: " : "checkpoint key already present: ")
            << dir << "/checkpoint.key (mode 0600; public key in " << dir << "/checkpoint.pub)\n";
  if (!a.app_role.empty()) {
    std::cout << "granted " << a.app_role
              << " SELECT on the ledger and INSERT on entries, tree nodes and checkpoints\n";
  }
  return had_db ? witness_existing(dir, a, key) : 0;
}

int init_command(const std::vector<std::string>& args) {
  InitArgs a;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << k_usage;
      return 0;
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      return usage_error("usage: digestgated init --state-dir DIR [--ledger URL [--app-role "
                         "ROLE] [--password-file FILE]]");
    }
    const std::string& value = args[++i];
    if (flag == "--state-dir") {
      a.state_dir = value;
    } else if (flag == "--ledger") {
      a.ledger = value;
    } else if (flag == "--app-role") {
      a.app_role = value;
    } else if (flag == "--password-file") {
      a.password_file = value;
    } else {
      return usage_error("unknown argument '" + flag + "'");
    }
  }
  if (a.state_dir.empty()) {
    return usage_error("usage: digestgated init --state-dir DIR [--ledger URL [--app-role ROLE]]");
  }
  if (!a.ledger.empty() && !ledger::is_postgresql(a.ledger)) {
    return usage_error("--ledger takes a postgresql:// URL (SQLite lives in the state directory)");
  }
  if (a.ledger.empty() && (!a.app_role.empty() || !a.password_file.empty())) {
    return usage_error("--app-role and --password-file go with --ledger URL");
  }
  return init(a);
}

// The checkpoint signing key of `config`, refused unless only its owner may read it; nullptr
// (with the reason on stderr) when it is absent, open to others or unreadable.
std::shared_ptr<const Ed25519PrivateKey> load_checkpoint_key(const Config& config) {
  std::string key_path = config.key_path();
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) {
    std::cerr << "digestgated: no checkpoint key at " << key_path
              << " (run `digestgated init --state-dir " << config.state_dir << "` first)\n";
    return nullptr;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    std::cerr << "digestgated: the checkpoint key " << key_path << " has mode " << mode
              << "; it must be readable by its owner only (chmod 600 " << key_path << ")\n";
    return nullptr;
  }
  auto pem = read_file(key_path);
  if (!pem) {
    std::cerr << "digestgated: " << pem.error().message << "\n";
    return nullptr;
  }
  auto key = Ed25519PrivateKey::from_pem(*pem);
  if (!key) {
    std::cerr << "digestgated: " << key_path << ": " << key.error().message << "\n";
    return nullptr;
  }
  return std::make_shared<const Ed25519PrivateKey>(std::move(*key));
}

// Opens (and checks) the ledger of `config`, signing its checkpoints with `key`; commits are
// counted in `metrics`, which must outlive the ledger.
Result<std::unique_ptr<ledger::Ledger>>
open_ledger(const Config& config, std::shared_ptr<const Ed25519PrivateKey> key, Metrics& metrics) {
  ledger::Options options;
  options.database = config.ledger_path();
  options.password_file = config.ledger.password_file;
  options.origin = config.origin;
  options.key = std::move(key);
  options.witness_path = config.witness_path();
  options.on_commit = [&metrics](std::size_t batch, double seconds) {
    metrics.commit(batch, seconds);
  };
  options.on_callback_error = [](const std::string& problem) {
    log("error", "a ledger completion failed; the entry is durable", {{"problem", problem}});
  };
  return ledger::Ledger::open(options);
}

// Logs what the start-up check of `ledger` found: how long it took, what it had to recompute,
// and a failed integrity check.
void log_start_check(const ledger::Ledger& ledger) {
  auto integrity = ledger.integrity();
  auto checked = ledger.start_report();
  log("info", "ledger checked",
      {{"entries", checked.entries},
       {"seconds", checked.seconds},
       {"derived_tables", checked.derived_rebuilt ? "rebuilt" : "sealed"},
       {"checkpoints", checked.checkpoints_verified ? "verified" : "sealed"}});
  if (checked.derived_rebuilt && checked.entries > 0) {
    log("warn", "derived tables rebuilt from the entries", {{"reason", checked.derived_problem}});
  }
  if (checked.checkpoints_verified && checked.entries > 0) {
    log("warn", "every checkpoint signature verified: the checkpoints were not sealed",
        {{"reason", checked.checkpoints_problem}});
  }
  if (!integrity.ok) {
    log("error", "ledger integrity check failed: refusing every promotion until an operator acts",
        {{"problem", integrity.message}, {"first_bad_seq", integrity.first_bad_seq}});
  }
}

// Listens, writes the listen-address file and serves `service` until a stop signal has drained
// it. Returns the process's exit code.
int listen_and_serve(Service& service, const Config& config, Metrics& metrics) {
  HttpServer server(service, config, metrics);
  auto bound = server.listen();
  if (!bound) {
    std::cerr << "digestgated: " << bound.error().message << "\n";
    return 1;
  }
  if (auto w = write_file_atomic(config.listen_address_path(), *bound + "\n", 0644); !w) {
    std::cerr << "digestgated: " << w.error().message << "\n";
    return 1;
  }
  std::string scheme = config.tls ? "https" : "http";
  int threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  server.run(
      threads,
      [&] {
        log("info", "serving",
            {{"url", scheme + "://" + *bound},
             {"entries", service.ledger().size()},
             {"origin", config.origin},
             {"ready", service.ready()}});
        notify_systemd("READY=1\nSTATUS=serving on " + *bound);
      },
      [&] {
        auto r = service.load_policy();
        if (r) {
          log("info", "policy reloaded", {{"path", config.policy_path}});
        } else {
          log("error", "policy reload failed; the previous policy stays in force",
              {{"error", r.error().message}});
        }
      },
      [&] {
        notify_systemd("STOPPING=1");
        service.set_stopping();
      });
  // While the server (and its signal handlers) lives: another SIGTERM during the close is absorbed.
  service.close();
  return 0;
}

int serve(const std::string& config_path) {
  auto config = load_config(config_path);
  if (!config) {
    std::cerr << "digestgated: " << config.error().message << "\n";
    return 2;
  }
  auto key = load_checkpoint_key(*config);
  if (!key) {
    return 1;
  }
  Metrics metrics;
  auto opened = open_ledger(*config, std::move(key), metrics);
  if (!opened) {
    std::cerr << "digestgated: " << opened.error().message << "\n";
    return 1;
  }
  log_start_check(**opened);
  const bool intact = (*opened)->integrity().ok;
  Service service(*config, std::move(*opened), metrics);
  if (auto loaded = service.load_policy(); !loaded) {
    if (intact) {
      std::cerr << "digestgated: " << loaded.error().message << "\n";
      return 1;
    }
    log("error", "policy not loaded", {{"error", loaded.error().message}});
  }
  if (int code = listen_and_serve(service, *config, metrics); code != 0) {
    return code;
  }
  // The server's signal handlers are gone: what is left is to log and exit, and a stop signal
  // (systemd sends a second one on a timeout) must not end it with a signal status.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  log("info", "stopped", {{"entries", service.ledger().size()}});
  return 0;
}

} // namespace

int daemon_main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    return usage_error("missing --config FILE or init");
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << k_usage;
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "digestgated " DG_VERSION "\n";
    return 0;
  }
  if (args[0] == "init") {
    return init_command(args);
  }
  std::string config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      config = args[i].substr(9);
    } else {
      return usage_error("unknown argument '" + args[i] + "'");
    }
  }
  if (config.empty()) {
    return usage_error("missing --config FILE");
  }
  return serve(config);
}

} // namespace dg::daemon
