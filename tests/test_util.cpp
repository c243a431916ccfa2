#include "util/crypto.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>

using namespace dg;

TEST_SUITE_BEGIN("util");

TEST_CASE("SHA-256 matches the FIPS 180-2 known answers") {
  CHECK(to_hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 incremental;
  incremental.update("a");
  incremental.update("bc");
  CHECK(incremental.finish() == sha256("abc"));
}

TEST_CASE("Base64 follows the RFC 4648 test vectors and accepts the URL-safe alphabet") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    CHECK(*base64_decode(encoded) == plain);
  }
  CHECK(*base64_decode("-_8") == *base64_decode("+/8="));
  CHECK_FALSE(base64_decode("Zm9v!"));
  CHECK_FALSE(base64_decode("Z"));
}

TEST_CASE("Hex decoding refuses odd lengths and non-hex characters") {
  CHECK(to_hex(*from_hex("00ffA0")) == "00ffa0");
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK_FALSE(hash_from_hex("00"));
  CHECK(is_lower_hex(std::string(64, 'a'), 64));
  CHECK_FALSE(is_lower_hex(std::string(64, 'A'), 64));
}

TEST_CASE("Constant-time comparison is equality") {
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
}

TEST_CASE("Ed25519 keys sign and verify, and survive a PEM round trip") {
  auto key = Ed25519PrivateKey::generate();
  REQUIRE(key);
  auto sig = key->sign("message");
  std::string sig_text(sig.begin(), sig.end());
  CHECK(ed25519_verify(key->public_key(), "message", sig_text));
  CHECK_FALSE(ed25519_verify(key->public_key(), "messagE", sig_text));
  auto again = Ed25519PrivateKey::from_pem(key->to_pem());
  REQUIRE(again);
  CHECK(again->public_key() == key->public_key());
  auto pub = PublicKey::from_pem(key->public_key_pem());
  REQUIRE(pub);
  CHECK(std::string(pub->algorithm()) == "ed25519");
  CHECK(pub->verify("message", sig_text));
}

TEST_CASE("RFC 3339 timestamps parse to the right instant") {
  CHECK(*parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(*parse_rfc3339("2026-11-20T10:00:00Z") == 1795168800LL * 1000000000LL);
  CHECK(*parse_rfc3339("2026-11-20T12:00:00+02:00") == *parse_rfc3339("2026-11-20T10:00:00Z"));
  CHECK(*parse_rfc3339("2026-11-20T10:00:00.5Z") - *parse_rfc3339("2026-11-20T10:00:00Z") ==
        500000000);
  CHECK(format_rfc3339(*parse_rfc3339("2024-02-29T23:59:59.123456Z")) ==
        "2024-02-29T23:59:59.123456Z");
  SUBCASE("malformed timestamps are refused") {
    for (const char* bad :
         {"2026-11-20", "2026-11-20 10:00:00Z", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
          "2026-11-20T10:00:00", "2026-11-20T24:00:00Z", "2026-11-20T10:00:00Zjunk", "yesterday"}) {
      CAPTURE(bad);
      CHECK_FALSE(parse_rfc3339(bad));
    }
  }
}

TEST_CASE("Durations accept s, m, h and d and refuse the rest") {
  CHECK(*parse_duration_ns("90m") == 90LL * 60 * 1000000000);
  CHECK(*parse_duration_ns("168h") == 168LL * 3600 * 1000000000);
  CHECK(*parse_duration_ns("7d") == *parse_duration_ns("168h"));
  CHECK(*parse_duration_ns("1h30m") == *parse_duration_ns("90m"));
  for (const char* bad : {"", "0h", "10", "h", "5w", "-1h", "1.5h", "99999999999999d"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration_ns(bad));
  }
}

TEST_SUITE_END();
