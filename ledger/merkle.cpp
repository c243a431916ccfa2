// RFC 6962 section 2.1 Merkle tree hashes and proofs; the verifiers live in util/rfc6962.cpp.
#include "ledger/merkle.hpp"

#include "util/rfc6962.hpp"

#include <algorithm>
#include <bit>

namespace dg::ledger {

namespace {

// k of RFC 6962: the largest power of two smaller than `n`. Requires n > 1.
std::uint64_t split_point(std::uint64_t n) {
  return std::bit_floor(n - 1);
}

bool is_perfect_aligned(std::uint64_t begin, std::uint64_t size) {
  return std::has_single_bit(size) && begin % size == 0;
}

} // namespace

Hash leaf_hash(std::string_view data) {
  return rfc6962::leaf_hash(data);
}

Hash node_hash(const Hash& left, const Hash& right) {
  return rfc6962::node_hash(left, right);
}

Hash empty_root() {
  return sha256(std::string_view());
}

Hash root_of(std::span<const Hash> leaves) {
  if (leaves.empty()) {
    return empty_root();
  }
  if (leaves.size() == 1) {
    return leaves[0];
  }
  const std::size_t k = split_point(leaves.size());
  return node_hash(root_of(leaves.first(k)), root_of(leaves.subspan(k)));
}

Hash subtree_hash(const NodeReader& reader, std::uint64_t begin, std::uint64_t end) {
  if (end <= begin) {
    return empty_root();
  }
  const std::uint64_t size = end - begin;
  if (is_perfect_aligned(begin, size)) {
    const int level = std::countr_zero(size);
    return reader.node(level, begin >> level);
  }
  // For a range in contract the left part is a stored perfect subtree and the right part is again
  // in contract, so the recursion reads one node per level. A range out of contract still gets
  // the right hash, from more reads.
  const std::uint64_t k = split_point(size);
  return node_hash(subtree_hash(reader, begin, begin + k), subtree_hash(reader, begin + k, end));
}

Hash root_at(const NodeReader& reader, std::uint64_t size) {
  if (size == 0) {
    return empty_root();
  }
  return subtree_hash(reader, 0, size);
}

std::vector<Hash>
inclusion_proof(const NodeReader& reader, std::uint64_t index, std::uint64_t size) {
  std::vector<Hash> proof;
  if (index >= size) {
    return proof;
  }
  // PATH(m, D[begin:end]) descends towards leaf m and appends the sibling of each step after
  // the path below it, so the siblings are gathered top down and reversed.
  std::uint64_t begin = 0;
  std::uint64_t end = size;
  while (end - begin > 1) {
    const std::uint64_t k = split_point(end - begin);
    if (index < begin + k) {
      proof.push_back(subtree_hash(reader, begin + k, end));
      end = begin + k;
    } else {
      proof.push_back(subtree_hash(reader, begin, begin + k));
      begin += k;
    }
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

std::vector<Hash>
consistency_proof(const NodeReader& reader, std::uint64_t size1, std::uint64_t size2) {
  std::vector<Hash> proof;
  if (size1 == 0 || size1 > size2) {
    return proof;
  }
  // SUBPROOF(m, D[begin:end], b), unrolled: each step appends one hash after the subproof below
  // it, so the hashes are gathered top down and reversed.
  std::uint64_t begin = 0;
  std::uint64_t end = size2;
  bool whole_old_tree = true; // b of RFC 6962: D[begin:end] starts where the old tree does
  while (size1 != end) {
    const std::uint64_t k = split_point(end - begin);
    if (size1 <= begin + k) {
      proof.push_back(subtree_hash(reader, begin + k, end));
      end = begin + k;
    } else {
      proof.push_back(subtree_hash(reader, begin, begin + k));
      begin += k;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) {
    proof.push_back(subtree_hash(reader, begin, end));
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

bool verify_inclusion(const Hash& leaf,
                      std::uint64_t index,
                      std::uint64_t size,
                      std::span<const Hash> proof,
                      const Hash& root) {
  return rfc6962::verify_inclusion(leaf, index, size, proof, root);
}

bool verify_consistency(std::uint64_t size1,
                        const Hash& root1,
                        std::uint64_t size2,
                        const Hash& root2,
                        std::span<const Hash> proof) {
  return rfc6962::verify_consistency(size1, root1, size2, root2, proof);
}

CompactRange CompactRange::load(const NodeReader& reader, std::uint64_t size) {
  CompactRange range;
  std::uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if ((size & width) != 0) {
      const std::uint64_t index = begin >> level;
      range.m_edge.push_back(Node{level, index, reader.node(level, index)});
      begin += width;
    }
  }
  range.m_size = size;
  return range;
}

std::vector<Node> CompactRange::append(const Hash& leaf) {
  Node node{0, m_size, leaf};
  std::vector<Node> completed{node};
  // The edge's smallest subtree is last; equal levels merge like a binary carry.
  while (!m_edge.empty() && m_edge.back().level == node.level) {
    node = Node{node.level + 1, node.index >> 1, node_hash(m_edge.back().hash, node.hash)};
    m_edge.pop_back();
    completed.push_back(node);
  }
  m_edge.push_back(node);
  ++m_size;
  return completed;
}

Hash CompactRange::root() const {
  if (m_edge.empty()) {
    return empty_root();
  }
  Hash hash = m_edge.back().hash;
  for (auto it = m_edge.rbegin() + 1; it != m_edge.rend(); ++it) {
    hash = node_hash(it->hash, hash);
  }
  return hash;
}

} // namespace dg::ledger
