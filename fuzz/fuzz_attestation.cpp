// Signatures, attestations and checkpoints. The input, when it is JSON, is checked both as a cosign
// signature entry and as a DSSE attestation entry against fixed trusted keys; its bytes are also a
// DSSE payload type and payload (split at the first newline) and a signed checkpoint note.
#include "fuzz/fixtures.hpp"

#include "ledger/checkpoint.hpp"
#include "policy/attestation.hpp"
#include "util/crypto.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using nlohmann::json;

void check_json(const json& doc) {
  static const auto keys = dg::fuzz::trusted_keys();

  auto signature =
      dg::policy::check_cosign_signature(doc, keys, dg::fuzz::k_digest, dg::fuzz::k_repository);
  DG_FUZZ_CHECK(signature.error.empty() == (signature.verified && signature.binds),
                "a signature finding has an error exactly when it does not verify and bind");
  DG_FUZZ_CHECK(signature.verified == !signature.key.empty(), "a verified signature names its key");
  auto signatures = dg::policy::evaluate_signatures({}, {signature});
  DG_FUZZ_CHECK(signatures.empty() == signature.error.empty(),
                "a signature satisfies the requirement exactly when it has no error");

  auto provenance = dg::policy::check_attestation(doc, keys, dg::fuzz::k_digest);
  DG_FUZZ_CHECK(provenance.verified == !provenance.key.empty(),
                "a verified attestation names its key");
  if (provenance.error.empty()) {
    DG_FUZZ_CHECK(provenance.verified && provenance.subject_matches,
                  "an attestation without error verified and names the digest");
  }
  dg::policy::evaluate_provenance({}, {provenance}, dg::fuzz::k_commit, dg::fuzz::k_builder);
}

void check_pae(std::string_view input) {
  auto newline = input.find('\n');
  std::string_view type = input.substr(0, newline);
  std::string_view body = newline == input.npos ? std::string_view() : input.substr(newline + 1);
  std::string pae = dg::policy::dsse_pae(type, body);
  std::string head = "DSSEv1 " + std::to_string(type.size()) + " ";
  std::string middle = " " + std::to_string(body.size()) + " ";
  DG_FUZZ_CHECK(pae.size() == head.size() + type.size() + middle.size() + body.size() &&
                    pae.compare(0, head.size(), head) == 0 &&
                    pae.compare(head.size(), type.size(), type) == 0 &&
                    pae.compare(head.size() + type.size(), middle.size(), middle) == 0 &&
                    pae.compare(pae.size() - body.size(), body.size(), body) == 0,
                "the PAE is 'DSSEv1 <len> <type> <len> <body>'");
}

void check_note(std::string_view input) {
  static const auto verifier = [] {
    auto parsed = dg::ledger::parse_verifier(
        dg::ledger::verifier_string(dg::fuzz::k_origin, dg::fuzz::signing_key().public_key()));
    DG_FUZZ_CHECK(parsed.ok(), "the fixed verifier parses");
    return *parsed;
  }();

  auto parsed = dg::ledger::parse_checkpoint(input);
  auto opened = dg::ledger::open_checkpoint(input, verifier);
  if (opened) {
    DG_FUZZ_CHECK(parsed.ok() && parsed->origin == opened->origin && parsed->size == opened->size &&
                      parsed->root == opened->root,
                  "an opened checkpoint is the one its text says");
  }
  if (parsed) {
    auto text = dg::ledger::checkpoint_text(*parsed);
    auto reparsed = dg::ledger::parse_checkpoint(
        dg::ledger::sign_checkpoint(*parsed, dg::fuzz::k_origin, dg::fuzz::signing_key()));
    DG_FUZZ_CHECK(reparsed.ok() && reparsed->origin == parsed->origin &&
                      reparsed->size == parsed->size && reparsed->root == parsed->root,
                  "a parsed checkpoint signs and parses again to itself");
    DG_FUZZ_CHECK(input.compare(0, text.size(), text) == 0,
                  "a parsed checkpoint's text is the note's first lines");
  }

  if (auto v = dg::ledger::parse_verifier(input)) {
    DG_FUZZ_CHECK(v->public_key.size() == 32, "a verifier holds a 32-byte Ed25519 key");
    DG_FUZZ_CHECK(v->key_hash == dg::ledger::note_key_hash(v->name, v->public_key),
                  "a verifier's key hash is that of its name and key");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  json doc = json::parse(input, nullptr, false);
  if (!doc.is_discarded()) {
    check_json(doc);
  }
  check_pae(input);
  check_note(input);
  return 0;
}
