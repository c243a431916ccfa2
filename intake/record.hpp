// An evidence record built step by step in a working file (`digestgate evidence init`, `gate`,
// `sign`): the subject and build facts first, then one gate per tool report, then signatures,
// attestations and bundles. The result has exactly the shape POST /v1/validations takes.
//
// All functions are thread-safe.
#pragma once

#include "intake/ci_env.hpp"
#include "intake/manifest.hpp"

#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dg::intake {

struct MirrorSpec {
  std::string name;                      // the repository, e.g. "docker.io/acme/app"
  std::optional<ImageManifest> manifest; // what that registry serves; nullopt: the subject's
};

struct InitOptions {
  std::string image;                     // "name@sha256:<hex>"
  std::optional<ImageManifest> manifest; // the subject's index or manifest, when known
  std::vector<std::string> tags;         // besides the tag of a tag ref, which is added
  std::string pushed_at;                 // RFC 3339
  std::map<std::string, std::string> labels;
  std::vector<MirrorSpec> mirrors;
  std::string observed_at; // RFC 3339, when the mirrors were looked at
  // Overrides of what the CI's variables say; empty: keep theirs.
  std::string source_repository, commit, ref;
  std::string builder_id, run_id, run_url, base_image;
};

// A new record. Fails with Errc::invalid_argument when the image is not a sha256 digest
// reference or a timestamp is not RFC 3339, and with Errc::conflict when the manifest's digest is
// not the image's.
Result<nlohmann::json> init_record(const InitOptions& options, const CiFacts& ci);

// The record's subject as a digest reference, "name@sha256:<hex>"; fails on a record without one.
Result<std::string> subject_reference(const nlohmann::json& record);

// Put `gate` in the record, replacing a gate of the same name.
void put_gate(nlohmann::json& record, nlohmann::json gate);

// Append `items` to the record's array `field` ("signatures", "attestations", "bundles"),
// skipping any already there. Returns how many were added.
std::size_t add_items(nlohmann::json& record, const char* field, const nlohmann::json& items);

} // namespace dg::intake
