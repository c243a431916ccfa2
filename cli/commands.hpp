// The verbs of the digestgate CLI.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dg::cli {

// Process exit codes (the product contract's).
inline constexpr int k_exit_ok = 0;          // approved or success
inline constexpr int k_exit_refused = 1;     // refused, or verification failed
inline constexpr int k_exit_usage = 2;       // usage error
inline constexpr int k_exit_unavailable = 3; // daemon unreachable or server error
inline constexpr int k_exit_auth = 4;        // authentication or authorization error

// Run digestgate with `args` (without the program name), reading `in` for `--evidence -` and the
// DIGESTGATE_URL and DIGESTGATE_TOKEN environment variables. Returns the exit code.
int run(const std::vector<std::string>& args,
        std::istream& in,
        std::ostream& out,
        std::ostream& err);

} // namespace dg::cli
