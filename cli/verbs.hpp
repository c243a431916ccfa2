// The registry of the CLI's verbs: each family of verbs lives in its own file and contributes its
// table with one function declared here. cli/commands.hpp says how to add a verb.
#pragma once

#include "cli/args.hpp"

#include <vector>

namespace dg::cli {

// record, promote, report (cli/verbs_promotion.cpp)
std::vector<VerbSpec> promotion_verbs();
// evidence init, gate, sign, show (cli/verbs_evidence.cpp)
std::vector<VerbSpec> evidence_verbs();
// rollback, revoke (cli/verbs_rollback.cpp)
std::vector<VerbSpec> rollback_verbs();
// status, envs, env (cli/verbs_inspect.cpp)
std::vector<VerbSpec> inspect_verbs();
// ledger list, show, checkpoint, verify (cli/verbs_ledger.cpp)
std::vector<VerbSpec> ledger_verbs();
// proof verify-inclusion, verify-consistency (cli/verbs_proof.cpp)
std::vector<VerbSpec> proof_verbs();
// policy check, what-if (cli/verbs_policy.cpp)
std::vector<VerbSpec> policy_verbs();
// sigstore verify (cli/verbs_sigstore.cpp)
std::vector<VerbSpec> sigstore_verbs();
// token new (cli/verbs_token.cpp)
std::vector<VerbSpec> token_verbs();
// observe, resolve (cli/verbs_observe.cpp)
std::vector<VerbSpec> observe_verbs();
// pin (cli/verbs_pin.cpp)
std::vector<VerbSpec> pin_verbs();

// Every verb, in the order of `digestgate --help`: the families in the order of the list in
// cli/verbs.cpp, except that the verbs of a group ("ledger ...") stay together where the group
// first appears. Built once; thread-safe.
const std::vector<VerbSpec>& all_verbs();

} // namespace dg::cli
