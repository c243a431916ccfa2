// YAML read with libyaml into a small tree whose every node knows its byte span in the source
// text, so that a caller can find a scalar exactly and splice a new value into the original text:
// comments, blank lines, indentation and quoting elsewhere stay byte for byte.
//
// Aliases are resolved to the anchored node (an edit of it changes every alias). Tags, anchors
// and merge keys are otherwise not interpreted: keys are matched by their scalar text.
//
// A Tree is a plain value; nothing here has shared state, so all functions are thread-safe.
#pragma once

#include "util/result.hpp"

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dg::cli::yaml {

enum class NodeKind { scalar, sequence, mapping };

// How a scalar is written in the source.
enum class ScalarStyle { plain, single_quoted, double_quoted, literal, folded };

struct Node {
  NodeKind kind = NodeKind::scalar;
  // The scalar's value (quotes removed, escapes decoded); empty for collections.
  std::string value;
  ScalarStyle style = ScalarStyle::plain;
  // A collection written in flow style ([...], {...}); for a scalar, whether it sits inside one.
  bool flow = false;
  // Byte offsets of the node's text in the source: [begin, end). A quoted scalar's span holds its
  // quotes; a block collection's end may lie after its last line's newline.
  std::size_t begin = 0;
  std::size_t end = 0;
  // 0-based column of `begin`.
  std::size_t column = 0;
  // A mapping's keys and values, in source order.
  std::vector<std::pair<const Node*, const Node*>> entries;
  // A sequence's items, in source order.
  std::vector<const Node*> items;

  // The value of the mapping entry whose key is the scalar `key`; null when absent, when this is
  // not a mapping, or when the key is not a scalar.
  const Node* get(std::string_view key) const;
  // The key node of that entry, null likewise.
  const Node* key_of(std::string_view key) const;
  bool is_scalar() const { return kind == NodeKind::scalar; }
  // A plain scalar that YAML reads as null: empty (as the content of an empty document), "~" or
  // "null".
  bool is_null() const;
};

// The documents of one YAML stream. Nodes live as long as the tree and keep their addresses when
// it is moved; it cannot be copied, since a copy's pointers would lead into the original.
struct Tree {
  Tree() = default;
  Tree(Tree&&) = default;
  Tree& operator=(Tree&&) = default;
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // The root of each document, in order; null for an empty document.
  std::vector<const Node*> documents;
  std::deque<Node> nodes;
};

// Parse `text` (UTF-8). Fails with Errc::invalid_argument naming the line and column of a syntax
// error, or when the text is not UTF-8.
Result<Tree> parse(std::string_view text);

// `value` written as a scalar where `original` was: in its quoting style when it was single or
// double quoted, double quoted when it was plain inside a flow collection or when a plain scalar
// would not read back as `value`, plain otherwise. Precondition: `original` is not a block scalar.
std::string render_scalar(std::string_view value, const Node& original);

// True when `value` reads back as the same string when written as a plain scalar in block
// context: no indicator first, no ": " or " #", and not a boolean, null or number.
bool plain_is_safe(std::string_view value);

// `value` as a double-quoted scalar: '"' and '\' escaped, control characters as \xNN.
std::string double_quoted(std::string_view value);

// A replacement of the bytes [begin, end) of a text.
struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

// `text` with `edits` applied. Edits must not overlap (identical edits count once); fails with
// Errc::internal otherwise.
Result<std::string> apply_edits(std::string_view text, std::vector<Edit> edits);

} // namespace dg::cli::yaml
