// dg_bench_verify: the record-path baseline. Bare OpenSSL verifications of the very signatures a
// set of evidence records carries (each record's cosign signature over its payload bytes and its
// DSSE signature over the envelope's PAE bytes), on one thread, with the key already loaded.
//
// usage: dg_bench_verify --bodies-file F --public-key PEMFILE [--rounds N]
// F holds one evidence record per line (as dg_bench sends them to POST /v1/validations). Decoding
// happens before the clock starts; only EVP_DigestVerifyInit + EVP_DigestVerify are timed. Prints
// one JSON object: verifications, records, seconds, and both rates.
#include "bench/evidence.hpp"
#include "bench/support.hpp"

#include "util/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <iostream>

namespace {

struct Signed {
  std::string message;
  std::string signature; // DER
};

std::string decoded(const nlohmann::json& v) {
  auto r = dg::base64_decode(v.get<std::string>());
  if (!r) {
    throw std::runtime_error("bad base64 in the bodies file");
  }
  return *r;
}

} // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: dg_bench_verify --bodies-file F --public-key PEMFILE [--rounds N]\n";
  const auto args = dg::bench::CommandLine::parse(
      argc, argv, {"--bodies-file", "--public-key", "--rounds"}, "dg_bench_verify", usage);
  if (!args) {
    return 2;
  }
  const std::string bodies_file = args->text("--bodies-file");
  const std::string key_file = args->text("--public-key");
  const int rounds = static_cast<int>(args->integer("--rounds", 1));
  if (bodies_file.empty() || key_file.empty() || rounds < 1) {
    std::cerr << usage;
    return 2;
  }
  try {
    std::string pem = dg::bench::read_text(key_file);
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) {
      throw std::runtime_error("cannot read the public key " + key_file);
    }
    std::vector<Signed> items;
    std::size_t records = 0;
    std::ifstream in(bodies_file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) {
        continue;
      }
      auto record = nlohmann::json::parse(line);
      for (const auto& s : record.at("signatures")) {
        items.push_back({decoded(s.at("payload")), decoded(s.at("signature"))});
      }
      for (const auto& a : record.at("attestations")) {
        const auto& env = a.at("envelope");
        std::string pae = dg::bench::dsse_pae(env.at("payloadType").get<std::string>(),
                                              decoded(env.at("payload")));
        for (const auto& s : env.at("signatures")) {
          items.push_back({pae, decoded(s.at("sig"))});
        }
      }
      ++records;
    }
    if (items.empty()) {
      throw std::runtime_error("no signatures in " + bodies_file);
    }
    std::size_t verified = 0;
    std::size_t failed = 0;
    auto started = dg::bench::Clock::now();
    for (int r = 0; r < rounds; ++r) {
      for (const auto& item : items) {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        bool ok =
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(item.signature.data()),
                             item.signature.size(),
                             reinterpret_cast<const unsigned char*>(item.message.data()),
                             item.message.size()) == 1;
        EVP_MD_CTX_free(ctx);
        ok ? ++verified : ++failed;
      }
    }
    double seconds = dg::bench::seconds_since(started);
    EVP_PKEY_free(key);
    if (failed > 0) {
      throw std::runtime_error(std::to_string(failed) + " signatures did not verify");
    }
    double per_record = static_cast<double>(items.size()) / static_cast<double>(records);
    nlohmann::json report = {
        {"verifications", verified},
        {"records", records * static_cast<std::size_t>(rounds)},
        {"signatures_per_record", per_record},
        {"seconds", seconds},
        {"verifications_per_second", static_cast<double>(verified) / seconds},
        {"records_per_second", static_cast<double>(verified) / seconds / per_record}};
    std::cout << report.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dg_bench_verify: " << e.what() << "\n";
    return 1;
  }
}
