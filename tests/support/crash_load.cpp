#include "tests/support/crash_load.hpp"

#include "tests/support/evidence.hpp"
#include "tests/support/gatekeeper.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <sstream>

namespace dg::test {

using nlohmann::json;

void AcknowledgedWrites::start(Daemon& daemon, int clients) {
  m_stop = false;
  for (int c = 0; c < clients; ++c) {
    m_clients.emplace_back([this, &daemon] {
      auto ack = [&](const HttpResponse& r, const char* kind, const std::string& digest) {
        json j = json::parse(r.body, nullptr, false);
        if (r.status / 100 == 2 && j.is_object() && j.contains("seq") &&
            j["seq"].is_number_integer()) {
          std::lock_guard lock(m_mutex);
          m_acked[j["seq"].get<std::int64_t>()] = Acked{kind, digest};
        }
      };
      while (!m_stop) {
        std::string digest = sample_digest(m_next_digest++);
        try {
          json evidence = {{"subject", {{"name", k_repo}, {"digest", digest}}}};
          ack(daemon.http("POST", "/v1/validations", evidence.dump(), k_recorder_token),
              "validation", digest);
          ack(daemon.http("POST", "/v1/promotions",
                          promotion_body(pinned(digest), "staging").dump(), k_promoter_token),
              "promotion", digest);
        } catch (const std::exception&) {
          return;
        }
      }
    });
  }
}

void AcknowledgedWrites::stop() {
  m_stop = true;
  for (auto& t : m_clients) {
    t.join();
  }
  m_clients.clear();
}

std::size_t AcknowledgedWrites::size() const {
  std::lock_guard lock(m_mutex);
  return m_acked.size();
}

void AcknowledgedWrites::expect_all_present(Daemon& daemon) const {
  auto ready = daemon.http("GET", "/readyz");
  REQUIRE_MESSAGE(ready.status == 200, ready.body);
  const std::int64_t size = ready.json()["entries"].get<std::int64_t>();

  std::int64_t expected = 1;
  while (expected <= size) {
    auto page =
        daemon.http("GET", "/v1/entries?after=" + std::to_string(expected - 1) + "&limit=1000", "",
                    k_reader_token);
    REQUIRE_MESSAGE(page.status == 200, page.body);
    const json items = page.json()["entries"];
    REQUIRE_MESSAGE(!items.empty(), page.body);
    for (const auto& e : items) {
      REQUIRE(e["seq"] == expected); // contiguous from 1
      ++expected;
    }
  }
  CHECK(expected - 1 == size);

  std::lock_guard lock(m_mutex);
  if (!m_acked.empty()) {
    REQUIRE(m_acked.rbegin()->first <= size);
  }
  for (const auto& [key, what] : m_acked) {
    // CAPTURE keeps a reference in a lambda, which clang 14 refuses for a structured binding.
    const std::int64_t seq = key;
    CAPTURE(seq);
    auto r = daemon.http("GET", "/v1/entries/" + std::to_string(seq), "", k_reader_token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const json entry = r.json()["entry"];
    CHECK(entry["kind"] == what.kind);
    const json& body = entry["body"];
    std::string digest = what.kind == "validation" ? body.value("digest", "")
                                                   : body["promotions"][0].value("digest", "");
    CHECK(digest == what.digest);
  }
  // The seal was committed with the entries: the start-up check confirmed the derived tables
  // without rebuilding them.
  json checked = last_ledger_check(daemon.log());
  CHECK_MESSAGE(checked.value("derived_tables", "") == "sealed", checked.dump());
  // A live database verifies from a consistent snapshot.
  CliResult verify = run_process({DG_CLI_PATH, "ledger", "verify", "--db", daemon.ledger_db()},
                                 {{"DIGESTGATE_URL", ""}, {"DIGESTGATE_TOKEN", ""}});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
}

json last_ledger_check(const std::string& log) {
  json found;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "ledger checked") {
      found = std::move(j);
    }
  }
  return found;
}

} // namespace dg::test
