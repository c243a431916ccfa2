// The daemon's routing: ONE table of {method, pattern, role, handler} (daemon/routes/table.cpp)
// and the router that parses a request target (Boost.URL), matches it against the table,
// authenticates the bearer token and checks the role before it calls the handler.
//
// How to add a route: write the handler, `void get_thing(Core& core, const Ctx& ctx)`, in the
// file of its resource under daemon/routes/ (a new resource gets a new file, listed in
// daemon/CMakeLists.txt), declare it in daemon/routes/handlers.hpp, and add one line to the table
// in daemon/routes/table.cpp:
//
//     {"GET", "/v1/things/{name}", "any", get_thing},
//
// The handler reads `ctx->arg("name")` (percent-decoded), `ctx->param("limit")` (the query), reads
// its body with `Core::read_body(ctx, read_thing_request)` (strict: see daemon/requests.hpp),
// reads the ledger with `core.read(ctx, ...)`, writes with `core.submit(ctx, ...)`, and answers
// once with `ctx->reply(...)` or `ctx->error(...)`. Everything else is the router's:
// - pattern: literal segments and `{name}` segments (one whole segment each); a last segment
//   `{name*}` matches the rest of the path, zero or more segments, joined with '/'. The first
//   pattern of the table that matches is the route; put a literal before a `{name}` that would
//   also match it. No pattern matches: 404 `not-found`.
// - method: "GET" also answers HEAD. A pattern that matches with no entry for the method: 405.
// - role: "none" needs no token (health, metrics, static files); "any" needs a valid bearer token
//   of any role; "any-or-certificate" a valid bearer token of any role or, without one, a client
//   certificate that TLS verified against tls.client_ca (Request::client_certificate; the
//   principal is then nullptr); otherwise a role, or roles separated by '|' of which the principal
//   needs one. No valid token: 401 `unauthorized` (before 405); a missing role: 403 `forbidden`.
// - every answer under /v1 carries the `Digestgate-Tree-Size` header (see Context).
//
// Thread-safety: a Router is immutable once made; dispatch() may run concurrently.
#pragma once

#include "daemon/context.hpp"
#include "util/result.hpp"

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dg::daemon {

class Core;

using Handler = void (*)(Core& core, const Ctx& ctx);

struct Route {
  const char* method;
  const char* pattern;
  const char* role;
  Handler handler;
};

// The route table (daemon/routes/table.cpp).
std::span<const Route> route_table();

// A request target (origin form), decoded.
struct Target {
  std::string path;                         // percent-decoded
  std::vector<std::string> segments;        // split before decoding: "%2F" stays in its segment
  std::map<std::string, std::string> query; // decoded, '+' as a space; a repeated key: the last
};

// Parse `target` ("/path?query"); fails with a message for the 400 answer.
Result<Target> parse_target(std::string_view target);

class Router {
public:
  explicit Router(std::span<const Route> routes);

  // Route `ctx`'s request to its handler, or answer 400, 401, 403, 404 or 405.
  void dispatch(Core& core, const Ctx& ctx) const;

private:
  struct Compiled {
    const Route* route;
    std::vector<std::string> segments; // "{name}" or "{name*}" for parameters
    std::vector<std::string> roles;    // empty: "none"; {""}: "any"
    bool token = true;
    bool certificate = false; // a verified client certificate stands for a token
  };
  // The entries of the first pattern that matches `segments` (all sharing that pattern), with
  // its arguments; empty when none.
  std::vector<const Compiled*> match(const std::vector<std::string>& segments,
                                     std::map<std::string, std::string>& args) const;

  std::vector<Compiled> m_routes;
};

} // namespace dg::daemon
