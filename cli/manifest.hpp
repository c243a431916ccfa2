// Kubernetes manifests and kustomizations, read for `digestgate pin`: where each image is written,
// and the edits that pin those images to digests, spliced into the original text so that comments
// and layout stay byte for byte everywhere else.
//
// A manifest file is a YAML stream whose every non-empty document is a Kubernetes object (a
// mapping with `apiVersion` and `kind`). Images are read from the pod spec of a Pod, the template
// of a PodTemplate, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController and Job,
// and the job template of a CronJob: `containers`, `initContainers` and `ephemeralContainers`;
// a `List` is read item by item. A kustomization (a file named kustomization.yaml,
// kustomization.yml or Kustomization, or a document of kind Kustomization) has its `images:` list
// read as kustomize defines it: `name`, `newName`, `newTag`, `digest`.
//
// Plain functions over values; thread-safe.
#pragma once

#include "cli/yaml.hpp"
#include "util/result.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::cli {

// An `image:` field of a container.
struct ImageSite {
  std::size_t document = 0; // 0-based index of the YAML document
  std::string kind;         // of the object, e.g. "Deployment"
  std::string name;         // the object's metadata.name, may be empty
  std::string path;         // e.g. "spec.template.spec.initContainers[0].image"
  std::string image;        // the value as written
  const yaml::Node* node = nullptr;
};

// An entry of a kustomization's `images:` list.
struct KustomizeImage {
  std::size_t index = 0;
  std::string name;     // `name`: the image the entry rewrites
  std::string new_name; // `newName`, may be empty
  const yaml::Node* entry = nullptr;
};

struct Manifest {
  bool kustomization = false;
  yaml::Tree tree;
  std::vector<ImageSite> images;
  std::vector<KustomizeImage> kustomize_images;
};

// Read `text`, the content of the file `path` (its base name tells a kustomization). Fails with
// Errc::invalid_argument, with a message that says why, for text that is not YAML, a document that
// is not a Kubernetes object, a stream without any, or an image or images entry of the wrong shape
// (not a string, a block scalar, an entry without `name`).
Result<Manifest> read_manifest(std::string_view text, std::string_view path);

// One image rewritten.
struct PinChange {
  std::string where; // "Deployment/web spec.template.spec.containers[0].image", "images[0]"
  std::string from;  // the image as written (for a kustomization: newName or name, and newTag)
  std::string to;    // name@sha256:...
};

// An image that cannot be pinned.
struct PinMissing {
  std::string where;
  std::string image;
  std::string reason;
};

struct PinPlan {
  std::vector<yaml::Edit> edits;
  std::vector<PinChange> changes;
  std::vector<PinMissing> missing;
};

// The digest ("sha256:...") current for a normalized repository ("docker.io/library/nginx"), or
// empty when there is none.
using DigestLookup = std::function<std::string(const std::string& repository)>;

// The edits that pin every image of `manifest` (read from `text`) to its repository's current
// digest: a container's image becomes its name as written with "@" and the digest (a tag or older
// digest is dropped); a kustomization entry gets `digest:` (replacing `newTag`, which would
// otherwise add a tag). An image already pinned to that digest is left alone. An image that does
// not parse, or whose repository has no current digest, is listed in `missing`.
PinPlan plan_pins(const Manifest& manifest, std::string_view text, const DigestLookup& digest_of);

} // namespace dg::cli
