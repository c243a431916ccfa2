#include "util/crypto.hpp"
#include "util/time.hpp"

#include <doctest/doctest.h>

#include <limits>

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

TEST_CASE("RFC 3339 dates at the calendar's edges") {
  SUBCASE("leap years: every fourth, not every hundredth, but every four hundredth") {
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z"));
    CHECK(*parse_rfc3339("2000-02-29T00:00:00Z") == 951782400LL * 1000000000LL);
    CHECK(*parse_rfc3339("2000-03-01T00:00:00Z") - *parse_rfc3339("2000-02-28T00:00:00Z") ==
          2LL * 86400 * 1000000000);
    for (const char* bad :
         {"2100-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-02-30T00:00:00Z",
          "2024-04-31T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z"}) {
      CAPTURE(bad);
      auto r = parse_rfc3339(bad);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("not an RFC 3339 timestamp") != std::string::npos);
    }
    CHECK(format_rfc3339(*parse_rfc3339("2000-02-29T12:34:56.000001Z")) ==
          "2000-02-29T12:34:56.000001Z");
    CHECK(format_rfc3339(*parse_rfc3339("2100-03-01T00:00:00Z") - 1) ==
          "2100-02-28T23:59:59.999999Z");
  }
  SUBCASE("years 0001 and 9999 are well-formed but outside what a TimeNs holds") {
    for (const char* far : {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-09-21T00:12:43Z",
                            "2262-04-11T23:47:16.854775808Z"}) {
      CAPTURE(far);
      auto r = parse_rfc3339(far);
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("out of range") != std::string::npos);
    }
    CHECK(*parse_rfc3339("2262-04-11T23:47:16.854775807Z") == std::numeric_limits<TimeNs>::max());
    CHECK(*parse_rfc3339("1677-09-21T00:12:44Z") == -9223372036000000000LL);
    CHECK(format_rfc3339(std::numeric_limits<TimeNs>::max()) == "2262-04-11T23:47:16.854775Z");
    CHECK(format_rfc3339(std::numeric_limits<TimeNs>::min()) == "1677-09-21T00:12:43.145224Z");
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999999Z");
    CHECK(*parse_rfc3339("1969-12-31T23:59:59.999999999Z") == -1);
  }
  SUBCASE("a leap second sorts with the second before it; no later second is accepted") {
    CHECK(*parse_rfc3339("2016-12-31T23:59:60Z") == *parse_rfc3339("2016-12-31T23:59:59Z"));
    CHECK(*parse_rfc3339("2016-12-31T23:59:60.5Z") == *parse_rfc3339("2016-12-31T23:59:59.5Z"));
    CHECK_FALSE(parse_rfc3339("2016-12-31T23:59:61Z"));
    CHECK_FALSE(parse_rfc3339("2016-12-31T23:60:00Z"));
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
