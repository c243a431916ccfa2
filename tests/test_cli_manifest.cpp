// The YAML locator under `digestgate pin`: libyaml spans, the images of Kubernetes manifests and
// kustomizations, and the edits that pin them with everything else kept byte for byte.
#include "cli/manifest.hpp"
#include "cli/yaml.hpp"
#include "util/files.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

using dg::cli::plan_pins;
using dg::cli::read_manifest;
namespace yaml = dg::cli::yaml;

namespace {

const std::string k_data = std::string(DG_SOURCE_DIR) + "/tests/data/k8s/";
const std::string k_app = "sha256:" + std::string(64, 'a');
const std::string k_nginx = "sha256:" + std::string(64, 'b');

std::string read_data(const std::string& name) {
  auto text = dg::read_file(k_data + name);
  REQUIRE_MESSAGE(text.ok(), text.error().message);
  return *text;
}

std::string lookup(const std::string& repository) {
  const std::map<std::string, std::string> current = {{"ghcr.io/acme/app", k_app},
                                                      {"docker.io/library/nginx", k_nginx}};
  const auto it = current.find(repository);
  return it == current.end() ? std::string() : it->second;
}

// `text` with the first occurrence of `from` replaced by `to`; `from` must occur.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

// `text` pinned with `lookup`; requires that nothing is missing.
std::string pinned(const std::string& text, const std::string& path) {
  auto manifest = read_manifest(text, path);
  REQUIRE_MESSAGE(manifest.ok(), manifest.error().message);
  const auto plan = plan_pins(*manifest, text, lookup);
  REQUIRE(plan.missing.empty());
  auto out = yaml::apply_edits(text, plan.edits);
  REQUIRE(out.ok());
  return *out;
}

std::string refusal(const std::string& text, const std::string& path = "x.yaml") {
  auto manifest = read_manifest(text, path);
  REQUIRE_FALSE(manifest.ok());
  CHECK(manifest.error().code == dg::Errc::invalid_argument);
  return manifest.error().message;
}

} // namespace

TEST_SUITE_BEGIN("CliManifest");

TEST_CASE("libyaml spans are byte offsets of each scalar's own text") {
  const std::string text = "# café, naïve: multi-byte text before\n"
                           "a: &anchor plain value  # comment\n"
                           "b: 'single ''quoted'''\n"
                           "c: \"double\\tquoted\"\n"
                           "d: [x, {e: f}]\n"
                           "g: *anchor\n";
  auto tree = yaml::parse(text);
  REQUIRE_MESSAGE(tree.ok(), tree.error().message);
  REQUIRE(tree->documents.size() == 1);
  const yaml::Node& root = *tree->documents.front();
  auto span = [&](const yaml::Node* node) {
    REQUIRE(node != nullptr);
    return text.substr(node->begin, node->end - node->begin);
  };
  CHECK(span(root.get("a")) == "plain value");
  CHECK(root.get("a")->value == "plain value");
  CHECK(span(root.get("b")) == "'single ''quoted'''");
  CHECK(root.get("b")->value == "single 'quoted'");
  CHECK(root.get("b")->style == yaml::ScalarStyle::single_quoted);
  CHECK(span(root.get("c")) == "\"double\\tquoted\"");
  CHECK(root.get("c")->value == "double\tquoted");
  CHECK(root.get("d")->flow);
  CHECK(span(root.get("d")->items[1]->get("e")) == "f");
  CHECK(root.get("d")->items[1]->get("e")->flow);
  CHECK(root.get("g") == root.get("a"));
  CHECK(span(root.key_of("g")) == "g");
}

TEST_CASE("Spans stay byte offsets after a byte order mark and four-byte characters") {
  const std::string text =
      "\xEF\xBB\xBF# \xF0\x9F\x90\xB3 \xC3\xA9\nimage: nginx # \xE2\x9C\x93\nx: y\n";
  auto tree = yaml::parse(text);
  REQUIRE_MESSAGE(tree.ok(), tree.error().message);
  const yaml::Node* image = tree->documents.front()->get("image");
  REQUIRE(image != nullptr);
  CHECK(text.substr(image->begin, image->end - image->begin) == "nginx");
  const yaml::Node* x = tree->documents.front()->get("x");
  CHECK(text.substr(x->begin, x->end - x->begin) == "y");
}

TEST_CASE("A syntax error is refused with its line and column") {
  auto tree = yaml::parse("a: [1, 2\nb: c\n");
  REQUIRE_FALSE(tree.ok());
  CHECK(tree.error().message.find("line ") == 0);
  CHECK(refusal("a: [1, 2\nb: c\n").rfind("not YAML: line ", 0) == 0);
}

TEST_CASE("Scalars are rendered in the original's style, quoted where plain would not read back") {
  auto tree = yaml::parse("a: x\nb: 'x'\nc: \"x\"\nd: [x]\n");
  REQUIRE(tree.ok());
  const yaml::Node& root = *tree->documents.front();
  CHECK(yaml::render_scalar("n@sha256:1", *root.get("a")) == "n@sha256:1");
  CHECK(yaml::render_scalar("n@sha256:1", *root.get("b")) == "'n@sha256:1'");
  CHECK(yaml::render_scalar("it's", *root.get("b")) == "'it''s'");
  CHECK(yaml::render_scalar("n@sha256:1", *root.get("c")) == "\"n@sha256:1\"");
  CHECK(yaml::render_scalar("n@sha256:1", *root.get("d")->items[0]) == "\"n@sha256:1\"");
  CHECK(yaml::render_scalar("yes", *root.get("a")) == "\"yes\"");
  CHECK(yaml::render_scalar("a: b", *root.get("a")) == "\"a: b\"");
}

TEST_CASE("Overlapping edits are refused; identical ones count once") {
  CHECK(yaml::apply_edits("abcdef", {{1, 3, "X"}, {2, 4, "Y"}}).error().code == dg::Errc::internal);
  CHECK(*yaml::apply_edits("abcdef", {{1, 3, "X"}, {1, 3, "X"}, {5, 5, "+"}}) == "aXde+f");
}

TEST_CASE("Every container list of a Deployment is found, and other objects are skipped") {
  const std::string text = read_data("deployment.yaml");
  auto manifest = read_manifest(text, k_data + "deployment.yaml");
  REQUIRE_MESSAGE(manifest.ok(), manifest.error().message);
  CHECK_FALSE(manifest->kustomization);
  // In the order of the file.
  REQUIRE(manifest->images.size() == 3);
  CHECK(manifest->images[0].path == "spec.template.spec.initContainers[0].image");
  CHECK(manifest->images[0].image == "ghcr.io/acme/app:v1.4.2");
  CHECK(manifest->images[0].kind == "Deployment");
  CHECK(manifest->images[0].name == "web");
  CHECK(manifest->images[1].path == "spec.template.spec.containers[0].image");
  CHECK(manifest->images[1].image == "ghcr.io/acme/app:v1.4.2");
  CHECK(manifest->images[2].path == "spec.template.spec.containers[1].image");
  CHECK(manifest->images[2].image == "nginx:1.25");
}

TEST_CASE("Pinning a Deployment changes the image values and nothing else") {
  const std::string text = read_data("deployment.yaml");
  std::string expected = replaced(text, "image: ghcr.io/acme/app:v1.4.2   #",
                                  "image: ghcr.io/acme/app@" + k_app + "   #");
  expected = replaced(expected, "image: \"ghcr.io/acme/app:v1.4.2\"",
                      "image: \"ghcr.io/acme/app@" + k_app + "\"");
  expected = replaced(expected, "image: nginx:1.25", "image: nginx@" + k_nginx);
  CHECK(pinned(text, "deployment.yaml") == expected);
  // Pinning again changes nothing.
  auto again = read_manifest(expected, "deployment.yaml");
  REQUIRE(again.ok());
  CHECK(plan_pins(*again, expected, lookup).edits.empty());
}

TEST_CASE("A CronJob's job template is pinned, an older digest replaced, its quotes kept") {
  const std::string text = read_data("cronjob.yaml");
  const std::string expected =
      replaced(text, "'ghcr.io/acme/app@sha256:" + std::string(64, '0') + "'",
               "'ghcr.io/acme/app@" + k_app + "'");
  CHECK(pinned(text, "cronjob.yaml") == expected);
}

TEST_CASE("A kustomization's images get digest: as kustomize reads it") {
  const std::string text = read_data("kustomization.yaml");
  auto manifest = read_manifest(text, k_data + "kustomization.yaml");
  REQUIRE(manifest.ok());
  CHECK(manifest->kustomization);
  CHECK(manifest->kustomize_images.size() == 3);
  std::string expected = replaced(text, "newTag: v1.4.2   #", "digest: " + k_app + "   #");
  expected =
      replaced(expected, "  - name: nginx\n", "  - name: nginx\n    digest: " + k_nginx + "\n");
  expected = replaced(expected, "digest: sha256:" + std::string(64, '1'), "digest: " + k_nginx);
  CHECK(pinned(text, "kustomization.yaml") == expected);
}

TEST_CASE("Kustomization entries: newTag beside digest is removed, flow mappings get digest") {
  const std::string text = "images:\n"
                           "- name: ghcr.io/acme/app\n"
                           "  newTag: v1 # old\n"
                           "  digest: sha256:" +
                           std::string(64, '2') +
                           "\n"
                           "- {name: nginx, newTag: '1.25'}\n"
                           "- {name: nginx}\n";
  const std::string expected = "images:\n"
                               "- name: ghcr.io/acme/app\n"
                               "  digest: " +
                               k_app +
                               "\n"
                               "- {name: nginx, digest: '" +
                               k_nginx +
                               "'}\n"
                               "- {name: nginx, digest: \"" +
                               k_nginx + "\"}\n";
  CHECK(pinned(text, "kustomization.yml") == expected);
}

TEST_CASE("Flow sequences, aliases and Lists are pinned in place") {
  const std::string text = "apiVersion: v1\nkind: List\nitems:\n"
                           "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n"
                           "  spec: {containers: [{name: a, image: nginx}]}\n"
                           "- apiVersion: batch/v1\n  kind: Job\n  metadata: {name: j}\n"
                           "  spec:\n    template:\n      spec:\n        containers:\n"
                           "        - {name: a, image: &img ghcr.io/acme/app:v1}\n"
                           "        - {name: b, image: *img}\n";
  std::string expected = replaced(text, "image: nginx}", "image: \"nginx@" + k_nginx + "\"}");
  expected =
      replaced(expected, "&img ghcr.io/acme/app:v1", "&img \"ghcr.io/acme/app@" + k_app + "\"");
  CHECK(pinned(text, "list.yaml") == expected);
}

TEST_CASE("An image without a current digest, or malformed, is listed as missing") {
  const std::string text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
                           "  containers:\n  - name: a\n    image: ghcr.io/acme/other:v1\n"
                           "  ephemeralContainers:\n  - name: debug\n    image: Bad/Image\n";
  auto manifest = read_manifest(text, "pod.yaml");
  REQUIRE(manifest.ok());
  const auto plan = plan_pins(*manifest, text, lookup);
  REQUIRE(plan.missing.size() == 2);
  CHECK(plan.missing[0].where == "Pod/p spec.containers[0].image");
  CHECK(plan.missing[0].image == "ghcr.io/acme/other:v1");
  CHECK(plan.missing[0].reason == "no current digest for ghcr.io/acme/other");
  CHECK(plan.missing[1].where == "Pod/p spec.ephemeralContainers[0].image");
  CHECK(plan.missing[1].reason.rfind("malformed-reference: ", 0) == 0);
}

TEST_CASE("Files that are not Kubernetes manifests are refused with why") {
  CHECK(refusal(read_data("workflow.yaml")) ==
        "document 1 is not a Kubernetes object (a mapping with apiVersion and kind)");
  CHECK(refusal("# nothing here\n") == "no Kubernetes object in it");
  CHECK(refusal("") == "no Kubernetes object in it");
  CHECK(refusal("---\n# only comments\n---\n~\n") == "no Kubernetes object in it");
  CHECK(refusal("apiVersion: v1\nkind: ConfigMap\n---\n- a list\n") ==
        "document 2 is not a Kubernetes object (a mapping with apiVersion and kind)");
  CHECK(refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                "  - name: a\n    image: |\n      nginx\n") ==
        "Pod/p spec.containers[0].image is not a one-line string");
  CHECK(refusal("images: {a: b}\n", "kustomization.yaml") ==
        "the kustomization's images is not a list");
  CHECK(refusal("images:\n- newTag: v1\n", "kustomization.yaml") ==
        "images[0] is not a mapping with a name");
  CHECK(refusal("a: 1\n---\nb: 2\n", "dir/Kustomization") ==
        "a kustomization must be one YAML document");
}

TEST_SUITE_END();
