// verify_bundle: every check of the contract's list, judged in its order, the first failure
// reported with its own message. See docs/sigstore.md.
#include "policy/attestation.hpp"
#include "policy/glob.hpp"
#include "policy/sigstore.hpp"
#include "policy/sigstore_openssl.hpp"
#include "policy/sigstore_rekor.hpp"
#include "util/time.hpp"

#include <openssl/x509.h>

#include <algorithm>

namespace dg::policy::sigstore {

namespace {

using json = nlohmann::json;

std::string entry_name(std::size_t i) {
  return "log entry " + std::to_string(i) + ": ";
}

// What the transparency-log entries and timestamps establish.
struct Evidence {
  std::vector<Seconds> times; // verified signing times
  std::size_t logged = 0;     // entries from a trusted log whose SET and proof verified
  std::size_t matching = 0;   // of those, entries whose body is this bundle
  std::string log_error;      // why the first entry failed its log checks
  std::string body_error;     // why the first logged entry's body did not match
  std::string validity_error; // an integrated time outside the certificate's validity
  std::string time_error;     // why no timestamp verified
  std::optional<std::int64_t> log_index;
  std::optional<Seconds> integrated_time;
  // Entries that verified without an integrated time (Rekor v2), by index, with their log: its key
  // must be valid at every verified signing time instead.
  std::vector<std::pair<std::size_t, const LogKey*>> undated;
};

const LogKey* find_log(const TrustedRoot& root, const Bytes& id) {
  for (const LogKey& log : root.tlogs) {
    if (log.log_id == id) {
      return &log;
    }
  }
  return nullptr;
}

void judge_entry(std::size_t i,
                 const TlogEntry& entry,
                 const Bundle& bundle,
                 const TrustedRoot& root,
                 x509_st* leaf,
                 Evidence& ev) {
  auto note = [&](std::string& slot, const std::string& message) {
    if (slot.empty()) {
      slot = entry_name(i) + message;
    }
  };
  const LogKey* log = find_log(root, entry.log_id);
  if (log == nullptr) {
    return note(ev.log_error, "it is from no transparency log of the trust root");
  }
  if (entry.signed_entry_timestamp) {
    if (auto ok = detail::verify_set(entry, *log); !ok) {
      return note(ev.log_error, ok.error().message);
    }
  }
  if (entry.inclusion_proof) {
    if (auto ok = detail::verify_inclusion(entry, *log); !ok) {
      return note(ev.log_error, ok.error().message);
    }
  }
  if (!entry.signed_entry_timestamp && !entry.inclusion_proof) {
    return note(ev.log_error, "it has neither an inclusion proof nor a signed entry timestamp");
  }
  ++ev.logged;
  if (auto ok = detail::compare_body(entry, bundle); !ok) {
    return note(ev.body_error, ok.error().message);
  }
  ++ev.matching;
  if (entry.integrated_time != 0 && (entry.integrated_time < detail::not_before(leaf) ||
                                     entry.integrated_time > detail::not_after(leaf))) {
    note(ev.validity_error,
         "its integrated time is outside the signing certificate's validity period");
    return;
  }
  if (!ev.log_index) {
    ev.log_index = entry.log_index;
  }
  if (entry.integrated_time == 0) {
    ev.undated.emplace_back(i, log);
  }
  if (entry.signed_entry_timestamp && entry.integrated_time != 0) {
    if (!ev.integrated_time) {
      ev.integrated_time = entry.integrated_time;
    }
    ev.times.push_back(entry.integrated_time);
  }
}

Evidence gather(const Bundle& bundle, const TrustedRoot& root, x509_st* leaf) {
  Evidence ev;
  for (std::size_t i = 0; i < bundle.tlog_entries.size(); ++i) {
    judge_entry(i, bundle.tlog_entries[i], bundle, root, leaf, ev);
  }
  for (const std::string& der : bundle.rfc3161_timestamps) {
    auto t = detail::verify_timestamp(der, bundle.signature, root);
    if (t) {
      ev.times.push_back(*t);
    } else if (ev.time_error.empty()) {
      ev.time_error = t.error().message;
    }
  }
  return ev;
}

std::string digest_name(const std::string& bundle_algorithm) {
  if (bundle_algorithm == "SHA2_256") {
    return "sha256";
  }
  if (bundle_algorithm == "SHA2_384") {
    return "sha384";
  }
  if (bundle_algorithm == "SHA2_512") {
    return "sha512";
  }
  return {};
}

Result<void> check_signature(const Bundle& bundle, const Artifact& artifact, evp_pkey_st* key) {
  auto failed = [](std::string m) { return make_error(Errc::crypto, std::move(m)); };
  DG_TRY(detail::check_signing_key(key));
  if (bundle.dsse) {
    const std::string pae = dsse_pae(bundle.payload_type, bundle.payload);
    if (!detail::verify_message(key, pae, bundle.signature, detail::default_digest(key))) {
      return failed("the DSSE envelope's signature does not verify under the certificate's key");
    }
    return {};
  }
  const void* md = detail::digest_by_name(digest_name(bundle.digest_algorithm));
  if (md == nullptr) {
    return failed("the message digest algorithm \"" + bundle.digest_algorithm +
                  "\" is not SHA2_256, SHA2_384 or SHA2_512");
  }
  const bool ok = artifact.bytes
                      ? detail::verify_message(key, *artifact.bytes, bundle.signature, md)
                      : detail::verify_digest(key, bundle.message_digest, bundle.signature, md);
  if (!ok) {
    return failed(artifact.bytes
                      ? "the message signature does not verify over the artifact under the "
                        "certificate's key"
                      : "the message signature does not verify over the message digest under the "
                        "certificate's key");
  }
  return {};
}

Result<void> check_statement(const Bundle& bundle, const Artifact& artifact) {
  auto failed = [](std::string m) { return make_error(Errc::invalid_argument, std::move(m)); };
  if (bundle.payload_type != k_in_toto_payload_type) {
    return failed("the DSSE payload type is \"" + bundle.payload_type + "\", not " +
                  k_in_toto_payload_type);
  }
  const json statement = json::parse(bundle.payload, nullptr, false);
  const std::string algorithm = artifact.bytes ? "sha256" : artifact.digest_algorithm;
  const std::string hex =
      artifact.bytes ? to_hex(sha256(*artifact.bytes)) : to_hex(artifact.digest);
  if (statement.is_discarded() || !statement.is_object() || !statement.contains("subject") ||
      !statement["subject"].is_array()) {
    return failed("the DSSE payload is not an in-toto statement with subjects");
  }
  for (const json& subject : statement["subject"]) {
    if (subject.is_object() && subject.contains("digest") && subject["digest"].is_object()) {
      const json& digests = subject["digest"];
      auto it = digests.find(algorithm);
      if (it != digests.end() && it->is_string() && it->get<std::string>() == hex) {
        return {};
      }
    }
  }
  return failed("the in-toto statement's subjects do not include " + algorithm + ":" + hex);
}

Result<void> check_artifact(const Bundle& bundle, const Artifact& artifact) {
  if (bundle.dsse) {
    return check_statement(bundle, artifact);
  }
  const std::string name = digest_name(bundle.digest_algorithm);
  const std::string digest =
      artifact.bytes ? detail::digest_of(*artifact.bytes, detail::digest_by_name(name))
                     : (artifact.digest_algorithm == name ? artifact.digest : std::string());
  if (digest.empty() || digest != bundle.message_digest) {
    return make_error(Errc::invalid_argument,
                      "the bundle's message digest is not the artifact's " + name + " digest");
  }
  return {};
}

Verification failure(Verification v, Check check, std::string message) {
  v.verified = false;
  v.failed = check;
  v.error = std::move(message);
  return v;
}

} // namespace

const char* to_string(Check check) {
  switch (check) {
  case Check::bundle:
    return "bundle";
  case Check::certificate:
    return "certificate";
  case Check::time:
    return "signing-time";
  case Check::tlog:
    return "transparency-log";
  case Check::tlog_body:
    return "log-entry-body";
  case Check::sct:
    return "sct";
  case Check::signature:
    return "signature";
  case Check::artifact:
    return "artifact";
  }
  return "bundle";
}

Verification
verify_bundle(const Bundle& bundle, const TrustedRoot& root, const Artifact& artifact) {
  Verification v;
  auto leaf = detail::parse_certificate(bundle.leaf_der, "the signing certificate");
  if (!leaf) {
    return failure(std::move(v), Check::bundle, leaf.error().message);
  }
  v.identity = detail::read_identity(leaf->get());
  // Like sigstore-go, only the leaf of a 0.1/0.2 certificate chain is used: the issuing chain
  // comes from the trust root, so further certificates (even a root) cannot widen what is trusted.
  Evidence ev = gather(bundle, root, leaf->get());
  v.log_index = ev.log_index;
  v.integrated_time = ev.integrated_time;
  v.signing_times = ev.times;

  if (!ev.validity_error.empty()) {
    return failure(std::move(v), Check::certificate, ev.validity_error);
  }
  const std::vector<Seconds> at =
      ev.times.empty() ? std::vector<Seconds>{detail::not_before(leaf->get())} : ev.times;
  for (Seconds t : at) {
    if (auto ok = detail::verify_chain(leaf->get(), root, t); !ok) {
      return failure(std::move(v), Check::certificate, ok.error().message);
    }
  }
  if (ev.times.empty()) {
    std::string why = !ev.log_error.empty()    ? ev.log_error
                      : !ev.body_error.empty() ? ev.body_error
                      : !ev.time_error.empty() ? ev.time_error
                                               : "the bundle has no signed entry timestamp and no "
                                                 "RFC 3161 timestamp";
    return failure(std::move(v), Check::time, "no verified signing time: " + why);
  }
  if (!ev.time_error.empty()) {
    return failure(std::move(v), Check::time, ev.time_error);
  }
  if (!root.tlogs.empty() && ev.logged == 0) {
    return failure(std::move(v), Check::tlog,
                   "no transparency-log entry verifies: " +
                       (ev.log_error.empty() ? std::string("the bundle has none") : ev.log_error));
  }
  if (!root.tlogs.empty() && ev.matching == 0) {
    return failure(std::move(v), Check::tlog_body, ev.body_error);
  }
  for (const auto& [index, log] : ev.undated) {
    for (Seconds t : ev.times) {
      if (!log->valid.contains(t)) {
        return failure(std::move(v), Check::tlog,
                       entry_name(index) +
                           "the transparency log's key was not valid at the signing time, " +
                           format_rfc3339(t * 1'000'000'000));
      }
    }
  }
  if (!root.ctlogs.empty()) {
    if (auto ok = detail::verify_embedded_sct(leaf->get(), root); !ok) {
      return failure(std::move(v), Check::sct, ok.error().message);
    }
  }
  if (auto ok = check_signature(bundle, artifact, X509_get0_pubkey(leaf->get())); !ok) {
    return failure(std::move(v), Check::signature, ok.error().message);
  }
  if (auto ok = check_artifact(bundle, artifact); !ok) {
    return failure(std::move(v), Check::artifact, ok.error().message);
  }
  v.verified = true;
  return v;
}

bool identity_matches(const IdentityRule& rule, const CertificateIdentity& identity) {
  return !identity.malformed && !identity.issuer.empty() && identity.issuer == rule.issuer &&
         !identity.subject.empty() && glob_match(rule.subject, identity.subject);
}

Result<Artifact> artifact_from_digest(std::string_view digest) {
  const std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return make_error(Errc::invalid_argument, "a digest is ALGORITHM:HEX");
  }
  const std::string algorithm(digest.substr(0, colon));
  const std::size_t sizes[] = {32, 48, 64};
  const char* names[] = {"sha256", "sha384", "sha512"};
  for (int i = 0; i < 3; ++i) {
    if (algorithm == names[i]) {
      auto raw = from_hex(digest.substr(colon + 1));
      if (!raw || raw->size() != sizes[i]) {
        return make_error(Errc::invalid_argument, "a " + algorithm + " digest is " +
                                                      std::to_string(sizes[i] * 2) +
                                                      " hex characters");
      }
      Artifact out;
      out.digest_algorithm = algorithm;
      out.digest.assign(raw->begin(), raw->end());
      return out;
    }
  }
  return make_error(Errc::invalid_argument,
                    "digest algorithm \"" + algorithm + "\" is not sha256, sha384 or sha512");
}

} // namespace dg::policy::sigstore
