// The registry room: a client of the OCI Distribution API (the HTTP API that GHCR, Docker Hub,
// Harbor, Quay, ECR, GAR and CNCF distribution serve). It fetches manifests and indexes by digest
// or tag, lists tags, asks for referrers (OCI 1.1, with the `sha256-<hex>` tag fallback) and
// fetches blobs, authenticating anonymously, with Basic or through the Bearer token challenge.
// It knows nothing of the ledger or of policies: what it finds is returned, judged elsewhere.
//
// Every call is synchronous and bounded (a deadline per HTTP exchange, a bound on every body, a
// bounded number of redirects), so it belongs on a worker thread, never on an I/O thread.
// Failures are values whose message starts with a stable failure kind (see transport.hpp).
//
// Thread-safety: a Client may be used from several threads at once; its token cache is shared.
#pragma once

#include "registry/transport.hpp"
#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dg::registry {

// Media types asked for in Accept, newest first.
inline constexpr const char* k_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* k_docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* k_docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";

// How to reach one registry host.
struct RegistrySettings {
  // "https://host[:port]" or "http://host[:port]". Empty: https://<host>, and for docker.io
  // https://registry-1.docker.io.
  std::string endpoint;
  // Credentials for Basic authentication, and for the token realm of a Bearer challenge.
  std::string username;
  std::string password;
  // PEM CA certificates trusted beside the system's.
  std::string ca_file;
};

struct ClientOptions {
  // By registry host as written in references: "ghcr.io", "docker.io", "127.0.0.1:5000".
  std::map<std::string, RegistrySettings> registries;
  // Deadline of each HTTP exchange (a call may make several: challenge, token, redirects).
  std::chrono::milliseconds timeout{10000};
  // Bound on a manifest, an index, a token answer or a tags page.
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Bound on a blob (a cosign signature payload or attestation envelope).
  std::uint64_t max_blob_bytes = 4 * 1024 * 1024;
  int max_redirects = 5;
};

// A manifest or index as the registry served it; `digest` is the SHA-256 of `body`, checked.
struct Manifest {
  std::string digest;
  std::string media_type;
  std::string body;
};

// What a HEAD told of a manifest.
struct ManifestHead {
  std::string digest; // Docker-Content-Digest
  std::string media_type;
  std::uint64_t size = 0;
};

// An OCI descriptor (a layer, a referrer, an index entry).
struct Descriptor {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
  std::string artifact_type;
  std::string platform; // "os/arch[/variant]" for an index entry with a platform
  std::map<std::string, std::string> annotations;
};

// A repository split into its registry host and its path: "ghcr.io/acme/app" is {"ghcr.io",
// "acme/app"}. The first component is always the host: give normalized names.
struct Repository {
  std::string host;
  std::string path;
};
Result<Repository> split_repository(std::string_view name);

// The descriptors of an index's manifests (`manifests`), or of a manifest's layers (`layers`).
// Fails with bad-response when `manifest` is not such JSON.
Result<std::vector<Descriptor>> index_entries(const Manifest& manifest);
Result<std::vector<Descriptor>> manifest_layers(const Manifest& manifest);
// True for the OCI index and Docker manifest list media types.
bool is_index(std::string_view media_type);

class Client {
public:
  // `transport` null: the network.
  explicit Client(ClientOptions options, std::shared_ptr<Transport> transport = nullptr);

  // The manifest or index `reference` (a digest or a tag) of `repository` ("host/path").
  // By digest, the bytes must hash to it; by tag, to the Docker-Content-Digest when given.
  Result<Manifest> get_manifest(const std::string& repository, const std::string& reference);
  // The same through HEAD: the digest and media type without the body.
  Result<ManifestHead> head_manifest(const std::string& repository, const std::string& reference);
  // Every tag of `repository`, following `Link` pages (at most 100 pages).
  Result<std::vector<std::string>> list_tags(const std::string& repository);
  // The referrers of `digest`: the OCI 1.1 referrers API, or when the registry does not serve it
  // (404), the index tagged `sha256-<hex>`; none when neither exists.
  Result<std::vector<Descriptor>> referrers(const std::string& repository,
                                            const std::string& digest);
  // The blob `digest` of `repository`, at most options.max_blob_bytes, checked against its digest.
  Result<std::string> get_blob(const std::string& repository, const std::string& digest);

  const ClientOptions& options() const { return m_options; }

private:
  struct Call;
  Result<HttpResponse> call(const Repository& repository,
                            const std::string& method,
                            const std::string& path,
                            const std::string& accept,
                            std::uint64_t max_body);
  // The steps of call(): where and how to send for `repository`; the credentials known already
  // (true when they are the configured Basic ones); the answer to a 401's challenge.
  Result<Call> prepare(const Repository& repository, std::uint64_t max_body) const;
  bool authorize(const Call& call, HttpRequest& request);
  Result<HttpResponse> answer_challenge(const Call& call,
                                        HttpRequest request,
                                        const std::string& challenge,
                                        bool sent_basic);
  Result<HttpResponse> send_following_redirects(const Call& call, HttpRequest request);
  Result<std::string> fetch_token(const Call& call, const std::string& challenge);
  Result<Manifest>
  manifest_from(const Repository& repository, const std::string& reference, HttpResponse response);

  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };

  ClientOptions m_options;
  std::shared_ptr<Transport> m_transport;
  std::mutex m_mutex;
  std::map<std::string, Token> m_tokens; // by host + " " + scope
  std::map<std::string, bool> m_basic;   // hosts that asked for Basic
};

} // namespace dg::registry
