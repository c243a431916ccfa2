// OCI / Docker image references: parsing, normalization and digest checks.
//
// The grammar is the one of github.com/distribution/reference (grammar.go), with digests as the
// OCI image specification defines them:
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] remote-name
//   domain           := host [ ":" port-number ]
//   host             := domain-name | IPv4address | "[" IPv6address "]"
//   domain-name      := domain-component ( "." domain-component )*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   port-number      := /[0-9]+/
//   remote-name      := path-component ( "/" path-component )*
//   path-component   := alpha-numeric ( separator alpha-numeric )*
//   alpha-numeric    := /[a-z0-9]+/
//   separator        := /[_.]|__|[-]+/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := algorithm ":" encoded
//   algorithm        := /[a-z0-9]+/ ( /[+._-]/ /[a-z0-9]+/ )*
//   encoded          := /[a-zA-Z0-9=_-]+/
//
// A sha256 digest must be exactly 64 lowercase hex characters and a sha512 digest exactly 128;
// other registered-looking algorithms are accepted by the parser and left to policy to refuse.
//
// The first component of a name (when a '/' follows it) is a domain if it contains '.' or ':', is
// "localhost", or holds an uppercase letter (a path component may not): "Docker/docker" is the
// repository "docker" on the registry host "Docker", as docker reads it. The repository path,
// after normalization ("library/" added), is at most 255 characters; the domain and the tag do
// not count towards that limit.
//
// All functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <string>
#include <string_view>

namespace dg::policy {

// A parsed, normalized image reference. Plain value type.
struct Reference {
  // Normalized registry: "docker.io" when absent, "index.docker.io" becomes "docker.io"; keeps the
  // port, e.g. "localhost:5000", "[::1]:5000". Otherwise as written.
  std::string domain;
  // Repository path: "library/ubuntu" for "ubuntu" on docker.io; otherwise as written.
  std::string path;
  // Tag, empty when absent.
  std::string tag;
  // "algorithm:encoded", empty when absent.
  std::string digest;

  // `domain` + "/" + `path`: the repository.
  std::string name() const;
  // `name()` + "@" + `digest`. Precondition: `digest` is set.
  std::string pinned() const;
  // The part of `digest` before ':', empty if there is no digest.
  std::string digest_algorithm() const;
  // True when the reference does not pin a digest (a name alone means :latest).
  bool is_mutable() const { return digest.empty(); }
  // `tag`, or "latest" when there is neither tag nor digest; empty for a digest without tag.
  std::string familiar_tag() const;
};

// Parse and normalize `text`. On failure returns Errc::invalid_argument whose message names the
// offending part.
dg::Result<Reference> parse_reference(std::string_view text);

// Parse `name`, which must carry neither tag nor digest, and return its normalized `name()`, e.g.
// "ubuntu" -> "docker.io/library/ubuntu". On failure returns Errc::invalid_argument.
dg::Result<std::string> normalize_repository(std::string_view name);

// True when `digest` is "sha256:" followed by exactly 64 lowercase hex characters.
bool is_sha256_digest(std::string_view digest);

} // namespace dg::policy
