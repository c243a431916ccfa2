// Rekor transparency-log entries for the Sigstore verifier. Internal to policy/sigstore*.cpp.
#pragma once

#include "policy/sigstore.hpp"

#include <string>

namespace dg::policy::sigstore::detail {

// The canonical JSON that a Rekor signed entry timestamp signs.
std::string set_payload(const TlogEntry& entry);
// The entry's signed entry timestamp verifies under `log`, whose key was valid at the integrated
// time.
Result<void> verify_set(const TlogEntry& entry, const LogKey& log);
// The entry's inclusion proof leads to its root hash, and a checkpoint signed by `log` commits to
// that root and tree size. Requires entry.inclusion_proof.
Result<void> verify_inclusion(const TlogEntry& entry, const LogKey& log);
// The entry's body logs exactly the bundle's signature, certificate and artifact digest (or DSSE
// payload).
Result<void> compare_body(const TlogEntry& entry, const Bundle& bundle);

} // namespace dg::policy::sigstore::detail
