// What `promote` and `rollback` share: their compose-override flags and how a decision (approved,
// refused, or dry run) is printed and acted on.
#pragma once

#include "cli/compose.hpp"
#include "cli/verb.hpp"

#include <string>
#include <vector>

namespace dg::cli {

// The --compose-override FILE and --service flags of one invocation.
struct ComposeRequest {
  std::string path; // empty: none
  std::vector<ServiceSpec> services;
};

// Read --compose-override and --service. Fails with Errc::invalid_argument when one is given
// without the other, the file name is empty, or a --service value is malformed.
Result<ComposeRequest> compose_request(const Args& args);

// Print a promotion or rollback answer and return its exit code. On approval (never on refusal or
// dry run) writes the compose override of `compose`; if it cannot be written, says so and returns
// k_exit_usage. `request` is the body sent, with "environment" added for display.
int decide(Context& c,
           const Reply& reply,
           const json& request,
           const ComposeRequest& compose,
           bool rollback,
           bool bundle);

} // namespace dg::cli
