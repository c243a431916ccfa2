// Kubernetes admission: reading an `admission.k8s.io/v1` AdmissionReview as a
// ValidatingWebhookConfiguration sends it, judging the images of the pods it would start, and
// writing the AdmissionReview that answers it. Pure: what the ledger knows about each image comes
// from a lookup the caller supplies; nothing here touches the ledger, the network or a clock.
//
// The review is Kubernetes' format, not digestgate's: fields that digestgate does not use are
// ignored (the strictness of digestgate's own request bodies does not apply). What it needs is
// checked: `apiVersion`, `kind`, `request.uid` and `request.operation`.
//
// Which object has pods: a Pod (`spec`), anything with a pod template at `spec.template.spec`
// (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController, and custom kinds
// shaped the same way), a CronJob (`spec.jobTemplate.spec.template.spec`) and a PodTemplate
// (`template.spec`). The images are taken from `containers`, then `initContainers`, then
// `ephemeralContainers`, each list in its own order.
//
// All functions are thread-safe.
#pragma once

#include "policy/reason.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::policy::admission {

// The review's API version; the only one understood, and the one every answer carries.
inline constexpr const char* k_api_version = "admission.k8s.io/v1";

// The deepest nesting of arrays and objects a review may have (the review itself is level 1).
// A Pod with its managedFields is about 20 levels deep.
inline constexpr std::size_t k_max_review_depth = 128;

// One image of a pod spec.
struct Image {
  std::string image;     // the `image` field as written ("" when absent or not a string)
  std::string container; // the container's `name`
  // Where it is in the object, e.g. "spec.template.spec.initContainers[0]".
  std::string path;
};

// What an AdmissionReview asks, as far as digestgate is concerned.
struct Review {
  std::string uid;
  std::string operation; // CREATE, UPDATE, DELETE or CONNECT
  std::string kind;      // request.kind.kind, or the object's own kind
  std::string name;      // request.name (may be empty: generated names)
  std::string namespace_name;
  bool dry_run = false;
  // True when the object holds a pod spec at one of the places above.
  bool has_pods = false;
  // Where the pod spec is, e.g. "spec.template.spec"; empty without pods.
  std::string pod_spec_path;
  std::vector<Image> images;
  // Set when the object has a pod spec that is not shaped like one (an image list that is not a
  // list, a container that is not an object): such an object is refused, never allowed.
  std::string malformed_pod_spec;
};

// Parse an AdmissionReview from a request body. Fails with Errc::invalid_argument and a message
// naming the field when the body is not JSON, not an `admission.k8s.io/v1` AdmissionReview, or
// lacks `request.uid` or `request.operation`.
Result<Review> parse_review(std::string_view body);

// The same, from a parsed document.
Result<Review> parse_review_json(const nlohmann::json& document);

// What the ledger knows about one digest, for one environment and one repository.
struct Standing {
  // The ledger has recorded evidence for the digest, or some environment approved it.
  bool known = false;
  // The environment approved the digest for this repository at some time (a promotion or a
  // rollback to it).
  bool approved = false;
  // An approved rollback in the environment moved this repository away from the digest after
  // its newest approval there (a digest promoted again after a rollback is admitted again).
  bool rolled_back_from = false;
  // The revocation's reason, when the digest is revoked.
  std::optional<std::string> revoked;
};

// Answers what the ledger knows about `digest` ("sha256:<hex>") under `repository` (normalized,
// e.g. "docker.io/library/nginx") in the environment being judged.
using StandingLookup =
    std::function<Standing(const std::string& repository, const std::string& digest)>;

// One image and every reason it is refused (empty: admitted).
struct ImageVerdict {
  Image image;
  Reasons reasons;
};

struct Verdict {
  bool allowed = true;
  // 403 when images are refused, 400 for a malformed pod spec; 0 when allowed.
  int code = 0;
  // Every image of the object, in order, with its reasons.
  std::vector<ImageVerdict> images;
  // For a refusal: each refused image with its reason codes, in order.
  std::string message;
};

// Judge `review` for `environment`. `environment_known` says whether the policy defines the
// environment. A DELETE, and an object without pods, are allowed. Otherwise every image must be a
// sha256 digest reference that `lookup` says is approved in the environment for its repository,
// not revoked, and not rolled back from there. The lookup is asked once per distinct image.
Verdict judge(const Review& review,
              const std::string& environment,
              bool environment_known,
              const StandingLookup& lookup);

// The AdmissionReview that answers `review` with `verdict`:
// {"apiVersion", "kind", "response": {"uid", "allowed", "status": {"code", "message"}}}; the
// status only when refused.
nlohmann::json answer(const Review& review, const Verdict& verdict);

} // namespace dg::policy::admission
