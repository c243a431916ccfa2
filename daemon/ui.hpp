// The web view: static files (daemon/ui/) compiled into the daemon and served under /ui/ with no
// token. The page itself talks to the /v1 API with the token a person types in (docs/web.md).
#pragma once

#include "daemon/service.hpp"

#include <span>
#include <string>
#include <string_view>

namespace dg::daemon {

// One embedded file. `etag` is a strong entity tag, quotes included.
struct UiAsset {
  std::string_view path; // relative to /ui/, e.g. "app.js"
  std::string_view content_type;
  std::string_view bytes;
  std::string_view etag;
};

// Every embedded file (generated at build time by daemon/embed_ui.cmake).
std::span<const UiAsset> ui_assets();

// True for the paths the web view answers: "/ui" and everything under "/ui/".
bool is_ui_path(std::string_view path);

// The answer to `method` on the decoded `path` (is_ui_path), given the request's If-None-Match
// header: the file with its content type, ETag and security headers; 304 when the ETag matches;
// a redirect from "/ui" to "/ui/"; 404 for an unknown file; 405 for a method other than GET and
// HEAD.
Response
ui_response(std::string_view method, std::string_view path, std::string_view if_none_match);

} // namespace dg::daemon
