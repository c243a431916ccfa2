// The Merkle tree against published RFC 6962 test data and, exhaustively for small trees, against
// a transcription of the RFC's recursive definitions.
//
// Published values are from github.com/transparency-dev/merkle (the RFC 6962 test data of
// Certificate Transparency and Trillian): proof/verify_test.go (leaves, roots, proofs),
// rfc6962/rfc6962_test.go (leaf hashes) and proof/proof_test.go (which nodes a proof holds).
#include "ledger/merkle.hpp"
#include "util/crypto.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using dg::Hash;
using dg::ledger::CompactRange;
using dg::ledger::Node;
using dg::ledger::NodeReader;

namespace {

Hash hash_hex(std::string_view hex) {
  auto hash = dg::hash_from_hex(hex);
  REQUIRE(hash.ok());
  return *hash;
}

std::string bytes_hex(std::string_view hex) {
  auto bytes = dg::from_hex(hex);
  REQUIRE(bytes.ok());
  return std::string(bytes->begin(), bytes->end());
}

std::vector<Hash> hashes_hex(std::initializer_list<std::string_view> hexes) {
  std::vector<Hash> out;
  for (std::string_view hex : hexes) {
    out.push_back(hash_hex(hex));
  }
  return out;
}

// The eight entries of the published test tree, and its roots for sizes 1 to 8.
const char* const k_published_entries[] = {"",
                                           "00",
                                           "10",
                                           "2021",
                                           "3031",
                                           "40414243",
                                           "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f"};
const char* const k_published_roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

std::vector<Hash> published_leaves() {
  std::vector<Hash> leaves;
  for (const char* entry : k_published_entries) {
    leaves.push_back(dg::ledger::leaf_hash(bytes_hex(entry)));
  }
  return leaves;
}

Hash published_root(std::uint64_t size) {
  return hash_hex(k_published_roots[size - 1]);
}

// Stored perfect subtrees keyed by (level, index), as the ledger keeps them. Reads of nodes that
// are not stored, or not complete in the tree of `limit` leaves, are recorded as bad.
class VectorReader : public NodeReader {
public:
  void store(const Node& node) { m_nodes[{node.level, node.index}] = node.hash; }
  void limit_to(std::uint64_t size) { m_limit = size; }

  Hash node(int level, std::uint64_t index) const override {
    ++m_reads;
    const auto it = m_nodes.find({level, index});
    if (it == m_nodes.end() || ((index + 1) << level) > m_limit) {
      ++m_bad_reads;
      return Hash{};
    }
    return it->second;
  }

  std::size_t reads() const { return m_reads; }
  std::size_t bad_reads() const { return m_bad_reads; }
  void reset_counts() { m_reads = m_bad_reads = 0; }

private:
  std::map<std::pair<int, std::uint64_t>, Hash> m_nodes;
  std::uint64_t m_limit = UINT64_MAX;
  mutable std::size_t m_reads = 0;
  mutable std::size_t m_bad_reads = 0;
};

// A tree of `leaves` built by CompactRange::append, every completed node stored.
VectorReader store_tree(const std::vector<Hash>& leaves) {
  VectorReader reader;
  CompactRange range;
  for (const Hash& leaf : leaves) {
    for (const Node& node : range.append(leaf)) {
      reader.store(node);
    }
  }
  return reader;
}

// A distinct label per node, so a test can name the nodes a proof must hold.
Hash label(int level, std::uint64_t index) {
  return dg::sha256("node " + std::to_string(level) + "/" + std::to_string(index));
}

class LabelReader : public NodeReader {
public:
  Hash node(int level, std::uint64_t index) const override { return label(level, index); }
};

Hash hash_of(const Hash& left, const Hash& right) {
  return dg::ledger::node_hash(left, right);
}

// PATH(m, D[n]) of RFC 6962 2.1.1, transcribed over leaf hashes.
std::vector<Hash> reference_path(std::uint64_t m, std::span<const Hash> d) {
  if (d.size() <= 1) {
    return {};
  }
  const std::size_t k = std::bit_floor(d.size() - 1);
  std::vector<Hash> out;
  if (m < k) {
    out = reference_path(m, d.first(k));
    out.push_back(dg::ledger::root_of(d.subspan(k)));
  } else {
    out = reference_path(m - k, d.subspan(k));
    out.push_back(dg::ledger::root_of(d.first(k)));
  }
  return out;
}

// SUBPROOF(m, D[n], b) of RFC 6962 2.1.2, transcribed over leaf hashes.
std::vector<Hash> reference_subproof(std::uint64_t m, std::span<const Hash> d, bool b) {
  if (m == d.size()) {
    if (b) {
      return {};
    }
    return {dg::ledger::root_of(d)};
  }
  const std::size_t k = std::bit_floor(d.size() - 1);
  std::vector<Hash> out;
  if (m <= k) {
    out = reference_subproof(m, d.first(k), b);
    out.push_back(dg::ledger::root_of(d.subspan(k)));
  } else {
    out = reference_subproof(m - k, d.subspan(k), false);
    out.push_back(dg::ledger::root_of(d.first(k)));
  }
  return out;
}

// Every proof that differs from `proof` by one flipped bit in one hash, one hash dropped, or
// `extra` added at either end or in the middle.
std::vector<std::vector<Hash>> altered_proofs(const std::vector<Hash>& proof, const Hash& extra) {
  std::vector<std::vector<Hash>> out;
  for (std::size_t i = 0; i < proof.size(); ++i) {
    auto flipped = proof;
    flipped[i][(i * 7) % 32] ^= 0x10;
    out.push_back(flipped);
    auto dropped = proof;
    dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(i));
    out.push_back(dropped);
  }
  auto appended = proof;
  appended.push_back(extra);
  out.push_back(appended);
  auto prepended = proof;
  prepended.insert(prepended.begin(), extra);
  out.push_back(prepended);
  if (proof.size() >= 2) {
    auto inserted = proof;
    inserted.insert(inserted.begin() + 1, extra);
    out.push_back(inserted);
  }
  return out;
}

Hash flipped(Hash hash) {
  hash[31] ^= 0x01;
  return hash;
}

// Collects failures of a large sweep so that one CHECK reports them.
class Failures {
public:
  void expect(bool condition, const std::string& what) {
    if (!condition) {
      if (m_count < 10) {
        m_text += what + "\n";
      }
      ++m_count;
    }
  }
  std::size_t count() const { return m_count; }
  const std::string& text() const { return m_text; }

private:
  std::size_t m_count = 0;
  std::string m_text;
};

std::string where(const char* what, std::uint64_t a, std::uint64_t b) {
  return std::string(what) + " (" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// The first word of the output of `command` run by /bin/sh, or nothing if it fails.
std::optional<std::string> shell_word(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return std::nullopt;
  }
  std::string output;
  char buffer[256];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    output.append(buffer, n);
  }
  if (pclose(pipe) != 0) {
    return std::nullopt;
  }
  return output.substr(0, output.find_first_of(" \n"));
}

} // namespace

TEST_SUITE_BEGIN("MerkleTree");

TEST_CASE("Leaf, node and empty hashes match the published RFC 6962 values") {
  using dg::ledger::leaf_hash;
  CHECK(dg::ledger::empty_root() ==
        hash_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(leaf_hash("") ==
        hash_hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
  CHECK(leaf_hash("L123456") ==
        hash_hex("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"));
  // The empty tree and the tree of one empty entry differ.
  CHECK(dg::ledger::empty_root() != leaf_hash(""));
  // A node of two leaves is the published root of the two-leaf test tree.
  CHECK(dg::ledger::node_hash(leaf_hash(""), leaf_hash(bytes_hex("00"))) == published_root(2));
  // Order matters, and a node is not the leaf of its children's concatenation.
  const Hash a = leaf_hash("Hello");
  const Hash b = leaf_hash("World");
  CHECK(dg::ledger::node_hash(a, b) != dg::ledger::node_hash(b, a));
  std::string concatenated(a.begin(), a.end());
  concatenated.append(b.begin(), b.end());
  CHECK(dg::ledger::node_hash(a, b) != leaf_hash(concatenated));
}

TEST_CASE("Hashes agree with the openssl command line") {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    MESSAGE("openssl is not installed; skipped");
    return;
  }
  // printf's octal escapes give the 0x00 and 0x01 prefixes.
  const auto empty_leaf = shell_word("printf '\\000' | openssl dgst -sha256 -r");
  REQUIRE(empty_leaf);
  CHECK(dg::to_hex(dg::ledger::leaf_hash("")) == *empty_leaf);

  const auto hello_leaf = shell_word("printf '\\000hello' | openssl dgst -sha256 -r");
  REQUIRE(hello_leaf);
  CHECK(dg::to_hex(dg::ledger::leaf_hash("hello")) == *hello_leaf);

  // MTH of three entries a, b, c: node(node(leaf a, leaf b), leaf c).
  const std::string leaf_a = "printf '\\000a' | openssl dgst -sha256 -binary";
  const std::string leaf_b = "printf '\\000b' | openssl dgst -sha256 -binary";
  const std::string leaf_c = "printf '\\000c' | openssl dgst -sha256 -binary";
  const auto three =
      shell_word("{ printf '\\001'; { printf '\\001'; " + leaf_a + "; " + leaf_b +
                 "; } | openssl dgst -sha256 -binary; " + leaf_c + "; } | openssl dgst -sha256 -r");
  REQUIRE(three);
  const std::vector<Hash> leaves = {dg::ledger::leaf_hash("a"), dg::ledger::leaf_hash("b"),
                                    dg::ledger::leaf_hash("c")};
  CHECK(dg::to_hex(dg::ledger::root_of(leaves)) == *three);
}

TEST_CASE("Roots of the published test tree") {
  const std::vector<Hash> leaves = published_leaves();
  VectorReader reader = store_tree(leaves);
  CompactRange range;
  for (std::uint64_t size = 1; size <= leaves.size(); ++size) {
    CAPTURE(size);
    range.append(leaves[size - 1]);
    CHECK(dg::ledger::root_of(std::span(leaves).first(size)) == published_root(size));
    CHECK(range.root() == published_root(size));
    reader.limit_to(size);
    CHECK(dg::ledger::root_at(reader, size) == published_root(size));
    CHECK(CompactRange::load(reader, size).root() == published_root(size));
    CHECK(reader.bad_reads() == 0);
  }
  CHECK(dg::ledger::root_of({}) == dg::ledger::empty_root());
  CHECK(dg::ledger::root_at(reader, 0) == dg::ledger::empty_root());
  CHECK(CompactRange().root() == dg::ledger::empty_root());
}

TEST_CASE("Published inclusion proofs are produced and verify") {
  struct Vector {
    std::uint64_t index;
    std::uint64_t size;
    std::vector<Hash> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 8,
       hashes_hex({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {5, 8,
       hashes_hex({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 3, hashes_hex({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
      {1, 5,
       hashes_hex({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
  const std::vector<Hash> leaves = published_leaves();
  VectorReader reader = store_tree(leaves);
  const Hash some_hash =
      hash_hex("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const Vector& v : vectors) {
    CAPTURE(v.index);
    CAPTURE(v.size);
    reader.limit_to(v.size);
    CHECK(dg::ledger::inclusion_proof(reader, v.index, v.size) == v.proof);
    CHECK(reader.bad_reads() == 0);
    const Hash& leaf = leaves[v.index];
    const Hash root = published_root(v.size);
    CHECK(dg::ledger::verify_inclusion(leaf, v.index, v.size, v.proof, root));

    // A wrong index, tree size, leaf or root.
    CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index + 1, v.size, v.proof, root));
    CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index ^ 2, v.size, v.proof, root));
    if (v.index > 0) {
      CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index - 1, v.size, v.proof, root));
    }
    CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index, v.size * 2, v.proof, root));
    CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index, v.size / 2, v.proof, root));
    CHECK_FALSE(dg::ledger::verify_inclusion(dg::ledger::leaf_hash("WrongLeaf"), v.index, v.size,
                                             v.proof, root));
    CHECK_FALSE(
        dg::ledger::verify_inclusion(leaf, v.index, v.size, v.proof, dg::ledger::empty_root()));
    CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index, v.size, v.proof, some_hash));
    // An altered proof.
    for (const auto& altered : altered_proofs(v.proof, some_hash)) {
      CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index, v.size, altered, root));
    }
    for (const auto& altered : altered_proofs(v.proof, root)) {
      CHECK_FALSE(dg::ledger::verify_inclusion(leaf, v.index, v.size, altered, root));
    }
  }
}

TEST_CASE("Published consistency proofs are produced and verify") {
  struct Vector {
    std::uint64_t size1;
    std::uint64_t size2;
    std::vector<Hash> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1, 8,
       hashes_hex({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {6, 8,
       hashes_hex({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 5,
       hashes_hex({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
      {6, 7,
       hashes_hex({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
  };
  const std::vector<Hash> leaves = published_leaves();
  VectorReader reader = store_tree(leaves);
  for (const Vector& v : vectors) {
    CAPTURE(v.size1);
    CAPTURE(v.size2);
    reader.limit_to(v.size2);
    CHECK(dg::ledger::consistency_proof(reader, v.size1, v.size2) == v.proof);
    CHECK(reader.bad_reads() == 0);
    const Hash root1 = published_root(v.size1);
    const Hash root2 = published_root(v.size2);
    CHECK(dg::ledger::verify_consistency(v.size1, root1, v.size2, root2, v.proof));
    if (v.proof.empty()) {
      continue;
    }
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1 - 1, root1, v.size2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1 + 1, root1, v.size2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1 ^ 2, root1, v.size2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2 * 2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2 / 2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, flipped(root1), v.size2, root2, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2, flipped(root2), v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root2, v.size2, root1, v.proof));
    CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2, root2, {}));
    for (const auto& altered : altered_proofs(v.proof, root1)) {
      CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2, root2, altered));
    }
    for (const auto& altered : altered_proofs(v.proof, root2)) {
      CHECK_FALSE(dg::ledger::verify_consistency(v.size1, root1, v.size2, root2, altered));
    }
  }
}

TEST_CASE("Inclusion proofs hold the nodes the published node lists name") {
  // From proof/proof_test.go TestInclusion; "l" of a 7-leaf tree is node(i, j), a subtree that is
  // not stored and is hashed from its parts.
  const LabelReader reader;
  const auto n = label;
  struct Vector {
    std::uint64_t size;
    std::uint64_t index;
    std::vector<Hash> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 0, {}},
      {2, 0, {n(0, 1)}},
      {2, 1, {n(0, 0)}},
      {3, 1, {n(0, 0), n(0, 2)}},
      {7, 0, {n(0, 1), n(1, 1), hash_of(n(1, 2), n(0, 6))}},
      {7, 1, {n(0, 0), n(1, 1), hash_of(n(1, 2), n(0, 6))}},
      {7, 2, {n(0, 3), n(1, 0), hash_of(n(1, 2), n(0, 6))}},
      {7, 3, {n(0, 2), n(1, 0), hash_of(n(1, 2), n(0, 6))}},
      {7, 4, {n(0, 5), n(0, 6), n(2, 0)}},
      {7, 5, {n(0, 4), n(0, 6), n(2, 0)}},
      {7, 6, {n(1, 2), n(2, 0)}},
      {4, 2, {n(0, 3), n(1, 0)}},
      {5, 3, {n(0, 2), n(1, 0), n(0, 4)}},
      {6, 3, {n(0, 2), n(1, 0), n(1, 2)}},
      {6, 4, {n(0, 5), n(2, 0)}},
      {15, 10, {n(0, 11), n(1, 4), hash_of(n(1, 6), n(0, 14)), n(3, 0)}},
      {31, 24, {n(0, 25), n(1, 13), hash_of(n(1, 14), n(0, 30)), n(3, 2), n(4, 0)}},
      {95,
       81,
       {n(0, 80), n(1, 41), n(2, 21), hash_of(n(2, 22), hash_of(n(1, 46), n(0, 94))), n(4, 4),
        n(6, 0)}},
  };
  for (const Vector& v : vectors) {
    CAPTURE(v.size);
    CAPTURE(v.index);
    CHECK(dg::ledger::inclusion_proof(reader, v.index, v.size) == v.proof);
  }
  // Requests out of range get no proof.
  CHECK(dg::ledger::inclusion_proof(reader, 0, 0).empty());
  CHECK(dg::ledger::inclusion_proof(reader, 2, 1).empty());
  CHECK(dg::ledger::inclusion_proof(reader, 8, 7).empty());
}

TEST_CASE("Consistency proofs hold the nodes the published node lists name") {
  // From proof/proof_test.go TestConsistency.
  const LabelReader reader;
  const auto n = label;
  struct Vector {
    std::uint64_t size1;
    std::uint64_t size2;
    std::vector<Hash> proof;
  };
  const Hash l7 = hash_of(n(1, 2), n(0, 6));
  const std::vector<Vector> vectors = {
      {1, 2, {n(0, 1)}},
      {1, 4, {n(0, 1), n(1, 1)}},
      {1, 6, {n(0, 1), n(1, 1), n(1, 2)}},
      {2, 3, {n(0, 2)}},
      {2, 8, {n(1, 1), n(2, 1)}},
      {3, 7, {n(0, 2), n(0, 3), n(1, 0), l7}},
      {4, 7, {l7}},
      {5, 7, {n(0, 4), n(0, 5), n(0, 6), n(2, 0)}},
      {6, 7, {n(1, 2), n(0, 6), n(2, 0)}},
      {7, 8, {n(0, 6), n(0, 7), n(1, 2), n(2, 0)}},
      {1, 1, {}},
      {2, 2, {}},
      {3, 3, {}},
      {4, 4, {}},
      {5, 5, {}},
      {7, 7, {}},
      {8, 8, {}},
      {2, 4, {n(1, 1)}},
      {3, 5, {n(0, 2), n(0, 3), n(1, 0), n(0, 4)}},
      {3, 6, {n(0, 2), n(0, 3), n(1, 0), n(1, 2)}},
      {4, 6, {n(1, 2)}},
      {1, 7, {n(0, 1), n(1, 1), l7}},
      {10, 15, {n(1, 4), n(1, 5), hash_of(n(1, 6), n(0, 14)), n(3, 0)}},
      {24, 31, {n(3, 2), hash_of(n(2, 6), hash_of(n(1, 14), n(0, 30))), n(4, 0)}},
      {81,
       95,
       {n(0, 80), n(0, 81), n(1, 41), n(2, 21), hash_of(n(2, 22), hash_of(n(1, 46), n(0, 94))),
        n(4, 4), n(6, 0)}},
  };
  for (const Vector& v : vectors) {
    CAPTURE(v.size1);
    CAPTURE(v.size2);
    CHECK(dg::ledger::consistency_proof(reader, v.size1, v.size2) == v.proof);
  }
  // Requests out of range get no proof.
  CHECK(dg::ledger::consistency_proof(reader, 5, 0).empty());
  CHECK(dg::ledger::consistency_proof(reader, 9, 8).empty());
  CHECK(dg::ledger::consistency_proof(reader, 0, 8).empty());
}

TEST_CASE("Verifiers refuse what RFC 9162 refuses for degenerate sizes") {
  const Hash some = dg::ledger::leaf_hash("some");
  const Hash empty = dg::ledger::empty_root();
  const Hash root1 = dg::sha256("don't care 1");
  const Hash root2 = dg::sha256("don't care 2");

  SUBCASE("inclusion in a tree too small for the index") {
    for (auto [index, size] : {std::pair<std::uint64_t, std::uint64_t>{0, 0}, {1, 0}, {2, 1}}) {
      CHECK_FALSE(dg::ledger::verify_inclusion(some, index, size, {}, empty));
      CHECK_FALSE(dg::ledger::verify_inclusion(some, index, size, {}, some));
    }
  }
  SUBCASE("inclusion in a tree of one leaf") {
    CHECK(dg::ledger::verify_inclusion(some, 0, 1, {}, some));
    CHECK_FALSE(dg::ledger::verify_inclusion(some, 0, 1, {}, empty));
    CHECK_FALSE(dg::ledger::verify_inclusion(empty, 0, 1, {}, some));
    const std::vector<Hash> extra = {some};
    CHECK_FALSE(dg::ledger::verify_inclusion(some, 0, 1, extra, some));
  }
  SUBCASE("consistency") {
    const std::vector<Hash> none;
    const std::vector<Hash> one = {empty};
    CHECK(dg::ledger::verify_consistency(0, root1, 0, root1, none));
    CHECK(dg::ledger::verify_consistency(0, root1, 1, root2, none));
    CHECK(dg::ledger::verify_consistency(1, root2, 1, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(0, root1, 0, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(1, root1, 1, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(1, root1, 0, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(2, root1, 1, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(1, root1, 2, root2, none));
    CHECK_FALSE(dg::ledger::verify_consistency(0, empty, 0, empty, one));
    CHECK_FALSE(dg::ledger::verify_consistency(0, empty, 1, empty, one));
    CHECK_FALSE(dg::ledger::verify_consistency(1, empty, 1, empty, one));
  }
}

TEST_CASE("CompactRange append returns the leaf and every node it completes") {
  std::vector<Hash> leaves;
  CompactRange range;
  for (std::uint64_t i = 0; i < 64; ++i) {
    CAPTURE(i);
    leaves.push_back(dg::ledger::leaf_hash("entry " + std::to_string(i)));
    const std::vector<Node> nodes = range.append(leaves.back());
    CHECK(range.size() == i + 1);
    // Leaf i completes one node per trailing one bit of i.
    REQUIRE(nodes.size() == 1 + static_cast<std::size_t>(std::countr_one(i)));
    for (std::size_t level = 0; level < nodes.size(); ++level) {
      const Node& node = nodes[level];
      CHECK(node.level == static_cast<int>(level));
      CHECK(node.index == i >> level);
      const std::size_t begin = node.index << level;
      const std::size_t width = std::size_t{1} << level;
      CHECK(node.hash == dg::ledger::root_of(std::span(leaves).subspan(begin, width)));
    }
  }
}

TEST_CASE("Every root and proof of every tree up to 64 leaves") {
  constexpr std::uint64_t max_size = 64;
  std::vector<Hash> leaves;
  for (std::uint64_t i = 0; i < max_size; ++i) {
    leaves.push_back(dg::ledger::leaf_hash("entry " + std::to_string(i)));
  }
  VectorReader reader;
  CompactRange range;
  std::vector<Hash> roots(max_size + 1);
  roots[0] = dg::ledger::empty_root();
  Failures failures;
  for (std::uint64_t size = 1; size <= max_size; ++size) {
    for (const Node& node : range.append(leaves[size - 1])) {
      reader.store(node);
    }
    roots[size] = dg::ledger::root_of(std::span(leaves).first(size));
    failures.expect(range.root() == roots[size], where("CompactRange root", size, 0));
  }
  const auto leaves_span = std::span<const Hash>(leaves);

  SUBCASE("roots") {
    for (std::uint64_t size = 1; size <= max_size; ++size) {
      reader.limit_to(size);
      reader.reset_counts();
      failures.expect(dg::ledger::root_at(reader, size) == roots[size], where("root_at", size, 0));
      // One stored node per perfect subtree of the binary decomposition of size.
      failures.expect(reader.reads() == static_cast<std::size_t>(std::popcount(size)),
                      where("root_at reads", size, reader.reads()));
      CompactRange loaded = CompactRange::load(reader, size);
      failures.expect(loaded.size() == size && loaded.root() == roots[size],
                      where("load", size, 0));
      // A loaded range grows like the original.
      reader.limit_to(UINT64_MAX);
      for (std::uint64_t next = size; next < max_size; ++next) {
        loaded.append(leaves[next]);
      }
      failures.expect(loaded.root() == roots[max_size], where("load and append", size, 0));
      failures.expect(reader.bad_reads() == 0, where("bad reads", size, 0));
    }
  }

  SUBCASE("inclusion proofs") {
    for (std::uint64_t size = 1; size <= max_size; ++size) {
      reader.limit_to(size);
      for (std::uint64_t index = 0; index < size; ++index) {
        const auto proof = dg::ledger::inclusion_proof(reader, index, size);
        const Hash& leaf = leaves[index];
        failures.expect(proof == reference_path(index, leaves_span.first(size)),
                        where("proof differs from PATH", index, size));
        failures.expect(dg::ledger::verify_inclusion(leaf, index, size, proof, roots[size]),
                        where("valid proof refused", index, size));
        for (const auto& altered : altered_proofs(proof, roots[size])) {
          failures.expect(!dg::ledger::verify_inclusion(leaf, index, size, altered, roots[size]),
                          where("altered proof accepted", index, size));
        }
        for (std::uint64_t other = 0; other <= size; ++other) {
          if (other != index) {
            failures.expect(!dg::ledger::verify_inclusion(leaf, other, size, proof, roots[size]),
                            where("wrong index accepted", index, size));
          }
          if (other != index && other < size) {
            failures.expect(
                !dg::ledger::verify_inclusion(leaves[other], index, size, proof, roots[size]),
                where("wrong leaf accepted", index, size));
          }
        }
        // A size is only claimed together with that tree's root.
        for (std::uint64_t other = 1; other <= max_size; ++other) {
          if (other != size) {
            failures.expect(!dg::ledger::verify_inclusion(leaf, index, other, proof, roots[other]),
                            where("wrong size accepted", index, size));
          }
        }
        failures.expect(
            !dg::ledger::verify_inclusion(leaf, index, size, proof, flipped(roots[size])),
            where("wrong root accepted", index, size));
      }
    }
    failures.expect(reader.bad_reads() == 0, "bad reads");
  }

  SUBCASE("consistency proofs") {
    for (std::uint64_t size2 = 1; size2 <= max_size; ++size2) {
      reader.limit_to(size2);
      for (std::uint64_t size1 = 1; size1 <= size2; ++size1) {
        const auto proof = dg::ledger::consistency_proof(reader, size1, size2);
        const Hash& root1 = roots[size1];
        const Hash& root2 = roots[size2];
        failures.expect(proof == reference_subproof(size1, leaves_span.first(size2), true),
                        where("proof differs from PROOF", size1, size2));
        failures.expect(dg::ledger::verify_consistency(size1, root1, size2, root2, proof),
                        where("valid proof refused", size1, size2));
        for (const Hash& extra : {root1, root2, leaves[0]}) {
          for (const auto& altered : altered_proofs(proof, extra)) {
            failures.expect(!dg::ledger::verify_consistency(size1, root1, size2, root2, altered),
                            where("altered proof accepted", size1, size2));
          }
        }
        for (std::uint64_t other = 1; other <= max_size; ++other) {
          if (other != size1) {
            failures.expect(
                !dg::ledger::verify_consistency(other, roots[other], size2, root2, proof),
                where("wrong size1 accepted", size1, size2));
          }
          if (other != size2) {
            failures.expect(
                !dg::ledger::verify_consistency(size1, root1, other, roots[other], proof),
                where("wrong size2 accepted", size1, size2));
          }
        }
        failures.expect(!dg::ledger::verify_consistency(size1, flipped(root1), size2, root2, proof),
                        where("wrong root1 accepted", size1, size2));
        failures.expect(!dg::ledger::verify_consistency(size1, root1, size2, flipped(root2), proof),
                        where("wrong root2 accepted", size1, size2));
        if (size1 != size2) {
          failures.expect(!dg::ledger::verify_consistency(size1, root2, size2, root1, proof),
                          where("swapped roots accepted", size1, size2));
          failures.expect(!dg::ledger::verify_consistency(size1, root1, size2, root2, {}),
                          where("empty proof accepted", size1, size2));
        }
      }
    }
    failures.expect(reader.bad_reads() == 0, "bad reads");
  }

  CHECK_MESSAGE(failures.count() == 0, failures.text());
}

TEST_SUITE_END();
