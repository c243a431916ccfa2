#include "policy/admission.hpp"

#include "policy/evidence.hpp"
#include "policy/reference.hpp"

#include <array>
#include <map>

namespace dg::policy::admission {

using json = nlohmann::json;

namespace {

Error bad(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

// The string member `key` of `obj`, or "" when absent or not a string.
std::string text(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return {};
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The member at `path` (keys separated by '.') of `obj`, or nullptr when a step is missing or
// not an object.
const json* at_path(const json& obj, std::string_view path) {
  const json* node = &obj;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string key(path.substr(0, dot));
    if (!node->is_object()) {
      return nullptr;
    }
    auto it = node->find(key);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return node;
}

// Kinds whose pod spec is known to be at one place. A kind of another group, or a kind not listed,
// is looked at in every place a pod template can be.
struct PodKind {
  const char* group;
  const char* kind;
  const char* path;
};

constexpr std::array<PodKind, 9> k_pod_kinds{{
    {"", "Pod", "spec"},
    {"apps", "Deployment", "spec.template.spec"},
    {"apps", "StatefulSet", "spec.template.spec"},
    {"apps", "DaemonSet", "spec.template.spec"},
    {"apps", "ReplicaSet", "spec.template.spec"},
    {"batch", "Job", "spec.template.spec"},
    {"batch", "CronJob", "spec.jobTemplate.spec.template.spec"},
    {"", "ReplicationController", "spec.template.spec"},
    {"", "PodTemplate", "template.spec"},
}};

constexpr std::array<const char*, 3> k_template_paths{"spec.jobTemplate.spec.template.spec",
                                                      "spec.template.spec", "template.spec"};

constexpr std::array<const char*, 3> k_container_lists{"containers", "initContainers",
                                                       "ephemeralContainers"};

// Collect the images of the pod spec at `path` in `object` into `review`.
void collect_images(Review& review, const json& pod_spec, const std::string& path) {
  review.has_pods = true;
  review.pod_spec_path = path;
  for (const char* list : k_container_lists) {
    auto it = pod_spec.find(list);
    if (it == pod_spec.end() || it->is_null()) {
      continue;
    }
    const std::string list_path = path + "." + list;
    if (!it->is_array()) {
      review.malformed_pod_spec = list_path + " is not a list";
      return;
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& container = (*it)[i];
      std::string item_path = list_path + "[" + std::to_string(i) + "]";
      if (!container.is_object()) {
        review.malformed_pod_spec = item_path + " is not an object";
        return;
      }
      review.images.push_back(
          Image{text(container, "image"), text(container, "name"), std::move(item_path)});
    }
  }
}

// Find the pod spec of `object` (of `group`/`kind`) and collect its images.
void find_pods(Review& review, const json& object, const std::string& group) {
  if (!object.is_object()) {
    return;
  }
  for (const auto& known : k_pod_kinds) {
    if (review.kind == known.kind && group == known.group) {
      const json* spec = at_path(object, known.path);
      if (spec == nullptr || !spec->is_object()) {
        review.has_pods = true;
        review.malformed_pod_spec =
            std::string("a ") + known.kind + " without an object at " + known.path;
        return;
      }
      collect_images(review, *spec, known.path);
      return;
    }
  }
  for (const char* path : k_template_paths) {
    const json* spec = at_path(object, path);
    if (spec != nullptr && spec->is_object()) {
      collect_images(review, *spec, path);
      return;
    }
  }
}

} // namespace

Result<Review> parse_review(std::string_view body) {
  json document = json::parse(body, nullptr, false);
  if (document.is_discarded()) {
    return bad("the body is not valid JSON");
  }
  return parse_review_json(document);
}

Result<Review> parse_review_json(const json& document) {
  if (!document.is_object()) {
    return bad("an AdmissionReview is a JSON object");
  }
  if (nested_deeper_than(document, k_max_review_depth)) {
    return bad("the review nests arrays and objects deeper than " +
               std::to_string(k_max_review_depth) + " levels");
  }
  if (text(document, "kind") != "AdmissionReview") {
    return bad("kind: expected \"AdmissionReview\"");
  }
  if (text(document, "apiVersion") != k_api_version) {
    return bad(std::string("apiVersion: expected \"") + k_api_version +
               "\" (list only v1 in the webhook's admissionReviewVersions)");
  }
  auto req = document.find("request");
  if (req == document.end() || !req->is_object()) {
    return bad("request: an object is required");
  }
  Review review;
  review.uid = text(*req, "uid");
  if (review.uid.empty()) {
    return bad("request.uid: a non-empty string is required");
  }
  review.operation = text(*req, "operation");
  if (review.operation.empty()) {
    return bad("request.operation: a non-empty string is required");
  }
  review.name = text(*req, "name");
  review.namespace_name = text(*req, "namespace");
  auto dry_run = req->find("dryRun");
  review.dry_run = dry_run != req->end() && dry_run->is_boolean() && dry_run->get<bool>();
  std::string group;
  if (auto kind = req->find("kind"); kind != req->end() && kind->is_object()) {
    review.kind = text(*kind, "kind");
    group = text(*kind, "group");
  }
  if (review.operation == "DELETE") {
    return review;
  }
  auto object = req->find("object");
  if (object == req->end()) {
    return review;
  }
  if (review.kind.empty()) {
    review.kind = text(*object, "kind");
    std::string api_version = text(*object, "apiVersion");
    auto slash = api_version.find('/');
    group = slash == std::string::npos ? std::string() : api_version.substr(0, slash);
  }
  find_pods(review, *object, group);
  return review;
}

namespace {

void add(Reasons& reasons, const char* code, std::string message) {
  reasons.push_back(Reason{code, std::move(message), {}, {}});
}

// Every reason `image` is refused in `environment`.
Reasons image_reasons(const std::string& image,
                      const std::string& environment,
                      bool environment_known,
                      const StandingLookup& lookup) {
  Reasons reasons;
  if (image.empty()) {
    add(reasons, reason::malformed_reference, "the container names no image");
  } else if (auto ref = parse_reference(image); !ref) {
    add(reasons, reason::malformed_reference,
        "not a valid image reference: " + ref.error().message);
  } else if (ref->is_mutable()) {
    add(reasons, reason::mutable_reference,
        ref->name() + ":" + ref->familiar_tag() +
            " is a tag, which can move; run name@sha256:... (digestgate pin writes it)");
  } else if (environment_known) {
    if (!is_sha256_digest(ref->digest)) {
      add(reasons, reason::unknown_digest,
          "digestgate ledgers sha256 digests only, never " + ref->digest_algorithm());
      return reasons;
    }
    Standing standing = lookup(ref->name(), ref->digest);
    if (!standing.approved) {
      if (standing.known) {
        add(reasons, reason::not_approved,
            environment + " never approved " + ref->digest + " for " + ref->name());
      } else {
        add(reasons, reason::unknown_digest, "the ledger knows nothing of " + ref->digest);
      }
    } else if (standing.rolled_back_from) {
      add(reasons, reason::not_approved,
          environment + " rolled " + ref->name() + " back from " + ref->digest);
    }
    if (standing.revoked) {
      add(reasons, reason::revoked, ref->digest + " was revoked: " + *standing.revoked);
    }
  }
  if (!environment_known) {
    add(reasons, reason::unknown_environment,
        "the policy defines no environment '" + environment + "'");
  }
  return reasons;
}

std::string describe(const ImageVerdict& v) {
  std::string out = "image \"" + v.image.image.substr(0, 300) + "\" in " + v.image.path;
  if (!v.image.container.empty()) {
    out += " (" + v.image.container.substr(0, 64) + ")";
  }
  out += ": ";
  for (std::size_t i = 0; i < v.reasons.size(); ++i) {
    out += (i == 0 ? "" : ", ") + v.reasons[i].code + " (" + v.reasons[i].message + ")";
  }
  return out;
}

} // namespace

Verdict judge(const Review& review,
              const std::string& environment,
              bool environment_known,
              const StandingLookup& lookup) {
  Verdict verdict;
  if (review.operation == "DELETE" || !review.has_pods) {
    return verdict;
  }
  if (!review.malformed_pod_spec.empty()) {
    verdict.allowed = false;
    verdict.code = 400;
    verdict.message = "digestgate: the pod spec is malformed: " + review.malformed_pod_spec;
    return verdict;
  }
  std::map<std::string, Reasons> judged;
  std::size_t refused = 0;
  std::string listed;
  for (const auto& image : review.images) {
    auto it = judged.find(image.image);
    if (it == judged.end()) {
      it = judged
               .emplace(image.image,
                        image_reasons(image.image, environment, environment_known, lookup))
               .first;
    }
    verdict.images.push_back(ImageVerdict{image, it->second});
    if (!it->second.empty()) {
      ++refused;
      listed += (listed.empty() ? "" : "; ") + describe(verdict.images.back());
    }
  }
  if (refused > 0) {
    verdict.allowed = false;
    verdict.code = 403;
    verdict.message = "digestgate: " + std::to_string(refused) + " of " +
                      std::to_string(review.images.size()) + " images not admitted to " +
                      environment.substr(0, 128) + ": " + listed;
  }
  return verdict;
}

json answer(const Review& review, const Verdict& verdict) {
  json response = {{"uid", review.uid}, {"allowed", verdict.allowed}};
  if (!verdict.allowed) {
    response["status"] = {{"code", verdict.code}, {"message", verdict.message}};
  }
  return {{"apiVersion", k_api_version}, {"kind", "AdmissionReview"}, {"response", response}};
}

} // namespace dg::policy::admission
