// RFC 3339 timestamps and durations.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace dg {

// Nanoseconds since the Unix epoch, UTC.
using TimeNs = std::int64_t;

// The wall clock.
TimeNs now_ns();

// Parse an RFC 3339 date-time ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00.123+02:00"). Fails
// on a time TimeNs cannot hold (outside 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z).
Result<TimeNs> parse_rfc3339(std::string_view text);

// Format as "2026-11-20T10:00:00.123456Z" (UTC, microseconds).
std::string format_rfc3339(TimeNs t);

// Parse a duration such as "90m", "168h", "7d", "30s", "1h30m". Fails on a unit other than
// s, m, h, d, on an empty or zero duration and on overflow.
Result<std::int64_t> parse_duration_ns(std::string_view text);

} // namespace dg
