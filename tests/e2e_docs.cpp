// End-to-end: every JSON example of the documentation against the real daemon and CLI.
//
// Every fenced ```json block of README.md and docs/*.md must parse, except the schematic blocks
// listed in k_schematic (each with the reason it cannot be JSON; a listed block that has become
// valid JSON, or that no longer exists, fails the test so the list stays honest). Each parsed
// block is then classified by shape and checked where it is an input:
//   - an evidence record ("subject"): POST /v1/validations answers 201, and the record validates
//     against docs/schemas/validation.schema.json (python3-jsonschema);
//   - a policy ("environments"): `digestgate policy check` exits 0 and a daemon starts with it;
//   - a daemon configuration ("listen" and "principals"): a daemon starts with it, with listen,
//     state_dir and policy rewritten to temporary ones and TLS files generated;
//   - a promotion request ("environment" and "reference" or "references", no "decision"):
//     POST /v1/promotions answers 200 or 403 with a decision, never 400;
//   - anything else is a response shown in the docs and only has to parse.
// Placeholders in parsed blocks are substituted before use: "sha256:..." becomes a well-formed
// digest and a token_sha256 of "<64 hex>" the SHA-256 of a known token.
// The example files docs/examples/*.json and systemd/*.example.json are checked the same way.
#include "tests/support/daemon.hpp"
#include "tests/support/files.hpp"
#include "tests/support/sigstore_pki.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

using namespace dg::test;
using nlohmann::json;

namespace {

const std::string k_root = DG_SOURCE_DIR;

struct DocBlock {
  std::string file; // relative to the repository root
  int line = 0;     // 1-based line of the block's first content line
  std::string first_line;
  std::string text;

  std::string label() const { return file + ":" + std::to_string(line) + ": `" + first_line + "`"; }
};

struct Schematic {
  std::string file;
  std::string marker; // a substring that identifies the block
  std::string reason;
};

// Blocks that show a shape rather than a value; they are not JSON on purpose.
const std::vector<Schematic> k_schematic = {
    {"docs/policy.md", "...requirements...", "the shape of a policy, with requirements elided"},
};

std::vector<std::string> doc_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(k_root + "/docs")) {
    if (entry.is_regular_file() && entry.path().extension() == ".md") {
      files.push_back("docs/" + entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  files.insert(files.begin(), "README.md");
  return files;
}

std::vector<DocBlock> json_blocks(const std::string& file) {
  std::vector<DocBlock> blocks;
  std::istringstream in(source_file(file));
  std::string line;
  int number = 0;
  DocBlock* open = nullptr;
  while (std::getline(in, line)) {
    ++number;
    const auto begin = line.find_first_not_of(' ');
    const std::string trimmed = begin == std::string::npos ? "" : line.substr(begin);
    if (open == nullptr) {
      if (trimmed == "```json") {
        blocks.push_back({file, number + 1, "", ""});
        open = &blocks.back();
      }
    } else if (trimmed.rfind("```", 0) == 0) {
      open = nullptr;
    } else {
      if (open->text.empty()) {
        open->first_line = trimmed;
      }
      open->text += line + "\n";
    }
  }
  CHECK_MESSAGE(open == nullptr, file << ": a ```json block is never closed");
  return blocks;
}

// Replaces the documentation's placeholders inside every string of `value`.
void substitute_placeholders(json& value, int& next_digest) {
  if (value.is_object()) {
    for (auto& [key, member] : value.items()) {
      if (key == "token_sha256" && member == "<64 hex>") {
        member = token_sha256("documented-token");
      } else {
        substitute_placeholders(member, next_digest);
      }
    }
  } else if (value.is_array()) {
    for (auto& element : value) {
      substitute_placeholders(element, next_digest);
    }
  } else if (value.is_string()) {
    std::string text = value.get<std::string>();
    const std::string placeholder = "sha256:...";
    for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder)) {
      text.replace(at, placeholder.size(), sample_digest(9000 + next_digest++));
    }
    value = text;
  }
}

json demo_policy() {
  return json::parse(source_file("docs/examples/demo-policy.json"));
}

// A documented policy's trust roots (files beside it) become a trusted_root.json of a test
// Sigstore made here, written into `dir`.
json with_test_trust_roots(json policy, const std::string& dir) {
  if (policy.contains("trusted_roots") && policy["trusted_roots"].is_object()) {
    static const SigstorePki pki;
    const std::string file = dir + "/trusted_root.json";
    std::ofstream(file) << pki.trusted_root().dump(2);
    for (auto& [name, root] : policy["trusted_roots"].items()) {
      root["file"] = file;
    }
  }
  return policy;
}

void check_policy(const json& documented, const std::string& label) {
  TempDir dir;
  const json policy = with_test_trust_roots(documented, dir.path());
  const std::string path = dir.path() + "/policy.json";
  std::ofstream(path) << policy.dump(2);
  auto checked = run_process({DG_CLI_PATH, "policy", "check", path});
  CHECK_MESSAGE(checked.exit_code == 0, label << ": policy check: " << checked.out << checked.err);
  try {
    Daemon daemon(policy);
    CHECK(daemon.running());
  } catch (const std::exception& e) {
    FAIL_CHECK(label << ": the daemon does not start with this policy: " << e.what());
  }
}

// Starts a daemon with the documented configuration `config`, keeping the fixture's listen,
// state_dir and policy. TLS files named by the configuration are generated in the configuration's
// directory, where the daemon resolves relative paths.
void check_config(const json& config, const std::string& label) {
  json extra = config;
  extra.erase("listen");
  extra.erase("state_dir");
  extra.erase("policy");
  json tls = extra.contains("tls") ? extra["tls"] : json();
  extra.erase("tls");
  try {
    Daemon daemon(demo_policy(), extra);
    CHECK(daemon.running());
    if (config.contains("principals")) {
      for (const auto& principal : config["principals"]) {
        if (principal.value("token_sha256", "") == token_sha256("documented-token")) {
          auto answer = daemon.http("GET", "/v1/policy", "", "documented-token");
          CHECK_MESSAGE(answer.status == 200, label << ": the documented principal's token");
        }
      }
    }
    if (!tls.is_object()) {
      return;
    }
    daemon.stop();
    const std::string cert = daemon.dir() + "/" + tls.value("certificate", "cert.pem");
    const std::string key = daemon.dir() + "/" + tls.value("private_key", "key.pem");
    auto made = run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                             "/CN=127.0.0.1", "-keyout", key, "-out", cert});
    REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    if (tls.contains("client_ca")) {
      std::filesystem::copy_file(cert, daemon.dir() + "/" + tls["client_ca"].get<std::string>());
    }
    json with_tls = daemon.config();
    with_tls["tls"] = tls;
    daemon.write_config(with_tls);
    std::filesystem::remove(daemon.state_dir() + "/listen-address");
    // The fixture's health check speaks plain HTTP, so run the TLS daemon directly: it must
    // still be serving (and be killed) when the timeout ends, having bound its address.
    auto served = run_process({DG_DAEMON_PATH, "--config", daemon.config_path()}, {}, "", 2);
    CHECK_MESSAGE(served.exit_code == 128 + SIGKILL, label << ": with TLS the daemon exited "
                                                           << served.exit_code << ": " << served.out
                                                           << served.err);
    CHECK_MESSAGE(std::filesystem::exists(daemon.state_dir() + "/listen-address"),
                  label << ": with TLS the daemon never bound its address: " << served.err);
  } catch (const std::exception& e) {
    FAIL_CHECK(label << ": the daemon does not start with this configuration: " << e.what());
  }
}

// Every record of `records` validates against docs/schemas/validation.schema.json, by an
// independent validator (python3-jsonschema, through tests/schema/validate.py).
void check_against_schema(const json& records) {
  TempDir dir;
  const std::string path = dir.path() + "/records.json";
  std::ofstream(path) << records.dump(1);
  auto checked = run_process({"python3", k_root + "/tests/schema/validate.py",
                              k_root + "/docs/schemas/validation.schema.json", "--accept", path});
  CHECK_MESSAGE(checked.exit_code == 0,
                "the documented records against the schema: " << checked.out << checked.err);
}

} // namespace

TEST_SUITE_BEGIN("E2E docs");

TEST_CASE("Every JSON example in the documentation parses and the daemon accepts the inputs") {
  std::vector<DocBlock> blocks;
  for (const auto& file : doc_files()) {
    auto found = json_blocks(file);
    blocks.insert(blocks.end(), found.begin(), found.end());
  }
  REQUIRE(!blocks.empty());

  // Each schematic entry names exactly one block, and that block is indeed not JSON.
  for (const auto& schematic : k_schematic) {
    auto matches = std::count_if(blocks.begin(), blocks.end(), [&](const DocBlock& block) {
      return block.file == schematic.file && block.text.find(schematic.marker) != std::string::npos;
    });
    CHECK_MESSAGE(matches == 1, schematic.file << ": the schematic block marked '"
                                               << schematic.marker << "' matches " << matches
                                               << " blocks");
  }

  Daemon daemon(demo_policy());
  auto recorded = daemon.http("POST", "/v1/validations", source_file("docs/examples/evidence.json"),
                              k_recorder_token);
  REQUIRE_MESSAGE(recorded.status == 201, recorded.body);

  int next_digest = 0;
  json records = json::array({json::parse(source_file("docs/examples/evidence.json"))});
  int evidence = 0;
  int policies = 0;
  int configs = 0;
  int requests = 0;
  int responses = 0;
  for (const auto& block : blocks) {
    const auto schematic = std::find_if(k_schematic.begin(), k_schematic.end(), [&](const auto& s) {
      return s.file == block.file && block.text.find(s.marker) != std::string::npos;
    });
    json value = json::parse(block.text, nullptr, false);
    if (schematic != k_schematic.end()) {
      CHECK_MESSAGE(value.is_discarded(), block.label()
                                              << ": listed as schematic (" << schematic->reason
                                              << ") but is valid JSON: check it");
      continue;
    }
    if (value.is_discarded()) {
      FAIL_CHECK(block.label() << ": not valid JSON");
      continue;
    }
    if (!value.is_object()) {
      ++responses;
      continue;
    }
    substitute_placeholders(value, next_digest);
    if (value.contains("subject")) {
      ++evidence;
      records.push_back(value);
      auto answer = daemon.http("POST", "/v1/validations", value.dump(), k_recorder_token);
      CHECK_MESSAGE(answer.status == 201, block.label()
                                              << ": " << answer.status << " " << answer.body);
    } else if (value.contains("environments")) {
      ++policies;
      check_policy(value, block.label());
    } else if (value.contains("listen") && value.contains("principals")) {
      ++configs;
      check_config(value, block.label());
    } else if (value.contains("environment") && !value.contains("decision") &&
               (value.contains("reference") || value.contains("references"))) {
      ++requests;
      auto answer = daemon.http("POST", "/v1/promotions", value.dump(), k_promoter_token);
      CHECK_MESSAGE((answer.status == 200 || answer.status == 403),
                    block.label() << ": " << answer.status << " " << answer.body);
      CHECK_MESSAGE(answer.json().contains("decision"), block.label() << ": " << answer.body);
    } else {
      ++responses;
    }
  }
  MESSAGE(blocks.size() << " blocks: " << evidence << " evidence, " << policies << " policies, "
                        << configs << " configurations, " << requests << " requests, " << responses
                        << " responses");
  // The documentation shows at least the daemon's configuration and a promotion request.
  CHECK(configs >= 1);
  CHECK(requests >= 1);
  CHECK(evidence >= 1);
  check_against_schema(records);
}

TEST_CASE("The example files are accepted by the CLI and the daemon") {
  SUBCASE("docs/examples/demo-policy.json") {
    check_policy(demo_policy(), "docs/examples/demo-policy.json");
  }
  SUBCASE("systemd/policy.example.json") {
    check_policy(json::parse(source_file("systemd/policy.example.json")),
                 "systemd/policy.example.json");
  }
  SUBCASE("systemd/config.example.json") {
    check_config(json::parse(source_file("systemd/config.example.json")),
                 "systemd/config.example.json");
  }
  SUBCASE("docs/examples/evidence.json") {
    Daemon daemon(demo_policy());
    auto answer = daemon.http("POST", "/v1/validations", source_file("docs/examples/evidence.json"),
                              k_recorder_token);
    CHECK_MESSAGE(answer.status == 201, answer.body);
    // Recorded evidence that passes the demo policy's staging requirements.
    auto promoted = daemon.http(
        "POST", "/v1/promotions",
        json{{"environment", "staging"},
             {"reference", "ghcr.io/acme/app@sha256:"
                           "c0290ad845d83b226607b81cd7a29fc0fafe92a13df9cc97627ba18189b61426"}}
            .dump(),
        k_promoter_token);
    CHECK_MESSAGE(promoted.status == 200, promoted.body);
  }
}

TEST_SUITE_END();
