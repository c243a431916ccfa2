// The kit every verb of the digestgate CLI is written with: what a verb works with (Context), how
// it talks to digestgated (send, show, post), how it reports a usage error or a failed answer, and
// the argument readers. cli/commands.hpp says how to add a verb.
//
// Every function here writes only to the Context's streams and is otherwise free of side effects.
#pragma once

#include "cli/args.hpp"
#include "cli/http_client.hpp"
#include "cli/output.hpp"
#include "util/crypto.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace dg::cli {

// What every verb works with: the streams, the server and the output mode.
struct Context {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const VerbSpec* verb = nullptr;
  ClientOptions client;
  std::string token;
  bool json = false;
};

// An HTTP answer of digestgated.
struct Reply {
  int status = 0;
  std::string raw;
  json body; // discarded when `raw` is not JSON
};

// Print "digestgate: `message`" and where to find help; returns k_exit_usage.
int usage_error(Context& c, const std::string& message);

// Send a request to digestgated. Fails with Errc::invalid_argument for a bad URL or TLS file, and
// Errc::unavailable when the daemon cannot be reached; report_transport prints either.
Result<Reply> send(Context& c,
                   const std::string& method,
                   const std::string& target,
                   const std::string& body = {});

// Print why send() failed; returns k_exit_usage or k_exit_unavailable.
int report_transport(Context& c, const Error& error);

// True for a 2xx answer.
bool is_success(const Reply& reply);

// The exit code the product contract gives to `reply` (see commands.hpp).
int exit_code_for(const Reply& reply);

// Report an answer that is neither success nor a decision (the daemon's error code and message, or
// the raw body with --json); returns its exit code.
int fail_with(Context& c, const Reply& reply);

// Print `raw` followed by a newline if it lacks one.
void print_raw(Context& c, const std::string& raw);

// `response` with the request's fields filled in where the response lacks them, for display.
json with_defaults(const json& response, const json& request);

// GET `target` and print it with `print` (or verbatim with --json); returns the exit code.
int show(Context& c, const std::string& target, void (*print)(std::ostream&, const json&));

// POST `request` to `target` and print the answer with `print` (or verbatim with --json), the
// answer's missing fields taken from `request`.
int post(Context& c,
         const std::string& target,
         const json& request,
         void (*print)(std::ostream&, const json&));

// POST the JSON text `body` to `target` and print the answer as it is with `print` (or verbatim).
int post_text(Context& c,
              const std::string& target,
              const std::string& body,
              void (*print)(std::ostream&, const json&));

// `text` percent-encoded as one path segment (Boost.URL's pchars: ':' and '@' stay, so digests
// read naturally in paths; '/', '?', '#' and '%' are encoded).
std::string path_segment(std::string_view text);

// `text` percent-encoded as a query parameter's value.
std::string query_value(std::string_view text);

// --- argument readers: each error is Errc::invalid_argument with a message naming the flag ---

// A non-negative decimal integer without sign, spaces or overflow.
Result<std::uint64_t> parse_count(std::string_view text);

// The value of `flag` as a non-negative integer.
Result<std::uint64_t> count_argument(const Args& args, std::string_view flag);

// The value of `flag` as a 32-byte hash in hex.
Result<Hash> hash_argument(const Args& args, std::string_view flag);

// Every value of the repeatable `flag`, each comma-separated hashes; an empty value holds none.
Result<std::vector<Hash>> hash_list_argument(const Args& args, std::string_view flag);

} // namespace dg::cli
