// Compose override files that pin services to approved digests.
//
// `docker compose -f docker-compose.yml -f OVERRIDE up -d` recreates a pinned service whenever its
// digest changes, while the main file keeps the human-readable tag. Only the named services are
// pinned. All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace dg::cli {

// An approved image, as the daemon answered it.
struct Pinned {
  std::string repository; // normalized, e.g. "ghcr.io/acme/app"
  std::string reference;  // "<repository>@sha256:<hex>"
};

// One --service flag: "NAME", or "NAME=REPOSITORY" to choose among the images of a bundle.
struct ServiceSpec {
  std::string name;
  std::string repository; // normalized; empty when the flag names no repository
};

// A service and the reference its image is pinned to.
struct ServicePin {
  std::string service;
  std::string reference;
};

// True for a compose service name: an ASCII letter or digit, then letters, digits, '_', '.', '-'.
bool is_service_name(std::string_view name);

// Parse a --service value. Fails with Errc::invalid_argument on a bad service name or a repository
// that does not normalize (a repository carries neither tag nor digest).
Result<ServiceSpec> parse_service(std::string_view text);

// Assign each service its reference among `pinned`: a service without repository needs exactly one
// pinned repository; a service with one needs that repository among `pinned`. Fails with
// Errc::invalid_argument, naming the service, otherwise or when a service is named twice.
Result<std::vector<ServicePin>> resolve_services(const std::vector<ServiceSpec>& services,
                                                 const std::vector<Pinned>& pinned);

// The references of an approved promotion (single or bundle) or rollback response, in response
// order: "reference" (or "repository" + "@" + "digest"), or each of "promotions".
std::vector<Pinned> pinned_references(const nlohmann::json& response);

// The override document: a comment line, then `services:` with each service's `image:`.
std::string render_compose_override(const std::vector<ServicePin>& pins);

// Write the override document to `path` atomically with mode 0644. Services that an earlier
// override from this tool at `path` pinned, and that `pins` does not name, keep their pins.
Result<void> write_compose_override(const std::string& path, const std::vector<ServicePin>& pins);

} // namespace dg::cli
