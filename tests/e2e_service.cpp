// End-to-end: the daemon as a network service. TLS and client certificates, the limits on bodies,
// headers, idle connections and connection count, HTTP/1.1 pipelining and garbage input, draining
// on SIGTERM, the systemd notify protocol, policy reload on SIGHUP, configuration errors, the
// Prometheus exposition and the JSON log.
#include "tests/support/daemon.hpp"
#include "tests/support/files.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <set>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace dg::test;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* k_app = "ghcr.io/acme/app";

// Staging approves any recorded digest of ghcr.io/acme/*: the evidence needs no more than a
// subject, so load can be generated without signing anything.
json lenient_policy() {
  return {{"environments",
           {{"staging",
             {{"repositories", {"ghcr.io/acme/*"}}, {"require_complete_evidence", false}}}}}};
}

json minimal_evidence(const std::string& digest) {
  return {{"subject", {{"name", k_app}, {"digest", digest}}}};
}

json promotion(const std::string& reference) {
  return {{"reference", reference}, {"environment", "staging"}};
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// --- Raw HTTP ---------------------------------------------------------------------------------

struct ParsedResponse {
  int status = 0;
  std::map<std::string, std::string> headers; // lowercase names
  std::string body;
};

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Takes one complete HTTP/1.1 response with a Content-Length off the front of `buffer`. Returns
// nullopt while it is incomplete; throws when what is there is not an HTTP/1.1 response.
std::optional<ParsedResponse> take_response(std::string& buffer) {
  if (buffer.compare(0, std::min<std::size_t>(9, buffer.size()), "HTTP/1.1 ", 0,
                     std::min<std::size_t>(9, buffer.size())) != 0) {
    throw std::runtime_error("not an HTTP/1.1 response: " + buffer.substr(0, 64));
  }
  const auto head_end = buffer.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return std::nullopt;
  }
  const auto lines = lines_of(buffer.substr(0, head_end));
  ParsedResponse response;
  const std::string& status_line = lines.front();
  if (status_line.size() < 12 ||
      status_line.substr(9, 3).find_first_not_of("0123456789") != std::string::npos ||
      (status_line.size() > 12 && status_line[12] != ' ' && status_line[12] != '\r')) {
    throw std::runtime_error("bad status line: " + status_line);
  }
  response.status = std::stoi(status_line.substr(9, 3));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      throw std::runtime_error("bad header line: " + line);
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    response.headers[lowercase(line.substr(0, colon))] = value;
  }
  const auto length = response.headers.find("content-length");
  if (length == response.headers.end()) {
    throw std::runtime_error("response without Content-Length");
  }
  const std::size_t size = std::stoul(length->second);
  if (buffer.size() < head_end + 4 + size) {
    return std::nullopt;
  }
  response.body = buffer.substr(head_end + 4, size);
  buffer.erase(0, head_end + 4 + size);
  return response;
}

// Sends one request on a fresh connection and reads until the server closes. Returns nullopt when
// nothing at all came back (the connection was refused, reset or closed unanswered); throws when
// something came back that is not one complete response.
std::optional<ParsedResponse> exchange_once(const std::string& address,
                                            const std::string& request) {
  std::unique_ptr<Connection> conn;
  try {
    conn = std::make_unique<Connection>(address);
  } catch (const std::runtime_error&) {
    return std::nullopt; // refused: the daemon has stopped accepting
  }
  conn->send(request);
  conn->read_until_closed(15'000);
  std::string& received = conn->received();
  if (received.empty()) {
    return std::nullopt;
  }
  auto response = take_response(received);
  if (!response) {
    throw std::runtime_error("truncated response: " + received.substr(0, 200));
  }
  if (!received.empty()) {
    throw std::runtime_error("bytes after the response: " + received.substr(0, 200));
  }
  return response;
}

std::string
post_request(const std::string& target, const std::string& token, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: digestgate.test\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// --- A daemon process started by the test --------------------------------------------------

// A digestgated on `daemon`'s configuration and log, started by the test itself, for what the
// fixture's Daemon does not do: TLS (its health check speaks plain HTTP) and an environment with
// NOTIFY_SOCKET. The fixture's own process must be stopped first. Killed when destroyed.
class ServiceProcess {
public:
  explicit ServiceProcess(const Daemon& daemon, const std::map<std::string, std::string>& env = {})
      : m_address_file(daemon.state_dir() + "/listen-address") {
    ::unlink(m_address_file.c_str());
    // No service manager the tests happen to run under may hear from this daemon.
    std::map<std::string, std::string> environment = {
        {"NOTIFY_SOCKET", ""}, {"LISTEN_FDS", ""}, {"LISTEN_PID", ""}};
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    m_process.start({DG_DAEMON_PATH, "--config", daemon.config_path()}, daemon.log_path(),
                    environment);
  }

  // "127.0.0.1:PORT" once the daemon has written its listen-address (at most 20 s).
  std::string address() {
    std::string content;
    const bool written = wait_until(
        [&] {
          if (const auto status = exited()) {
            throw std::runtime_error("digestgated exited with " + std::to_string(*status) +
                                     " while starting");
          }
          content = read_text(m_address_file);
          return !content.empty() && content.back() == '\n';
        },
        std::chrono::seconds(20));
    if (!written) {
      throw std::runtime_error("digestgated wrote no listen-address within 20 s");
    }
    content.pop_back();
    return content;
  }

  // The exit status once the process has exited (reaps it), else nullopt.
  std::optional<int> exited() { return m_process.wait_for(std::chrono::milliseconds(0)); }

  // Sends `sig` and waits up to 60 s (longer than the daemon's own 20 s drain deadline) for the
  // exit status, then SIGKILLs.
  int stop(int sig = SIGTERM) { return m_process.stop(sig, std::chrono::seconds(60)); }

  void signal(int sig) const { m_process.signal(sig); }

private:
  std::string m_address_file;
  Process m_process; // SIGKILLed and reaped when destroyed
};

// --- TLS material ---------------------------------------------------------------------------

struct TlsFiles {
  std::string ca;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
  // A client certificate from a CA the daemon does not trust.
  std::string rogue_cert;
  std::string rogue_key;
};

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CliResult r = run_process(argv, {{"OPENSSL_CONF", ""}}, "", 30);
  if (r.exit_code != 0) {
    std::string command;
    for (const auto& a : argv) {
      command += a + " ";
    }
    throw std::runtime_error(command + "exited with " + std::to_string(r.exit_code) + ":\n" +
                             r.err);
  }
}

void make_ca(const std::string& dir, const std::string& name) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "2",
           "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
}

// A leaf certificate `name`.pem / `name`.key signed by the CA `ca`, with `extensions` (one
// extension per line, as `openssl x509 -extfile` reads them).
void make_leaf(const std::string& dir,
               const std::string& ca,
               const std::string& name,
               const std::string& subject,
               const std::string& extensions,
               int serial) {
  const std::string ext_file = dir + "/" + name + ".ext";
  std::ofstream(ext_file) << extensions;
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr", "-subj",
           subject});
  openssl({"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/" + ca + ".pem",
           "-CAkey", dir + "/" + ca + ".key", "-set_serial", std::to_string(serial), "-days", "2",
           "-out", dir + "/" + name + ".pem", "-extfile", ext_file});
}

TlsFiles make_tls_files(const std::string& dir) {
  make_ca(dir, "ca");
  make_ca(dir, "rogue-ca");
  make_leaf(dir, "ca", "server", "/CN=127.0.0.1",
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            2);
  make_leaf(dir, "ca", "client", "/CN=ci-client",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", 3);
  make_leaf(dir, "rogue-ca", "rogue", "/CN=ci-client",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", 4);
  return TlsFiles{dir + "/ca.pem",     dir + "/server.pem", dir + "/server.key",
                  dir + "/client.pem", dir + "/client.key", dir + "/rogue.pem",
                  dir + "/rogue.key"};
}

// `digestgate --url https://ADDRESS ARGS... envs` with the reader's token.
CliResult https_envs(const std::string& address, const std::vector<std::string>& tls_args) {
  std::vector<std::string> argv = {DG_CLI_PATH, "--url", "https://" + address};
  argv.insert(argv.end(), tls_args.begin(), tls_args.end());
  argv.push_back("envs");
  return run_process(argv, {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", k_reader_token}}, "", 30);
}

// `POST /v1/admission/staging` over https with curl, with `args` (certificates), no token;
// returns the body followed by a line with the HTTP status.
CliResult admission_over_tls(const std::string& address, const std::vector<std::string>& args) {
  const std::string review = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",)"
                             R"("request":{"uid":"tls-uid-1","operation":"DELETE"}})";
  std::vector<std::string> argv = {
      "curl",          "-sS",  "-X", "POST",          "-H", "Content-Type: application/json",
      "--data-binary", review, "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("https://" + address + "/v1/admission/staging");
  return run_process(argv, {{"CURL_HOME", "/nonexistent"}}, "", 30);
}

// `openssl s_client` forced to one protocol version; stdin is empty, so it closes after the
// handshake.
CliResult s_client(const std::string& address, const std::string& ca, const std::string& version) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect",   address,     "-brief",
                                   "-CAfile", ca,         "-verify_ip", "127.0.0.1", version};
  if (version == "-tls1_1") {
    // OpenSSL 3 only offers TLS 1.1 at security level 0; the client must be able to ask.
    argv.insert(argv.end(), {"-cipher", "DEFAULT@SECLEVEL=0"});
  }
  CliResult r = run_process(argv, {{"OPENSSL_CONF", ""}}, "", 30);
  r.out += r.err;
  return r;
}

// --- Prometheus text exposition format 0.0.4 -------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types; // family -> counter|gauge|histogram|summary|untyped
  std::vector<Sample> samples;

  std::vector<Sample> named(const std::string& name) const {
    std::vector<Sample> out;
    for (const auto& s : samples) {
      if (s.name == name) {
        out.push_back(s);
      }
    }
    return out;
  }
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) {
        return s.value;
      }
    }
    return std::nullopt;
  }
};

bool is_metric_name(const std::string& s) {
  if (s.empty() ||
      !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == ':')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == ':'; });
}

bool is_label_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

double parse_number(const std::string& token, const std::string& line) {
  if (token == "+Inf" || token == "Inf") {
    return INFINITY;
  }
  if (token == "-Inf") {
    return -INFINITY;
  }
  if (token == "NaN") {
    return NAN;
  }
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(token.c_str(), &end);
  if (token.empty() || end != token.c_str() + token.size() || errno != 0 ||
      token.find_first_of("xXnNiI") != std::string::npos) {
    throw std::runtime_error("not a sample value: '" + token + "' in: " + line);
  }
  return v;
}

// The family a sample belongs to, given the TYPEs declared so far, or "" when none.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name) != 0) {
    return name;
  }
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      const auto it = types.find(base);
      if (it != types.end() &&
          (it->second == "histogram" || (it->second == "summary" && s != "_bucket"))) {
        return base;
      }
    }
  }
  return "";
}

// Parses the exposition strictly; throws std::runtime_error naming the first offending line.
Exposition parse_exposition(const std::string& text) {
  if (text.empty() || text.back() != '\n') {
    throw std::runtime_error("the exposition must end with a newline");
  }
  Exposition out;
  std::set<std::string> helped;
  std::set<std::string> finished; // families whose block has ended
  std::string current;            // the family of the current block
  std::set<std::string> series;
  auto enter = [&](const std::string& family, const std::string& line) {
    if (family != current) {
      if (finished.count(family) != 0) {
        throw std::runtime_error("family " + family + " is split in two blocks at: " + line);
      }
      if (!current.empty()) {
        finished.insert(current);
      }
      current = family;
    }
  };
  for (const std::string& line : lines_of(text)) {
    if (line.empty()) {
      continue;
    }
    if (line[0] == '#') {
      std::istringstream in(line);
      std::string hash;
      std::string keyword;
      std::string name;
      in >> hash >> keyword >> name;
      if (hash != "#" || (keyword != "HELP" && keyword != "TYPE")) {
        continue; // a plain comment
      }
      if (!is_metric_name(name)) {
        throw std::runtime_error("bad metric name in: " + line);
      }
      enter(name, line);
      const std::string prefix = "# " + keyword + " " + name;
      if (line.size() > prefix.size() && line[prefix.size()] != ' ') {
        throw std::runtime_error("bad separator in: " + line);
      }
      const std::string rest = line.size() > prefix.size() ? line.substr(prefix.size() + 1) : "";
      if (keyword == "HELP") {
        if (!helped.insert(name).second) {
          throw std::runtime_error("second HELP for " + name);
        }
        for (std::size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\') {
            if (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')) {
              throw std::runtime_error("bad escape in HELP: " + line);
            }
            ++i;
          }
        }
      } else {
        static const std::set<std::string> k_types = {"counter", "gauge", "histogram", "summary",
                                                      "untyped"};
        if (k_types.count(rest) == 0) {
          throw std::runtime_error("unknown TYPE in: " + line);
        }
        if (out.types.count(name) != 0) {
          throw std::runtime_error("second TYPE for " + name);
        }
        for (const auto& s : out.samples) {
          if (family_of(s.name, {{name, rest}}) == name) {
            throw std::runtime_error("TYPE after samples of " + name);
          }
        }
        out.types[name] = rest;
      }
      continue;
    }

    Sample sample;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') {
      ++i;
    }
    sample.name = line.substr(0, i);
    if (!is_metric_name(sample.name)) {
      throw std::runtime_error("bad metric name in: " + line);
    }
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        const auto eq = line.find('=', i);
        if (eq == std::string::npos) {
          throw std::runtime_error("bad label in: " + line);
        }
        const std::string label = line.substr(i, eq - i);
        if (!is_label_name(label)) {
          throw std::runtime_error("bad label name '" + label + "' in: " + line);
        }
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          throw std::runtime_error("unquoted label value in: " + line);
        }
        ++i;
        std::string value;
        while (true) {
          if (i >= line.size()) {
            throw std::runtime_error("unterminated label value in: " + line);
          }
          const char c = line[i++];
          if (c == '"') {
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) {
              throw std::runtime_error("bad escape in: " + line);
            }
            const char e = line[i++];
            if (e == '\\' || e == '"') {
              value += e;
            } else if (e == 'n') {
              value += '\n';
            } else {
              throw std::runtime_error("bad escape in: " + line);
            }
          } else {
            value += c;
          }
        }
        if (!sample.labels.emplace(label, value).second) {
          throw std::runtime_error("label " + label + " given twice in: " + line);
        }
        if (i < line.size() && line[i] == ',') {
          ++i;
        } else if (i >= line.size() || line[i] != '}') {
          throw std::runtime_error("expected ',' or '}' in: " + line);
        }
      }
    }
    if (i >= line.size() || line[i] != ' ') {
      throw std::runtime_error("no value in: " + line);
    }
    std::istringstream rest(line.substr(i + 1));
    std::string value_token;
    std::string timestamp;
    std::string extra;
    rest >> value_token >> timestamp >> extra;
    sample.value = parse_number(value_token, line);
    if (!timestamp.empty() && timestamp.find_first_not_of("-0123456789") != std::string::npos) {
      throw std::runtime_error("bad timestamp in: " + line);
    }
    if (!extra.empty()) {
      throw std::runtime_error("trailing text in: " + line);
    }
    const std::string family = family_of(sample.name, out.types);
    if (family.empty()) {
      throw std::runtime_error("sample without a TYPE declared before it: " + line);
    }
    enter(family, line);
    std::string key = sample.name + "{";
    for (const auto& [k, v] : sample.labels) {
      key += k + "=" + v + ",";
    }
    if (!series.insert(key).second) {
      throw std::runtime_error("duplicate series: " + line);
    }
    const std::string& type = out.types[family];
    if (type == "counter" && !(sample.value >= 0)) {
      throw std::runtime_error("negative counter: " + line);
    }
    if (type == "histogram" && sample.name == family + "_bucket" &&
        sample.labels.count("le") == 0) {
      throw std::runtime_error("bucket without le: " + line);
    }
    if (type == "histogram" && sample.name == family) {
      throw std::runtime_error("histogram sample without _bucket/_sum/_count: " + line);
    }
    out.samples.push_back(std::move(sample));
  }

  // Histograms: per label set, buckets in increasing `le` with non-decreasing counts, ending at
  // +Inf, which equals _count; _sum present.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram") {
      continue;
    }
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (const auto& s : out.samples) {
      if (s.name == family + "_bucket") {
        auto labels = s.labels;
        const double le = parse_number(labels["le"], family + " le=" + labels["le"]);
        labels.erase("le");
        buckets[labels].emplace_back(le, s.value);
      }
    }
    if (buckets.empty()) {
      throw std::runtime_error("histogram " + family + " has no buckets");
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t k = 1; k < list.size(); ++k) {
        if (!(list[k].first > list[k - 1].first)) {
          throw std::runtime_error("histogram " + family + ": le not increasing");
        }
        if (list[k].second < list[k - 1].second) {
          throw std::runtime_error("histogram " + family + ": buckets not cumulative");
        }
      }
      if (!std::isinf(list.back().first)) {
        throw std::runtime_error("histogram " + family + " has no +Inf bucket");
      }
      const auto count = out.value(family + "_count", labels);
      if (!count || *count != list.back().second) {
        throw std::runtime_error("histogram " + family + ": +Inf bucket differs from _count");
      }
      if (!out.value(family + "_sum", labels)) {
        throw std::runtime_error("histogram " + family + " has no _sum");
      }
    }
  }
  return out;
}

// --- Traffic shared by the metrics and log checks ------------------------------------------

struct Traffic {
  int approved = 0;
  int refused_unknown = 0;
  int refused_mutable = 0;
  int recorded = 0;
  std::vector<std::string> request_ids;
};

Traffic generate_traffic(const Daemon& daemon) {
  Traffic t;
  for (int i = 1; i <= 2; ++i) {
    const std::string digest = sample_digest(i);
    auto r =
        daemon.http("POST", "/v1/validations", minimal_evidence(digest).dump(), k_recorder_token);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    t.request_ids.push_back(r.headers["x-request-id"]);
    ++t.recorded;
    r = daemon.http("POST", "/v1/promotions", promotion(std::string(k_app) + "@" + digest).dump(),
                    k_promoter_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    t.request_ids.push_back(r.headers["x-request-id"]);
    ++t.approved;
  }
  auto r =
      daemon.http("POST", "/v1/promotions",
                  promotion(std::string(k_app) + "@" + sample_digest(77)).dump(), k_promoter_token);
  REQUIRE_MESSAGE(r.status == 403, r.body);
  ++t.refused_unknown;
  r = daemon.http("POST", "/v1/promotions", promotion(std::string(k_app) + ":latest").dump(),
                  k_promoter_token);
  REQUIRE_MESSAGE(r.status == 403, r.body);
  ++t.refused_mutable;
  // Refused at the door: a token no principal has, and no token at all.
  CHECK(daemon.http("GET", "/v1/entries", "", "Zx9-wrong-secret-token-Qq7").status == 401);
  CHECK(daemon.http("GET", "/v1/entries").status == 401);
  return t;
}

// Every ledger entry, through the paged listing.
std::vector<json> all_entries(const Daemon& daemon, const std::string& filter = "") {
  std::vector<json> entries;
  std::int64_t after = 0;
  while (true) {
    auto r = daemon.http("GET", "/v1/entries?limit=1000&after=" + std::to_string(after) + filter,
                         "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const json page = r.json()["entries"];
    if (page.empty()) {
      return entries;
    }
    for (const auto& e : page) {
      entries.push_back(e);
      after = e["seq"].get<std::int64_t>();
    }
  }
}

std::string file_sha256(const std::string& path) {
  return dg::to_hex(dg::sha256(read_text(path)));
}

} // namespace

TEST_SUITE_BEGIN("E2E service");

// --- TLS ------------------------------------------------------------------------------------

TEST_CASE("Over TLS the CLI needs the CA, and with client_ca a client certificate from that CA") {
  TempDir pki;
  const TlsFiles files = make_tls_files(pki.path());
  Daemon daemon(lenient_policy());
  REQUIRE(daemon.stop() == 0);
  json config = daemon.config();

  SUBCASE("Server certificate only") {
    config["tls"] = {{"certificate", files.server_cert}, {"private_key", files.server_key}};
    daemon.write_config(config);
    ServiceProcess process(daemon);
    const std::string address = process.address();

    const CliResult trusted = https_envs(address, {"--cacert", files.ca});
    CHECK_MESSAGE(trusted.exit_code == 0, trusted.out << trusted.err);

    const CliResult untrusted = https_envs(address, {});
    CHECK_MESSAGE(untrusted.exit_code == 3, untrusted.out << untrusted.err);

    const CliResult wrong_ca = https_envs(address, {"--cacert", pki.path() + "/rogue-ca.pem"});
    CHECK_MESSAGE(wrong_ca.exit_code == 3, wrong_ca.out << wrong_ca.err);

    // Plain HTTP to the TLS port never gets an answer from the service.
    const std::string plain =
        raw_request(address, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    CHECK_MESSAGE(plain.rfind("HTTP/1.1 200", 0) != 0, plain);
    CHECK_FALSE(contains(plain, "\"ok\""));

    SUBCASE("TLS 1.2 and 1.3 are accepted, 1.1 is refused") {
      const CliResult v12 = s_client(address, files.ca, "-tls1_2");
      CHECK_MESSAGE(v12.exit_code == 0, v12.out);
      CHECK_MESSAGE(contains(v12.out, "Protocol version: TLSv1.2"), v12.out);
      CHECK_MESSAGE(contains(v12.out, "Verification: OK"), v12.out);

      const CliResult v13 = s_client(address, files.ca, "-tls1_3");
      CHECK_MESSAGE(v13.exit_code == 0, v13.out);
      CHECK_MESSAGE(contains(v13.out, "Protocol version: TLSv1.3"), v13.out);

      const CliResult v11 = s_client(address, files.ca, "-tls1_1");
      CHECK_FALSE_MESSAGE(contains(v11.out, "Protocol version: TLSv1.1"), v11.out);
      if (contains(v11.out, "no protocols available") || contains(v11.out, "unknown option") ||
          contains(v11.out, "unsupported protocol")) {
        MESSAGE("this openssl cannot offer TLS 1.1; only checked that 1.2 is accepted");
      } else {
        CHECK_NE(v11.exit_code, 0);
        // The ClientHello went out and the daemon answered with a protocol_version alert (70).
        CHECK_MESSAGE(contains(v11.out, "alert protocol version"), v11.out);
      }
    }
    // Failed handshakes leave the daemon serving.
    CHECK(https_envs(address, {"--cacert", files.ca}).exit_code == 0);
    // Without client_ca there is no client certificate to stand for a token.
    const CliResult no_token = admission_over_tls(address, {"--cacert", files.ca});
    CHECK_MESSAGE(contains(no_token.out, "\n401"), no_token.out << no_token.err);
    CHECK(process.stop() == 0);
  }

  SUBCASE("Client certificates required") {
    config["tls"] = {{"certificate", files.server_cert},
                     {"private_key", files.server_key},
                     {"client_ca", files.ca}};
    daemon.write_config(config);
    ServiceProcess process(daemon);
    const std::string address = process.address();

    const CliResult anonymous = https_envs(address, {"--cacert", files.ca});
    CHECK_MESSAGE(anonymous.exit_code == 3, anonymous.out << anonymous.err);

    const CliResult rogue = https_envs(
        address, {"--cacert", files.ca, "--cert", files.rogue_cert, "--key", files.rogue_key});
    CHECK_MESSAGE(rogue.exit_code == 3, rogue.out << rogue.err);

    const CliResult with_cert = https_envs(
        address, {"--cacert", files.ca, "--cert", files.client_cert, "--key", files.client_key});
    CHECK_MESSAGE(with_cert.exit_code == 0, with_cert.out << with_cert.err);

    // The certificate authenticates the channel, not the caller: a token is still needed.
    std::vector<std::string> argv = {DG_CLI_PATH,      "--url",  "https://" + address, "--cacert",
                                     files.ca,         "--cert", files.client_cert,    "--key",
                                     files.client_key, "envs"};
    const CliResult no_token =
        run_process(argv, {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", ""}}, "", 30);
    CHECK_MESSAGE(no_token.exit_code == 4, no_token.out << no_token.err);
    // ... except for admission reviews: the API server's webhook client has a certificate and no
    // token.
    const CliResult review = admission_over_tls(
        address, {"--cacert", files.ca, "--cert", files.client_cert, "--key", files.client_key});
    CHECK_MESSAGE(contains(review.out, "\"uid\":\"tls-uid-1\""), review.out << review.err);
    CHECK_MESSAGE(contains(review.out, "\"allowed\":true"), review.out << review.err);
    CHECK_MESSAGE(contains(review.out, "\n200"), review.out << review.err);
    CHECK(process.stop() == 0);
  }
}

// --- Limits ---------------------------------------------------------------------------------

namespace {

const json k_limits = {
    {"limits", {{"max_body_bytes", 4096}, {"header_timeout_ms", 1000}, {"idle_timeout_ms", 1500}}}};

} // namespace

TEST_CASE("A body over max_body_bytes is refused with 413 before it is read") {
  Daemon daemon(lenient_policy(), k_limits);
  const std::size_t entries_before = all_entries(daemon).size();
  std::size_t appended = 0;

  SUBCASE("Content-Length over the limit: answered at once, with most of the body unsent") {
    const std::string head = "POST /v1/validations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             std::string(k_recorder_token) +
                             "\r\nContent-Type: application/json\r\n"
                             "Content-Length: 100000000\r\n\r\n{\"subject\":";
    const auto start = Clock::now();
    std::string received = raw_request(daemon.address(), head, 5000);
    const auto elapsed = ms_since(start);
    CHECK_MESSAGE(elapsed < 2000, "the 413 took " << elapsed << " ms");
    auto response = take_response(received);
    REQUIRE_MESSAGE(response.has_value(), received);
    CHECK(response->status == 413);
    CHECK(json::parse(response->body).value("error", "") == "body-too-large");
    CHECK(lowercase(response->headers["connection"]) == "close");
  }
  SUBCASE("A chunked body whose chunk exceeds the limit") {
    const std::string head = "POST /v1/validations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             std::string(k_recorder_token) +
                             "\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n2000\r\n{\"subject\":";
    const auto start = Clock::now();
    std::string received = raw_request(daemon.address(), head, 5000);
    CHECK(ms_since(start) < 2000);
    auto response = take_response(received);
    REQUIRE_MESSAGE(response.has_value(), received);
    CHECK(response->status == 413);
    CHECK(json::parse(response->body).value("error", "") == "body-too-large");
  }
  SUBCASE("A body just under the limit is read and handled") {
    json evidence = minimal_evidence(sample_digest(5));
    evidence["subject"]["labels"] = {{"org.example.note", ""}};
    const std::size_t bare = evidence.dump().size();
    evidence["subject"]["labels"]["org.example.note"] = std::string(4096 - bare, 'v');
    const std::string body = evidence.dump();
    REQUIRE(body.size() == 4096);
    auto r = daemon.http("POST", "/v1/validations", body, k_recorder_token);
    CHECK_MESSAGE(r.status == 201, r.body);
    appended = 1;
  }
  // Nothing of a refused body reached the ledger, and the daemon serves on.
  CHECK(all_entries(daemon).size() == entries_before + appended);
  CHECK(daemon.http("GET", "/healthz").status == 200);
}

TEST_CASE("A slow-loris client is cut off after header_timeout_ms while others are served") {
  Daemon daemon(lenient_policy(), k_limits);
  Connection loris(daemon.address());
  const auto start = Clock::now();
  std::atomic<long long> cut_after_ms{-1};
  std::thread slow([&] {
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
    for (char c : request) {
      if (!loris.send(std::string(1, c))) {
        break;
      }
      // One byte every 200 ms; stop at the first sign of the server closing.
      const auto r = loris.read_some(200);
      if (r == Connection::Read::closed || r == Connection::Read::reset) {
        break;
      }
      if (ms_since(start) > 6000) {
        return;
      }
    }
    cut_after_ms = ms_since(start);
  });
  int served = 0;
  long long slowest = 0;
  while (cut_after_ms < 0 && ms_since(start) < 7000) {
    const auto t = Clock::now();
    const auto r = daemon.http("GET", "/v1/environments", "", k_reader_token);
    slowest = std::max(slowest, ms_since(t));
    CHECK(r.status == 200);
    ++served;
    std::this_thread::sleep_for(milliseconds(100));
  }
  slow.join();
  CHECK_MESSAGE(cut_after_ms >= 900, "cut after " << cut_after_ms << " ms");
  CHECK_MESSAGE(cut_after_ms <= 2500, "cut after " << cut_after_ms << " ms");
  CHECK(loris.received().rfind("HTTP/1.1 200", 0) != 0);
  CHECK_MESSAGE(served >= 3, "served " << served << " requests meanwhile");
  CHECK_MESSAGE(slowest < 1000, "slowest concurrent request took " << slowest << " ms");
}

TEST_CASE("An idle keep-alive connection is closed after idle_timeout_ms") {
  Daemon daemon(lenient_policy(), k_limits);
  Connection conn(daemon.address());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

  // Two requests on one connection, the second after an idle pause shorter than the timeout.
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      std::this_thread::sleep_for(milliseconds(700));
    }
    REQUIRE(conn.send(request));
    std::optional<ParsedResponse> response;
    while (!(response = take_response(conn.received()))) {
      REQUIRE(conn.read_some(5000) == Connection::Read::data);
    }
    CHECK(response->status == 200);
    CHECK(lowercase(response->headers["connection"]) != "close");
  }
  const auto idle_since = Clock::now();
  CHECK(conn.read_until_closed(6000));
  const auto idle = ms_since(idle_since);
  CHECK_MESSAGE(idle >= 1300, "closed after " << idle << " ms idle");
  CHECK_MESSAGE(idle <= 3500, "closed after " << idle << " ms idle");
  CHECK(conn.received().empty());
}

TEST_CASE("Beyond max_connections a connection gets 503 or is closed; capacity comes back") {
  Daemon daemon(lenient_policy(),
                {{"limits", {{"max_connections", 4}, {"header_timeout_ms", 8000}}}});
  // True when the probe's own connection is the only one open: a connection is counted until
  // the server has finished with it, which may be after its client has read the answer.
  const auto only_probe_open = [&] {
    try {
      const auto r = daemon.http("GET", "/metrics");
      return r.status == 200 &&
             parse_exposition(r.body).value("digestgate_open_connections") == 1.0;
    } catch (const std::runtime_error&) {
      return false;
    }
  };
  REQUIRE(wait_until(only_probe_open));

  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Connection>(daemon.address()));
  }
  Connection fifth(daemon.address());
  CHECK(fifth.read_until_closed(5000));
  std::string& answer = fifth.received();
  if (!answer.empty()) {
    auto response = take_response(answer);
    REQUIRE_MESSAGE(response.has_value(), answer);
    CHECK(response->status == 503);
  }

  // The held connections are served.
  REQUIRE(held[0]->send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(held[0]->read_until_closed(5000));
  auto response = take_response(held[0]->received());
  REQUIRE(response.has_value());
  CHECK(response->status == 200);

  held.clear();
  REQUIRE(wait_until(only_probe_open));
  // Capacity is back in full: four new connections are all served.
  std::vector<std::unique_ptr<Connection>> again;
  for (int i = 0; i < 4; ++i) {
    again.push_back(std::make_unique<Connection>(daemon.address()));
  }
  for (auto& conn : again) {
    REQUIRE(conn->send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  }
  for (auto& conn : again) {
    CHECK(conn->read_until_closed(5000));
    auto r = take_response(conn->received());
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
  }
}

TEST_CASE("Pipelined requests on one connection are answered in order") {
  Daemon daemon(lenient_policy(), k_limits);
  Connection conn(daemon.address());
  REQUIRE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /no-such-endpoint HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(conn.read_until_closed(5000));
  std::vector<ParsedResponse> responses;
  while (auto r = take_response(conn.received())) {
    responses.push_back(std::move(*r));
  }
  CHECK(conn.received().empty());
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].status == 200);
  CHECK(json::parse(responses[0].body)["status"] == "ok");
  CHECK(responses[1].status == 404);
  CHECK(responses[2].status == 200);
  CHECK(json::parse(responses[2].body)["status"] == "ready");
  std::set<std::string> ids;
  for (const auto& r : responses) {
    ids.insert(r.headers.at("x-request-id"));
  }
  CHECK(ids.size() == 3);
}

TEST_CASE("Malformed requests get 400 or 431 and the daemon keeps serving") {
  Daemon daemon(lenient_policy(), k_limits);
  struct Row {
    const char* what;
    std::string bytes;
    std::set<int> statuses;
  };
  std::string binary = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
  binary += std::string(40, '\0');
  binary += "\r\n\r\n";
  const std::vector<Row> rows = {
      {"garbage text", "THIS IS NOT HTTP AT ALL\r\n\r\n", {400}},
      {"binary bytes", binary, {400}},
      {"a bad version", "GET /healthz HTTP/7.3\r\nHost: x\r\n\r\n", {400}},
      {"a header line without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", {400}},
      {"a header over 16 KiB",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n",
       {431, 400}},
  };
  for (const auto& row : rows) {
    const std::string what = row.what;
    CAPTURE(what);
    std::string received = raw_request(daemon.address(), row.bytes, 5000);
    auto response = take_response(received);
    REQUIRE_MESSAGE(response.has_value(), received);
    CHECK(row.statuses.count(response->status) == 1);
    CHECK(daemon.http("GET", "/healthz").status == 200);
  }
}

// --- Drain ----------------------------------------------------------------------------------

TEST_CASE("SIGTERM drains: answered requests are complete and acknowledged entries survive") {
  Daemon daemon(lenient_policy());
  const std::string address = daemon.address();
  struct Ack {
    std::int64_t seq;
    std::string kind;
    std::string digest;
  };
  std::mutex mutex;
  std::vector<Ack> acks;
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> unanswered{0};
  std::atomic<int> in_flight_completed{0};
  std::atomic<Clock::rep> sigterm_at{Clock::time_point::max().time_since_epoch().count()};

  auto worker = [&](int t) {
    for (int k = 0; !stop; ++k) {
      const std::string digest = sample_digest(100000 + t * 10000 + k);
      std::string kind;
      std::string request;
      switch (k % 3) {
      case 0:
        kind = "validation";
        request =
            post_request("/v1/validations", k_recorder_token, minimal_evidence(digest).dump());
        break;
      case 1: // the digest recorded just before: approved
      case 2: // never recorded: refused
        kind = "promotion";
        request = post_request(
            "/v1/promotions", k_promoter_token,
            promotion(std::string(k_app) + "@" +
                      (k % 3 == 1 ? sample_digest(100000 + t * 10000 + k - 1) : digest))
                .dump());
        break;
      }
      const auto sent_at = Clock::now();
      try {
        auto response = exchange_once(address, request);
        if (!response) {
          // Refused or closed unanswered: not acknowledged, so nothing is owed. Only a daemon
          // that is going away may do that.
          ++unanswered;
          if (Clock::now().time_since_epoch().count() < sigterm_at) {
            std::lock_guard lock(mutex);
            failures.push_back("a request was left unanswered before SIGTERM");
          }
          return;
        }
        ++answered;
        if (sent_at.time_since_epoch().count() < sigterm_at &&
            Clock::now().time_since_epoch().count() > sigterm_at) {
          ++in_flight_completed;
        }
        const json body = json::parse(response->body, nullptr, false);
        if (body.is_discarded()) {
          throw std::runtime_error("body is not JSON: " + response->body);
        }
        if (body.contains("seq")) {
          const std::string& d = k % 3 == 1 ? sample_digest(100000 + t * 10000 + k - 1) : digest;
          std::lock_guard lock(mutex);
          acks.push_back({body["seq"].get<std::int64_t>(), kind, d});
        } else if (response->status != 503) {
          throw std::runtime_error("unexpected answer " + std::to_string(response->status) + ": " +
                                   response->body);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures.push_back(e.what());
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back(worker, t);
  }
  std::this_thread::sleep_for(milliseconds(600));
  sigterm_at = Clock::now().time_since_epoch().count();
  const int status = daemon.stop(SIGTERM);
  stop = true;
  for (auto& th : threads) {
    th.join();
  }
  CHECK(status == 0);
  for (const auto& f : failures) {
    FAIL_CHECK(f);
  }
  MESSAGE(answered.load() << " answered, " << unanswered.load() << " unanswered, "
                          << in_flight_completed.load() << " completed after SIGTERM");
  CHECK(in_flight_completed >= 1);
  REQUIRE(!acks.empty());

  daemon.start();
  const auto entries = all_entries(daemon);
  std::map<std::int64_t, json> by_seq;
  for (const auto& e : entries) {
    by_seq[e["seq"].get<std::int64_t>()] = e;
  }
  for (const auto& ack : acks) {
    CAPTURE(ack.seq);
    REQUIRE(by_seq.count(ack.seq) == 1);
    const json& e = by_seq[ack.seq];
    CHECK(e["kind"] == ack.kind);
    CHECK(contains(e["body"].dump(), ack.digest));
  }
  CHECK(contains(daemon.log(), "\"draining\""));
}

TEST_CASE("SIGTERM cuts connections that sent no complete header and stops at once") {
  Daemon daemon(lenient_policy());
  const std::string address = daemon.address();
  Connection silent(address);
  Connection partial(address);
  REQUIRE(partial.send("GET /v1/checkpoint HTTP/1.1\r\nHost: digestgate.test\r\n"));
  // The daemon accepts in order: once a later connection is answered, both have been accepted.
  REQUIRE(daemon.http("GET", "/healthz").status == 200);

  const auto signalled = Clock::now();
  const int status = daemon.stop(SIGTERM);
  const auto took = ms_since(signalled);
  CHECK(status == 0);
  // The header timeout is 10 s; a drain that waited for these connections would take that long.
  CHECK_MESSAGE(took < 5000, "the daemon took " << took << " ms to stop");
  CHECK(silent.read_until_closed(1000));
  CHECK(partial.read_until_closed(1000));
  CHECK(partial.received().empty());
}

TEST_CASE("SIGHUP immediately followed by SIGTERM stops cleanly") {
  Daemon daemon(lenient_policy());
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    if (round > 0) {
      daemon.start();
    }
    // A changed policy, so that the reload appends to the ledger while the daemon drains.
    json policy = lenient_policy();
    policy["environments"]["round-" + std::to_string(round)] = {{"repositories", {"ghcr.io/*"}}};
    daemon.write_policy(policy);
    daemon.reload();
    REQUIRE(daemon.stop(SIGTERM) == 0);
    const std::string log = daemon.log();
    std::size_t stopped = 0;
    for (auto at = log.find("\"msg\":\"stopped\""); at != std::string::npos;
         at = log.find("\"msg\":\"stopped\"", at + 1)) {
      ++stopped;
    }
    CHECK(stopped == static_cast<std::size_t>(round) + 1);
  }
  // What the reloads appended is whole: the daemon starts on the ledger and it verifies.
  daemon.start();
  const auto verify = daemon.cli({"ledger", "verify", "--db", daemon.ledger_db()});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
}

// --- systemd notify -------------------------------------------------------------------------

TEST_CASE("With NOTIFY_SOCKET the daemon sends READY=1 once serving and STOPPING=1 on SIGTERM") {
  Daemon daemon(lenient_policy());
  REQUIRE(daemon.stop() == 0);

  TempDir sockets;
  const std::string path = sockets.path() + "/notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  // Datagrams as they arrive, within `timeout_ms` of the call.
  auto next_datagram = [&](int timeout_ms) -> std::optional<std::string> {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) {
      return std::nullopt;
    }
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n < 0 ? std::nullopt : std::optional<std::string>(std::string(buffer, n));
  };
  auto has_assignment = [](const std::string& message, const std::string& assignment) {
    for (const auto& line : lines_of(message)) {
      if (line == assignment) {
        return true;
      }
    }
    return false;
  };

  ServiceProcess process(daemon, {{"NOTIFY_SOCKET", path}});
  std::vector<std::string> messages;
  bool ready = false;
  const auto start = Clock::now();
  while (!ready && ms_since(start) < 20'000) {
    if (auto m = next_datagram(1000)) {
      messages.push_back(*m);
      ready = has_assignment(*m, "READY=1");
    }
    REQUIRE_FALSE(process.exited().has_value());
  }
  REQUIRE_MESSAGE(ready, "no READY=1 within 20 s");
  // Ready means serving: the address is published and requests are answered at once.
  REQUIRE(file_exists(daemon.state_dir() + "/listen-address"));
  const std::string address = process.address();
  std::string health =
      raw_request(address, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000);
  auto response = take_response(health);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  // Nothing more is said while serving.
  CHECK_FALSE(next_datagram(200).has_value());

  process.signal(SIGTERM);
  bool stopping = false;
  while (!stopping) {
    auto m = next_datagram(10'000);
    if (!m) {
      break;
    }
    messages.push_back(*m);
    CHECK_FALSE(has_assignment(*m, "READY=1"));
    stopping = has_assignment(*m, "STOPPING=1");
  }
  CHECK(stopping);
  const int status = process.stop();
  CHECK_MESSAGE(status == 0, "exit status " << status);
}

// --- Policy reload --------------------------------------------------------------------------

TEST_CASE("SIGHUP reloads and ledgers a changed policy; a broken one is refused and kept out") {
  Daemon daemon(lenient_policy());
  auto current_policy = [&] {
    auto r = daemon.http("GET", "/v1/policy", "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  };
  auto policy_entries = [&] { return all_entries(daemon, "&kind=policy"); };

  const std::string first_sha = file_sha256(daemon.policy_path());
  CHECK(current_policy()["sha256"] == first_sha);
  REQUIRE(policy_entries().size() == 1);

  // A changed policy: production is added.
  json second = lenient_policy();
  second["environments"]["production"] = {{"after", {"staging"}},
                                          {"require_complete_evidence", false}};
  daemon.write_policy(second);
  const std::string second_sha = file_sha256(daemon.policy_path());
  REQUIRE(second_sha != first_sha);
  daemon.reload();
  CHECK(wait_until([&] { return current_policy()["sha256"] == second_sha; }));
  {
    const auto entries = policy_entries();
    REQUIRE(entries.size() == 2);
    CHECK(entries[1]["body"]["sha256"] == second_sha);
    CHECK(current_policy()["seq"] == entries[1]["seq"]);
    CHECK(entries[1]["body"]["policy"]["environments"].contains("production"));
  }
  auto envs = daemon.cli({"--json", "envs"}, k_reader_token);
  CHECK_MESSAGE(contains(envs.out, "production"), envs.out << envs.err);

  SUBCASE("A policy with an unknown field is refused and the old one stays") {
    json broken = second;
    broken["environments"]["staging"]["require_gatez"] = {"vuln-scan"};
    daemon.write_policy(broken);
    daemon.reload();
    CHECK(wait_until([&] {
      for (const auto& line : lines_of(daemon.log())) {
        const json j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("level", "") == "error" &&
            contains(line, "require_gatez")) {
          return true;
        }
      }
      return false;
    }));
    CHECK(current_policy()["sha256"] == second_sha);
    CHECK(policy_entries().size() == 2);
    // production, which only the policy in force defines, is still known.
    CHECK(daemon.http("GET", "/v1/environments/production", "", k_reader_token).status == 200);
  }
  SUBCASE("An unchanged policy is not ledgered again, on SIGHUP or at restart") {
    const auto reloads = [&] {
      int n = 0;
      for (const auto& line : lines_of(daemon.log())) {
        n += contains(line, "\"policy reloaded\"") ? 1 : 0;
      }
      return n;
    };
    const int before = reloads();
    daemon.write_policy(second); // the same bytes
    REQUIRE(file_sha256(daemon.policy_path()) == second_sha);
    daemon.reload();
    CHECK(wait_until([&] { return reloads() == before + 1; }));
    CHECK(policy_entries().size() == 2);

    REQUIRE(daemon.stop() == 0);
    daemon.start();
    CHECK(current_policy()["sha256"] == second_sha);
    CHECK(policy_entries().size() == 2);
  }
}

// --- Configuration errors -------------------------------------------------------------------

TEST_CASE("A bad configuration stops the daemon at start with a message naming the field") {
  Daemon daemon(lenient_policy());
  REQUIRE(daemon.stop() == 0);
  const json good = daemon.config();
  const std::string address_file = daemon.state_dir() + "/listen-address";

  struct Row {
    const char* what;
    std::function<void(json&)> mutate;
    std::string field;
  };
  const std::vector<Row> rows = {
      {"an unknown top-level field", [](json& c) { c["listen_backlog"] = 5; }, "listen_backlog"},
      {"an unknown limits field",
       [](json& c) {
         c["limits"] = {{"max_bodyz", 1}};
       },
       "limits.max_bodyz"},
      {"a missing policy file", [](json& c) { c["policy"] = "/nonexistent-dir/rules.json"; },
       "policy"},
      {"a listen address without a port", [](json& c) { c["listen"] = "127.0.0.1"; }, "listen"},
      {"a listen port out of range", [](json& c) { c["listen"] = "127.0.0.1:70000"; }, "listen"},
      {"a token_sha256 that is not 64 hex",
       [](json& c) { c["principals"][0]["token_sha256"] = "abc123"; }, "token_sha256"},
      {"a token_sha256 in uppercase hex",
       [](json& c) { c["principals"][0]["token_sha256"] = std::string(64, 'A'); }, "token_sha256"},
      {"an unknown role", [](json& c) { c["principals"][1]["roles"] = {"admin"}; }, "roles"},
      {"a missing TLS certificate",
       [](json& c) {
         c["tls"] = {{"certificate", "/nonexistent-dir/cert.pem"},
                     {"private_key", "/nonexistent-dir/key.pem"}};
       },
       "tls.certificate"},
      {"a zero body limit",
       [](json& c) {
         c["limits"] = {{"max_body_bytes", 0}};
       },
       "max_body_bytes"},
      {"a missing state_dir", [](json& c) { c.erase("state_dir"); }, "state_dir"},
  };
  for (const auto& row : rows) {
    const std::string what = row.what;
    CAPTURE(what);
    json config = good;
    row.mutate(config);
    daemon.write_config(config);
    ::unlink(address_file.c_str());
    const CliResult r = run_process({DG_DAEMON_PATH, "--config", daemon.config_path()},
                                    {{"NOTIFY_SOCKET", ""}}, "", 20);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code < 128); // an orderly refusal, not a crash
    CHECK_MESSAGE(contains(r.err, row.field), r.err);
    CHECK_FALSE(file_exists(address_file));
  }
  SUBCASE("A configuration file that does not exist") {
    ::unlink(address_file.c_str());
    const CliResult r = run_process({DG_DAEMON_PATH, "--config", daemon.dir() + "/missing.json"},
                                    {{"NOTIFY_SOCKET", ""}}, "", 20);
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(contains(r.err, "missing.json"), r.err);
    CHECK_FALSE(file_exists(address_file));
  }
  // The good configuration still starts.
  daemon.write_config(good);
  daemon.start();
  CHECK(daemon.http("GET", "/readyz").status == 200);
}

// --- Metrics --------------------------------------------------------------------------------

TEST_CASE("GET /metrics is a valid Prometheus exposition of requests, decisions and the ledger") {
  Daemon daemon(lenient_policy());
  const Traffic traffic = generate_traffic(daemon);

  const auto response = daemon.http("GET", "/metrics");
  REQUIRE(response.status == 200);
  CHECK_MESSAGE(response.headers.at("content-type").rfind("text/plain; version=0.0.4", 0) == 0,
                response.headers.at("content-type"));
  Exposition metrics;
  try {
    metrics = parse_exposition(response.body);
  } catch (const std::runtime_error& e) {
    FAIL(e.what() << "\n" << response.body);
  }

  CHECK(metrics.types["digestgate_http_requests_total"] == "counter");
  CHECK(metrics.types["digestgate_decisions_total"] == "counter");
  CHECK(metrics.types["digestgate_decision_reasons_total"] == "counter");
  CHECK(metrics.types["digestgate_ledger_entries"] == "gauge");
  CHECK(metrics.types["digestgate_checkpoint_size"] == "gauge");
  CHECK(metrics.types["digestgate_ledger_append_seconds"] == "histogram");
  CHECK(metrics.types["digestgate_ledger_commit_batch_size"] == "histogram");

  // Requests by route and status.
  auto requests = [&](const std::string& route, const std::string& status) {
    double total = 0;
    for (const auto& s : metrics.named("digestgate_http_requests_total")) {
      REQUIRE(s.labels.count("route") == 1);
      REQUIRE(s.labels.count("status") == 1);
      if (s.labels.at("route") == route && s.labels.at("status") == status) {
        total += s.value;
      }
    }
    return total;
  };
  CHECK(requests("/v1/validations", "201") == traffic.recorded);
  CHECK(requests("/v1/promotions", "200") == traffic.approved);
  CHECK(requests("/v1/promotions", "403") == traffic.refused_unknown + traffic.refused_mutable);

  // Decisions by outcome, and the reasons of the refusals.
  auto decisions = [&](const std::string& outcome) {
    double total = 0;
    for (const auto& s : metrics.named("digestgate_decisions_total")) {
      if (s.labels.count("outcome") == 1 && s.labels.at("outcome") == outcome) {
        total += s.value;
      }
    }
    return total;
  };
  CHECK(decisions("approved") == traffic.approved);
  CHECK(decisions("refused") == traffic.refused_unknown + traffic.refused_mutable);
  CHECK(metrics.value("digestgate_decision_reasons_total", {{"reason", "unknown-digest"}}) ==
        std::optional<double>(traffic.refused_unknown));
  CHECK(metrics.value("digestgate_decision_reasons_total", {{"reason", "mutable-reference"}}) ==
        std::optional<double>(traffic.refused_mutable));

  // The ledger: its size as listed, its checkpoint's size, and the commits that built it.
  const auto entries = all_entries(daemon);
  const std::string checkpoint = daemon.http("GET", "/v1/checkpoint", "", k_reader_token).body;
  const auto checkpoint_lines = lines_of(checkpoint);
  REQUIRE(checkpoint_lines.size() >= 2);
  CHECK(metrics.value("digestgate_ledger_entries") ==
        std::optional<double>(static_cast<double>(entries.size())));
  CHECK(metrics.value("digestgate_checkpoint_size") ==
        std::optional<double>(std::stod(checkpoint_lines[1])));
  // One policy entry, two validations, four decisions: each appended by this process.
  CHECK(entries.size() == 1u + traffic.recorded + traffic.approved + traffic.refused_unknown +
                              traffic.refused_mutable);
  CHECK(metrics.value("digestgate_ledger_commit_batch_size_sum") ==
        std::optional<double>(static_cast<double>(entries.size())));
  const auto commits = metrics.value("digestgate_ledger_append_seconds_count");
  REQUIRE(commits.has_value());
  CHECK(*commits >= 1);
  CHECK(*commits <= static_cast<double>(entries.size()));
  CHECK(metrics.value("digestgate_ledger_commit_batch_size_count") == commits);

  SUBCASE("Client-chosen methods do not become label values") {
    for (const char* method : {"BREW", "XQ1", "XQ2"}) {
      std::string got =
          raw_request(daemon.address(), std::string(method) + " /healthz HTTP/1.1\r\nHost: x\r\n"
                                                              "Connection: close\r\n\r\n");
      CHECK(got.rfind("HTTP/1.1 4", 0) == 0);
    }
    const std::string text = daemon.http("GET", "/metrics").body;
    CHECK_NOTHROW(parse_exposition(text));
    CHECK_FALSE(contains(text, "XQ1"));
    CHECK_FALSE(contains(text, "BREW"));
  }

  SUBCASE("promtool accepts the exposition") {
    const CliResult which = run_process({"/bin/sh", "-c", "command -v promtool"});
    if (which.exit_code != 0) {
      MESSAGE("promtool is not installed; skipped");
      return;
    }
    const CliResult check = run_process({"promtool", "check", "metrics"}, {}, response.body);
    CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
  }
}

TEST_CASE("The exposition parser refuses what Prometheus would refuse") {
  // The parser above is itself under test: each line breaks one rule.
  const std::string header = "# TYPE a counter\n";
  const std::vector<std::string> bad = {
      "a 1\n",                                             // no TYPE
      header + "a{x=\"1} 1\n",                             // unterminated value
      header + "a{x=\"\\q\"} 1\n",                         // bad escape
      header + "a{1x=\"1\"} 1\n",                          // bad label name
      header + "a one\n",                                  // bad value
      header + "a 1\nb 2\n",                               // b has no TYPE
      header + "a 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n", // split family
      header + "a 1\na 2\n",                               // duplicate series
      header + "a -1\n",                                   // negative counter
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
      header + "a 1", // no final newline
  };
  for (const auto& text : bad) {
    CAPTURE(text);
    CHECK_THROWS_AS(parse_exposition(text), std::runtime_error);
  }
  const Exposition ok = parse_exposition(
      "# HELP a A \\\\ help\\n line.\n# TYPE a counter\na{x=\"q\\\"\\\\\\n\",y=\"\"} 1.5e3\n"
      "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\n"
      "h_count 2\n");
  CHECK(ok.value("a", {{"x", "q\"\\\n"}, {"y", ""}}) == std::optional<double>(1500));
}

// --- Logs -----------------------------------------------------------------------------------

TEST_CASE("Every log line is a JSON object; requests carry their id; no token is logged") {
  Daemon daemon(lenient_policy());
  // Start over with a log of this daemon's serving alone (the fixture also logs `init` there).
  REQUIRE(daemon.stop() == 0);
  std::ofstream(daemon.log_path(), std::ios::trunc).close();
  daemon.start();
  const Traffic traffic = generate_traffic(daemon);
  daemon.write_policy({{"environments", {{"staging", {{"bogus_field", 1}}}}}});
  daemon.reload();
  CHECK(wait_until([&] { return contains(daemon.log(), "bogus_field"); }));
  REQUIRE(daemon.stop() == 0);

  const std::string log = daemon.log();
  std::set<std::string> logged_ids;
  int lines = 0;
  for (const auto& line : lines_of(log)) {
    CAPTURE(line);
    ++lines;
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j.contains("time"));
    REQUIRE(j["time"].is_string());
    // RFC 3339 in UTC: 2026-01-02T03:04:05[.fff]Z
    const std::string time = j["time"];
    CHECK(time.size() >= 20);
    CHECK(time[4] == '-');
    CHECK(time[10] == 'T');
    CHECK(time.back() == 'Z');
    REQUIRE(j.contains("level"));
    CHECK(std::set<std::string>{"debug", "info", "warn", "error"}.count(j["level"]) == 1);
    REQUIRE(j.contains("msg"));
    CHECK(j["msg"].is_string());
    if (j["msg"] == "request") {
      REQUIRE(j.contains("request_id"));
      logged_ids.insert(j["request_id"].get<std::string>());
    }
  }
  CHECK(lines >= 5);
  for (const auto& id : traffic.request_ids) {
    CHECK_MESSAGE(logged_ids.count(id) == 1, "no request line for X-Request-Id " << id);
  }
  for (const char* token : {k_recorder_token, k_promoter_token, k_operator_token, k_reader_token,
                            k_admin_token, "Zx9-wrong-secret-token-Qq7"}) {
    CHECK_MESSAGE(!contains(log, token), "the log contains " << token);
  }
  CHECK_FALSE(contains(log, "Bearer"));
}

TEST_CASE("GET /readyz answers 200 when the daemon is ready") {
  Daemon daemon(lenient_policy());
  const auto r = daemon.http("GET", "/readyz");
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["status"] == "ready");
  CHECK(daemon.http("GET", "/readyz", "", "", {{"Connection", "close"}})
            .headers.count("x-request-id") == 1);
}

TEST_SUITE_END();
