// SBOM documents: SPDX 2.x JSON and CycloneDX JSON, as syft, trivy and others write them.
#include "intake/reports.hpp"

namespace dg::intake {

using detail::array_at;
using detail::object_at;
using detail::string_at;
using nlohmann::json;

namespace {

// "pkg:oci/app@sha256%3A<hex>?repository_url=ghcr.io/acme/app&arch=amd64" -> the repository
// with its digest, "ghcr.io/acme/app@sha256:<hex>"; empty when `purl` is no such purl.
std::string oci_purl_reference(const std::string& purl) {
  constexpr std::string_view k_prefix = "pkg:oci/";
  if (purl.rfind(k_prefix, 0) != 0) {
    return {};
  }
  auto at = purl.find('@');
  auto query = purl.find('?');
  if (at == std::string::npos) {
    return {};
  }
  std::string version = purl.substr(at + 1, query == std::string::npos ? query : query - at - 1);
  // The algorithm's ':' is percent-encoded in a purl version ("sha256%3A<hex>").
  for (std::string_view encoded : {"%3A", "%3a"}) {
    if (auto enc = version.find(encoded); enc != std::string::npos) {
      version = version.substr(0, enc) + ':' + version.substr(enc + encoded.size());
      break;
    }
  }
  std::string repository = purl.substr(k_prefix.size(), at - k_prefix.size());
  if (query != std::string::npos) {
    constexpr std::string_view k_repo = "repository_url=";
    auto pos = purl.find(k_repo, query);
    if (pos != std::string::npos) {
      auto end = purl.find('&', pos);
      repository = purl.substr(pos + k_repo.size(),
                               end == std::string::npos ? end : end - pos - k_repo.size());
    }
  }
  return repository + "@" + version;
}

// A name and a version that together pin an image: "ghcr.io/acme/app" + "sha256:<hex>".
std::string name_with_digest(const std::string& name, const std::string& version) {
  if (name.find('@') != std::string::npos) {
    return name;
  }
  if (version.rfind("sha256:", 0) == 0) {
    return name + "@" + version;
  }
  return {};
}

} // namespace

Result<GateReport> read_spdx(const json& doc) {
  GateReport out;
  out.kind = ReportKind::spdx;
  const json* info = object_at(doc, "creationInfo");
  if (info == nullptr) {
    return make_error(Errc::invalid_argument, "spdx report: creationInfo is missing");
  }
  out.created_at = detail::timestamp(string_at(*info, "created"));
  out.started_at = out.created_at;
  out.finished_at = out.created_at;
  if (const json* creators = array_at(*info, "creators")) {
    for (const json& c : *creators) {
      std::string creator = c.is_string() ? c.get<std::string>() : "";
      constexpr std::string_view k_tool = "Tool: ";
      if (creator.rfind(k_tool, 0) == 0) {
        std::tie(out.tool_name, out.tool_version) =
            detail::split_tool(std::string_view(creator).substr(k_tool.size()));
        break;
      }
    }
  }
  // syft names the document after what it was asked to scan; the image package's purl pins it.
  out.target = name_with_digest(string_at(doc, "name"), "");
  if (out.target.empty()) {
    if (const json* packages = array_at(doc, "packages")) {
      for (const json& p : *packages) {
        if (const json* refs = array_at(p, "externalRefs")) {
          for (const json& r : *refs) {
            if (string_at(r, "referenceType") == "purl") {
              out.target = oci_purl_reference(string_at(r, "referenceLocator"));
            }
            if (!out.target.empty()) {
              break;
            }
          }
        }
        if (!out.target.empty()) {
          break;
        }
      }
    }
  }
  return out;
}

namespace {

// CycloneDX 1.4 lists tools as an array; 1.5 and later as {"components": [...]}.
std::pair<std::string, std::string> cyclonedx_tool(const json& metadata) {
  const json* list = array_at(metadata, "tools");
  if (list == nullptr) {
    if (const json* tools = object_at(metadata, "tools")) {
      list = array_at(*tools, "components");
    }
  }
  if (list == nullptr || list->empty()) {
    return {};
  }
  const json& first = (*list)[0];
  return {string_at(first, "name"), string_at(first, "version")};
}

} // namespace

Result<GateReport> read_cyclonedx(const json& doc) {
  GateReport out;
  out.kind = ReportKind::cyclonedx;
  const json* metadata = object_at(doc, "metadata");
  if (metadata == nullptr) {
    return make_error(Errc::invalid_argument, "cyclonedx report: metadata is missing");
  }
  std::tie(out.tool_name, out.tool_version) = cyclonedx_tool(*metadata);
  out.created_at = detail::timestamp(string_at(*metadata, "timestamp"));
  out.started_at = out.created_at;
  out.finished_at = out.created_at;
  if (const json* component = object_at(*metadata, "component")) {
    out.target = oci_purl_reference(string_at(*component, "purl"));
    if (out.target.empty()) {
      out.target =
          name_with_digest(string_at(*component, "name"), string_at(*component, "version"));
    }
  }
  if (const json* vulns = array_at(doc, "vulnerabilities")) {
    out.has_findings = true;
    for (const json& v : *vulns) {
      std::string severity = "unknown";
      if (const json* ratings = array_at(v, "ratings"); ratings != nullptr && !ratings->empty()) {
        severity = detail::severity(string_at((*ratings)[0], "severity"));
      }
      ++out.findings[severity];
    }
  }
  return out;
}

} // namespace dg::intake
