#include "cli/verb.hpp"

#include "cli/commands.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <charconv>
#include <ostream>

namespace dg::cli {

namespace {

// RFC 3986 unreserved characters plus ':' and '@', which a path segment may hold as they are. The
// sub-delimiters are encoded too, so that no router needs to know them.
constexpr boost::urls::grammar::lut_chars k_segment_chars = boost::urls::unreserved_chars + ":@";

} // namespace

int usage_error(Context& c, const std::string& message) {
  c.err << "digestgate: " << message << '\n';
  const std::string command = c.verb != nullptr
                                  ? "digestgate " + std::string(c.verb->name) + " --help"
                                  : "digestgate --help";
  c.err << "Try '" << command << "' for more information.\n";
  return k_exit_usage;
}

Result<Reply>
send(Context& c, const std::string& method, const std::string& target, const std::string& body) {
  auto result = http_request(c.client, method, target, body, c.token);
  if (!result) {
    return result.error();
  }
  Reply reply;
  reply.status = result->status;
  reply.raw = std::move(result->body);
  reply.body = json::parse(reply.raw, nullptr, false);
  return reply;
}

int report_transport(Context& c, const Error& error) {
  if (error.code == Errc::invalid_argument) {
    return usage_error(c, error.message);
  }
  c.err << "error: cannot reach digestgated at " << c.client.url << ": " << error.message << '\n';
  return k_exit_unavailable;
}

bool is_success(const Reply& reply) {
  return reply.status >= 200 && reply.status < 300;
}

int exit_code_for(const Reply& reply) {
  const bool refused = text_of(reply.body, "decision") == "refused";
  if (is_success(reply)) {
    return refused ? k_exit_refused : k_exit_ok;
  }
  if (reply.status == 401) {
    return k_exit_auth;
  }
  if (reply.status == 403) {
    return refused ? k_exit_refused : k_exit_auth;
  }
  if (reply.status == 400 || reply.status == 413) {
    return k_exit_usage; // the request itself was malformed: the caller's input is at fault
  }
  if (reply.status >= 400 && reply.status < 500) {
    return k_exit_refused;
  }
  return k_exit_unavailable;
}

int fail_with(Context& c, const Reply& reply) {
  if (c.json && !reply.body.is_discarded()) {
    print_raw(c, reply.raw);
  }
  std::string code = text_of(reply.body, "error");
  std::string message = text_of(reply.body, "message");
  if (code.empty()) {
    code = "HTTP " + std::to_string(reply.status);
    message = reply.raw.substr(0, std::min(reply.raw.find('\n'), std::size_t{200}));
  }
  c.err << "error: " << code << ": " << message;
  if (reply.status == 401) {
    c.err << " (check --token or DIGESTGATE_TOKEN)";
  }
  c.err << '\n';
  return exit_code_for(reply);
}

void print_raw(Context& c, const std::string& raw) {
  c.out << raw;
  if (raw.empty() || raw.back() != '\n') {
    c.out << '\n';
  }
}

json with_defaults(const json& response, const json& request) {
  json shown = response.is_object() ? response : json::object();
  for (const auto& [key, value] : request.items()) {
    if (!shown.contains(key)) {
      shown[key] = value;
    }
  }
  return shown;
}

int show(Context& c, const std::string& target, void (*print)(std::ostream&, const json&)) {
  auto reply = send(c, "GET", target);
  if (!reply) {
    return report_transport(c, reply.error());
  }
  if (!is_success(*reply) || reply->body.is_discarded()) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print(c.out, reply->body);
  }
  return k_exit_ok;
}

namespace {

int post_shown(Context& c,
               const std::string& target,
               const std::string& body,
               void (*print)(std::ostream&, const json&),
               const json& defaults) {
  auto reply = send(c, "POST", target, body);
  if (!reply) {
    return report_transport(c, reply.error());
  }
  if (!is_success(*reply)) {
    return fail_with(c, *reply);
  }
  if (c.json) {
    print_raw(c, reply->raw);
  } else {
    print(c.out, with_defaults(reply->body, defaults));
  }
  return k_exit_ok;
}

} // namespace

int post(Context& c,
         const std::string& target,
         const json& request,
         void (*print)(std::ostream&, const json&)) {
  return post_shown(c, target, request.dump(), print, request);
}

int post_text(Context& c,
              const std::string& target,
              const std::string& body,
              void (*print)(std::ostream&, const json&)) {
  return post_shown(c, target, body, print, json::object());
}

std::string path_segment(std::string_view text) {
  return boost::urls::encode(text, k_segment_chars);
}

std::string query_value(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

Result<std::uint64_t> parse_count(std::string_view text) {
  const auto not_a_count = make_error(Errc::invalid_argument, "not a non-negative integer");
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return not_a_count;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return not_a_count;
  }
  return value;
}

Result<std::uint64_t> count_argument(const Args& args, std::string_view flag) {
  auto value = parse_count(args.value(flag));
  if (!value) {
    return make_error(Errc::invalid_argument, std::string(flag) +
                                                  " needs a non-negative integer, not '" +
                                                  args.value(flag) + "'");
  }
  return value;
}

Result<Hash> hash_argument(const Args& args, std::string_view flag) {
  auto hash = hash_from_hex(args.value(flag));
  if (!hash) {
    return make_error(Errc::invalid_argument,
                      std::string(flag) + " needs a 32-byte hash in hex (64 characters)");
  }
  return *hash;
}

Result<std::vector<Hash>> hash_list_argument(const Args& args, std::string_view flag) {
  std::vector<Hash> hashes;
  for (const auto& value : args.values(flag)) {
    std::size_t start = 0;
    while (!value.empty() && start <= value.size()) {
      const std::size_t comma = std::min(value.find(',', start), value.size());
      auto hash = hash_from_hex(std::string_view(value).substr(start, comma - start));
      if (!hash) {
        return make_error(Errc::invalid_argument,
                          std::string(flag) + " needs 32-byte hex hashes separated by commas");
      }
      hashes.push_back(*hash);
      start = comma + 1;
    }
  }
  return hashes;
}

} // namespace dg::cli
