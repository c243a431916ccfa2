#include "cli/manifest.hpp"

#include "policy/reference.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace dg::cli {

namespace {

using yaml::Node;

constexpr std::array<std::string_view, 3> k_container_lists = {"containers", "initContainers",
                                                               "ephemeralContainers"};

Error bad(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

std::string scalar_of(const Node* node) {
  return node != nullptr && node->is_scalar() ? node->value : std::string();
}

std::string base_name(std::string_view path) {
  const std::size_t slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The pod spec of `object` and its path, or null for a kind without pods.
std::pair<const Node*, std::string> pod_spec(const Node& object, const std::string& kind) {
  const std::pair<std::string_view, std::vector<std::string_view>> k_paths[] = {
      {"Pod", {"spec"}},
      {"PodTemplate", {"template", "spec"}},
      {"Deployment", {"spec", "template", "spec"}},
      {"StatefulSet", {"spec", "template", "spec"}},
      {"DaemonSet", {"spec", "template", "spec"}},
      {"ReplicaSet", {"spec", "template", "spec"}},
      {"ReplicationController", {"spec", "template", "spec"}},
      {"Job", {"spec", "template", "spec"}},
      {"CronJob", {"spec", "jobTemplate", "spec", "template", "spec"}},
  };
  for (const auto& [name, path] : k_paths) {
    if (kind != name) {
      continue;
    }
    const Node* node = &object;
    std::string text;
    for (const auto key : path) {
      node = node->kind == yaml::NodeKind::mapping ? node->get(key) : nullptr;
      if (node == nullptr) {
        return {nullptr, {}};
      }
      text.append(text.empty() ? "" : ".").append(key); // not "." + string: GCC bug 105329
    }
    return {node, text};
  }
  return {nullptr, {}};
}

// Reads the images of Kubernetes objects into a Manifest.
class ObjectReader {
public:
  explicit ObjectReader(Manifest& manifest) : m_manifest(manifest) {}

  // Read the object `node` of document `document`; `where` names it in messages.
  Result<void> read(const Node& node, std::size_t document, const std::string& where);

private:
  Result<void> read_containers(const Node& spec, const std::string& prefix, ImageSite site);

  Manifest& m_manifest;
};

Result<void> ObjectReader::read(const Node& node, std::size_t document, const std::string& where) {
  const std::string kind = scalar_of(node.get("kind"));
  if (node.kind != yaml::NodeKind::mapping || kind.empty() ||
      scalar_of(node.get("apiVersion")).empty()) {
    return bad(where + " is not a Kubernetes object (a mapping with apiVersion and kind)");
  }
  if (kind == "List") {
    const Node* items = node.get("items");
    if (items == nullptr || items->kind != yaml::NodeKind::sequence) {
      return bad(where + " is a List without an items sequence");
    }
    for (std::size_t i = 0; i < items->items.size(); ++i) {
      DG_TRY(read(*items->items[i], document, where + " items[" + std::to_string(i) + "]"));
    }
    return {};
  }
  const auto [spec, prefix] = pod_spec(node, kind);
  if (spec == nullptr) {
    return {};
  }
  ImageSite site;
  site.document = document;
  site.kind = kind;
  const Node* metadata = node.get("metadata");
  site.name = metadata != nullptr ? scalar_of(metadata->get("name")) : std::string();
  return read_containers(*spec, prefix, site);
}

Result<void>
ObjectReader::read_containers(const Node& spec, const std::string& prefix, ImageSite site) {
  for (const auto list_name : k_container_lists) {
    const Node* list = spec.kind == yaml::NodeKind::mapping ? spec.get(list_name) : nullptr;
    if (list == nullptr || list->kind != yaml::NodeKind::sequence) {
      continue;
    }
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      const Node* container = list->items[i];
      const Node* image =
          container->kind == yaml::NodeKind::mapping ? container->get("image") : nullptr;
      if (image == nullptr) {
        continue; // an ephemeral container template may leave it to be filled in
      }
      site.path = prefix + "." + std::string(list_name) + "[" + std::to_string(i) + "].image";
      const std::string where = site.kind + "/" + site.name + " " + site.path;
      if (!image->is_scalar() || image->style == yaml::ScalarStyle::literal ||
          image->style == yaml::ScalarStyle::folded) {
        return bad(where + " is not a one-line string");
      }
      site.image = image->value;
      site.node = image;
      m_manifest.images.push_back(site);
    }
  }
  return {};
}

Result<void> read_kustomization(Manifest& manifest, const Node* root) {
  if (root == nullptr || root->kind != yaml::NodeKind::mapping) {
    return bad("a kustomization must be a mapping");
  }
  const Node* images = root->get("images");
  if (images == nullptr) {
    return {};
  }
  if (images->kind != yaml::NodeKind::sequence) {
    return bad("the kustomization's images is not a list");
  }
  for (std::size_t i = 0; i < images->items.size(); ++i) {
    const Node* entry = images->items[i];
    const std::string where = "images[" + std::to_string(i) + "]";
    if (entry->kind != yaml::NodeKind::mapping || scalar_of(entry->get("name")).empty()) {
      return bad(where + " is not a mapping with a name");
    }
    for (const auto key : {"name", "newName", "newTag", "digest"}) {
      const Node* value = entry->get(key);
      if (value != nullptr && (!value->is_scalar() || value->style == yaml::ScalarStyle::literal ||
                               value->style == yaml::ScalarStyle::folded)) {
        return bad(where + "." + key + " is not a one-line string");
      }
    }
    manifest.kustomize_images.push_back(
        KustomizeImage{i, entry->get("name")->value, scalar_of(entry->get("newName")), entry});
  }
  return {};
}

} // namespace

Result<Manifest> read_manifest(std::string_view text, std::string_view path) {
  auto tree = yaml::parse(text);
  if (!tree) {
    return bad("not YAML: " + tree.error().message);
  }
  Manifest manifest;
  manifest.tree = std::move(*tree);
  const auto& documents = manifest.tree.documents;
  const std::string name = base_name(path);
  const bool named =
      name == "kustomization.yaml" || name == "kustomization.yml" || name == "Kustomization";
  const bool has_kind = documents.size() == 1 && documents.front() != nullptr &&
                        scalar_of(documents.front()->get("kind")) == "Kustomization";
  if (named || has_kind) {
    if (documents.size() != 1) {
      return bad("a kustomization must be one YAML document");
    }
    manifest.kustomization = true;
    DG_TRY(read_kustomization(manifest, documents.front()));
    return manifest;
  }
  ObjectReader reader(manifest);
  std::size_t objects = 0;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (documents[i] == nullptr || documents[i]->is_null()) {
      continue; // an empty document, such as one after a trailing "---"
    }
    ++objects;
    DG_TRY(reader.read(*documents[i], i, "document " + std::to_string(i + 1)));
  }
  if (objects == 0) {
    return bad("no Kubernetes object in it");
  }
  std::stable_sort(
      manifest.images.begin(), manifest.images.end(),
      [](const ImageSite& a, const ImageSite& b) { return a.node->begin < b.node->begin; });
  return manifest;
}

namespace {

// The image as written without its tag and digest: "nginx:1.25@sha256:..." gives "nginx".
std::string written_name(std::string_view image) {
  image = image.substr(0, image.find('@'));
  const std::size_t colon = image.rfind(':');
  const std::size_t slash = image.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  return std::string(image);
}

// The digest current for the repository of `image`, or why there is none (in `missing`).
std::string current_digest(const std::string& where,
                           const std::string& image,
                           Result<std::string> repository,
                           const DigestLookup& digest_of,
                           PinPlan& plan) {
  if (!repository) {
    plan.missing.push_back(
        PinMissing{where, image, "malformed-reference: " + repository.error().message});
    return {};
  }
  std::string digest = digest_of(*repository);
  if (digest.empty()) {
    plan.missing.push_back(PinMissing{where, image, "no current digest for " + *repository});
  }
  return digest;
}

void plan_image(const ImageSite& site, const DigestLookup& digest_of, PinPlan& plan) {
  const std::string where = site.kind + "/" + site.name + " " + site.path;
  auto reference = policy::parse_reference(site.image);
  Result<std::string> repository =
      reference ? Result<std::string>(reference->name()) : Result<std::string>(reference.error());
  const std::string digest = current_digest(where, site.image, repository, digest_of, plan);
  if (digest.empty()) {
    return;
  }
  const std::string to = written_name(site.image) + "@" + digest;
  if (to == site.image) {
    return;
  }
  plan.edits.push_back(
      yaml::Edit{site.node->begin, site.node->end, yaml::render_scalar(to, *site.node)});
  plan.changes.push_back(PinChange{where, site.image, to});
}

// The removal of the block mapping entry `key: value` with its whole line, or nothing when the
// entry does not have a line of its own.
std::optional<yaml::Edit> line_removal(std::string_view text, const Node& key, const Node& value) {
  if (key.flow || value.flow || key.begin == 0) {
    return std::nullopt;
  }
  const std::size_t newline = text.rfind('\n', key.begin - 1);
  const std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  if (text.substr(line_start, key.begin - line_start).find_first_not_of(' ') !=
      std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t line_end = std::min(text.find('\n', value.end), text.size());
  const std::string_view rest = text.substr(value.end, line_end - value.end);
  const std::size_t first = rest.find_first_not_of(" \t\r");
  if (first != std::string_view::npos && rest[first] != '#') {
    return std::nullopt;
  }
  return yaml::Edit{line_start, std::min(line_end + 1, text.size()), ""};
}

// The insertion of `digest: <digest>` into the mapping `entry`: a line after its last entry when
// that is a scalar, before its first key otherwise; inside the braces of a flow mapping.
yaml::Edit digest_insertion(std::string_view text, const Node& entry, const std::string& digest) {
  if (entry.flow) {
    const std::size_t close = entry.end - 1;
    return yaml::Edit{close, close, ", digest: " + yaml::double_quoted(digest)};
  }
  const Node& first_key = *entry.entries.front().first;
  const std::string indent(first_key.column, ' ');
  const std::string line = "digest: " + yaml::render_scalar(digest, first_key);
  const Node& last_value = *entry.entries.back().second;
  if (!last_value.is_scalar()) {
    return yaml::Edit{first_key.begin, first_key.begin, line + "\n" + indent};
  }
  std::size_t pos = text.find('\n', last_value.end);
  if (pos == std::string_view::npos) {
    return yaml::Edit{text.size(), text.size(), "\n" + indent + line};
  }
  const bool crlf = pos > 0 && text[pos - 1] == '\r';
  pos -= crlf ? 1 : 0;
  return yaml::Edit{pos, pos, (crlf ? "\r\n" : "\n") + indent + line};
}

void plan_kustomize(const KustomizeImage& image,
                    std::string_view text,
                    const DigestLookup& digest_of,
                    PinPlan& plan) {
  const std::string target = image.new_name.empty() ? image.name : image.new_name;
  const std::string where = "images[" + std::to_string(image.index) + "] (" + image.name + ")";
  const Node& entry = *image.entry;
  const Node* old_digest = entry.get("digest");
  const Node* tag = entry.get("newTag");
  const std::string from = target + (tag != nullptr ? ":" + tag->value : "") +
                           (old_digest != nullptr ? "@" + old_digest->value : "");
  const std::string digest =
      current_digest(where, from, policy::normalize_repository(target), digest_of, plan);
  if (digest.empty()) {
    return;
  }
  const std::size_t edits_before = plan.edits.size();
  if (old_digest != nullptr) {
    if (old_digest->value != digest) {
      plan.edits.push_back(
          yaml::Edit{old_digest->begin, old_digest->end, yaml::render_scalar(digest, *old_digest)});
    }
    if (tag != nullptr) {
      if (auto removal = line_removal(text, *entry.key_of("newTag"), *tag)) {
        plan.edits.push_back(*removal);
      }
    }
  } else if (tag != nullptr) {
    plan.edits.push_back(yaml::Edit{entry.key_of("newTag")->begin, tag->end,
                                    "digest: " + yaml::render_scalar(digest, *tag)});
  } else {
    plan.edits.push_back(digest_insertion(text, entry, digest));
  }
  if (plan.edits.size() > edits_before) {
    plan.changes.push_back(PinChange{where, from, target + "@" + digest});
  }
}

} // namespace

PinPlan plan_pins(const Manifest& manifest, std::string_view text, const DigestLookup& digest_of) {
  PinPlan plan;
  for (const auto& site : manifest.images) {
    plan_image(site, digest_of, plan);
  }
  for (const auto& image : manifest.kustomize_images) {
    plan_kustomize(image, text, digest_of, plan);
  }
  return plan;
}

} // namespace dg::cli
