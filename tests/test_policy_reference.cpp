// Tests of the reference grammar. The cases marked "upstream" are written from the test tables of
// github.com/distribution/reference (reference_test.go, normalize_test.go, regexp_test.go; Apache
// License 2.0, Copyright The Go Authors and the distribution contributors), read at commit 0965666,
// and adapted to digestgate's normalized parser (ParseNormalizedNamed's view: no domain means
// docker.io, a single component gets "library/"). Where digestgate deliberately differs, the case
// says why.
#include "policy/reference.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using dg::Errc;
using dg::policy::is_sha256_digest;
using dg::policy::normalize_repository;
using dg::policy::parse_reference;
using dg::policy::Reference;

namespace {

// SHA-256 and SHA-512 of the empty string.
const std::string k_hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string k_hex128 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                             "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const std::string k_sha256 = "sha256:" + k_hex64;
const std::string k_sha512 = "sha512:" + k_hex128;

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return s;
}

struct ValidCase {
  std::string input;
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;
};

struct InvalidCase {
  std::string input;
  std::string problem; // the part of the message after `invalid reference "...": `
};

void check_valid(const std::vector<ValidCase>& cases) {
  for (const auto& c : cases) {
    INFO("input: ", c.input);
    const auto ref = parse_reference(c.input);
    REQUIRE_MESSAGE(ref.ok(), ref.error().message);
    CHECK(ref->domain == c.domain);
    CHECK(ref->path == c.path);
    CHECK(ref->tag == c.tag);
    CHECK(ref->digest == c.digest);
  }
}

void check_invalid(const std::vector<InvalidCase>& cases) {
  for (const auto& c : cases) {
    INFO("input: ", c.input);
    const auto ref = parse_reference(c.input);
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().code == Errc::invalid_argument);
    CHECK(ref.error().message == "invalid reference \"" + c.input + "\": " + c.problem);
  }
}

} // namespace

TEST_SUITE_BEGIN("PolicyReference");

TEST_CASE("Names without a domain are normalized onto docker.io") {
  check_valid({
      {"ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", ""},
      {"library/ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"acme/app:v1", "docker.io", "acme/app", "v1", ""},
      {"a/b/c", "docker.io", "a/b/c", "", ""},
      {"foo_bar", "docker.io", "library/foo_bar", "", ""},
      {"localhost", "docker.io", "library/localhost", "", ""},
      // Without a '/', "localhost:5000" is the image localhost with tag 5000, as docker reads it.
      {"localhost:5000", "docker.io", "library/localhost", "5000", ""},
  });
}

TEST_CASE("docker.io and index.docker.io domains are normalized") {
  check_valid({
      {"docker.io/ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"docker.io/library/ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"index.docker.io/library/ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"index.docker.io/ubuntu", "docker.io", "library/ubuntu", "", ""},
      {"docker.io/acme/app", "docker.io", "acme/app", "", ""},
      {"index.docker.io/acme/app:1.0", "docker.io", "acme/app", "1.0", ""},
  });
}

TEST_CASE("Other domains keep their path as written") {
  check_valid({
      {"ghcr.io/acme/app", "ghcr.io", "acme/app", "", ""},
      {"ghcr.io/app", "ghcr.io", "app", "", ""},
      {"quay.io/a/b/c/d:1.0", "quay.io", "a/b/c/d", "1.0", ""},
      {"my-registry.example.com/a", "my-registry.example.com", "a", "", ""},
      {"xn--bcher-kva.example/a", "xn--bcher-kva.example", "a", "", ""},
      {"a-b.c/d", "a-b.c", "d", "", ""},
      {"Registry.Example.COM/a", "Registry.Example.COM", "a", "", ""},
      {"localhost/app", "localhost", "app", "", ""},
      {"localhost:5000/app:dev", "localhost:5000", "app", "dev", ""},
      {"localhost:5000/a/b", "localhost:5000", "a/b", "", ""},
      {"registry.example.com:443/team/app", "registry.example.com:443", "team/app", "", ""},
      {"192.168.1.1:5000/x", "192.168.1.1:5000", "x", "", ""},
      {"192.168.1.1/x", "192.168.1.1", "x", "", ""},
      {"[::1]:5000/x", "[::1]:5000", "x", "", ""},
      {"[::1]/x", "[::1]", "x", "", ""},
      {"[2001:db8::1]:443/team/app:v2", "[2001:db8::1]:443", "team/app", "v2", ""},
      {"[2001:db8:0:0:0:0:0:1]/a", "[2001:db8:0:0:0:0:0:1]", "a", "", ""},
      {"[FE80::A]/a", "[FE80::A]", "a", "", ""},
      {"[::]/a", "[::]", "a", "", ""},
      {"example:5000/a", "example:5000", "a", "", ""},
  });
}

TEST_CASE("Path components accept the separators of the grammar") {
  check_valid({
      {"example.com/a.b", "example.com", "a.b", "", ""},
      {"example.com/a_b", "example.com", "a_b", "", ""},
      {"example.com/a__b", "example.com", "a__b", "", ""},
      {"example.com/a-b", "example.com", "a-b", "", ""},
      {"example.com/a---b", "example.com", "a---b", "", ""},
      {"example.com/a.b/c_d/e__f/g---h/i-j.k", "example.com", "a.b/c_d/e__f/g---h/i-j.k", "", ""},
      {"example.com/0/9z", "example.com", "0/9z", "", ""},
  });
}

TEST_CASE("Malformed path components are refused") {
  check_invalid({
      {"a//b", "repository name has an empty path component"},
      {"a/", "repository name has an empty path component"},
      {"/a", "repository name has an empty path component"},
      {"ghcr.io/", "repository name has an empty path component"},
      {"ghcr.io//a", "repository name has an empty path component"},
  });
  const std::string k_rule =
      " is invalid (lowercase letters and digits, separated by '.', '_', '__' or '-')";
  check_invalid({
      {"-a", "path component \"-a\"" + k_rule},
      {"a-", "path component \"a-\"" + k_rule},
      {"_a", "path component \"_a\"" + k_rule},
      {"a_", "path component \"a_\"" + k_rule},
      {".a", "path component \".a\"" + k_rule},
      {"a.", "path component \"a.\"" + k_rule},
      {"a..b", "path component \"a..b\"" + k_rule},
      {"a___b", "path component \"a___b\"" + k_rule},
      {"a._b", "path component \"a._b\"" + k_rule},
      {"a-_b", "path component \"a-_b\"" + k_rule},
      {"a b", "path component \"a b\"" + k_rule},
      {"ghcr.io/acme/a+b", "path component \"a+b\"" + k_rule},
      {"ghcr.io/acme/app:v1:v2", "path component \"app:v1\"" + k_rule},
      // Without '.' or ':' a bracketed first component is no IPv6 domain.
      {"[]/a", "path component \"[]\"" + k_rule},
  });
}

TEST_CASE("Uppercase in the repository path is refused") {
  check_invalid({
      {"A", "repository name must be lowercase"},
      {"Ubuntu", "repository name must be lowercase"},
      {"ubuntU:latest", "repository name must be lowercase"},
      {"ghcr.io/Acme/app", "repository name must be lowercase"},
      {"Acme/app/Web", "repository name must be lowercase"},
      {"docker.io/library/Ubuntu@" + k_sha256, "repository name must be lowercase"},
  });
}

TEST_CASE("Malformed domains are refused") {
  const std::string k_rule = " (letters, digits and inner '-' separated by '.')";
  check_invalid({
      {"example..com/a", "domain \"example..com\" has an invalid component \"\"" + k_rule},
      {"example.com./a", "domain \"example.com.\" has an invalid component \"\"" + k_rule},
      {".example.com/a", "domain \".example.com\" has an invalid component \"\"" + k_rule},
      {"-example.com/a", "domain \"-example.com\" has an invalid component \"-example\"" + k_rule},
      {"example-.com/a", "domain \"example-.com\" has an invalid component \"example-\"" + k_rule},
      {"exa_mple.com/a", "domain \"exa_mple.com\" has an invalid component \"exa_mple\"" + k_rule},
      {":5000/a", "domain \":5000\" has an empty host"},
      {"localhost:/a", "port after ':' in the domain is empty"},
      {"localhost:50a0/a", "port \"50a0\" must be decimal digits"},
      {"localhost:5000:6000/a", "port \"5000:6000\" must be decimal digits"},
      {"[::1/x", "domain \"[::1\" has no ']' closing the IPv6 address"},
      {"[::1]x/a", "domain \"[::1]x\" must have only a ':port' after the IPv6 address"},
      {"[::1]:/a", "port after ':' in the domain is empty"},
      {"[::1]:x/a", "port \"x\" must be decimal digits"},
      {"[1::2::3]/a", "domain \"[1::2::3]\" has an invalid IPv6 address"},
      {"[::g]/a", "domain \"[::g]\" has an invalid IPv6 address"},
      {"[12345::1]/a", "domain \"[12345::1]\" has an invalid IPv6 address"},
      {"[1:2:3:4:5:6:7]/a", "domain \"[1:2:3:4:5:6:7]\" has an invalid IPv6 address"},
      {"[1:2:3:4:5:6:7:8:9]/a", "domain \"[1:2:3:4:5:6:7:8:9]\" has an invalid IPv6 address"},
      {"[1:2:3:4::5:6:7:8]/a", "domain \"[1:2:3:4::5:6:7:8]\" has an invalid IPv6 address"},
      {"[:::]/a", "domain \"[:::]\" has an invalid IPv6 address"},
      {"[fe80::1%eth0]/a", "domain \"[fe80::1%eth0]\" has an invalid IPv6 address"},
      {"[::ffff:1.2.3.4]/a", "domain \"[::ffff:1.2.3.4]\" has an invalid IPv6 address"},
  });
}

TEST_CASE("Tags follow [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") {
  const std::string tag128 = "v" + std::string(127, 'x');
  check_valid({
      {"a:A", "docker.io", "library/a", "A", ""},
      {"a:_", "docker.io", "library/a", "_", ""},
      {"a:0", "docker.io", "library/a", "0", ""},
      {"a:v1.0-rc.1_X", "docker.io", "library/a", "v1.0-rc.1_X", ""},
      {"a:x..--", "docker.io", "library/a", "x..--", ""},
      {"a:" + tag128, "docker.io", "library/a", tag128, ""},
      {"localhost:5000/app:5000", "localhost:5000", "app", "5000", ""},
  });

  const std::string k_rule =
      " is invalid (a letter, digit or '_', then letters, digits, '_', '.' or '-')";
  check_invalid({
      {"ubuntu:", "tag after ':' is empty"},
      {"ghcr.io/acme/app:@" + k_sha256, "tag after ':' is empty"},
      {"a:-x", "tag \"-x\"" + k_rule},
      {"a:.x", "tag \".x\"" + k_rule},
      {"a:x!y", "tag \"x!y\"" + k_rule},
      {"a:x y", "tag \"x y\"" + k_rule},
      {"a:" + tag128 + "x", "tag is 129 characters long, more than 128"},
  });
}

TEST_CASE("A reference without a name is refused") {
  check_invalid({
      {"", "reference is empty"},
      {":tag", "repository name is empty"},
      {"@" + k_sha256, "repository name is empty"},
      {":tag@" + k_sha256, "repository name is empty"},
  });
}

TEST_CASE("A bare 64-character hex string is taken for an image ID and refused") {
  check_invalid({
      {k_hex64, "a 64-character hexadecimal string is an image ID, not a repository name"},
      {k_hex64 + ":latest",
       "a 64-character hexadecimal string is an image ID, not a repository name"},
  });
  // One character shorter or a namespace makes it an ordinary name.
  check_valid({
      {k_hex64.substr(1), "docker.io", "library/" + k_hex64.substr(1), "", ""},
      {"acme/" + k_hex64, "docker.io", "acme/" + k_hex64, "", ""},
  });
}

TEST_CASE("Digests are algorithm:encoded with strict sha256 and sha512") {
  check_valid({
      {"ghcr.io/acme/app@" + k_sha256, "ghcr.io", "acme/app", "", k_sha256},
      {"ghcr.io/acme/app:v1@" + k_sha256, "ghcr.io", "acme/app", "v1", k_sha256},
      {"ubuntu@" + k_sha256, "docker.io", "library/ubuntu", "", k_sha256},
      {"localhost:5000/x@" + k_sha256, "localhost:5000", "x", "", k_sha256},
      {"[::1]:5000/x:t@" + k_sha256, "[::1]:5000", "x", "t", k_sha256},
      {"a@" + k_sha512, "docker.io", "library/a", "", k_sha512},
      // Algorithms other than sha256/sha512 parse; policy decides whether they are acceptable.
      {"a@sha3-256:abc", "docker.io", "library/a", "", "sha3-256:abc"},
      {"a@sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "docker.io", "library/a", "",
       "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"},
      {"a@multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "docker.io",
       "library/a", "", "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"},
      {"a@x.y_z:A=", "docker.io", "library/a", "", "x.y_z:A="},
  });

  const std::string k_sha256_rule = "sha256 digest must be 64 lowercase hexadecimal characters";
  const std::string k_sha512_rule = "sha512 digest must be 128 lowercase hexadecimal characters";
  const std::string k_algorithm_rule =
      " is invalid (lowercase letters and digits, separated by '+', '.', '_' or '-')";
  check_invalid({
      {"ubuntu@", "digest after '@' is empty"},
      {"a@b@c", "reference has more than one '@'"},
      {"a@" + k_sha256 + "@" + k_sha256, "reference has more than one '@'"},
      {"a@sha256", "digest \"sha256\" must have the form algorithm:encoded"},
      {"a@:abc", "digest algorithm before ':' is empty"},
      {"a@sha256:", "digest after 'sha256:' is empty"},
      {"a@sha256:" + upper(k_hex64), k_sha256_rule},
      {"a@sha256:abc", k_sha256_rule},
      {"a@sha256:" + k_hex64.substr(1), k_sha256_rule},
      {"a@sha256:" + k_hex64 + "0", k_sha256_rule},
      {"a@sha256:" + k_hex64.substr(1) + "g", k_sha256_rule},
      {"a@sha512:" + k_hex64, k_sha512_rule},
      {"a@sha512:" + upper(k_hex128), k_sha512_rule},
      {"a@SHA256:" + k_hex64, "digest algorithm \"SHA256\"" + k_algorithm_rule},
      {"a@sha3--256:abc", "digest algorithm \"sha3--256\"" + k_algorithm_rule},
      {"a@-sha:abc", "digest algorithm \"-sha\"" + k_algorithm_rule},
      {"a@sha-:abc", "digest algorithm \"sha-\"" + k_algorithm_rule},
      {"a@sha3-256:ab+c",
       "digest \"sha3-256:ab+c\" has an invalid encoded part (letters, digits, '=', '_' or '-')"},
      {"a@sha3-256:ab/c",
       "digest \"sha3-256:ab/c\" has an invalid encoded part (letters, digits, '=', '_' or '-')"},
      {"a@sha3-256:ab:c",
       "digest \"sha3-256:ab:c\" has an invalid encoded part (letters, digits, '=', '_' or '-')"},
  });
}

TEST_CASE("The repository path is at most 255 characters; the domain and the tag do not count") {
  const std::string path255(255, 'a');
  check_valid({
      {"ghcr.io/" + path255, "ghcr.io", path255, "", ""},
      {"ghcr.io/" + path255 + ":v1@" + k_sha256, "ghcr.io", path255, "v1", k_sha256},
      {"example.com/" + path255 + ":tag", "example.com", path255, "tag", ""},
  });

  // A 255-character name with a long tag is a valid (mutable) reference.
  std::string name255;
  for (int i = 0; i < 127; ++i) {
    name255 += "a/";
  }
  name255 += "a";
  REQUIRE(name255.size() == 255);
  const std::string long_tag = std::string(128, 't');
  check_valid({
      {name255 + ":tag-puts-this-over-max", "docker.io", name255, "tag-puts-this-over-max", ""},
      {name255 + ":" + long_tag, "docker.io", name255, long_tag, ""},
  });

  // "library/" is 8 characters: the limit applies to the normalized path.
  const std::string official_at_limit(247, 'b');
  const std::string official_over_limit(248, 'b');
  check_valid({{official_at_limit, "docker.io", "library/" + official_at_limit, "", ""}});

  check_invalid({
      {"ghcr.io/" + path255 + "a", "repository path is 256 characters long, more than 255"},
      {"ghcr.io/" + path255 + "a:v1", "repository path is 256 characters long, more than 255"},
      {official_over_limit, "repository path is 256 characters long, more than 255"},
      // Without a domain-like first component, "domain/" is part of the path.
      {"domain/" + std::string(256, 'a') + ":tag",
       "repository path is 263 characters long, more than 255"},
  });
}

TEST_CASE("Error messages quote the input safely") {
  SUBCASE("control characters are escaped") {
    const auto ref = parse_reference("a\nb");
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().message == "invalid reference \"a\\x0ab\": path component \"a\\x0ab\" is "
                                 "invalid (lowercase letters and digits, separated by '.', '_', "
                                 "'__' or '-')");
  }
  SUBCASE("quotes are escaped") {
    const auto ref = parse_reference("a\"b");
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().message.rfind("invalid reference \"a\\\"b\": ", 0) == 0);
  }
  SUBCASE("input of the longest possible valid length is quoted whole") {
    const std::string input =
        "ghcr.io/A" + std::string(246, 'a') + ":" + std::string(128, 't') + "@" + k_sha512;
    REQUIRE(input.size() == 520);
    const auto ref = parse_reference(input);
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().message ==
          "invalid reference \"" + input + "\": repository name must be lowercase");
  }
  SUBCASE("long input is cut") {
    const auto ref = parse_reference(std::string(10000, 'A'));
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().message == "invalid reference \"" + std::string(520, 'A') +
                                     "...\": repository name must be lowercase");
  }
}

TEST_CASE("Reference accessors") {
  SUBCASE("a name alone is mutable and means latest") {
    const auto ref = parse_reference("ubuntu");
    REQUIRE(ref.ok());
    CHECK(ref->name() == "docker.io/library/ubuntu");
    CHECK(ref->is_mutable());
    CHECK(ref->familiar_tag() == "latest");
    CHECK(ref->digest_algorithm() == "");
  }
  SUBCASE("a tag without digest is mutable") {
    const auto ref = parse_reference("ghcr.io/acme/app:v1");
    REQUIRE(ref.ok());
    CHECK(ref->name() == "ghcr.io/acme/app");
    CHECK(ref->is_mutable());
    CHECK(ref->familiar_tag() == "v1");
  }
  SUBCASE("a digest without tag is immutable and has no familiar tag") {
    const auto ref = parse_reference("ubuntu@" + k_sha256);
    REQUIRE(ref.ok());
    CHECK_FALSE(ref->is_mutable());
    CHECK(ref->familiar_tag() == "");
    CHECK(ref->pinned() == "docker.io/library/ubuntu@" + k_sha256);
    CHECK(ref->digest_algorithm() == "sha256");
  }
  SUBCASE("with tag and digest the pinned form drops the tag") {
    const auto ref = parse_reference("ghcr.io/acme/app:v1@" + k_sha256);
    REQUIRE(ref.ok());
    CHECK_FALSE(ref->is_mutable());
    CHECK(ref->familiar_tag() == "v1");
    CHECK(ref->pinned() == "ghcr.io/acme/app@" + k_sha256);
  }
  SUBCASE("the algorithm of another digest") {
    const auto ref = parse_reference("localhost:5000/x@sha3-256:abc");
    REQUIRE(ref.ok());
    CHECK(ref->digest_algorithm() == "sha3-256");
    CHECK(ref->pinned() == "localhost:5000/x@sha3-256:abc");
  }
  SUBCASE("a hand-built reference") {
    const Reference ref{"[::1]:5000", "team/app", "", "sha512:" + k_hex128};
    CHECK(ref.name() == "[::1]:5000/team/app");
    CHECK(ref.pinned() == "[::1]:5000/team/app@sha512:" + k_hex128);
    CHECK(ref.digest_algorithm() == "sha512");
  }
}

TEST_CASE("normalize_repository accepts only bare names") {
  SUBCASE("names are normalized") {
    struct Case {
      std::string input;
      std::string expected;
    };
    const std::vector<Case> cases = {
        {"ubuntu", "docker.io/library/ubuntu"},
        {"library/ubuntu", "docker.io/library/ubuntu"},
        {"index.docker.io/library/ubuntu", "docker.io/library/ubuntu"},
        {"index.docker.io/acme/app", "docker.io/acme/app"},
        {"docker.io/acme/app", "docker.io/acme/app"},
        {"ghcr.io/acme/app", "ghcr.io/acme/app"},
        {"localhost:5000/x", "localhost:5000/x"},
        {"[::1]:5000/x", "[::1]:5000/x"},
    };
    for (const auto& c : cases) {
      INFO("input: ", c.input);
      const auto name = normalize_repository(c.input);
      REQUIRE_MESSAGE(name.ok(), name.error().message);
      CHECK(*name == c.expected);
    }
  }
  SUBCASE("a tag or digest is refused") {
    for (const std::string& input : {std::string("ubuntu:22.04"), "ghcr.io/acme/app@" + k_sha256,
                                     std::string("localhost:5000")}) {
      INFO("input: ", input);
      const auto name = normalize_repository(input);
      REQUIRE_FALSE(name.ok());
      CHECK(name.error().code == Errc::invalid_argument);
      CHECK(name.error().message ==
            "repository name \"" + input + "\" must not carry a tag or digest");
    }
  }
  SUBCASE("a malformed name is refused with the parser's message") {
    const auto name = normalize_repository("ghcr.io/Acme/app");
    REQUIRE_FALSE(name.ok());
    CHECK(name.error().code == Errc::invalid_argument);
    CHECK(name.error().message ==
          "invalid reference \"ghcr.io/Acme/app\": repository name must be lowercase");
    CHECK_FALSE(normalize_repository("").ok());
  }
}

TEST_CASE("is_sha256_digest requires sha256 and 64 lowercase hex") {
  CHECK(is_sha256_digest(k_sha256));
  CHECK(is_sha256_digest("sha256:" + std::string(64, '0')));
  CHECK(is_sha256_digest("sha256:" + std::string(64, 'f')));

  CHECK_FALSE(is_sha256_digest(""));
  CHECK_FALSE(is_sha256_digest("sha256:"));
  CHECK_FALSE(is_sha256_digest(k_hex64));
  CHECK_FALSE(is_sha256_digest("sha256:" + upper(k_hex64)));
  CHECK_FALSE(is_sha256_digest("SHA256:" + k_hex64));
  CHECK_FALSE(is_sha256_digest("sha256:" + k_hex64.substr(1)));
  CHECK_FALSE(is_sha256_digest(k_sha256 + "0"));
  CHECK_FALSE(is_sha256_digest(k_sha256 + "\n"));
  CHECK_FALSE(is_sha256_digest(" " + k_sha256));
  CHECK_FALSE(is_sha256_digest("sha256:" + std::string(64, 'g')));
  CHECK_FALSE(is_sha256_digest("sha512:" + k_hex64));
  CHECK_FALSE(is_sha256_digest(k_sha512));
  CHECK_FALSE(is_sha256_digest("sha256-" + k_hex64));
}

TEST_CASE("Upstream: an uppercase first component is a domain, not a path component") {
  check_valid({
      {"LOCALDOMAIN/library/debian", "LOCALDOMAIN", "library/debian", "", ""},
      {"LOCALDOMAIN/debian", "LOCALDOMAIN", "debian", "", ""},
      {"LOCALDOMAIN/fooo/bar", "LOCALDOMAIN", "fooo/bar", "", ""},
      {"Docker/docker", "Docker", "docker", "", ""},
      {"DOCKER/docker", "DOCKER", "docker", "", ""},
      {"Foo/bar", "Foo", "bar", "", ""},
      {"FOO/bar:v1", "FOO", "bar", "v1", ""},
      {"Acme/app@" + k_sha256, "Acme", "app", "", k_sha256},
      {"LOCALHOST/app", "LOCALHOST", "app", "", ""},
  });
  const std::string k_domain_rule = " (letters, digits and inner '-' separated by '.')";
  check_invalid({
      // Without a '/', the single component is a path, which may not be uppercase.
      {"Uppercase:tag", "repository name must be lowercase"},
      {"test:5000/Uppercase/lowercase:tag", "repository name must be lowercase"},
      {"docker/Docker", "repository name must be lowercase"},
      {"docker.io/docker/Docker", "repository name must be lowercase"},
      // Taken for a domain, it must still be a valid host.
      {"A_b/c", "domain \"A_b\" has an invalid component \"A_b\"" + k_domain_rule},
  });
}

TEST_CASE("Upstream: valid repository names") {
  const std::string song = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev";
  const std::string hex_name = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
  check_valid({
      {"docker/docker", "docker.io", "docker/docker", "", ""},
      {"library/debian", "docker.io", "library/debian", "", ""},
      {"debian", "docker.io", "library/debian", "", ""},
      {"localhost/library/debian", "localhost", "library/debian", "", ""},
      {"localhost/debian", "localhost", "debian", "", ""},
      {"docker.io/docker/docker", "docker.io", "docker/docker", "", ""},
      {"docker.io/debian", "docker.io", "library/debian", "", ""},
      {"index.docker.io/docker/docker", "docker.io", "docker/docker", "", ""},
      {"index.docker.io/debian", "docker.io", "library/debian", "", ""},
      {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "", ""},
      {"127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "", ""},
      {"192.168.0.1", "docker.io", "library/192.168.0.1", "", ""},
      {"192.168.0.1:80", "docker.io", "library/192.168.0.1", "80", ""},
      {"192.168.0.1:8/debian", "192.168.0.1:8", "debian", "", ""},
      {"192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", "", ""},
      {song, "docker.io", "library/" + song, "", ""},
      {"[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", "", ""},
      {"[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "", ""},
      {"[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
       "", ""},
      // With a domain, a 64-character hex path is no longer ambiguous with an image ID.
      {"docker.io/" + hex_name, "docker.io", "library/" + hex_name, "", ""},
      {"docker-rules/docker", "docker.io", "docker-rules/docker", "", ""},
      {"docker---rules/docker", "docker.io", "docker---rules/docker", "", ""},
      {"d/docker", "docker.io", "d/docker", "", ""},
      {"jess/t", "docker.io", "jess/t", "", ""},
      {"dock__er/docker", "docker.io", "dock__er/docker", "", ""},
      {"test_com", "docker.io", "library/test_com", "", ""},
      {"test_com/foo", "docker.io", "test_com/foo", "", ""},
      {"test.com:tag", "docker.io", "library/test.com", "tag", ""},
      {"test.com:5000", "docker.io", "library/test.com", "5000", ""},
      {"test.com/repo:tag", "test.com", "repo", "tag", ""},
      {"test:5000/repo", "test:5000", "repo", "", ""},
      {"test:5000/repo:tag@" + k_sha256, "test:5000", "repo", "tag", k_sha256},
      {"test-com:8080/foo", "test-com:8080", "foo", "", ""},
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", ""},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
       "some-long-tag", ""},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
       "test.example.com", ""},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", ""},
      {"xn--7o8h.com/myimage:xn--7o8h.com@" + k_sha256, "xn--7o8h.com", "myimage", "xn--7o8h.com",
       k_sha256},
      {"xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "", ""},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", ""},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", ""},
      {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", ""},
      {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "", ""},
      {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", ""},
      {"[2001:db8::1]:5000/repo:tag@" + k_sha256, "[2001:db8::1]:5000", "repo", "tag", k_sha256},
      {"[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "", ""},
      {"Asdf.com/a", "Asdf.com", "a", "", ""},
      {"0101.com/a", "0101.com", "a", "", ""},
      {"001a.com/a", "001a.com", "a", "", ""},
      {"ab.c-om/a", "ab.c-om", "a", "", ""},
      {"localhost:8080/bar", "localhost:8080", "bar", "", ""},
      {"aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", "docker.io",
       "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", "", ""},
      {"aa-a/a", "docker.io", "aa-a/a", "", ""},
      {"foo.com/foo_bar", "foo.com", "foo_bar", "", ""},
      {"store/foo/bar", "docker.io", "store/foo/bar", "", ""},
      {"library/foo/bar", "docker.io", "library/foo/bar", "", ""},
      {"other/library", "docker.io", "other/library", "", ""},
      {"busybox:latest@" + k_sha256, "docker.io", "library/busybox", "latest", k_sha256},
      {"dbcc1", "docker.io", "library/dbcc1", "", ""},
  });
}

TEST_CASE("Upstream: invalid repository names") {
  // Each is refused; the exact message is covered by the grammar's own cases above.
  const std::vector<std::string> invalid = {
      "https://github.com/docker/docker",
      "-docker",
      "-docker/docker",
      "-docker.io/docker/docker",
      "docker///docker",
      "docker.io/docker///docker",
      "[fc00::1]",
      "[fc00::1]:5000",
      "fc00::1:5000/debian",
      "[fe80::1%eth0]:5000/debian",
      "[2001:db8:3:4::192.0.2.33]:5000/debian",
      "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
      "docker-/docker",
      "-docker-/docker",
      "____/____",
      "_docker/_docker",
      "docker_/docker_",
      "dock..er/docker",
      "dock_.er/docker",
      "dock-.er/docker",
      "docker/",
      "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
      "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_"
      "lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_"
      "255/docker",
      ":justtag",
      "@" + k_sha256,
      "repo@sha256:ffffffffffffffffffffffffffffffffff",
      "[2001:db8::1]",
      "[2001:db8::1]:5000",
      "[2001:db8::1]:tag",
      "[fe80::1%@invalidzone]:5000/repo",
      "aa/asdf$$^/aa",
      "asdf$$^/aa",
      "a^a",
      "a/a/a/a/",
      "a//a/a",
      "foo.com/",
      "foo.com:http/bar",
      "foo.com/a-/a/a",
      "a-/a/a/a",
      "foo/bar-",
      "foo-/bar",
      "foo/-bar",
      "_foo/bar",
      "foo_bar.com:8080/app",
      "-ab.com/a",
      "ab-.com/a",
      "ab.-com/a",
      "ab.com-/a",
      "[fd00:1:2::3]75050/a",
      "[fd00:1:2::3]::75050/a",
      "[fd00:1:2::3%eth0]:75050/a",
      "[fd00123123123]:75050/a",
  };
  for (const auto& input : invalid) {
    INFO("input: ", input);
    const auto ref = parse_reference(input);
    REQUIRE_FALSE(ref.ok());
    CHECK(ref.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("Upstream cases where digestgate deliberately differs") {
  // distribution/reference parses a bare 64-hex string as a digest (ParseAnyReference);
  // digestgate refuses it, as docker does for a repository name.
  CHECK_FALSE(parse_reference(k_hex64).ok());
  // distribution/reference refuses digest algorithms it has no implementation for; digestgate's
  // parser accepts any well-formed algorithm and leaves refusal to policy.
  const auto other = parse_reference("validname@invaliddigest:" + std::string(64, 'f'));
  REQUIRE(other.ok());
  CHECK(other->digest_algorithm() == "invaliddigest");
}

TEST_SUITE_END();
