// proof verify-inclusion, proof verify-consistency: RFC 6962 proofs checked offline. Both read
// their sizes, hashes and proof the same way and print their verdict the same way; only the
// arguments' names and the check differ.
#include "cli/commands.hpp"
#include "cli/verb.hpp"
#include "cli/verbs.hpp"
#include "ledger/merkle.hpp"

#include <ostream>

namespace dg::cli {

namespace {

// What a proof is checked against: two sizes and two hashes, named by the verb's flags.
struct ProofArguments {
  std::uint64_t first_size = 0;
  std::uint64_t second_size = 0;
  Hash first_hash{};
  Hash second_hash{};
  std::vector<Hash> proof;
};

// The flags of one proof verb. Errors are reported in the order of the verb's --help: the first
// hash and size (in the order `size_first` says), then the second size and hash.
struct ProofFlags {
  const char* first_hash;
  const char* first_size;
  const char* second_size;
  const char* second_hash;
  bool size_first = false;
};

Result<ProofArguments> read_proof_arguments(const Args& args, const ProofFlags& flags) {
  auto first_size = count_argument(args, flags.first_size);
  if (!first_size && flags.size_first) {
    return first_size.error();
  }
  auto first_hash = hash_argument(args, flags.first_hash);
  if (!first_hash) {
    return first_hash.error();
  }
  if (!first_size) {
    return first_size.error();
  }
  auto second_size = count_argument(args, flags.second_size);
  if (!second_size) {
    return second_size.error();
  }
  auto second_hash = hash_argument(args, flags.second_hash);
  if (!second_hash) {
    return second_hash.error();
  }
  auto proof = hash_list_argument(args, "--proof");
  if (!proof) {
    return proof.error();
  }
  return ProofArguments{*first_size, *second_size, *first_hash, *second_hash, std::move(*proof)};
}

// Read the arguments with `flags`, check them with `check`, print "`what` is valid" (or INVALID;
// {"valid": bool} with --json) and return 0 or 1; 2 for malformed arguments.
int run_proof_check(Context& c,
                    const Args& args,
                    const ProofFlags& flags,
                    bool (*check)(const ProofArguments&),
                    std::string (*what)(const ProofArguments&)) {
  auto read = read_proof_arguments(args, flags);
  if (!read) {
    return usage_error(c, read.error().message);
  }
  const bool valid = check(*read);
  if (c.json) {
    c.out << json{{"valid", valid}}.dump() << '\n';
  } else {
    c.out << what(*read) << (valid ? " is valid" : " is INVALID") << '\n';
  }
  return valid ? k_exit_ok : k_exit_refused;
}

// verify-inclusion: the leaf hash and index, the tree size and root.
int cmd_verify_inclusion(Context& c, const Args& args) {
  return run_proof_check(
      c, args, {"--leaf-hash", "--index", "--size", "--root"},
      [](const ProofArguments& a) {
        return ledger::verify_inclusion(a.first_hash, a.first_size, a.second_size, a.proof,
                                        a.second_hash);
      },
      [](const ProofArguments& a) {
        return "inclusion proof of leaf " + std::to_string(a.first_size) + " in the tree of size " +
               std::to_string(a.second_size);
      });
}

// verify-consistency: the older size and root, the newer size and root.
int cmd_verify_consistency(Context& c, const Args& args) {
  return run_proof_check(
      c, args, {"--root1", "--size1", "--size2", "--root2", true},
      [](const ProofArguments& a) {
        return ledger::verify_consistency(a.first_size, a.first_hash, a.second_size, a.second_hash,
                                          a.proof);
      },
      [](const ProofArguments& a) {
        return "consistency proof from size " + std::to_string(a.first_size) + " to size " +
               std::to_string(a.second_size);
      });
}

} // namespace

std::vector<VerbSpec> proof_verbs() {
  return {
      {.name = "proof verify-inclusion",
       .summary = "Check an RFC 6962 inclusion proof offline",
       .description =
           "Indexes are 0-based. Exits 0 if the proof is valid, 1 if not, 2 for arguments that\n"
           "are not 32-byte hex hashes or sizes.\n",
       .flags = {{"--leaf-hash", "HEX", "the leaf hash", true},
                 {"--index", "I", "the leaf's index", true},
                 {"--size", "N", "the tree size", true},
                 {"--root", "HEX", "the tree's root hash", true},
                 {"--proof", "HEX,HEX,...", "the audit path (empty: none)", false, true}},
       .handler = cmd_verify_inclusion},
      {.name = "proof verify-consistency",
       .summary = "Check an RFC 6962 consistency proof offline",
       .description =
           "Exits 0 if the proof is valid, 1 if not, 2 for arguments that are not 32-byte hex\n"
           "hashes or sizes.\n",
       .flags = {{"--size1", "N", "the older tree size", true},
                 {"--root1", "HEX", "the older root hash", true},
                 {"--size2", "N", "the newer tree size", true},
                 {"--root2", "HEX", "the newer root hash", true},
                 {"--proof", "HEX,HEX,...", "the consistency proof (empty: none)", false, true}},
       .handler = cmd_verify_consistency},
  };
}

} // namespace dg::cli
