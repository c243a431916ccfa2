// The ledger's Merkle tree, exactly as RFC 6962 section 2.1 (and RFC 9162 section 2.1) define it.
//
// Leaves are SHA-256(0x00 || entry bytes); interior nodes SHA-256(0x01 || left || right); the tree
// over n > 1 leaves splits at k, the largest power of two smaller than n. Leaf indexes are 0-based.
// See docs/ledger.md for how the ledger stores the tree.
//
// All free functions are pure and thread-safe.
#pragma once

#include "util/crypto.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace dg::ledger {

// SHA-256(0x00 || data).
Hash leaf_hash(std::string_view data);
// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of the empty string.
Hash empty_root();

// Reference implementation: the root over `leaves` (leaf hashes), computed recursively. O(n).
Hash root_of(std::span<const Hash> leaves);

// A stored perfect subtree: the hash of leaves [index * 2^level, (index + 1) * 2^level).
struct Node {
  int level;
  std::uint64_t index;
  Hash hash;
};

// Where the tree's perfect subtrees are read from (the ledger database, a vector in tests).
class NodeReader {
public:
  virtual ~NodeReader() = default;
  // The hash of the perfect subtree (`level`, `index`); it is complete in the tree being read.
  virtual Hash node(int level, std::uint64_t index) const = 0;
};

// MTH(D[begin:end]) for a range that starts at a multiple of the largest power of two not larger
// than end - begin (every range an RFC 6962 proof or root needs). O(log n) node reads.
Hash subtree_hash(const NodeReader& reader, std::uint64_t begin, std::uint64_t end);

// The root of the tree of the first `size` leaves.
Hash root_at(const NodeReader& reader, std::uint64_t size);

// PATH(index, D[size]) of RFC 6962 2.1.1. Requires index < size.
std::vector<Hash>
inclusion_proof(const NodeReader& reader, std::uint64_t index, std::uint64_t size);

// PROOF(size1, D[size2]) of RFC 6962 2.1.2. Requires 0 < size1 <= size2.
std::vector<Hash>
consistency_proof(const NodeReader& reader, std::uint64_t size1, std::uint64_t size2);

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

// The right edge of a growing tree: the roots of the perfect subtrees that cover [0, size),
// largest first. Appending a leaf costs O(log n) hashing and returns the nodes it completes.
class CompactRange {
public:
  CompactRange() = default;
  // Load the edge of a tree of `size` leaves from stored nodes.
  static CompactRange load(const NodeReader& reader, std::uint64_t size);

  std::uint64_t size() const { return m_size; }
  // Append a leaf hash; returns every node it completes, the leaf itself (level 0) first.
  std::vector<Node> append(const Hash& leaf);
  // The root of the current tree.
  Hash root() const;

private:
  std::uint64_t m_size = 0;
  std::vector<Node> m_edge; // largest subtree first
};

} // namespace dg::ledger
