#include "daemon/ui.hpp"

#include <nlohmann/json.hpp>

namespace dg::daemon {

namespace {

// The same headers on every answer under /ui/, errors included: the page runs only its own
// scripts and styles, talks only to its own origin, and cannot be framed.
void add_security_headers(Response& r) {
  r.headers["Content-Security-Policy"] =
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
      "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["Referrer-Policy"] = "no-referrer";
  r.headers["X-Frame-Options"] = "DENY";
}

Response error(int status, const std::string& code, const std::string& message) {
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"error", code}, {"message", message}}.dump();
  add_security_headers(r);
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// If-None-Match uses the weak comparison (RFC 9110 13.1.2): "W/" prefixes do not matter.
bool etag_matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view tag = trim(header.substr(0, comma));
    if (tag == "*") {
      return true;
    }
    if (tag.starts_with("W/")) {
      tag.remove_prefix(2);
    }
    if (tag == etag) {
      return true;
    }
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
  }
  return false;
}

} // namespace

bool is_ui_path(std::string_view path) {
  return path == "/ui" || path.starts_with("/ui/");
}

Response
ui_response(std::string_view method, std::string_view path, std::string_view if_none_match) {
  if (method != "GET" && method != "HEAD") {
    Response r = error(405, "method-not-allowed", "the web view's files accept GET and HEAD");
    r.headers["Allow"] = "GET, HEAD";
    return r;
  }
  if (path == "/ui") {
    Response r;
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "see /ui/\n";
    r.headers["Location"] = "/ui/";
    add_security_headers(r);
    return r;
  }
  std::string_view name = path.substr(4); // after "/ui/"
  if (name.empty()) {
    name = "index.html";
  }
  for (const UiAsset& asset : ui_assets()) {
    if (asset.path != name) {
      continue;
    }
    Response r;
    add_security_headers(r);
    r.headers["ETag"] = std::string(asset.etag);
    // Revalidate every time: an unchanged file costs a 304 with no body, and a new daemon's
    // files are seen at once.
    r.headers["Cache-Control"] = "no-cache";
    r.content_type = std::string(asset.content_type);
    if (!if_none_match.empty() && etag_matches(if_none_match, asset.etag)) {
      r.status = 304;
      return r;
    }
    r.status = 200;
    r.body = std::string(asset.bytes);
    return r;
  }
  return error(404, "not-found", "no such file: " + std::string(path));
}

} // namespace dg::daemon
