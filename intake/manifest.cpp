#include "intake/manifest.hpp"

#include "policy/reference.hpp"
#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

namespace dg::intake {
namespace {

using nlohmann::json;

constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view k_docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view k_docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";

Error bad(std::string message) {
  return make_error(Errc::invalid_argument, "manifest: " + std::move(message));
}

std::string string_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_attestation_manifest(const json& entry, const std::string& os, const std::string& arch) {
  auto annotations = entry.find("annotations");
  if (annotations != entry.end() && annotations->is_object() &&
      annotations->contains("vnd.docker.reference.type")) {
    return true;
  }
  return os == "unknown" && arch == "unknown";
}

Result<std::vector<PlatformDigest>> index_platforms(const json& doc) {
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) {
    return bad("an index needs a manifests array");
  }
  std::vector<PlatformDigest> out;
  for (std::size_t i = 0; i < manifests->size(); ++i) {
    const json& entry = (*manifests)[i];
    std::string place = "manifests[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      return bad(place + " is not an object");
    }
    std::string digest = string_at(entry, "digest");
    if (!policy::is_sha256_digest(digest)) {
      return bad(place + ".digest is not a sha256 digest");
    }
    auto platform = entry.find("platform");
    if (platform == entry.end() || !platform->is_object()) {
      return bad(place + " has no platform");
    }
    std::string os = string_at(*platform, "os");
    std::string arch = string_at(*platform, "architecture");
    if (os.empty() || arch.empty()) {
      return bad(place + ".platform needs os and architecture");
    }
    if (is_attestation_manifest(entry, os, arch)) {
      continue;
    }
    std::string name = os + "/" + arch;
    if (std::string variant = string_at(*platform, "variant"); !variant.empty()) {
      name += "/" + variant;
    }
    out.push_back({std::move(name), std::move(digest)});
  }
  if (out.empty()) {
    return bad("the index lists no runnable platform");
  }
  return out;
}

} // namespace

Result<ImageManifest> read_manifest(std::string_view raw) {
  json doc = json::parse(raw, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad("not a JSON object");
  }
  auto version = doc.find("schemaVersion");
  if (version == doc.end() || *version != 2) {
    return bad("schemaVersion must be 2");
  }
  ImageManifest out;
  out.digest = "sha256:" + to_hex(sha256(raw));
  out.media_type = string_at(doc, "mediaType");
  if (out.media_type.empty()) {
    // OCI documents may omit mediaType; the shape tells which one it is.
    out.media_type = std::string(doc.contains("manifests") ? k_oci_index : k_oci_manifest);
  }
  if (out.media_type == k_oci_index || out.media_type == k_docker_list) {
    auto platforms = index_platforms(doc);
    if (!platforms) {
      return platforms.error();
    }
    out.is_index = true;
    out.platforms = std::move(*platforms);
    return out;
  }
  if (out.media_type == k_oci_manifest || out.media_type == k_docker_manifest) {
    if (!doc.contains("config") || !doc.contains("layers")) {
      return bad("an image manifest needs config and layers");
    }
    return out;
  }
  return bad("unsupported media type '" + out.media_type + "'");
}

} // namespace dg::intake
