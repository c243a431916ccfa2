// The registry client's protocol logic through a scripted Transport: the token refresh on a 401
// mid-way, redirect rules, digest checks and name validation, without a network.
#include "registry/client.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <functional>

namespace registry = dg::registry;

namespace {

// Answers each request with the next scripted handler's response, and keeps what was sent.
class ScriptedTransport final : public registry::Transport {
public:
  using Handler = std::function<registry::HttpResponse(const registry::HttpRequest&)>;
  std::deque<Handler> script;
  std::vector<registry::HttpRequest> sent;

  dg::Result<registry::HttpResponse> send(const registry::HttpRequest& request,
                                          const registry::SendOptions&) override {
    sent.push_back(request);
    if (script.empty()) {
      return dg::make_error(dg::Errc::internal, "bad-response: unscripted request");
    }
    auto handler = std::move(script.front());
    script.pop_front();
    return handler(request);
  }
};

registry::HttpResponse respond(int status,
                               std::string body = "",
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  registry::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string authorization(const registry::HttpRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") {
      return value;
    }
  }
  return {};
}

const std::string k_manifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})";
const std::string k_digest = "sha256:" + dg::to_hex(dg::sha256(k_manifest));

registry::Client make_client(std::shared_ptr<ScriptedTransport> transport,
                             std::string endpoint = "https://reg.example") {
  registry::ClientOptions options;
  options.registries["reg.example"] = {std::move(endpoint), "", "", ""};
  return registry::Client(options, std::move(transport));
}

const std::string k_challenge =
    R"(Bearer realm="https://auth.example/token",service="reg.example",scope="repository:acme/app:pull")";

} // namespace

TEST_SUITE_BEGIN("Registry client protocol");

TEST_CASE("A token refused mid-way is refreshed once, then the call fails") {
  auto transport = std::make_shared<ScriptedTransport>();
  auto client = make_client(transport);
  const auto challenge = [](const registry::HttpRequest&) {
    return respond(401, "", {{"www-authenticate", k_challenge}});
  };
  const auto token = [](std::string value) {
    return [value](const registry::HttpRequest& request) {
      CHECK(request.url.host == "auth.example");
      CHECK(request.url.target ==
            "/token?service=reg.example&scope=repository%3Aacme%2Fapp%3Apull");
      return respond(200, R"({"token":")" + value + R"(","expires_in":300})");
    };
  };
  const auto manifest = [](std::string expected) {
    return [expected](const registry::HttpRequest& request) {
      CHECK(authorization(request) == "Bearer " + expected);
      return respond(200, k_manifest, {{"content-type", registry::k_oci_manifest}});
    };
  };
  transport->script = {challenge, token("t1"), manifest("t1"), manifest("t1")};
  REQUIRE(client.get_manifest("reg.example/acme/app", k_digest).ok());
  REQUIRE(client.get_manifest("reg.example/acme/app", k_digest).ok()); // cached: no token fetch
  CHECK(transport->script.empty());

  // The registry stops honouring t1: one refresh, and the call succeeds with t2.
  transport->script = {challenge, token("t2"), manifest("t2")};
  REQUIRE(client.get_manifest("reg.example/acme/app", k_digest).ok());
  CHECK(transport->script.empty());

  // A fresh token refused too: no second refresh.
  transport->script = {challenge, token("t3"), challenge};
  auto r = client.get_manifest("reg.example/acme/app", k_digest);
  REQUIRE_FALSE(r.ok());
  CHECK(registry::failure_kind(r.error()) == "unauthorized");
  CHECK(transport->script.empty());
}

TEST_CASE("Redirects: followed to https, credentials kept to the same origin, bounded") {
  auto transport = std::make_shared<ScriptedTransport>();
  registry::ClientOptions options;
  options.registries["reg.example"] = {"https://reg.example", "bot", "pw", ""};
  registry::Client client(options, transport);
  const std::string blob = "layer bytes";
  const std::string digest = "sha256:" + dg::to_hex(dg::sha256(blob));

  SUBCASE("To object storage over https, without the registry's credentials") {
    transport->script = {
        [](const registry::HttpRequest&) {
          return respond(401, "", {{"www-authenticate", R"(Basic realm="r")"}});
        },
        [](const registry::HttpRequest& request) {
          CHECK(authorization(request).rfind("Basic ", 0) == 0);
          return respond(307, "", {{"location", "https://storage.example/b?sig=x"}});
        },
        [&](const registry::HttpRequest& request) {
          CHECK(request.url.host == "storage.example");
          CHECK(request.url.target == "/b?sig=x");
          CHECK(authorization(request).empty());
          return respond(200, blob);
        }};
    auto r = client.get_blob("reg.example/acme/app", digest);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == blob);
  }
  SUBCASE("Never from https down to http") {
    transport->script = {[](const registry::HttpRequest&) {
      return respond(302, "", {{"location", "http://storage.example/b"}});
    }};
    auto r = client.get_blob("reg.example/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(registry::failure_kind(r.error()) == "redirect");
  }
  SUBCASE("At most five hops") {
    for (int i = 0; i < 6; ++i) {
      transport->script.push_back([](const registry::HttpRequest&) {
        return respond(302, "", {{"location", "/v2/acme/app/blobs/elsewhere"}});
      });
    }
    auto r = client.get_blob("reg.example/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(registry::failure_kind(r.error()) == "redirect");
    CHECK(transport->sent.size() == 6);
  }
  SUBCASE("A blob whose bytes do not hash to its digest") {
    transport->script = {[](const registry::HttpRequest&) { return respond(200, "other"); }};
    auto r = client.get_blob("reg.example/acme/app", digest);
    REQUIRE_FALSE(r.ok());
    CHECK(registry::failure_kind(r.error()) == "digest-mismatch");
  }
}

TEST_CASE("Manifests are checked against the digest asked for and the digest announced") {
  auto transport = std::make_shared<ScriptedTransport>();
  auto client = make_client(transport);
  const std::string other = "sha256:" + std::string(64, 'b');
  transport->script = {[](const registry::HttpRequest& request) {
    CHECK(request.url.target == "/v2/acme/app/manifests/sha256:" + std::string(64, 'b'));
    return respond(200, k_manifest, {{"content-type", registry::k_oci_manifest}});
  }};
  auto r = client.get_manifest("reg.example/acme/app", other);
  REQUIRE_FALSE(r.ok());
  CHECK(registry::failure_kind(r.error()) == "digest-mismatch");

  transport->script = {[&](const registry::HttpRequest&) {
    return respond(200, k_manifest,
                   {{"content-type", registry::k_oci_manifest}, {"docker-content-digest", other}});
  }};
  auto by_tag = client.get_manifest("reg.example/acme/app", "v1");
  REQUIRE_FALSE(by_tag.ok());
  CHECK(registry::failure_kind(by_tag.error()) == "digest-mismatch");
}

TEST_CASE("Names and references that could leave the API path are refused before any request") {
  auto transport = std::make_shared<ScriptedTransport>();
  auto client = make_client(transport);
  for (const char* name : {"reg.example", "reg.example/../x", "reg.example/Acme/app",
                           "reg.example/acme//app", "/acme/app"}) {
    auto r = client.get_manifest(name, "v1");
    REQUIRE_FALSE(r.ok());
    CHECK(registry::failure_kind(r.error()) == "config");
  }
  for (const char* reference : {"../v1", "v1?x=1", "sha256:ABC", ""}) {
    auto r = client.get_manifest("reg.example/acme/app", reference);
    REQUIRE_FALSE(r.ok());
    CHECK(registry::failure_kind(r.error()) == "config");
  }
  CHECK(transport->sent.empty());
}

TEST_CASE("A Bearer realm over plain http is refused for an https registry") {
  auto transport = std::make_shared<ScriptedTransport>();
  auto client = make_client(transport);
  transport->script = {[](const registry::HttpRequest&) {
    return respond(
        401, "", {{"www-authenticate", R"(Bearer realm="http://auth.example/token",service="s")"}});
  }};
  auto r = client.get_manifest("reg.example/acme/app", k_digest);
  REQUIRE_FALSE(r.ok());
  CHECK(registry::failure_kind(r.error()) == "unauthorized");
  CHECK(transport->sent.size() == 1);
}

TEST_SUITE_END();
