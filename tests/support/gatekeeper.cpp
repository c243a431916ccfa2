#include "tests/support/gatekeeper.hpp"

#include <doctest/doctest.h>

namespace dg::test {

using nlohmann::json;

std::string pinned(const std::string& digest, const std::string& repository) {
  return repository + "@" + digest;
}

json promotion_body(const std::string& reference, const std::string& env, bool dry_run) {
  return {{"reference", reference}, {"environment", env}, {"dry_run", dry_run}};
}

bool skipped_on_postgresql(const std::string& why) {
  if (!on_postgresql()) {
    return false;
  }
  MESSAGE("skipped on PostgreSQL: " << why);
  return true;
}

std::set<std::string> codes_of(const json& decision) {
  std::set<std::string> codes;
  for (const auto& r : decision.value("reasons", json::array())) {
    codes.insert(r.value("code", ""));
  }
  return codes;
}

std::string describe(const std::set<std::string>& codes) {
  std::string out;
  for (const auto& c : codes) {
    out.append(c).append(" ");
  }
  return out;
}

std::string last_line(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') {
    trimmed.pop_back();
  }
  auto nl = trimmed.rfind('\n');
  return nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
}

Gatekeeper::Gatekeeper(const std::function<json(const std::string&)>& make_policy)
    : daemon(make_policy(signer.public_key_pem())) {}

HttpResponse Gatekeeper::record_evidence(const json& evidence) const {
  return daemon.http("POST", "/v1/validations", evidence.dump(), k_recorder_token);
}

std::string Gatekeeper::record(const std::string& digest, const std::string& repository) const {
  auto r = record_evidence(complete_evidence(signer, digest, repository));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return digest;
}

HttpResponse Gatekeeper::promote(const json& body) const {
  return daemon.http("POST", "/v1/promotions", body.dump(), k_promoter_token);
}

HttpResponse
Gatekeeper::promote(const std::string& reference, const std::string& env, bool dry_run) const {
  return promote(promotion_body(reference, env, dry_run));
}

void Gatekeeper::approve(const std::string& digest,
                         const std::string& env,
                         const std::string& repository) const {
  auto r = promote(pinned(digest, repository), env);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  REQUIRE(r.json()["decision"] == "approved");
}

void Gatekeeper::expect_refused(const std::string& reference,
                                const std::string& env,
                                const std::set<std::string>& codes) const {
  auto r = promote(reference, env);
  CHECK_MESSAGE(r.status == 403, r.body);
  json j = r.json();
  CHECK(j["decision"] == "refused");
  CHECK(j["seq"].is_number_integer());
  CHECK_MESSAGE(codes_of(j) == codes, "got: " << describe(codes_of(j)) << "\n" << r.body);
  for (const auto& reason : j["reasons"]) {
    CHECK(reason["message"].is_string());
    CHECK_FALSE(reason["message"].get<std::string>().empty());
  }
}

} // namespace dg::test
