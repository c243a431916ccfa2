// Verification of RFC 6962 / RFC 9162 Merkle tree proofs, shared by the ledger (its own tree) and
// the Sigstore verifier (Rekor's tree). Leaves are SHA-256(0x00 || data), interior nodes
// SHA-256(0x01 || left || right); leaf indexes are 0-based.
//
// All functions are pure and thread-safe.
#pragma once

#include "util/crypto.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace dg::rfc6962 {

// SHA-256(0x00 || data).
Hash leaf_hash(std::string_view data);
// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);

// Verify an inclusion proof (RFC 9162 2.1.3.2). False for index >= size.
bool verify_inclusion(const Hash& leaf,
                      std::uint64_t index,
                      std::uint64_t size,
                      std::span<const Hash> proof,
                      const Hash& root);

// Verify a consistency proof (RFC 9162 2.1.4.2). size1 == size2 needs an empty proof and equal
// roots; size1 == 0 is consistent with anything given an empty proof.
bool verify_consistency(std::uint64_t size1,
                        const Hash& root1,
                        std::uint64_t size2,
                        const Hash& root2,
                        std::span<const Hash> proof);

} // namespace dg::rfc6962
