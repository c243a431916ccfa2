#include "cli/yaml.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <memory>
#include <yaml.h>

namespace dg::cli::yaml {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

ScalarStyle style_of(yaml_scalar_style_t style) {
  switch (style) {
  case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    return ScalarStyle::single_quoted;
  case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
    return ScalarStyle::double_quoted;
  case YAML_LITERAL_SCALAR_STYLE:
    return ScalarStyle::literal;
  case YAML_FOLDED_SCALAR_STYLE:
    return ScalarStyle::folded;
  default:
    return ScalarStyle::plain;
  }
}

// The start of a node's own text: after any anchor (&a) and tag (!t) that libyaml counts in.
std::size_t skip_properties(std::string_view text, std::size_t pos, std::size_t end) {
  while (pos < end) {
    while (pos < end && (text[pos] == ' ' || text[pos] == '\t')) {
      ++pos;
    }
    if (pos >= end || (text[pos] != '&' && text[pos] != '!')) {
      return pos;
    }
    while (pos < end && text[pos] != ' ' && text[pos] != '\t' && text[pos] != '\n') {
      ++pos;
    }
  }
  return pos;
}

// libyaml's marks count characters; this maps them to byte offsets of the UTF-8 text.
class Offsets {
public:
  explicit Offsets(std::string_view text) {
    const bool ascii = std::all_of(text.begin(), text.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
      return;
    }
    // A byte order mark counts as one character, like any other.
    for (std::size_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        m_starts.push_back(i);
      }
    }
    m_starts.push_back(text.size());
  }

  std::size_t byte_of(std::size_t index) const {
    if (m_starts.empty()) {
      return index;
    }
    return m_starts[std::min(index, m_starts.size() - 1)];
  }

private:
  std::vector<std::size_t> m_starts; // byte offset of each character; empty for ASCII text
};

// Builds the tree from libyaml's events.
class Builder {
public:
  explicit Builder(std::string_view text) : m_text(text), m_offsets(text) {}

  // Handle one event; false when the stream is complete.
  Result<bool> handle(const yaml_event_t& event);

  Tree take() { return std::move(m_tree); }

private:
  struct Frame {
    Node* node;
    const Node* pending_key = nullptr;
  };

  Node& make(const yaml_event_t& event, NodeKind kind, const yaml_char_t* anchor);
  void add(const Node* node);

  std::string_view m_text;
  Offsets m_offsets;
  Tree m_tree;
  std::vector<Frame> m_stack;
  std::map<std::string, const Node*> m_anchors;
  const Node* m_root = nullptr;
  int m_flow_depth = 0;
};

Node& Builder::make(const yaml_event_t& event, NodeKind kind, const yaml_char_t* anchor) {
  Node& node = m_tree.nodes.emplace_back();
  node.kind = kind;
  node.begin = m_offsets.byte_of(event.start_mark.index);
  node.end = m_offsets.byte_of(event.end_mark.index);
  node.column = event.start_mark.column;
  node.flow = m_flow_depth > 0;
  if (anchor != nullptr) {
    m_anchors[reinterpret_cast<const char*>(anchor)] = &node;
  }
  return node;
}

void Builder::add(const Node* node) {
  if (m_stack.empty()) {
    m_root = node;
    return;
  }
  Frame& parent = m_stack.back();
  if (parent.node->kind == NodeKind::sequence) {
    parent.node->items.push_back(node);
  } else if (parent.pending_key == nullptr) {
    parent.pending_key = node;
  } else {
    parent.node->entries.emplace_back(parent.pending_key, node);
    parent.pending_key = nullptr;
  }
}

Result<bool> Builder::handle(const yaml_event_t& event) {
  switch (event.type) {
  case YAML_STREAM_END_EVENT:
    return false;
  case YAML_DOCUMENT_START_EVENT:
    m_root = nullptr;
    m_anchors.clear();
    break;
  case YAML_DOCUMENT_END_EVENT:
    m_tree.documents.push_back(m_root);
    break;
  case YAML_SCALAR_EVENT: {
    const auto& scalar = event.data.scalar;
    Node& node = make(event, NodeKind::scalar, scalar.anchor);
    node.value.assign(reinterpret_cast<const char*>(scalar.value), scalar.length);
    node.style = style_of(scalar.style);
    node.begin = skip_properties(m_text, node.begin, node.end);
    add(&node);
    break;
  }
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    const bool sequence = event.type == YAML_SEQUENCE_START_EVENT;
    Node& node =
        make(event, sequence ? NodeKind::sequence : NodeKind::mapping,
             sequence ? event.data.sequence_start.anchor : event.data.mapping_start.anchor);
    node.flow = sequence ? event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                         : event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
    node.begin = skip_properties(m_text, node.begin, m_text.size());
    add(&node);
    m_stack.push_back(Frame{&node});
    m_flow_depth += node.flow ? 1 : 0;
    break;
  }
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    m_stack.back().node->end = m_offsets.byte_of(event.end_mark.index);
    m_flow_depth -= m_stack.back().node->flow ? 1 : 0;
    m_stack.pop_back();
    break;
  case YAML_ALIAS_EVENT: {
    const auto it = m_anchors.find(reinterpret_cast<const char*>(event.data.alias.anchor));
    if (it == m_anchors.end()) {
      return make_error(Errc::invalid_argument, "line " +
                                                    std::to_string(event.start_mark.line + 1) +
                                                    ": alias of an unknown anchor");
    }
    add(it->second);
    break;
  }
  default:
    break;
  }
  return true;
}

Error parse_error(const yaml_parser_t& parser) {
  std::string message = "line " + std::to_string(parser.problem_mark.line + 1) + ", column " +
                        std::to_string(parser.problem_mark.column + 1) + ": ";
  if (parser.context != nullptr) {
    message += std::string(parser.context) + ", ";
  }
  message += parser.problem != nullptr ? parser.problem : "malformed YAML";
  return make_error(Errc::invalid_argument, message);
}

} // namespace

bool Node::is_null() const {
  return kind == NodeKind::scalar && style == ScalarStyle::plain &&
         (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL");
}

const Node* Node::key_of(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == NodeKind::scalar && k->value == key) {
      return k;
    }
  }
  return nullptr;
}

const Node* Node::get(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == NodeKind::scalar && k->value == key) {
      return v;
    }
  }
  return nullptr;
}

Result<Tree> parse(std::string_view text) {
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) {
    return make_error(Errc::internal, "cannot initialize the YAML parser");
  }
  const std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> guard(&parser, yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
  Builder builder(text);
  // Each event consumes input, so the loop ends; the bound is a guard against a parser bug.
  for (std::size_t i = 0; i <= text.size() * 4 + 16; ++i) {
    yaml_event_t event;
    if (yaml_parser_parse(&parser, &event) == 0) {
      return parse_error(parser);
    }
    auto more = builder.handle(event);
    yaml_event_delete(&event);
    if (!more) {
      return more.error();
    }
    if (!*more) {
      return builder.take();
    }
  }
  return make_error(Errc::internal, "the YAML parser did not finish");
}

bool plain_is_safe(std::string_view value) {
  if (value.empty() || !is_alnum(value.front()) || value.back() == ':') {
    return false;
  }
  for (char c : value) {
    if (!is_alnum(c) && std::string_view("._-/:@+").find(c) == std::string_view::npos) {
      return false;
    }
  }
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 12> k_words = {
      "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "~"};
  if (std::find(k_words.begin(), k_words.end(), lower) != k_words.end()) {
    return false;
  }
  // A digit followed only by these may be a number in some YAML flavour (ints, floats,
  // sexagesimals, hex, octal): quoting it is always safe.
  const bool number_like =
      std::all_of(lower.begin(), lower.end(),
                  [](char c) {
                    return (c >= '0' && c <= '9') ||
                           std::string_view("._-+:eox").find(c) != std::string_view::npos ||
                           (c >= 'a' && c <= 'f');
                  }) &&
      (lower.front() >= '0' && lower.front() <= '9');
  return !number_like;
}

std::string double_quoted(std::string_view value) {
  constexpr char k_hex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (u < 0x20 || u == 0x7f) {
      quoted += "\\x";
      quoted += k_hex[u >> 4];
      quoted += k_hex[u & 0xf];
    } else {
      quoted += c;
    }
  }
  return quoted + '"';
}

std::string render_scalar(std::string_view value, const Node& original) {
  if (original.style == ScalarStyle::single_quoted) {
    std::string quoted = "'";
    for (char c : value) {
      quoted += c == '\'' ? std::string("''") : std::string(1, c);
    }
    return quoted + "'";
  }
  if (original.style == ScalarStyle::plain && !original.flow && plain_is_safe(value)) {
    return std::string(value);
  }
  return double_quoted(value);
}

Result<std::string> apply_edits(std::string_view text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::string out;
  std::size_t pos = 0;
  const Edit* previous = nullptr;
  for (const auto& edit : edits) {
    if (previous != nullptr && previous->begin == edit.begin && previous->end == edit.end &&
        previous->text == edit.text) {
      continue; // the same node reached twice, through an alias
    }
    if (edit.begin < pos || edit.end < edit.begin || edit.end > text.size()) {
      return make_error(Errc::internal, "overlapping edits of the YAML text");
    }
    out.append(text.substr(pos, edit.begin - pos));
    out += edit.text;
    pos = edit.end;
    previous = &edit;
  }
  out.append(text.substr(pos));
  return out;
}

} // namespace dg::cli::yaml
