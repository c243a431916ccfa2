// RFC 9162 sections 2.1.3.2 and 2.1.4.2.
#include "util/rfc6962.hpp"

#include <bit>
#include <vector>

namespace dg::rfc6962 {

namespace {

constexpr std::uint8_t k_leaf_prefix = 0x00;
constexpr std::uint8_t k_node_prefix = 0x01;

} // namespace

Hash leaf_hash(std::string_view data) {
  Sha256 hasher;
  hasher.update(&k_leaf_prefix, 1);
  hasher.update(data);
  return hasher.finish();
}

Hash node_hash(const Hash& left, const Hash& right) {
  Sha256 hasher;
  hasher.update(&k_node_prefix, 1);
  hasher.update(left.data(), left.size());
  hasher.update(right.data(), right.size());
  return hasher.finish();
}

bool verify_inclusion(const Hash& leaf,
                      std::uint64_t index,
                      std::uint64_t size,
                      std::span<const Hash> proof,
                      const Hash& root) {
  if (index >= size) {
    return false;
  }
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) {
      return false;
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t size1,
                        const Hash& root1,
                        std::uint64_t size2,
                        const Hash& root2,
                        std::span<const Hash> proof) {
  if (size1 > size2) {
    return false;
  }
  if (size1 == size2) {
    return proof.empty() && root1 == root2;
  }
  if (size1 == 0) {
    return proof.empty();
  }
  if (proof.empty()) {
    return false;
  }
  // When size1 is a power of two the old root is itself a node of the new tree and the proof
  // leaves it out; the verifier starts from it.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) {
    path.push_back(root1);
  }
  path.insert(path.end(), proof.begin(), proof.end());

  std::uint64_t fn = size1 - 1;
  std::uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) {
      return false;
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == root1 && sr == root2 && sn == 0;
}

} // namespace dg::rfc6962
