// Image manifests and indexes as registries serve them (the bytes `docker buildx imagetools
// inspect --raw` and `crane manifest` print): the subject's digest, media type and platforms.
//
// All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace dg::intake {

struct PlatformDigest {
  std::string platform; // "os/architecture[/variant]"
  std::string digest;   // "sha256:<64 hex>"
};

struct ImageManifest {
  std::string digest;     // sha256 of the bytes, "sha256:<64 hex>"
  std::string media_type; // the document's own mediaType
  bool is_index = false;  // an OCI index or a Docker manifest list
  // For an index: one entry per runnable platform, in document order. BuildKit's attestation
  // manifests (platform unknown/unknown, annotation vnd.docker.reference.type) are left out.
  std::vector<PlatformDigest> platforms;
};

// Parse `raw`, an OCI image index, OCI image manifest, Docker manifest list or Docker image
// manifest (schema 2). Fails with Errc::invalid_argument naming what is wrong; a schema 1
// manifest or any other document is refused.
Result<ImageManifest> read_manifest(std::string_view raw);

} // namespace dg::intake
