#include "util/time.hpp"

#include <chrono>
#include <cstdio>
#include <limits>

namespace dg {

TimeNs now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

} // namespace

Result<TimeNs> parse_rfc3339(std::string_view s) {
  auto bad = [&] {
    return make_error(Errc::invalid_argument,
                      "not an RFC 3339 timestamp (like 2026-11-20T10:00:00Z): '" +
                          std::string(s.substr(0, 64)) + "'");
  };
  int year, month, day, hour, minute, second;
  if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return bad();
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  std::size_t pos = 19;
  std::int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    std::int64_t scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) {
        frac_ns += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
    }
    if (pos == start) {
      return bad();
    }
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) {
    return bad();
  }
  if (second == 60) {
    second = 59; // a leap second sorts with the second before it
  }
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Four-digit years reach past what nanoseconds in 64 bits can hold.
  constexpr std::int64_t k_ns = 1000000000;
  if (secs > (std::numeric_limits<TimeNs>::max() - frac_ns) / k_ns ||
      secs < std::numeric_limits<TimeNs>::min() / k_ns) {
    return make_error(Errc::invalid_argument,
                      "timestamp out of range (1677-09-21 to 2262-04-11): '" +
                          std::string(s.substr(0, 64)) + "'");
  }
  return secs * k_ns + frac_ns;
}

std::string format_rfc3339(TimeNs t) {
  using namespace std::chrono;
  // Whole seconds and the nanoseconds past them, without leaving 64 bits at either end.
  constexpr std::int64_t k_ns = 1000000000;
  std::int64_t secs = t / k_ns;
  std::int64_t sub = t % k_ns;
  if (sub < 0) {
    sub += k_ns;
    --secs;
  }
  const sys_seconds instant{seconds(secs)};
  const sys_days day = floor<days>(instant);
  const year_month_day date{day};
  const hh_mm_ss<seconds> clock{instant - day};
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<long long>(clock.hours().count()),
                static_cast<long long>(clock.minutes().count()),
                static_cast<long long>(clock.seconds().count()),
                static_cast<long long>(sub / 1000));
  return buf;
}

Result<std::int64_t> parse_duration_ns(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::invalid_argument, "not a duration (like 90m, 168h, 7d): '" +
                                                  std::string(text.substr(0, 64)) + "'");
  };
  if (text.empty()) {
    return bad();
  }
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t n = 0;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n > 1000000000) {
        return bad();
      }
      n = n * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start || pos == text.size()) {
      return bad();
    }
    std::int64_t unit;
    switch (text[pos]) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return bad();
    }
    ++pos;
    total += n * unit;
    if (total > std::numeric_limits<std::int64_t>::max() / 1000000000 / 2) {
      return bad();
    }
  }
  if (total == 0) {
    return bad();
  }
  return total * 1000000000;
}

} // namespace dg
