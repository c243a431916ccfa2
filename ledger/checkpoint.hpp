// Signed checkpoints in the signed-note format used by transparency logs (Go's
// golang.org/x/mod/sumdb/note, C2SP tlog-checkpoint):
//
//   <origin>\n<size>\n<base64 root hash>\n\n— <key name> <base64(key hash || signature)>\n
//
// The key hash is the first 4 bytes of SHA-256(<key name> || "\n" || 0x01 || <32-byte Ed25519
// public key>), and the signature is Ed25519 over the note text up to and including the newline
// after the root hash. The verifier string is "<key name>+<8 hex key hash>+<base64(0x01 ||
// public key)>". See docs/ledger.md.
#pragma once

#include "util/crypto.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dg::ledger {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
};

// A public key that verifies notes.
struct NoteVerifier {
  std::string name;
  Bytes public_key; // 32 bytes, Ed25519
  std::uint32_t key_hash = 0;
};

// The signed text: "<origin>\n<size>\n<base64 root>\n".
std::string checkpoint_text(const Checkpoint& checkpoint);

// The 4-byte key hash of an Ed25519 key named `name`.
std::uint32_t note_key_hash(std::string_view name, const Bytes& public_key);

// "<name>+<hex key hash>+<base64(0x01 || public key)>".
std::string verifier_string(std::string_view name, const Bytes& public_key);

Result<NoteVerifier> parse_verifier(std::string_view text);

// The complete signed note for `checkpoint`, signed by `key` under the name `key_name`.
std::string sign_checkpoint(const Checkpoint& checkpoint,
                            std::string_view key_name,
                            const Ed25519PrivateKey& key);

// Parse a signed note and check that a signature line by `verifier` verifies. Fails with
// Errc::corrupt on a malformed note, Errc::crypto on a missing or bad signature.
Result<Checkpoint> open_checkpoint(std::string_view note, const NoteVerifier& verifier);

// Parse the note's checkpoint text without checking any signature.
Result<Checkpoint> parse_checkpoint(std::string_view note);

// The tree size a note's checkpoint states (its second line), read without splitting the note,
// decoding the root or checking any signature: for a note the ledger itself made, on paths that
// need the size alone. nullopt when the second line is not a canonical decimal number.
std::optional<std::uint64_t> checkpoint_size(std::string_view note);

// The signed-note layer under checkpoints, for any note text.
namespace detail {

// "<text>\n— <key name> <base64(key hash || signature)>\n". `text` ends with a newline.
std::string
sign_note(std::string_view text, std::string_view key_name, const Ed25519PrivateKey& key);

// Split `note` into its text and signature lines and check that `verifier` signed the text;
// returns the text (up to and including its last newline). Errors as for open_checkpoint.
Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier);

} // namespace detail

} // namespace dg::ledger
