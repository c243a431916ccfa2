// Signed checkpoints: the C2SP tlog-checkpoint body in a C2SP signed note (the format of Go's
// golang.org/x/mod/sumdb/note), with Ed25519 signatures only.
//
// A note is accepted only when it is at most 1 MiB of UTF-8 text without control characters
// other than newline. Its text runs up to the last blank line; after the blank line come at most
// 100 signature lines "— <name> <base64>", every one of them well formed (a key name is non-empty
// UTF-8 without spaces or '+'; the base64 is canonical, padded and at least 5 bytes long).
// Signature lines by other keys (witnesses, mirrors) are skipped. Every line by the verifier's
// name and key hash must verify, and there must be at least one. A note that is only text, or
// text and a blank line, is well formed but unsigned.
//
// The checkpoint text is exactly three lines: a non-empty origin, the tree size in decimal without
// leading zeros, and the root hash in canonical base64. Extension lines are refused.
// parse_checkpoint takes a signed note (its signature lines checked for form only) or the bare
// checkpoint text.
#include "ledger/checkpoint.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

namespace dg::ledger {

namespace {

constexpr std::size_t k_max_note_size = 1 << 20;
constexpr std::size_t k_max_signatures = 100;
constexpr std::uint8_t k_ed25519_algorithm = 0x01;
constexpr std::size_t k_ed25519_public_key_size = 32;
constexpr std::size_t k_ed25519_signature_size = 64;
// U+2014 EM DASH and a space.
constexpr std::string_view k_signature_prefix = "\xe2\x80\x94 ";

// The length of the UTF-8 sequence at `s[i]`, storing its code point in `cp`; 0 if the sequence
// is not valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto byte = [&](std::size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    cp = b0 & 0x0f;
    low = b0 == 0xe0 ? 0xa0 : 0x80;
    high = b0 == 0xed ? 0x9f : 0xbf;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    cp = b0 & 0x07;
    low = b0 == 0xf0 ? 0x90 : 0x80;
    high = b0 == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (s.size() - i < length) {
    return 0;
  }
  for (std::size_t j = 1; j < length; ++j) {
    const unsigned char b = byte(i + j);
    if (b < low || b > high) {
      return 0;
    }
    low = 0x80;
    high = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
  }
  return length;
}

// Unicode White_Space, as Go's unicode.IsSpace.
bool is_space(char32_t cp) {
  switch (cp) {
  case U'\t':
  case U'\n':
  case U'\v':
  case U'\f':
  case U'\r':
  case U' ':
  case 0x85:
  case 0xa0:
  case 0x1680:
  case 0x2028:
  case 0x2029:
  case 0x202f:
  case 0x205f:
  case 0x3000:
    return true;
  default:
    return cp >= 0x2000 && cp <= 0x200a;
  }
}

// Valid UTF-8 without control characters other than newline.
bool is_note_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t length = decode_utf8(s, i, cp);
    if (length == 0 || (cp < 0x20 && cp != U'\n')) {
      return false;
    }
    i += length;
  }
  return true;
}

bool is_key_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size();) {
    char32_t cp = 0;
    const std::size_t length = decode_utf8(name, i, cp);
    if (length == 0 || cp < 0x20 || is_space(cp) || cp == U'+') {
      return false;
    }
    i += length;
  }
  return true;
}

// Standard padded base64 in its one canonical spelling; the shared decoder also takes the URL
// alphabet, missing padding and stray low bits, which would make notes malleable.
std::optional<std::string> decode_canonical_base64(std::string_view text) {
  auto decoded = base64_decode(text);
  if (!decoded || base64_encode(*decoded) != text) {
    return std::nullopt;
  }
  return std::move(decoded).value();
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

Bytes key_hash_bytes(std::uint32_t key_hash) {
  return {static_cast<std::uint8_t>(key_hash >> 24), static_cast<std::uint8_t>(key_hash >> 16),
          static_cast<std::uint8_t>(key_hash >> 8), static_cast<std::uint8_t>(key_hash)};
}

struct SignatureLine {
  std::string_view name;
  std::uint32_t key_hash = 0;
  std::string signature; // without the key hash
};

struct SplitNote {
  std::string_view text;
  std::vector<SignatureLine> signatures;
};

Error malformed(std::string message) {
  return make_error(Errc::corrupt, "malformed note: " + std::move(message));
}

Result<SplitNote> split_note(std::string_view note) {
  if (note.size() > k_max_note_size) {
    return malformed("larger than 1 MiB");
  }
  if (!is_note_text(note)) {
    return malformed("not UTF-8 text without control characters");
  }
  if (note.empty() || note.back() != '\n') {
    return malformed("does not end with a newline");
  }
  SplitNote split;
  const std::size_t blank = note.rfind("\n\n");
  if (blank == std::string_view::npos) {
    split.text = note;
    return split;
  }
  split.text = note.substr(0, blank + 1);
  std::string_view rest = note.substr(blank + 2);
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
    if (split.signatures.size() == k_max_signatures) {
      return malformed("more than 100 signatures");
    }
    if (!line.starts_with(k_signature_prefix)) {
      return malformed("a line after the blank line is not a signature");
    }
    line.remove_prefix(k_signature_prefix.size());
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return malformed("a signature line has no signature");
    }
    SignatureLine signature;
    signature.name = line.substr(0, space);
    if (!is_key_name(signature.name)) {
      return malformed("a signature line has an invalid key name");
    }
    auto blob = decode_canonical_base64(line.substr(space + 1));
    if (!blob || blob->size() < 5) {
      return malformed("a signature is not canonical base64 of a key hash and a signature");
    }
    for (int i = 0; i < 4; ++i) {
      signature.key_hash = (signature.key_hash << 8) | static_cast<unsigned char>((*blob)[i]);
    }
    signature.signature = blob->substr(4);
    split.signatures.push_back(std::move(signature));
  }
  return split;
}

Result<void> check_signatures(const SplitNote& note, const NoteVerifier& verifier) {
  std::size_t verified = 0;
  for (const SignatureLine& line : note.signatures) {
    if (line.name != verifier.name || line.key_hash != verifier.key_hash) {
      continue;
    }
    if (line.signature.size() != k_ed25519_signature_size ||
        !ed25519_verify(verifier.public_key, note.text, line.signature)) {
      return make_error(Errc::crypto, "invalid note signature by " + verifier.name);
    }
    ++verified;
  }
  if (verified == 0) {
    return make_error(Errc::crypto, "the note has no signature by " + verifier.name);
  }
  return {};
}

Error malformed_checkpoint(std::string message) {
  return make_error(Errc::corrupt, "malformed checkpoint: " + std::move(message));
}

Result<Checkpoint> parse_checkpoint_text(std::string_view text) {
  std::string_view lines[3];
  std::string_view rest = text;
  for (std::string_view& line : lines) {
    const std::size_t eol = rest.find('\n');
    if (eol == std::string_view::npos) {
      return malformed_checkpoint("fewer than three lines");
    }
    line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
  }
  if (!rest.empty()) {
    return malformed_checkpoint("extension lines are not supported");
  }
  Checkpoint checkpoint;
  if (lines[0].empty()) {
    return malformed_checkpoint("empty origin");
  }
  checkpoint.origin = std::string(lines[0]);
  const auto size = parse_size(lines[1]);
  if (!size) {
    return malformed_checkpoint("the size is not a canonical decimal number");
  }
  checkpoint.size = *size;
  const auto root = decode_canonical_base64(lines[2]);
  if (!root || root->size() != checkpoint.root.size()) {
    return malformed_checkpoint("the root is not canonical base64 of 32 bytes");
  }
  std::copy(root->begin(), root->end(), checkpoint.root.begin());
  return checkpoint;
}

} // namespace

std::string checkpoint_text(const Checkpoint& checkpoint) {
  const std::string_view root(reinterpret_cast<const char*>(checkpoint.root.data()),
                              checkpoint.root.size());
  return checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" + base64_encode(root) +
         "\n";
}

std::uint32_t note_key_hash(std::string_view name, const Bytes& public_key) {
  Sha256 hasher;
  hasher.update(name);
  hasher.update("\n");
  hasher.update(&k_ed25519_algorithm, 1);
  hasher.update(public_key.data(), public_key.size());
  const Hash digest = hasher.finish();
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
}

std::string verifier_string(std::string_view name, const Bytes& public_key) {
  Bytes key{k_ed25519_algorithm};
  key.insert(key.end(), public_key.begin(), public_key.end());
  return std::string(name) + "+" + to_hex(key_hash_bytes(note_key_hash(name, public_key))) + "+" +
         base64_encode(key);
}

Result<NoteVerifier> parse_verifier(std::string_view text) {
  const std::size_t first = text.find('+');
  const std::size_t second = first == std::string_view::npos ? first : text.find('+', first + 1);
  if (second == std::string_view::npos) {
    return make_error(Errc::invalid_argument, "a verifier key is <name>+<hash>+<key>");
  }
  NoteVerifier verifier;
  verifier.name = std::string(text.substr(0, first));
  if (!is_key_name(verifier.name)) {
    return make_error(Errc::invalid_argument, "the verifier key has an invalid name");
  }
  const std::string_view hash_hex = text.substr(first + 1, second - first - 1);
  if (!is_lower_hex(hash_hex, 8)) {
    return make_error(Errc::invalid_argument,
                      "the verifier key hash is not 8 lowercase hex digits");
  }
  const auto key = decode_canonical_base64(text.substr(second + 1));
  if (!key || key->size() != 1 + k_ed25519_public_key_size ||
      static_cast<std::uint8_t>((*key)[0]) != k_ed25519_algorithm) {
    return make_error(Errc::invalid_argument, "the verifier key is not an Ed25519 key");
  }
  verifier.public_key.assign(key->begin() + 1, key->end());
  verifier.key_hash = note_key_hash(verifier.name, verifier.public_key);
  if (hash_hex != to_hex(key_hash_bytes(verifier.key_hash))) {
    return make_error(Errc::invalid_argument, "the verifier key hash does not match the key");
  }
  return verifier;
}

std::string sign_checkpoint(const Checkpoint& checkpoint,
                            std::string_view key_name,
                            const Ed25519PrivateKey& key) {
  return detail::sign_note(checkpoint_text(checkpoint), key_name, key);
}

Result<Checkpoint> open_checkpoint(std::string_view note, const NoteVerifier& verifier) {
  auto split = split_note(note);
  DG_TRY(split);
  auto checkpoint = parse_checkpoint_text(split->text);
  DG_TRY(checkpoint);
  DG_TRY(check_signatures(*split, verifier));
  return checkpoint;
}

Result<Checkpoint> parse_checkpoint(std::string_view note) {
  auto split = split_note(note);
  DG_TRY(split);
  return parse_checkpoint_text(split->text);
}

std::optional<std::uint64_t> checkpoint_size(std::string_view note) {
  const std::size_t first = note.find('\n');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t second = note.find('\n', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  return parse_size(note.substr(first + 1, second - first - 1));
}

namespace detail {

std::string
sign_note(std::string_view text, std::string_view key_name, const Ed25519PrivateKey& key) {
  const Bytes public_key = key.public_key();
  Bytes blob = key_hash_bytes(note_key_hash(key_name, public_key));
  const Bytes signature = key.sign(text);
  blob.insert(blob.end(), signature.begin(), signature.end());
  std::string note(text);
  note += "\n";
  note += k_signature_prefix;
  note += key_name;
  note += " ";
  note += base64_encode(blob);
  note += "\n";
  return note;
}

Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier) {
  auto split = split_note(note);
  DG_TRY(split);
  DG_TRY(check_signatures(*split, verifier));
  return std::string(split->text);
}

} // namespace detail

} // namespace dg::ledger
