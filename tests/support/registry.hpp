// Real registries for tests: CNCF distribution (Debian's `docker-registry`) started on free
// loopback ports with a config file in a temporary directory, optionally with TLS (a test CA made
// with `openssl`), htpasswd Basic auth (bcrypt by `htpasswd -B`) or token auth trusting a token
// server of the test's own (RS256 JWTs signed by a test key). Images and cosign signatures are
// pushed through the distribution push API with `curl`. Beside them, listeners that misbehave on
// purpose: one that never answers, one that answers garbage, one that announces 10 GB.
//
// Every server is stopped (and its process reaped) by its destructor; children die with the test
// process (PR_SET_PDEATHSIG).
#pragma once

#include "tests/support/daemon.hpp"
#include "tests/support/evidence.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace dg::test {

// A free loopback TCP port (bound once and released; a registry binds it right after).
int free_port();

// A CA and a server certificate for 127.0.0.1, made with the openssl command line.
class TestCa {
public:
  TestCa();
  const std::string& ca_file() const { return m_ca; }
  const std::string& cert_file() const { return m_cert; }
  const std::string& key_file() const { return m_key; }

private:
  TempDir m_dir;
  std::string m_ca, m_cert, m_key;
};

// A token server of the test's own: GET /token?service=S&scope=repository:NAME:ACTIONS answers
// {"token": JWT, "expires_in": N} where the JWT (RS256, `kid` the libtrust key id of the key)
// grants the asked actions. When a username is set, requests without that Basic credential get
// 401. Serves on a loopback port on its own thread.
class TokenServer {
public:
  TokenServer(std::string service, std::string issuer);
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  std::string realm() const; // http://127.0.0.1:PORT/token
  const std::string& service() const { return m_service; }
  const std::string& issuer() const { return m_issuer; }
  // The certificate of the signing key, for the registry's rootcertbundle.
  const std::string& certificate_file() const { return m_cert; }
  // A token granting `actions` ("pull,push") on `repository_path` ("acme/app").
  std::string mint(const std::string& repository_path, const std::string& actions) const;
  void require_basic(std::string username, std::string password);
  int requests() const { return m_requests.load(); }

private:
  void serve();
  std::string answer(const std::string& request);

  TempDir m_dir;
  std::string m_service, m_issuer, m_key, m_cert, m_kid;
  std::string m_username, m_password;
  int m_listen_fd = -1;
  int m_stop_pipe[2] = {-1, -1};
  int m_port = 0;
  std::atomic<int> m_requests{0};
  std::thread m_thread;
};

struct RegistryOptions {
  const TestCa* tls = nullptr; // serve https with its server certificate
  std::string username;        // htpasswd Basic auth when not empty
  std::string password;
  const TokenServer* token = nullptr; // token auth trusting this server
};

// A docker-registry process on a free loopback port, with deletes enabled.
class RegistryServer {
public:
  explicit RegistryServer(RegistryOptions options = {});
  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  // "127.0.0.1:PORT", the registry host as written in references.
  std::string host() const;
  // "http://127.0.0.1:PORT" or "https://...".
  std::string endpoint() const;
  void stop();
  std::string log() const;

  // Pushes a blob; returns its digest.
  std::string push_blob(const std::string& path, const std::string& bytes) const;
  // Pushes a manifest under `reference` (a tag or its digest); returns its digest.
  std::string push_manifest(const std::string& path,
                            const std::string& reference,
                            const std::string& media_type,
                            const std::string& bytes) const;
  // Deletes the manifest `digest` (its tags go with it).
  void delete_manifest(const std::string& path, const std::string& digest) const;

private:
  // curl with this registry's TLS and credentials, and `extra` arguments; throws on failure.
  CliResult curl(const std::string& repository_path, std::vector<std::string> extra) const;

  TempDir m_dir;
  RegistryOptions m_options;
  int m_port = 0;
  pid_t m_pid = -1;
};

// An image made by the test: one manifest per platform and an OCI index over them.
struct TestImage {
  std::string index_digest;
  std::string index_bytes;
  std::map<std::string, std::string> platforms; // "linux/amd64" -> manifest digest
  struct Blob {
    std::string digest, media_type, bytes;
  };
  std::vector<Blob> blobs;     // configs and layers
  std::vector<Blob> manifests; // per platform
};

// A deterministic image: `seed` makes the layers unique; `platforms` like {"linux/amd64"}.
TestImage make_image(const std::string& seed, const std::vector<std::string>& platforms);

// Pushes `image` to `registry` under `path`, its index tagged `tag` (none when empty).
void push_image(const RegistryServer& registry,
                const std::string& path,
                const TestImage& image,
                const std::string& tag);

// Pushes a cosign signature manifest (tag `sha256-<hex>.sig`) whose one layer is `signature`'s
// payload, annotated with its signature (the {"payload","signature"} shape of evidence).
void push_cosign_signature(const RegistryServer& registry,
                           const std::string& path,
                           const std::string& digest,
                           const nlohmann::json& signature);
// Pushes a cosign attestation manifest (tag `sha256-<hex>.att`) with the DSSE envelope of
// `attestation` (the {"envelope": ...} shape of evidence) as its layer.
void push_cosign_attestation(const RegistryServer& registry,
                             const std::string& path,
                             const std::string& digest,
                             const nlohmann::json& attestation);

// A listener that misbehaves on every connection.
class BadListener {
public:
  enum class Mode {
    silent,      // accepts and never answers
    garbage,     // answers bytes that are not HTTP, then closes
    huge_length, // answers 200 with Content-Length: 10737418240 and a trickle of body
  };
  explicit BadListener(Mode mode);
  ~BadListener();
  BadListener(const BadListener&) = delete;
  BadListener& operator=(const BadListener&) = delete;
  std::string host() const; // "127.0.0.1:PORT"
  std::string endpoint() const { return "http://" + host(); }

private:
  void serve();
  Mode m_mode;
  int m_listen_fd = -1;
  int m_stop_pipe[2] = {-1, -1};
  int m_port = 0;
  std::thread m_thread;
};

} // namespace dg::test
