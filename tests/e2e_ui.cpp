// End-to-end: the web view's files as the daemon serves them under /ui/ (no token, the security
// headers, ETags and 304s, the files compiled in byte for byte), and GET /v1/whoami, which the
// page uses to show operator actions only to operators. The page itself is tested in a real
// browser by tests/browser/.
#include "tests/support/daemon.hpp"
#include "tests/support/files.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace dg::test;

namespace {

const nlohmann::json k_policy = {{"environments", {{"staging", nlohmann::json::object()}}}};

const char* const k_csp = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

void check_security_headers(const HttpResponse& r) {
  CHECK(r.headers.at("content-security-policy") == k_csp);
  CHECK(r.headers.at("x-content-type-options") == "nosniff");
  CHECK(r.headers.at("referrer-policy") == "no-referrer");
}

} // namespace

TEST_CASE("GET /ui/ serves the page without a token, with a strict CSP and no inline script") {
  Daemon daemon(k_policy);
  auto r = daemon.http("GET", "/ui/");
  REQUIRE(r.status == 200);
  CHECK(r.headers.at("content-type") == "text/html; charset=utf-8");
  check_security_headers(r);
  CHECK(r.headers.at("cache-control") == "no-cache");
  CHECK(r.body.find("<script type=\"module\" src=\"app.js\"></script>") != std::string::npos);
  // Every script is a file of its own and nothing is styled inline, or the CSP would block it.
  std::size_t scripts = 0;
  for (auto at = r.body.find("<script"); at != std::string::npos;
       at = r.body.find("<script", at + 1)) {
    ++scripts;
    CHECK(r.body.compare(at, 13, "<script type=") == 0);
    CHECK(r.body.substr(at, r.body.find('>', at) - at).find(" src=") != std::string::npos);
  }
  CHECK(scripts == 1);
  CHECK(r.body.find("style=") == std::string::npos);
  CHECK(r.body.find("<style") == std::string::npos);
  CHECK(r.body.find("http://") == std::string::npos);
  CHECK(r.body.find("https://") == std::string::npos);

  // The same file under its own name; the bare /ui redirects.
  auto index = daemon.http("GET", "/ui/index.html");
  CHECK(index.status == 200);
  CHECK(index.body == r.body);
  auto bare = daemon.http("GET", "/ui");
  CHECK(bare.status == 308);
  CHECK(bare.headers.at("location") == "/ui/");
}

TEST_CASE("Every file of daemon/ui is served byte for byte with its type and a strong ETag") {
  Daemon daemon(k_policy);
  const std::filesystem::path dir = std::filesystem::path(DG_SOURCE_DIR) / "daemon" / "ui";
  int files = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    const std::string name = item.path().filename().string();
    const std::string ext = item.path().extension().string();
    const std::string bytes = read_text(item.path().string());
    CAPTURE(name);
    auto r = daemon.http("GET", "/ui/" + name);
    REQUIRE(r.status == 200);
    CHECK(r.body == bytes);
    check_security_headers(r);
    const std::string type = r.headers.at("content-type");
    if (ext == ".js") {
      CHECK(type == "text/javascript; charset=utf-8");
    } else if (ext == ".css") {
      CHECK(type == "text/css; charset=utf-8");
    } else if (ext == ".html") {
      CHECK(type == "text/html; charset=utf-8");
    } else if (ext == ".svg") {
      CHECK(type == "image/svg+xml");
    }
    const std::string etag = "\"" + dg::to_hex(dg::sha256(bytes)).substr(0, 32) + "\"";
    CHECK(r.headers.at("etag") == etag);
    // JavaScript and CSS never reach outside the daemon's origin.
    if (ext == ".js" || ext == ".css") {
      CHECK(bytes.find("http://") == std::string::npos);
      CHECK(bytes.find("https://") == std::string::npos);
      CHECK(bytes.find("eval(") == std::string::npos);
      CHECK(bytes.find("innerHTML") == std::string::npos);
    }
    ++files;
  }
  CHECK(files >= 5);
}

TEST_CASE("A reload of an unchanged file costs a 304 with no body") {
  Daemon daemon(k_policy);
  auto first = daemon.http("GET", "/ui/app.js");
  REQUIRE(first.status == 200);
  const std::string etag = first.headers.at("etag");
  REQUIRE(etag.size() == 34);

  auto again = daemon.http("GET", "/ui/app.js", "", "", {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(again.headers.at("etag") == etag);
  check_security_headers(again);

  // A list, a weak form of the same tag and "*" match too; another tag does not.
  CHECK(daemon.http("GET", "/ui/app.js", "", "", {{"If-None-Match", "\"0000\", " + etag}}).status ==
        304);
  CHECK(daemon.http("GET", "/ui/app.js", "", "", {{"If-None-Match", "W/" + etag}}).status == 304);
  CHECK(daemon.http("GET", "/ui/app.js", "", "", {{"If-None-Match", "*"}}).status == 304);
  auto other = daemon.http("GET", "/ui/app.js", "", "", {{"If-None-Match", "\"0000\""}});
  CHECK(other.status == 200);
  CHECK(other.body == first.body);
  // Another file's tag is not this file's.
  auto css = daemon.http("GET", "/ui/app.css", "", "", {{"If-None-Match", etag}});
  CHECK(css.status == 200);

  auto head = daemon.http("HEAD", "/ui/app.js");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.headers.at("etag") == etag);
}

TEST_CASE("Unknown files, other methods and paths that climb out of /ui/ are refused") {
  Daemon daemon(k_policy);
  auto missing = daemon.http("GET", "/ui/nothing.js");
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"] == "not-found");
  check_security_headers(missing);
  for (const char* target : {"/ui/../v1/keys", "/ui/%2e%2e/v1/keys", "/ui/%2fetc%2fpasswd",
                             "/ui/./app.js", "/ui//app.js", "/ui/app.js/"}) {
    CAPTURE(target);
    CHECK(daemon.http("GET", target).status == 404);
  }
  auto post = daemon.http("POST", "/ui/", "{}");
  CHECK(post.status == 405);
  CHECK(post.headers.at("allow") == "GET, HEAD");
  // The API stays behind its token.
  CHECK(daemon.http("GET", "/v1/keys").status == 401);
}

TEST_CASE("GET /v1/whoami names the principal and its roles") {
  Daemon daemon(k_policy);
  auto reader = daemon.http("GET", "/v1/whoami", "", k_reader_token);
  REQUIRE(reader.status == 200);
  CHECK(reader.json() == nlohmann::json{{"name", "reader"}, {"roles", {"reader"}}});
  auto admin = daemon.http("GET", "/v1/whoami", "", k_admin_token);
  CHECK(admin.json() ==
        nlohmann::json{{"name", "admin"}, {"roles", {"recorder", "promoter", "operator"}}});
  CHECK(daemon.http("GET", "/v1/whoami").status == 401);
  CHECK(daemon.http("GET", "/v1/whoami", "", "not-a-token").status == 401);
  CHECK(daemon.http("POST", "/v1/whoami", "{}", k_reader_token).status == 405);
}
