#include "registry/signatures.hpp"

#include "util/crypto.hpp"

#include <algorithm>

namespace dg::registry {

namespace {

using json = nlohmann::json;

// A cosign or referrer manifest with more layers than this is not read further.
constexpr std::size_t k_max_layers = 64;
constexpr std::size_t k_max_referrers = 64;

bool is_bundle_type(std::string_view media_type) {
  return media_type.find("application/vnd.dev.sigstore.bundle") == 0;
}

void add_unique(json& list, json item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) {
    list.push_back(std::move(item));
  }
}

// Adds what the layers of `manifest` carry to `found`.
Result<void> read_layers(Client& client,
                         const std::string& repository,
                         const Manifest& manifest,
                         SigningMaterial& found) {
  auto layers = manifest_layers(manifest);
  if (!layers) {
    return layers.error();
  }
  std::size_t count = 0;
  for (const Descriptor& layer : *layers) {
    if (++count > k_max_layers) {
      break;
    }
    const bool signature = layer.media_type == k_cosign_simplesigning;
    const bool envelope = layer.media_type == k_dsse_envelope;
    const bool bundle = is_bundle_type(layer.media_type);
    if (!signature && !envelope && !bundle) {
      continue;
    }
    auto blob = client.get_blob(repository, layer.digest);
    if (!blob) {
      return blob.error();
    }
    if (signature) {
      auto it = layer.annotations.find(k_cosign_signature_annotation);
      if (it == layer.annotations.end()) {
        continue;
      }
      add_unique(found.signatures,
                 json{{"payload", base64_encode(*blob)}, {"signature", it->second}});
      continue;
    }
    json parsed = json::parse(*blob, nullptr, false);
    if (!parsed.is_object()) {
      return make_error(Errc::corrupt,
                        "bad-response: " + repository + "@" + layer.digest + " is not JSON");
    }
    if (envelope) {
      add_unique(found.attestations, json{{"envelope", std::move(parsed)}});
    } else {
      add_unique(found.bundles, std::move(parsed));
    }
  }
  return {};
}

// Reads the manifest tagged `tag`, if there is one.
Result<void> read_tagged(Client& client,
                         const std::string& repository,
                         const std::string& tag,
                         SigningMaterial& found) {
  auto manifest = client.get_manifest(repository, tag);
  if (!manifest) {
    if (failure_kind(manifest.error()) == "not-found") {
      return {};
    }
    return manifest.error();
  }
  return read_layers(client, repository, *manifest, found);
}

} // namespace

Result<SigningMaterial>
fetch_signing_material(Client& client, const std::string& repository, const std::string& digest) {
  SigningMaterial found;
  const std::string base = "sha256-" + digest.substr(digest.find(':') + 1);
  DG_TRY(read_tagged(client, repository, base + ".sig", found));
  DG_TRY(read_tagged(client, repository, base + ".att", found));
  auto referrers = client.referrers(repository, digest);
  if (!referrers) {
    return referrers.error();
  }
  std::size_t count = 0;
  for (const Descriptor& referrer : *referrers) {
    if (++count > k_max_referrers) {
      break;
    }
    auto manifest = client.get_manifest(repository, referrer.digest);
    if (!manifest) {
      if (failure_kind(manifest.error()) == "not-found") {
        continue;
      }
      return manifest.error();
    }
    DG_TRY(read_layers(client, repository, *manifest, found));
  }
  return found;
}

} // namespace dg::registry
