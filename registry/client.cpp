#include "registry/client.hpp"

#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace dg::registry {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int k_max_tag_pages = 100;
// A token is used until this long before it expires.
constexpr auto k_token_margin = std::chrono::seconds(10);

Error failure(Errc code, std::string_view kind, const std::string& message) {
  return make_error(code, std::string(kind) + ": " + message);
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool is_digest(std::string_view text) {
  return text.size() == 71 && text.substr(0, 7) == "sha256:" && is_lower_hex(text.substr(7), 64);
}

bool is_tag(std::string_view text) {
  if (text.empty() || text.size() > 128) {
    return false;
  }
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(text.front())) {
    return false;
  }
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_path_component(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(text.front()) || !alnum(text.back())) {
    return false;
  }
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string percent_encode(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    }
  }
  return out;
}

std::string media_type_of(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') {
    type.pop_back();
  }
  return type;
}

// The registry's own words for an unexpected status, from its {"errors": [...]} body.
std::string status_text(const HttpResponse& response) {
  std::string text = "status " + std::to_string(response.status);
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("errors") && body["errors"].is_array() &&
      !body["errors"].empty() && body["errors"][0].is_object()) {
    const json& first = body["errors"][0];
    if (first.contains("code") && first["code"].is_string()) {
      text += " " + first["code"].get<std::string>();
    }
  }
  return text;
}

Error unexpected(const HttpResponse& response, const std::string& what) {
  if (response.status == 404) {
    return failure(Errc::not_found, "not-found", what + " is unknown to the registry");
  }
  if (response.status == 401 || response.status == 403) {
    return failure(Errc::unavailable, "unauthorized", what + ": " + status_text(response));
  }
  return failure(Errc::unavailable, "http-status", what + ": " + status_text(response));
}

// The parameters of a `WWW-Authenticate: Scheme k="v", k2=v2` challenge.
std::map<std::string, std::string> challenge_params(std::string_view text) {
  std::map<std::string, std::string> params;
  std::size_t i = text.find(' ');
  if (i == std::string_view::npos) {
    return params;
  }
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) {
      ++i;
    }
    const std::size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) {
      break;
    }
    std::string key(text.substr(i, eq - i));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value;
    i = eq + 1;
    if (i < text.size() && text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          ++i;
        }
        value += text[i];
      }
      ++i;
    } else {
      while (i < text.size() && text[i] != ',') {
        value += text[i++];
      }
    }
    params[key] = value;
  }
  return params;
}

Result<Descriptor> descriptor_from(const json& item) {
  if (!item.is_object() || !item.contains("digest") || !item["digest"].is_string()) {
    return failure(Errc::corrupt, "bad-response", "a descriptor without a digest");
  }
  Descriptor d;
  d.digest = item["digest"].get<std::string>();
  if (item.contains("mediaType") && item["mediaType"].is_string()) {
    d.media_type = item["mediaType"].get<std::string>();
  }
  if (item.contains("size") && item["size"].is_number_unsigned()) {
    d.size = item["size"].get<std::uint64_t>();
  }
  if (item.contains("artifactType") && item["artifactType"].is_string()) {
    d.artifact_type = item["artifactType"].get<std::string>();
  }
  if (item.contains("platform") && item["platform"].is_object()) {
    const json& p = item["platform"];
    const auto text = [&](const char* key) {
      return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : std::string();
    };
    d.platform = text("os") + "/" + text("architecture");
    if (!text("variant").empty()) {
      d.platform += "/" + text("variant");
    }
  }
  if (item.contains("annotations") && item["annotations"].is_object()) {
    for (const auto& [key, value] : item["annotations"].items()) {
      if (value.is_string()) {
        d.annotations[key] = value.get<std::string>();
      }
    }
  }
  return d;
}

Result<std::vector<Descriptor>> descriptors(const Manifest& manifest, const char* member) {
  const json body = json::parse(manifest.body, nullptr, false);
  if (!body.is_object()) {
    return failure(Errc::corrupt, "bad-response", manifest.digest + " is not a JSON object");
  }
  std::vector<Descriptor> out;
  if (!body.contains(member) || body[member].is_null()) {
    return out;
  }
  if (!body[member].is_array()) {
    return failure(Errc::corrupt, "bad-response",
                   manifest.digest + ": '" + member + "' is not an array");
  }
  for (const json& item : body[member]) {
    auto d = descriptor_from(item);
    if (!d) {
      return d.error();
    }
    out.push_back(std::move(*d));
  }
  return out;
}

bool has_credentials(const RegistrySettings& settings) {
  return !settings.username.empty() || !settings.password.empty();
}

std::string basic_authorization(const RegistrySettings& settings) {
  return "Basic " + base64_encode(settings.username + ":" + settings.password);
}

} // namespace

Result<Repository> split_repository(std::string_view name) {
  const std::size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= name.size()) {
    return failure(Errc::invalid_argument, "config",
                   "'" + std::string(name) + "' is not a repository of the form host/path");
  }
  Repository repo{std::string(name.substr(0, slash)), std::string(name.substr(slash + 1))};
  std::string_view rest = repo.path;
  while (true) {
    const std::size_t next = rest.find('/');
    if (!is_path_component(rest.substr(0, next))) {
      return failure(Errc::invalid_argument, "config",
                     "'" + std::string(name) + "' has a bad repository path");
    }
    if (next == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(next + 1);
  }
  return repo;
}

bool is_index(std::string_view media_type) {
  return media_type == k_oci_index || media_type == k_docker_list;
}

Result<std::vector<Descriptor>> index_entries(const Manifest& manifest) {
  return descriptors(manifest, "manifests");
}

Result<std::vector<Descriptor>> manifest_layers(const Manifest& manifest) {
  return descriptors(manifest, "layers");
}

struct Client::Call {
  Repository repository;
  RegistrySettings settings;
  Url endpoint;
  std::string prefix; // the endpoint's path, without a trailing '/'
  std::string scope;
  SendOptions send;
};

Client::Client(ClientOptions options, std::shared_ptr<Transport> transport)
    : m_options(std::move(options)),
      m_transport(transport ? std::move(transport) : make_network_transport()) {}

Result<Client::Call> Client::prepare(const Repository& repository, std::uint64_t max_body) const {
  Call c;
  c.repository = repository;
  if (auto it = m_options.registries.find(repository.host); it != m_options.registries.end()) {
    c.settings = it->second;
  }
  std::string endpoint = c.settings.endpoint;
  if (endpoint.empty()) {
    endpoint = repository.host == "docker.io" ? "https://registry-1.docker.io"
                                              : "https://" + repository.host;
  }
  auto url = parse_url(endpoint);
  if (!url) {
    return failure(Errc::invalid_argument, "config",
                   "endpoint of " + repository.host + ": " + url.error().message);
  }
  c.endpoint = *url;
  c.prefix = url->target.substr(0, url->target.find('?'));
  while (!c.prefix.empty() && c.prefix.back() == '/') {
    c.prefix.pop_back();
  }
  c.scope = "repository:" + repository.path + ":pull";
  c.send.timeout = m_options.timeout;
  c.send.max_body_bytes = max_body;
  c.send.ca_file = c.settings.ca_file;
  return c;
}

bool Client::authorize(const Call& call, HttpRequest& request) {
  const std::string& host = call.repository.host;
  std::lock_guard lock(m_mutex);
  if (auto it = m_tokens.find(host + " " + call.scope);
      it != m_tokens.end() && it->second.expires > Clock::now()) {
    request.headers.emplace_back("Authorization", "Bearer " + it->second.value);
    return false;
  }
  if (has_credentials(call.settings) && m_basic[host]) {
    request.headers.emplace_back("Authorization", basic_authorization(call.settings));
    return true;
  }
  return false;
}

Result<HttpResponse> Client::answer_challenge(const Call& call,
                                              HttpRequest request,
                                              const std::string& challenge,
                                              bool sent_basic) {
  const std::string& host = call.repository.host;
  std::erase_if(request.headers, [](const auto& h) { return h.first == "Authorization"; });
  if (iequals_prefix(challenge, "bearer ")) {
    {
      std::lock_guard lock(m_mutex);
      m_tokens.erase(host + " " + call.scope);
    }
    auto token = fetch_token(call, challenge);
    if (!token) {
      return token.error();
    }
    request.headers.emplace_back("Authorization", "Bearer " + *token);
    auto response = send_following_redirects(call, request);
    if (response && response->status == 401) {
      return failure(Errc::unavailable, "unauthorized",
                     host + " refused the token its own realm issued");
    }
    return response;
  }
  if (iequals_prefix(challenge, "basic")) {
    if (!has_credentials(call.settings)) {
      return failure(Errc::unavailable, "unauthorized",
                     host + " asks for Basic credentials and none are configured");
    }
    if (sent_basic) {
      return failure(Errc::unavailable, "unauthorized",
                     host + " refused the configured credentials");
    }
    {
      std::lock_guard lock(m_mutex);
      m_basic[host] = true;
    }
    request.headers.emplace_back("Authorization", basic_authorization(call.settings));
    auto response = send_following_redirects(call, request);
    if (response && response->status == 401) {
      return failure(Errc::unavailable, "unauthorized",
                     host + " refused the configured credentials");
    }
    return response;
  }
  return failure(Errc::unavailable, "unauthorized",
                 host + " answered 401 without a Basic or Bearer challenge");
}

Result<HttpResponse> Client::call(const Repository& repository,
                                  const std::string& method,
                                  const std::string& path,
                                  const std::string& accept,
                                  std::uint64_t max_body) {
  auto c = prepare(repository, max_body);
  if (!c) {
    return c.error();
  }
  HttpRequest request;
  request.method = method;
  request.url = c->endpoint;
  request.url.target = c->prefix + path;
  if (!accept.empty()) {
    request.headers.emplace_back("Accept", accept);
  }
  const bool sent_basic = authorize(*c, request);
  auto response = send_following_redirects(*c, request);
  if (!response || response->status != 401) {
    return response;
  }
  return answer_challenge(*c, std::move(request), response->header("www-authenticate"), sent_basic);
}

Result<HttpResponse> Client::send_following_redirects(const Call& call, HttpRequest request) {
  const std::string origin = request.url.origin();
  for (int hop = 0;; ++hop) {
    auto response = m_transport->send(request, call.send);
    if (!response) {
      return response.error();
    }
    const int status = response->status;
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
      return response;
    }
    if (hop >= m_options.max_redirects) {
      return failure(Errc::unavailable, "redirect",
                     "more than " + std::to_string(m_options.max_redirects) + " redirects");
    }
    const std::string location = response->header("location");
    Url next = request.url;
    if (!location.empty() && location.front() == '/' &&
        (location.size() == 1 || location[1] != '/')) {
      next.target = location;
    } else {
      auto parsed = parse_url(location);
      if (!parsed) {
        return failure(Errc::corrupt, "bad-response",
                       "a redirect to an unusable location: " + parsed.error().message);
      }
      next = *parsed;
    }
    if (!next.tls && call.endpoint.tls) {
      return failure(Errc::unavailable, "redirect",
                     "refused a redirect from https to " + next.origin());
    }
    if (next.origin() != origin) {
      // Object storage gets signed URLs, never the registry's credentials.
      std::erase_if(request.headers, [](const auto& h) { return h.first == "Authorization"; });
    }
    request.url = next;
    if (status == 303 && request.method != "HEAD") {
      request.method = "GET";
      request.body.clear();
    }
  }
}

Result<std::string> Client::fetch_token(const Call& call, const std::string& challenge) {
  auto params = challenge_params(challenge);
  const std::string& host = call.repository.host;
  auto realm = parse_url(params["realm"]);
  if (!realm) {
    return failure(Errc::unavailable, "unauthorized",
                   host + " gave a Bearer challenge without a usable realm");
  }
  if (!realm->tls && call.endpoint.tls) {
    return failure(Errc::unavailable, "unauthorized",
                   host + " names a token realm over plain http; refused");
  }
  std::string query;
  if (!params["service"].empty()) {
    query += "service=" + percent_encode(params["service"]);
  }
  const std::string scope = params["scope"].empty() ? call.scope : params["scope"];
  query += (query.empty() ? "" : "&") + std::string("scope=") + percent_encode(scope);
  realm->target += (realm->target.find('?') == std::string::npos ? "?" : "&") + query;
  HttpRequest request;
  request.method = "GET";
  request.url = *realm;
  request.headers.emplace_back("Accept", "application/json");
  if (!call.settings.username.empty() || !call.settings.password.empty()) {
    request.headers.emplace_back(
        "Authorization",
        "Basic " + base64_encode(call.settings.username + ":" + call.settings.password));
  }
  SendOptions send = call.send;
  send.max_body_bytes = m_options.max_manifest_bytes;
  Call token_call = call;
  token_call.send = send;
  auto response = send_following_redirects(token_call, request);
  if (!response) {
    return response.error();
  }
  if (response->status != 200) {
    return failure(Errc::unavailable, "unauthorized",
                   "the token realm of " + host + " answered status " +
                       std::to_string(response->status));
  }
  const json body = json::parse(response->body, nullptr, false);
  std::string token;
  if (body.is_object()) {
    for (const char* name : {"token", "access_token"}) {
      if (body.contains(name) && body[name].is_string() && token.empty()) {
        token = body[name].get<std::string>();
      }
    }
  }
  if (token.empty()) {
    return failure(Errc::corrupt, "bad-response",
                   "the token realm of " + host + " answered without a token");
  }
  // The distribution spec: a token lives 60 s unless expires_in says longer.
  std::int64_t lifetime = 60;
  if (body.contains("expires_in") && body["expires_in"].is_number_integer()) {
    lifetime = std::max<std::int64_t>(body["expires_in"].get<std::int64_t>(), 60);
  }
  const auto expires = Clock::now() + std::chrono::seconds(lifetime) - k_token_margin;
  {
    std::lock_guard lock(m_mutex);
    m_tokens[host + " " + call.scope] = Token{token, expires};
  }
  return token;
}

Result<Manifest> Client::manifest_from(const Repository& repository,
                                       const std::string& reference,
                                       HttpResponse response) {
  const std::string what = repository.host + "/" + repository.path + "@" + reference;
  if (response.status != 200) {
    return unexpected(response, what);
  }
  Manifest manifest;
  manifest.body = std::move(response.body);
  manifest.digest = "sha256:" + to_hex(sha256(manifest.body));
  manifest.media_type = media_type_of(response.header("content-type"));
  const json body = json::parse(manifest.body, nullptr, false);
  if (!body.is_object()) {
    return failure(Errc::corrupt, "bad-response", what + ": the manifest is not a JSON object");
  }
  if (body.contains("mediaType") && body["mediaType"].is_string() &&
      (manifest.media_type.empty() || manifest.media_type == "application/json" ||
       manifest.media_type == "application/octet-stream")) {
    manifest.media_type = body["mediaType"].get<std::string>();
  }
  if (is_digest(reference) && manifest.digest != reference) {
    return failure(Errc::corrupt, "digest-mismatch",
                   what + ": the bytes received hash to " + manifest.digest);
  }
  const std::string announced = response.header("docker-content-digest");
  if (is_digest(announced) && announced != manifest.digest) {
    return failure(Errc::corrupt, "digest-mismatch",
                   what + ": announced " + announced + ", the bytes hash to " + manifest.digest);
  }
  return manifest;
}

namespace {

Result<Repository> checked(const std::string& repository, const std::string& reference) {
  auto repo = split_repository(repository);
  if (!repo) {
    return repo.error();
  }
  if (!is_digest(reference) && !is_tag(reference)) {
    return failure(Errc::invalid_argument, "config",
                   "'" + reference + "' is neither a sha256 digest nor a tag");
  }
  return repo;
}

std::string manifest_accept() {
  return std::string(k_oci_index) + ", " + k_oci_manifest + ", " + k_docker_list + ", " +
         k_docker_manifest;
}

} // namespace

Result<Manifest> Client::get_manifest(const std::string& repository, const std::string& reference) {
  auto repo = checked(repository, reference);
  if (!repo) {
    return repo.error();
  }
  auto response = call(*repo, "GET", "/v2/" + repo->path + "/manifests/" + reference,
                       manifest_accept(), m_options.max_manifest_bytes);
  if (!response) {
    return response.error();
  }
  return manifest_from(*repo, reference, std::move(*response));
}

Result<ManifestHead> Client::head_manifest(const std::string& repository,
                                           const std::string& reference) {
  auto repo = checked(repository, reference);
  if (!repo) {
    return repo.error();
  }
  auto response = call(*repo, "HEAD", "/v2/" + repo->path + "/manifests/" + reference,
                       manifest_accept(), m_options.max_manifest_bytes);
  if (!response) {
    return response.error();
  }
  const std::string what = repository + "@" + reference;
  if (response->status != 200) {
    return unexpected(*response, what);
  }
  ManifestHead head;
  head.digest = response->header("docker-content-digest");
  head.media_type = media_type_of(response->header("content-type"));
  const std::string length = response->header("content-length");
  if (!length.empty() && length.size() < 20 &&
      std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    head.size = std::stoull(length);
  }
  if (is_digest(reference)) {
    if (!head.digest.empty() && head.digest != reference) {
      return failure(Errc::corrupt, "digest-mismatch",
                     what + ": the registry announced " + head.digest);
    }
    head.digest = reference;
  } else if (!is_digest(head.digest)) {
    return failure(Errc::corrupt, "bad-response",
                   what + ": no sha256 Docker-Content-Digest in the answer");
  }
  return head;
}

Result<std::vector<std::string>> Client::list_tags(const std::string& repository) {
  auto repo = split_repository(repository);
  if (!repo) {
    return repo.error();
  }
  std::vector<std::string> tags;
  std::string path = "/v2/" + repo->path + "/tags/list?n=1000";
  for (int page = 0; page < k_max_tag_pages && !path.empty(); ++page) {
    auto response = call(*repo, "GET", path, "application/json", m_options.max_manifest_bytes);
    if (!response) {
      return response.error();
    }
    if (response->status != 200) {
      return unexpected(*response, repository + " tags");
    }
    const json body = json::parse(response->body, nullptr, false);
    if (!body.is_object() ||
        (body.contains("tags") && !body["tags"].is_array() && !body["tags"].is_null())) {
      return failure(Errc::corrupt, "bad-response", repository + ": the tags list is not JSON");
    }
    if (body.contains("tags") && body["tags"].is_array()) {
      for (const json& tag : body["tags"]) {
        if (tag.is_string()) {
          tags.push_back(tag.get<std::string>());
        }
      }
    }
    // Link: </v2/name/tags/list?n=1000&last=x>; rel="next"
    path.clear();
    const std::string link = response->header("link");
    const std::size_t open = link.find('<');
    const std::size_t close = link.find('>');
    if (open != std::string::npos && close != std::string::npos && close > open &&
        link.find("rel=\"next\"") != std::string::npos) {
      std::string next = link.substr(open + 1, close - open - 1);
      if (next.rfind("/v2/" + repo->path + "/tags/list", 0) == 0) {
        path = next;
      }
    }
  }
  return tags;
}

Result<std::vector<Descriptor>> Client::referrers(const std::string& repository,
                                                  const std::string& digest) {
  auto repo = checked(repository, digest);
  if (!repo || !is_digest(digest)) {
    return repo ? failure(Errc::invalid_argument, "config", "'" + digest + "' is not a digest")
                : repo.error();
  }
  auto response = call(*repo, "GET", "/v2/" + repo->path + "/referrers/" + digest, k_oci_index,
                       m_options.max_manifest_bytes);
  if (!response) {
    return response.error();
  }
  const int status = response->status;
  if (status == 200) {
    Manifest index{"", k_oci_index, std::move(response->body)};
    index.digest = "referrers of " + digest;
    return index_entries(index);
  }
  if (status != 404 && status != 400 && status != 405 && status != 501) {
    return unexpected(*response, repository + " referrers of " + digest);
  }
  // The referrers tag schema of OCI 1.1 for registries without the API.
  auto fallback = get_manifest(repository, "sha256-" + digest.substr(7));
  if (!fallback) {
    if (failure_kind(fallback.error()) == "not-found") {
      return std::vector<Descriptor>{};
    }
    return fallback.error();
  }
  return index_entries(*fallback);
}

Result<std::string> Client::get_blob(const std::string& repository, const std::string& digest) {
  auto repo = checked(repository, digest);
  if (!repo || !is_digest(digest)) {
    return repo ? failure(Errc::invalid_argument, "config", "'" + digest + "' is not a digest")
                : repo.error();
  }
  auto response =
      call(*repo, "GET", "/v2/" + repo->path + "/blobs/" + digest, "*/*", m_options.max_blob_bytes);
  if (!response) {
    return response.error();
  }
  if (response->status != 200) {
    return unexpected(*response, repository + "@" + digest);
  }
  const std::string actual = "sha256:" + to_hex(sha256(response->body));
  if (actual != digest) {
    return failure(Errc::corrupt, "digest-mismatch",
                   repository + "@" + digest + ": the bytes received hash to " + actual);
  }
  return std::move(response->body);
}

} // namespace dg::registry
