// Keyless signatures: Sigstore bundles verified offline against a pinned trust root.
//
// A bundle (github.com/sigstore/protobuf-specs, bundle media types 0.1, 0.2 and 0.3) carries a
// Fulcio certificate, Rekor transparency-log entries, RFC 3161 timestamps and either a message
// signature or a DSSE envelope. A trust root (`trusted_root.json`, the same specs) lists the
// certificate authorities, transparency logs, CT logs and timestamp authorities to trust, each
// with its validity window. verify_bundle checks everything the contract lists (see
// docs/sigstore.md for each check, its message and where this follows sigstore-go) with OpenSSL
// and no I/O: callers hand bytes in.
//
// Every input is hostile: parse functions refuse what they do not understand with a message that
// names the field; nothing here throws on bad input. All functions are thread-safe; a parsed
// TrustedRoot is immutable and may be shared between threads.
#pragma once

#include "util/crypto.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;
struct x509_st;

namespace dg::policy::sigstore {

// Seconds since the Unix epoch, UTC.
using Seconds = std::int64_t;

// The largest bundle or trust root text parsed, and the most entries of each kind a bundle may
// carry (sigstore-go allows 32 log entries).
inline constexpr std::size_t k_max_document_size = 4 * 1024 * 1024;
inline constexpr std::size_t k_max_entries = 32;

// A closed interval [start, end]; no end means open-ended.
struct Validity {
  Seconds start = 0;
  std::optional<Seconds> end;
  bool contains(Seconds t) const { return t >= start && (!end || t <= *end); }
};

// A transparency log or CT log of a trust root.
struct LogKey {
  std::string base_url;
  Bytes log_id; // logId.keyId: SHA-256 of the key's DER SubjectPublicKeyInfo
  std::shared_ptr<evp_pkey_st> key;
  std::string spki_der; // the key's DER SubjectPublicKeyInfo
  Validity valid;
};

// A certificate authority or timestamp authority of a trust root.
struct Authority {
  std::string uri;
  std::vector<std::shared_ptr<x509_st>>
      chain; // as listed: the issuing certificate first, root last
  Validity valid;
};

struct TrustedRoot {
  std::vector<LogKey> tlogs;
  std::vector<LogKey> ctlogs;
  std::vector<Authority> certificate_authorities;
  std::vector<Authority> timestamp_authorities;
};

// Parse a trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json;version=0.1
// or the unversioned form). Fails on a missing validity start, a key or certificate that does not
// parse, or an unknown field.
Result<TrustedRoot> parse_trusted_root(std::string_view text);

struct InclusionProof {
  std::int64_t log_index = 0; // the index in the log's tree (a shard), not the entry's log index
  Hash root_hash{};
  std::int64_t tree_size = 0;
  std::vector<Hash> hashes;
  std::string checkpoint; // a signed note
};

struct TlogEntry {
  std::int64_t log_index = 0;
  Bytes log_id;
  std::string kind;
  std::string version;
  std::int64_t integrated_time = 0;
  std::optional<std::string> signed_entry_timestamp;
  std::optional<InclusionProof> inclusion_proof;
  std::string canonicalized_body; // decoded
};

struct Bundle {
  std::string media_type;
  int minor_version = 0;              // 1, 2 or 3
  std::string leaf_der;               // the signing certificate
  std::vector<std::string> chain_der; // further certificates of a 0.1/0.2 x509CertificateChain
  std::vector<TlogEntry> tlog_entries;
  std::vector<std::string> rfc3161_timestamps; // DER TimeStampResp
  bool dsse = false;
  // messageSignature: the digest algorithm as the bundle names it ("SHA2_256", "SHA2_384",
  // "SHA2_512") and the digest's bytes.
  std::string digest_algorithm;
  std::string message_digest;
  // The message signature, or the DSSE envelope's only signature.
  std::string signature;
  // dsseEnvelope: the payload type and the decoded payload.
  std::string payload_type;
  std::string payload;
};

// Parse a bundle. Fails with a message naming the field on anything not understood: an unknown
// media type or field, a public key instead of a certificate (keyless only), a 0.3 bundle with a
// certificate chain, a 0.1 bundle's entry without a signed entry timestamp or a later bundle's
// entry without an inclusion proof, a negative index, bad base64.
Result<Bundle> parse_bundle(const nlohmann::json& doc);
Result<Bundle> parse_bundle_text(std::string_view text);

// What a bundle must sign: the artifact's bytes, or its digest.
struct Artifact {
  std::optional<std::string> bytes;
  std::string digest_algorithm; // "sha256", "sha384" or "sha512" (with `digest`)
  std::string digest;           // raw bytes
};

// The identity in a Fulcio certificate, and the GitHub workflow extensions shown beside it.
struct CertificateIdentity {
  std::string subject; // the SAN: URI or email
  std::string issuer;  // OIDC issuer: OID 1.3.6.1.4.1.57264.1.8, else the legacy .1.1
  std::string github_workflow_trigger;    // .1.2
  std::string github_workflow_sha;        // .1.3
  std::string github_workflow_name;       // .1.4
  std::string github_workflow_repository; // .1.5
  std::string github_workflow_ref;        // .1.6
  std::string build_signer_uri;           // .1.9
  std::string source_repository_uri;      // .1.12
  std::string source_repository_digest;   // .1.13
  std::string source_repository_ref;      // .1.14
  std::string run_invocation_uri;         // .1.21
  // Every string above is valid UTF-8: bytes of the certificate that are not are replaced by
  // U+FFFD. When the SAN or the issuer had such bytes, the identity matches no rule.
  bool malformed = false;
};

// The checks of verify_bundle, in the order they are judged.
enum class Check { bundle, certificate, time, tlog, tlog_body, sct, signature, artifact };
const char* to_string(Check check);

struct Verification {
  bool verified = false;
  Check failed = Check::bundle; // the first check that failed, when !verified
  std::string error;
  CertificateIdentity identity;           // from the leaf whenever it parses, verified or not
  std::optional<std::int64_t> log_index;  // the first verified log entry's
  std::optional<Seconds> integrated_time; // its integrated time, when its SET verified
  std::vector<Seconds> signing_times;     // every verified signing time
};

// Verify `bundle` against `root` for `artifact`. For a DSSE bundle the artifact is a subject of the
// in-toto statement: its digest (`digest`, or the SHA-256 of `bytes`) must be listed.
Verification verify_bundle(const Bundle& bundle, const TrustedRoot& root, const Artifact& artifact);

// A policy's allowed keyless identity: `issuer` exact, `subject` a glob (policy/glob.hpp).
struct IdentityRule {
  std::string trusted_root;
  std::string issuer;
  std::string subject;
};
bool identity_matches(const IdentityRule& rule, const CertificateIdentity& identity);

// "sha256:<hex>" (or sha384, sha512) to an Artifact by digest; fails on anything else.
Result<Artifact> artifact_from_digest(std::string_view digest);

} // namespace dg::policy::sigstore
