// The verbs of the digestgate CLI.
//
// How the CLI is laid out:
// - cli/args.{hpp,cpp}: the command line (global options, verb, flags, positionals) and the help
//   texts, all generated from the verbs' tables (VerbSpec).
// - cli/verb.{hpp,cpp}: the kit a verb is written with: Context, send/show/post, usage_error,
//   fail_with, path_segment, and argument readers that return Result<T>.
// - cli/verbs.{hpp,cpp}: the registry, one function per family of verbs; cli/verbs_*.cpp: the
//   families (promotion: record/promote/report; rollback: rollback/revoke; inspect:
//   status/envs/env; ledger; proof; policy; token).
// - cli/commands.cpp: run(), which parses, prints help, sets up the Context and calls a handler.
//
// How to add a verb (say `digestgate observe REF`):
// 1. Write cli/verbs_observe.cpp. In an anonymous namespace, the handler
//    `int cmd_observe(Context& c, const Args& args)`: read arguments with the readers of
//    cli/verb.hpp (a failed read is `return usage_error(c, error.message)`), talk to the daemon
//    with send()/show()/post() (a failed send() is `return report_transport(c, reply.error())`; a
//    non-2xx answer is `return fail_with(c, *reply)`), print human text to c.out, or the daemon's
//    answer verbatim with `--json` (c.json), and return one of the exit codes below. Outside it,
//    `std::vector<VerbSpec> observe_verbs()` returns the verb's table entry: name ("observe", or
//    "ledger copy" for a verb of a group), positional metavar and counts, a one-line summary,
//    a description for `--help` (what it does, what it prints, its exit codes when they are not
//    obvious), the flags (name, metavar, help, required, repeatable) and the handler. Parsing
//    checks required flags and positional counts before the handler runs.
// 2. Declare `observe_verbs()` in cli/verbs.hpp, add it to k_families in cli/verbs.cpp, and the
//    file to cli/CMakeLists.txt. A verb of an existing group ("ledger copy") is listed with its
//    group in `digestgate --help` wherever its family comes in k_families.
// 3. Test it through the real binary (tests/e2e_cli.cpp and tests/support/daemon.hpp).
// Keep each file under about 400 lines and each function under about 80.
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
