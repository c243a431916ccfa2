// dg_bench_sigstore: the cost of verifying one Sigstore bundle against bare OpenSSL verifications
// of the same keys and certificates, in one process run.
//
// usage: dg_bench_sigstore [--bundles N] [--rounds R]
//
// The bundles come from the test Sigstore of dg_testkit (tests/support/sigstore_pki): a Fulcio-like
// CA and intermediate, a Rekor-like log, a CT log, all ECDSA P-256; each bundle is a message
// signature over a distinct cosign payload, from a fresh key and leaf certificate with an embedded
// SCT, with one log entry carrying an inclusion proof, a signed checkpoint and a signed entry
// timestamp. Timed, alternating round by round (medians reported):
//   - verify:   sigstore::verify_bundle on the parsed bundle and trust root (everything the
//               contract checks: chain at the signing time, SET, inclusion proof and checkpoint,
//               log entry body, SCT, signature, artifact);
//   - baseline: for the same bundle, the bare OpenSSL calls that verification cannot do without,
//               on the same keys and certificates, their inputs prepared before the clock starts:
//               one X509_verify_cert of the leaf to the pinned root at the signing time (a
//               prepared X509_STORE; the context made, initialised and freed per call) and four
//               EVP_DigestVerifyInit + EVP_DigestVerify (the artifact's signature, the SET, the
//               checkpoint's signature, the SCT).
// Also timed: parse_bundle (from the JSON text), and check_bundle as a promotion calls it (a
// record's bundle item against a SigstoreTrust: parse, bind the payload, verify) the first time
// and again (the verification remembered). Prints one JSON object.
#include "bench/support.hpp"

#include "policy/sigstore.hpp"
#include "policy/sigstore_policy.hpp"
#include "tests/support/sigstore_pki.hpp"
#include "util/crypto.hpp"

#include <openssl/ct.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <iostream>
#include <memory>

namespace {

namespace ss = dg::policy::sigstore;
using dg::bench::json;
using dg::test::SigstorePki;

constexpr const char* k_repository = "ghcr.io/acme/app";

std::string need(dg::Result<std::string> r, const char* what) {
  if (!r) {
    throw std::runtime_error(std::string(what) + ": " + r.error().message);
  }
  return *r;
}

std::string b64(const json& v) {
  return need(dg::base64_decode(v.get<std::string>()), "base64");
}

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

std::string der(int len, unsigned char* bytes) {
  if (len <= 0) {
    throw std::runtime_error("DER encoding failed");
  }
  std::string out(reinterpret_cast<char*>(bytes), static_cast<std::size_t>(len));
  OPENSSL_free(bytes);
  return out;
}

struct Signed {
  EVP_PKEY* key; // owned elsewhere
  std::string message;
  std::string signature;
};

// One bundle's bare OpenSSL work: a chain and four signatures.
struct Bare {
  std::shared_ptr<X509> leaf;
  std::vector<Signed> signatures;
};

// The signed data of the leaf's embedded SCT (RFC 6962 3.2), and its signature.
Signed sct_of(X509* leaf, X509* issuer, EVP_PKEY* ct_key) {
  auto* scts =
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf, NID_ct_precert_scts, nullptr, nullptr));
  if (scts == nullptr || sk_SCT_num(scts) != 1) {
    throw std::runtime_error("the leaf has no SCT");
  }
  const SCT* sct = sk_SCT_value(scts, 0);
  unsigned char* sig = nullptr;
  const std::size_t sig_len = SCT_get0_signature(sct, &sig);
  Signed out{ct_key, {}, std::string(reinterpret_cast<char*>(sig), sig_len)};
  const std::uint64_t when = SCT_get_timestamp(sct);
  SCT_LIST_free(scts);

  std::unique_ptr<X509, void (*)(X509*)> copy(X509_dup(leaf), X509_free);
  X509_EXTENSION_free(
      X509_delete_ext(copy.get(), X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1)));
  unsigned char* tbs_der = nullptr;
  const int tbs_len = i2d_re_X509_tbs(copy.get(), &tbs_der);
  const std::string tbs = der(tbs_len, tbs_der);
  unsigned char* spki = nullptr;
  const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
  const dg::Hash issuer_hash = dg::sha256(der(spki_len, spki));
  std::string& data = out.message;
  data.push_back(0);
  data.push_back(0);
  put_be(data, when, 8);
  put_be(data, 1, 2);
  data.append(issuer_hash.begin(), issuer_hash.end());
  put_be(data, tbs.size(), 3);
  data += tbs;
  put_be(data, 0, 2);
  return out;
}

// The inputs of the bare calls for `bundle`, read from its JSON as any client would.
Bare bare_of(const json& bundle, const std::string& artifact, const ss::TrustedRoot& root) {
  const json& material = bundle["verificationMaterial"];
  const std::string leaf_der = b64(material["certificate"]["rawBytes"]);
  const auto* p = reinterpret_cast<const unsigned char*>(leaf_der.data());
  Bare out;
  out.leaf.reset(d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())), X509_free);
  if (!out.leaf) {
    throw std::runtime_error("the leaf does not parse");
  }
  EVP_PKEY* leaf_key = X509_get0_pubkey(out.leaf.get());
  EVP_PKEY* log_key = root.tlogs.at(0).key.get();
  const json& entry = material["tlogEntries"][0];
  // The artifact's signature.
  out.signatures.push_back({leaf_key, artifact, b64(bundle["messageSignature"]["signature"])});
  // The signed entry timestamp over Rekor's canonical JSON of the entry.
  const std::string set_text =
      "{\"body\":\"" + entry["canonicalizedBody"].get<std::string>() +
      "\",\"integratedTime\":" + entry["integratedTime"].get<std::string>() + ",\"logID\":\"" +
      dg::to_hex(b64(entry["logId"]["keyId"])) +
      "\",\"logIndex\":" + entry["logIndex"].get<std::string>() + "}";
  out.signatures.push_back(
      {log_key, set_text, b64(entry["inclusionPromise"]["signedEntryTimestamp"])});
  // The checkpoint: the note's text, and its signature without the 4-byte key hint.
  const std::string note = entry["inclusionProof"]["checkpoint"]["envelope"];
  const std::size_t blank = note.find("\n\n");
  const std::size_t space = note.rfind(' ');
  const std::string note_sig =
      need(dg::base64_decode(note.substr(space + 1, note.size() - space - 2)), "checkpoint");
  out.signatures.push_back({log_key, note.substr(0, blank + 1), note_sig.substr(4)});
  // The embedded SCT.
  out.signatures.push_back(sct_of(out.leaf.get(),
                                  root.certificate_authorities.at(0).chain.at(0).get(),
                                  root.ctlogs.at(0).key.get()));
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Microseconds per item of `work` over `items` items.
template <typename Work>
double time_us(std::size_t items, Work&& work) {
  const auto started = dg::bench::Clock::now();
  work();
  return dg::bench::seconds_since(started) * 1e6 / static_cast<double>(items);
}

struct Chain {
  X509_STORE* store;
  STACK_OF(X509) * untrusted;
  std::time_t at;
};

bool bare_chain(const Chain& chain, X509* leaf) {
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = X509_STORE_CTX_init(ctx, chain.store, leaf, chain.untrusted) == 1;
  if (ok) {
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), chain.at);
    ok = X509_verify_cert(ctx) == 1;
  }
  X509_STORE_CTX_free(ctx);
  return ok;
}

bool bare_signature(const Signed& s) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, s.key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(s.signature.data()),
                       s.signature.size(), reinterpret_cast<const unsigned char*>(s.message.data()),
                       s.message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

json run(std::size_t count, int rounds) {
  const SigstorePki pki;
  const std::string root_text = pki.trusted_root().dump();
  auto root = ss::parse_trusted_root(root_text);
  if (!root) {
    throw std::runtime_error("trust root: " + root.error().message);
  }
  std::vector<std::string> artifacts;
  std::vector<std::string> texts;
  std::vector<json> items;
  std::vector<ss::Bundle> bundles;
  std::vector<Bare> bare;
  std::vector<std::string> digests;
  const auto made = dg::bench::Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    digests.push_back("sha256:" + dg::to_hex(dg::sha256("bench-sigstore-" + std::to_string(i))));
    artifacts.push_back(SigstorePki::cosign_payload(k_repository, digests.back()));
    const json bundle = pki.bundle(artifacts.back(), {});
    texts.push_back(bundle.dump());
    items.push_back({{"bundle", bundle}, {"payload", dg::base64_encode(artifacts.back())}});
    auto parsed = ss::parse_bundle(bundle);
    if (!parsed) {
      throw std::runtime_error("bundle: " + parsed.error().message);
    }
    bundles.push_back(std::move(*parsed));
    bare.push_back(bare_of(bundle, artifacts.back(), *root));
  }
  const double make_seconds = dg::bench::seconds_since(made);

  const auto& ca = root->certificate_authorities.at(0);
  Chain chain{X509_STORE_new(), sk_X509_new_null(),
              static_cast<std::time_t>(SigstorePki::k_signing_time)};
  X509_STORE_add_cert(chain.store, ca.chain.back().get());
  sk_X509_push(chain.untrusted, ca.chain.front().get());

  std::vector<double> verify_us, bare_us, chain_us, signature_us, parse_us;
  std::size_t failures = 0;
  for (int r = 0; r < rounds; ++r) {
    bare_us.push_back(time_us(count, [&] {
      for (const Bare& b : bare) {
        failures += bare_chain(chain, b.leaf.get()) ? 0 : 1;
        for (const Signed& s : b.signatures) {
          failures += bare_signature(s) ? 0 : 1;
        }
      }
    }));
    verify_us.push_back(time_us(count, [&] {
      for (std::size_t i = 0; i < count; ++i) {
        ss::Artifact artifact;
        artifact.bytes = artifacts[i];
        failures += ss::verify_bundle(bundles[i], *root, artifact).verified ? 0 : 1;
      }
    }));
    chain_us.push_back(time_us(count, [&] {
      for (const Bare& b : bare) {
        failures += bare_chain(chain, b.leaf.get()) ? 0 : 1;
      }
    }));
    signature_us.push_back(time_us(count * 4, [&] {
      for (const Bare& b : bare) {
        for (const Signed& s : b.signatures) {
          failures += bare_signature(s) ? 0 : 1;
        }
      }
    }));
    parse_us.push_back(time_us(count, [&] {
      for (const std::string& text : texts) {
        failures += ss::parse_bundle_text(text).ok() ? 0 : 1;
      }
    }));
  }
  // A promotion's path: check_bundle against a SigstoreTrust, first and remembered.
  dg::policy::SigstoreTrusts trusts;
  trusts["bench"] = std::make_shared<const dg::policy::SigstoreTrust>(
      "bench", *root, dg::bench::sha256_hex(root_text));
  auto check_all = [&] {
    for (std::size_t i = 0; i < count; ++i) {
      auto f = dg::policy::check_bundle(items[i], trusts, digests[i], k_repository);
      failures += f.by_root.count("bench") && f.by_root["bench"].verified ? 0 : 1;
    }
  };
  const double first_us = time_us(count, check_all);
  const double remembered_us = time_us(count, check_all);
  X509_STORE_free(chain.store);
  sk_X509_free(chain.untrusted);
  if (failures > 0) {
    throw std::runtime_error(std::to_string(failures) + " verifications failed");
  }
  const double v = median(verify_us);
  const double b = median(bare_us);
  return json{{"bundles", count},
              {"rounds", rounds},
              {"make_seconds", make_seconds},
              {"verify_us_per_bundle", v},
              {"baseline_us_per_bundle", b},
              {"ratio", v / b},
              {"baseline_calls_per_bundle",
               "1 X509_verify_cert + 4 EVP_DigestVerify (signature, SET, checkpoint, SCT)"},
              {"x509_verify_cert_us", median(chain_us)},
              {"evp_digest_verify_us", median(signature_us)},
              {"parse_us_per_bundle", median(parse_us)},
              {"check_bundle_first_us", first_us},
              {"check_bundle_remembered_us", remembered_us},
              {"bundle_bytes", texts.front().size()},
              {"verify_rounds_us", verify_us},
              {"baseline_rounds_us", bare_us}};
}

} // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: dg_bench_sigstore [--bundles N] [--rounds R]\n";
  const auto args = dg::bench::CommandLine::parse(argc, argv, {"--bundles", "--rounds"},
                                                  "dg_bench_sigstore", usage);
  if (!args) {
    return 2;
  }
  const long long bundles = args->integer("--bundles", 200);
  const int rounds = static_cast<int>(args->integer("--rounds", 5));
  if (bundles < 1 || rounds < 1) {
    std::cerr << usage;
    return 2;
  }
  const auto count = static_cast<std::size_t>(bundles);
  try {
    std::cout << run(count, rounds).dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dg_bench_sigstore: " << e.what() << "\n";
    return 1;
  }
}
