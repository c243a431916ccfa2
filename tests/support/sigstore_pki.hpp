// A private Sigstore made with OpenSSL for the tests: a Fulcio-like certificate authority, a
// Rekor-like transparency log (signed checkpoints and signed entry timestamps), a CT log that
// embeds SCTs in the certificates, and an RFC 3161 timestamp authority, with a trusted_root.json
// that lists them. Each bundle it makes can have one check broken at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dg::test {

inline constexpr const char* k_sigstore_issuer = "https://token.actions.githubusercontent.com";
inline constexpr const char* k_sigstore_subject =
    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2";

class SigstorePki {
public:
  // What a bundle holds, and what is broken in it.
  struct Options {
    std::string subject = k_sigstore_subject;
    std::string issuer = k_sigstore_issuer;
    bool dsse = false;               // sign `content` as a DSSE envelope of payload type in-toto
    bool set = true;                 // give the log entry a signed entry timestamp
    bool tsa = false;                // add an RFC 3161 timestamp
    bool other_ca = false;           // the leaf is issued by a CA outside the trust root
    bool expired_at_signing = false; // the entry is integrated after the leaf expired
    bool bad_set = false;            // the SET is signed by another key
    bool bad_proof = false;          // a hash of the inclusion proof is flipped
    bool bad_checkpoint = false;     // the checkpoint is signed by another key
    bool unknown_log = false;        // the entry names a log the trust root does not list
    bool other_body = false;         // the log entry logs another signature
    bool bad_sct = false;            // the SCT is signed by another key
    bool bad_signature = false;      // the signature (logged as it is) is by another key
    bool bad_tsa = false;            // the timestamp is from a TSA outside the trust root
    bool other_certificate_in_body = false; // the log entry logs another certificate
    bool other_digest_in_body = false;      // the log entry logs another artifact or payload hash
    bool other_tree_checkpoint = false;     // the checkpoint (signed by the log) is of another tree
    bool no_sct = false;                    // the leaf has no embedded SCT
    bool unknown_ct_log = false;            // the SCT is from a CT log the trust root does not list
    // Log the entry in the Rekor v2 log instead (hashedrekord or dsse 0.0.2, an Ed25519 C2SP
    // checkpoint, no integrated time and no SET); such a bundle is dated by an RFC 3161 timestamp
    // (`tsa`) or by nothing.
    bool rekor_v2 = false;
  };

  SigstorePki();
  ~SigstorePki();
  SigstorePki(const SigstorePki&) = delete;
  SigstorePki& operator=(const SigstorePki&) = delete;

  // A trusted_root.json listing the CA and, when asked, the logs (Rekor v1 and v2), the CT log and
  // the TSA.
  nlohmann::json trusted_root(bool tlogs = true, bool ctlogs = true, bool tsas = true) const;

  // A 0.3 bundle over `content`: the artifact of a message signature, or the in-toto statement of
  // a DSSE envelope (Options::dsse).
  nlohmann::json bundle(std::string_view content, const Options& options) const;

  // An in-toto statement whose subject is `digest` ("sha256:<hex>"), with a SLSA v1 predicate
  // built by `builder_id` from `repository` at `commit` when `builder_id` is not empty.
  static std::string statement(std::string_view digest,
                               std::string_view builder_id = "",
                               std::string_view repository = "",
                               std::string_view commit = "");
  // A cosign simple-signing payload naming `repository` and `digest`.
  static std::string cosign_payload(std::string_view repository, std::string_view digest);

  // The signing time of every bundle (Unix seconds).
  static constexpr std::int64_t k_signing_time = 1'780'000'000;

private:
  struct State;
  std::unique_ptr<State> m_state;
};

// A message-signature bundle with one check broken, the check of the contract's list it then
// fails (as policy::sigstore names it), and words of that check's own message.
struct BrokenBundle {
  const char* name;
  SigstorePki::Options options;
  const char* check;
  const char* message;
};
// Every way a bundle is broken alone, each against SigstorePki::trusted_root() with all its parts:
// the verifier's unit tests, the daemon's and the CLI's end-to-end tests run the same table.
std::vector<BrokenBundle> broken_bundles();

} // namespace dg::test
