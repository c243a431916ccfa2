#include "tests/support/registry.hpp"

#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dg::test {

namespace {

using json = nlohmann::json;

constexpr const char* k_registry_program = "/usr/bin/docker-registry";

void write_or_throw(const std::string& path, const std::string& content) {
  if (!write_file_atomic(path, content)) {
    throw std::runtime_error("cannot write " + path);
  }
}

CliResult run_or_throw(const std::vector<std::string>& argv) {
  auto result = run_process(argv, {}, "", 60);
  if (result.exit_code != 0) {
    throw std::runtime_error(argv[0] + " failed: " + result.err + result.out);
  }
  return result;
}

std::string base64url(const std::string& bytes) {
  std::string text = base64_encode(bytes);
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  return text;
}

// libtrust's key id: base32 of the first 240 bits of the SHA-256 of the DER public key, in
// groups of four characters joined by ':'.
std::string libtrust_key_id(const std::string& der) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const Hash hash = sha256(der);
  std::string bits;
  std::string encoded;
  std::uint64_t buffer = 0;
  int count = 0;
  for (int i = 0; i < 30; ++i) {
    buffer = (buffer << 8) | hash[static_cast<std::size_t>(i)];
    count += 8;
    while (count >= 5) {
      encoded += k_alphabet[(buffer >> (count - 5)) & 31];
      count -= 5;
    }
  }
  std::string id;
  for (std::size_t i = 0; i < encoded.size(); i += 4) {
    id.append(id.empty() ? "" : ":").append(encoded, i, 4);
  }
  return id;
}

int listen_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 64) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

bool can_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// Reads an HTTP request head (up to 64 KiB, 5 s); empty on failure.
std::string read_head(int fd) {
  std::string data;
  char buffer[4096];
  while (data.find("\r\n\r\n") == std::string::npos && data.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) {
      return {};
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      return {};
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    done += static_cast<std::size_t>(n);
  }
}

// Accepts connections on `listen_fd` until `stop_fd` is readable, handing each to `handle`.
template <class Handle>
void accept_loop(int listen_fd, int stop_fd, Handle handle) {
  while (true) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      handle(fd);
    }
  }
}

std::string query_param(const std::string& target, const std::string& name) {
  const std::size_t q = target.find('?');
  if (q == std::string::npos) {
    return {};
  }
  std::string query = target.substr(q + 1);
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, end - start);
    if (pair.rfind(name + "=", 0) == 0) {
      std::string value;
      const std::string raw = pair.substr(name.size() + 1);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size()) {
          value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          value += raw[i] == '+' ? ' ' : raw[i];
        }
      }
      return value;
    }
    start = end + 1;
  }
  return {};
}

} // namespace

int free_port() {
  int port = 0;
  const int fd = listen_loopback(port);
  ::close(fd);
  return port;
}

TestCa::TestCa() {
  const std::string& d = m_dir.path();
  m_ca = d + "/ca.pem";
  m_cert = d + "/server.pem";
  m_key = d + "/server.key";
  write_or_throw(d + "/ext.cnf", "subjectAltName=IP:127.0.0.1\n");
  run_or_throw({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", d + "/ca.key", "-out", m_ca, "-days", "2", "-subj",
                "/CN=digestgate test CA"});
  run_or_throw({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", m_key, "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"});
  run_or_throw({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", m_ca, "-CAkey",
                d + "/ca.key", "-CAcreateserial", "-out", m_cert, "-days", "2", "-extfile",
                d + "/ext.cnf"});
}

TokenServer::TokenServer(std::string service, std::string issuer)
    : m_service(std::move(service)), m_issuer(std::move(issuer)) {
  const std::string& d = m_dir.path();
  m_key = d + "/token.key";
  m_cert = d + "/token.pem";
  run_or_throw({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", m_key,
                "-out", m_cert, "-days", "2", "-subj", "/CN=digestgate test token issuer"});
  run_or_throw(
      {"openssl", "pkey", "-in", m_key, "-pubout", "-outform", "DER", "-out", d + "/token.der"});
  m_kid = libtrust_key_id(read_file(d + "/token.der").value());
  m_listen_fd = listen_loopback(m_port);
  if (::pipe2(m_stop_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  m_thread = std::thread([this] { serve(); });
}

TokenServer::~TokenServer() {
  [[maybe_unused]] const auto n = ::write(m_stop_pipe[1], "x", 1);
  m_thread.join();
  ::close(m_listen_fd);
  ::close(m_stop_pipe[0]);
  ::close(m_stop_pipe[1]);
}

std::string TokenServer::realm() const {
  return "http://127.0.0.1:" + std::to_string(m_port) + "/token";
}

void TokenServer::require_basic(std::string username, std::string password) {
  m_username = std::move(username);
  m_password = std::move(password);
}

std::string TokenServer::mint(const std::string& repository_path,
                              const std::string& actions) const {
  json granted = json::array();
  std::size_t start = 0;
  while (start <= actions.size() && !actions.empty()) {
    const std::size_t end = std::min(actions.find(',', start), actions.size());
    granted.push_back(actions.substr(start, end - start));
    start = end + 1;
  }
  const long long now = now_ns() / 1000000000LL;
  const json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", m_kid}};
  const json claims = {
      {"iss", m_issuer},
      {"sub", "digestgate-test"},
      {"aud", m_service},
      {"exp", now + 300},
      {"nbf", now - 10},
      {"iat", now},
      {"jti", to_hex(random_bytes(8))},
      {"access",
       json::array({{{"type", "repository"}, {"name", repository_path}, {"actions", granted}}})}};
  const std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  static std::atomic<int> counter{0};
  const std::string in = m_dir.path() + "/input" + std::to_string(++counter);
  write_or_throw(in, signing_input);
  run_or_throw({"openssl", "dgst", "-sha256", "-sign", m_key, "-out", in + ".sig", in});
  return signing_input + "." + base64url(read_file(in + ".sig").value());
}

void TokenServer::serve() {
  accept_loop(m_listen_fd, m_stop_pipe[0], [this](int fd) {
    const std::string head = read_head(fd);
    if (!head.empty()) {
      write_all(fd, answer(head));
    }
    ::close(fd);
  });
}

std::string TokenServer::answer(const std::string& head) {
  ++m_requests;
  const std::size_t sp1 = head.find(' ');
  const std::size_t sp2 = head.find(' ', sp1 + 1);
  const std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto reply = [](int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  if (!m_username.empty()) {
    const std::string expected =
        "authorization: basic " + base64_encode(m_username + ":" + m_password);
    std::string lower = head;
    for (char& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string wanted = expected;
    for (char& c : wanted) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower.find(wanted) == std::string::npos) {
      return reply(401, R"({"details":"credentials required"})");
    }
  }
  if (query_param(target, "service") != m_service) {
    return reply(400, R"({"details":"unknown service"})");
  }
  // scope=repository:acme/app:pull
  const std::string scope = query_param(target, "scope");
  const std::size_t first = scope.find(':');
  const std::size_t last = scope.rfind(':');
  if (scope.rfind("repository:", 0) != 0 || first == last) {
    return reply(400, R"({"details":"bad scope"})");
  }
  const std::string token = mint(scope.substr(first + 1, last - first - 1), scope.substr(last + 1));
  return reply(200, json{{"token", token}, {"expires_in", 300}}.dump());
}

RegistryServer::RegistryServer(RegistryOptions options) : m_options(options) {
  const std::string& d = m_dir.path();
  m_port = free_port();
  std::string config = "version: 0.1\n"
                       "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                       "storage:\n  filesystem:\n    rootdirectory: " +
                       d +
                       "/data\n  delete:\n    enabled: true\n"
                       "http:\n  addr: 127.0.0.1:" +
                       std::to_string(m_port) + "\n  secret: digestgate-test-secret\n";
  if (options.tls != nullptr) {
    config += "  tls:\n    certificate: " + options.tls->cert_file() +
              "\n    key: " + options.tls->key_file() + "\n";
  }
  if (!options.username.empty()) {
    const auto line = run_or_throw({"htpasswd", "-Bbn", options.username, options.password});
    write_or_throw(d + "/htpasswd", line.out);
    config += "auth:\n  htpasswd:\n    realm: digestgate-test\n    path: " + d + "/htpasswd\n";
  } else if (options.token != nullptr) {
    config += "auth:\n  token:\n    realm: " + options.token->realm() +
              "\n    service: " + options.token->service() +
              "\n    issuer: " + options.token->issuer() +
              "\n    rootcertbundle: " + options.token->certificate_file() + "\n";
  }
  write_or_throw(d + "/config.yml", config);

  const std::string log = d + "/registry.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const std::string config_path = d + "/config.yml";
  const pid_t parent = ::getpid();
  m_pid = ::fork();
  if (m_pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::close_range(3, ~0U, 0);
    ::execl(k_registry_program, k_registry_program, "serve", config_path.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(log_fd);
  if (m_pid < 0) {
    throw std::runtime_error("fork failed");
  }
  const bool up = wait_until(
      [&] {
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
          m_pid = -1;
          return true;
        }
        return can_connect(m_port);
      },
      std::chrono::seconds(20));
  if (!up || m_pid < 0) {
    stop();
    throw std::runtime_error("docker-registry did not start: " + this->log());
  }
}

RegistryServer::~RegistryServer() {
  stop();
}

void RegistryServer::stop() {
  if (m_pid <= 0) {
    return;
  }
  ::kill(m_pid, SIGTERM);
  const bool exited = wait_until(
      [&] {
        int status = 0;
        return ::waitpid(m_pid, &status, WNOHANG) == m_pid;
      },
      std::chrono::seconds(10));
  if (!exited) {
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
  }
  m_pid = -1;
}

std::string RegistryServer::host() const {
  return "127.0.0.1:" + std::to_string(m_port);
}

std::string RegistryServer::endpoint() const {
  return std::string(m_options.tls != nullptr ? "https://" : "http://") + host();
}

std::string RegistryServer::log() const {
  auto text = read_file(m_dir.path() + "/registry.log");
  return text ? *text : std::string();
}

CliResult RegistryServer::curl(const std::string& repository_path,
                               std::vector<std::string> extra) const {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "20",
                                   "-o",   "-",   "-w",         "\n%{http_code}"};
  if (m_options.tls != nullptr) {
    argv.insert(argv.end(), {"--cacert", m_options.tls->ca_file()});
  }
  if (!m_options.username.empty()) {
    argv.insert(argv.end(), {"-u", m_options.username + ":" + m_options.password});
  }
  if (m_options.token != nullptr) {
    argv.insert(argv.end(), {"-H", "Authorization: Bearer " +
                                       m_options.token->mint(repository_path, "pull,push,delete")});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = run_process(argv, {}, "", 30);
  if (result.exit_code != 0) {
    throw std::runtime_error("curl failed: " + result.err);
  }
  return result;
}

namespace {

int status_of(const CliResult& result) {
  const std::size_t nl = result.out.rfind('\n');
  return std::stoi(result.out.substr(nl + 1));
}

} // namespace

std::string RegistryServer::push_blob(const std::string& path, const std::string& bytes) const {
  const std::string digest = digest_of(bytes);
  const std::string file = m_dir.path() + "/upload-" + digest.substr(7);
  write_or_throw(file, bytes);
  const std::string headers = file + ".headers";
  auto started =
      curl(path, {"-X", "POST", "-D", headers, endpoint() + "/v2/" + path + "/blobs/uploads/"});
  if (status_of(started) != 202) {
    throw std::runtime_error("blob upload not started: " + started.out);
  }
  std::string location;
  const std::string head = read_file(headers).value();
  std::size_t at = 0;
  while (at < head.size()) {
    const std::size_t end = head.find("\r\n", at);
    const std::string line = head.substr(at, end - at);
    if (line.size() > 9 && (line.rfind("Location:", 0) == 0 || line.rfind("location:", 0) == 0)) {
      location = line.substr(9);
      location.erase(0, location.find_first_not_of(' '));
    }
    at = end == std::string::npos ? head.size() : end + 2;
  }
  if (location.rfind("http", 0) != 0) {
    location = endpoint() + location;
  }
  location.append(location.find('?') == std::string::npos ? "?" : "&")
      .append("digest=")
      .append(digest);
  auto put = curl(path, {"-X", "PUT", "-H", "Content-Type: application/octet-stream",
                         "--data-binary", "@" + file, location});
  if (status_of(put) != 201) {
    throw std::runtime_error("blob upload refused: " + put.out);
  }
  return digest;
}

std::string RegistryServer::push_manifest(const std::string& path,
                                          const std::string& reference,
                                          const std::string& media_type,
                                          const std::string& bytes) const {
  const std::string digest = digest_of(bytes);
  const std::string file = m_dir.path() + "/manifest-" + digest.substr(7);
  write_or_throw(file, bytes);
  auto put = curl(path, {"-X", "PUT", "-H", "Content-Type: " + media_type, "--data-binary",
                         "@" + file, endpoint() + "/v2/" + path + "/manifests/" + reference});
  if (status_of(put) != 201) {
    throw std::runtime_error("manifest refused: " + put.out);
  }
  return digest;
}

void RegistryServer::delete_manifest(const std::string& path, const std::string& digest) const {
  auto deleted = curl(path, {"-X", "DELETE", endpoint() + "/v2/" + path + "/manifests/" + digest});
  if (status_of(deleted) != 202) {
    throw std::runtime_error("manifest not deleted: " + deleted.out);
  }
}

TestImage make_image(const std::string& seed, const std::vector<std::string>& platforms) {
  TestImage image;
  json index = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests", json::array()}};
  for (const std::string& platform : platforms) {
    const std::string os = platform.substr(0, platform.find('/'));
    const std::string arch = platform.substr(platform.find('/') + 1);
    const std::string layer = "layer of " + seed + " for " + platform;
    const json config_json = {{"architecture", arch},
                              {"os", os},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", {digest_of(layer)}}}}};
    const std::string config = config_json.dump();
    image.blobs.push_back({digest_of(config), "application/vnd.oci.image.config.v1+json", config});
    image.blobs.push_back({digest_of(layer), "application/vnd.oci.image.layer.v1.tar", layer});
    const json manifest_json = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config",
         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
          {"digest", digest_of(config)},
          {"size", config.size()}}},
        {"layers", json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                 {"digest", digest_of(layer)},
                                 {"size", layer.size()}}})}};
    const std::string manifest = manifest_json.dump();
    image.manifests.push_back(
        {digest_of(manifest), "application/vnd.oci.image.manifest.v1+json", manifest});
    image.platforms[platform] = digest_of(manifest);
    index["manifests"].push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", digest_of(manifest)},
                                  {"size", manifest.size()},
                                  {"platform", {{"architecture", arch}, {"os", os}}}});
  }
  image.index_bytes = index.dump();
  image.index_digest = digest_of(image.index_bytes);
  return image;
}

void push_image(const RegistryServer& registry,
                const std::string& path,
                const TestImage& image,
                const std::string& tag) {
  for (const auto& blob : image.blobs) {
    registry.push_blob(path, blob.bytes);
  }
  for (const auto& manifest : image.manifests) {
    registry.push_manifest(path, manifest.digest, manifest.media_type, manifest.bytes);
  }
  registry.push_manifest(path, tag.empty() ? image.index_digest : tag,
                         "application/vnd.oci.image.index.v1+json", image.index_bytes);
}

namespace {

void push_cosign_manifest(const RegistryServer& registry,
                          const std::string& path,
                          const std::string& tag,
                          const std::string& layer_type,
                          const std::string& layer,
                          const json& annotations) {
  const std::string config = R"({"architecture":"","os":"","rootfs":{"type":"layers"}})";
  registry.push_blob(path, config);
  registry.push_blob(path, layer);
  json layer_descriptor = {
      {"mediaType", layer_type}, {"digest", digest_of(layer)}, {"size", layer.size()}};
  if (!annotations.empty()) {
    layer_descriptor["annotations"] = annotations;
  }
  const json manifest = {{"schemaVersion", 2},
                         {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"config",
                          {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                           {"digest", digest_of(config)},
                           {"size", config.size()}}},
                         {"layers", json::array({layer_descriptor})}};
  registry.push_manifest(path, tag, "application/vnd.oci.image.manifest.v1+json", manifest.dump());
}

} // namespace

void push_cosign_signature(const RegistryServer& registry,
                           const std::string& path,
                           const std::string& digest,
                           const json& signature) {
  const std::string payload = base64_decode(signature["payload"].get<std::string>()).value();
  push_cosign_manifest(
      registry, path, "sha256-" + digest.substr(7) + ".sig",
      "application/vnd.dev.cosign.simplesigning.v1+json", payload,
      {{"dev.cosignproject.cosign/signature", signature["signature"].get<std::string>()}});
}

void push_cosign_attestation(const RegistryServer& registry,
                             const std::string& path,
                             const std::string& digest,
                             const json& attestation) {
  push_cosign_manifest(registry, path, "sha256-" + digest.substr(7) + ".att",
                       "application/vnd.dsse.envelope.v1+json", attestation["envelope"].dump(),
                       {{"predicateType", "https://slsa.dev/provenance/v1"}});
}

BadListener::BadListener(Mode mode) : m_mode(mode) {
  m_listen_fd = listen_loopback(m_port);
  if (::pipe2(m_stop_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  m_thread = std::thread([this] { serve(); });
}

BadListener::~BadListener() {
  [[maybe_unused]] const auto n = ::write(m_stop_pipe[1], "x", 1);
  m_thread.join();
  ::close(m_listen_fd);
  ::close(m_stop_pipe[0]);
  ::close(m_stop_pipe[1]);
}

std::string BadListener::host() const {
  return "127.0.0.1:" + std::to_string(m_port);
}

void BadListener::serve() {
  std::vector<int> held; // connections left open on purpose, closed at the end
  accept_loop(m_listen_fd, m_stop_pipe[0], [&](int fd) {
    if (m_mode == Mode::silent) {
      held.push_back(fd);
      return;
    }
    const std::string head = read_head(fd);
    if (m_mode == Mode::garbage) {
      write_all(fd, std::string("SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03 this is not HTTP\r\n\r\n"));
      ::close(fd);
      return;
    }
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n"
                  "Docker-Content-Digest: sha256:" +
                      std::string(64, 'a') + "\r\nContent-Length: 10737418240\r\n\r\n{\"a\":");
    held.push_back(fd);
  });
  for (const int fd : held) {
    ::close(fd);
  }
}

} // namespace dg::test
