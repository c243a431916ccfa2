#include "util/fields.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace dg;
using nlohmann::json;

namespace {

// The error message of reading `doc` with `fn`, or "" when it reads.
std::string message_of(const json& doc,
                       const FieldReader::Body& fn,
                       FieldReader::Nulls nulls = FieldReader::Nulls::refused) {
  auto r = FieldReader::read(doc, "", fn, nulls);
  if (r) {
    return "";
  }
  CHECK(r.error().code == Errc::invalid_argument);
  return r.error().message;
}

// A promotion-like body: environment (required), reference (required), dry_run (optional),
// break_glass {reason} (optional).
Result<void> read_request(FieldReader& r) {
  DG_TRY(r.string("environment"));
  DG_TRY(r.string("reference"));
  DG_TRY(r.optional_boolean("dry_run"));
  DG_TRY(r.optional_object("break_glass", [](FieldReader& b) -> Result<void> {
    DG_TRY(b.string("reason"));
    return {};
  }));
  return {};
}

// A record-like body: gates[] of {name, findings (open), tool {name, version}}, subject {labels
// (open)}.
Result<void> read_record(FieldReader& r) {
  DG_TRY(r.object("subject", [](FieldReader& s) -> Result<void> {
    DG_TRY(s.string("digest"));
    s.raw("labels");
    return {};
  }));
  DG_TRY(r.optional_objects("gates", [](FieldReader& g) -> Result<void> {
    DG_TRY(g.string("name"));
    g.raw("findings");
    DG_TRY(g.optional_object("tool", [](FieldReader& t) -> Result<void> {
      DG_TRY(t.optional_string("name"));
      DG_TRY(t.optional_string("version"));
      return {};
    }));
    return {};
  }));
  return {};
}

} // namespace

TEST_SUITE_BEGIN("util");

TEST_CASE("FieldReader reads typed fields, required and optional") {
  json doc = {{"name", "app"},
              {"count", 7},
              {"on", true},
              {"tags", {"a", "b"}},
              {"at", "2026-11-20T10:00:00Z"}};
  std::string name;
  std::int64_t count = 0;
  bool on = false;
  std::vector<std::string> tags;
  TimeNs at = 0;
  std::optional<std::string> missing = "x";
  auto r = FieldReader::read(doc, "", [&](FieldReader& f) -> Result<void> {
    DG_ASSIGN(name, f.string("name"));
    DG_ASSIGN(count, f.integer("count"));
    DG_ASSIGN(on, f.boolean("on"));
    DG_ASSIGN(tags, f.strings("tags"));
    DG_ASSIGN(at, f.time("at"));
    DG_ASSIGN(missing, f.optional_string("missing"));
    return {};
  });
  REQUIRE(r.ok());
  CHECK(name == "app");
  CHECK(count == 7);
  CHECK(on);
  CHECK(tags == std::vector<std::string>{"a", "b"});
  CHECK(at == *parse_rfc3339("2026-11-20T10:00:00Z"));
  CHECK_FALSE(missing.has_value());
}

TEST_CASE("FieldReader names a missing required field by its path") {
  CHECK(message_of({{"reference", "r"}}, read_request) == "environment: is required");
  CHECK(message_of({{"environment", "e"}, {"reference", "r"}, {"break_glass", json::object()}},
                   read_request) == "break_glass.reason: is required");
  CHECK(message_of({{"subject", json::object()}}, read_record) == "subject.digest: is required");
  CHECK(message_of(json::object(), read_record) == "subject: is required");
  CHECK(message_of({{"subject", {{"digest", "d"}}}, {"gates", {json::object()}}}, read_record) ==
        "gates[0].name: is required");
}

TEST_CASE("FieldReader names a field of the wrong type by its path") {
  SUBCASE("scalars") {
    CHECK(message_of({{"environment", 1}, {"reference", "r"}}, read_request) ==
          "environment: must be a string");
    CHECK(message_of({{"environment", "e"}, {"reference", "r"}, {"dry_run", "yes"}},
                     read_request) == "dry_run: must be true or false");
    auto integer = [](FieldReader& f) -> Result<void> {
      DG_TRY(f.integer("n"));
      return {};
    };
    CHECK(message_of({{"n", 1.5}}, integer) == "n: must be an integer");
    CHECK(message_of({{"n", 18446744073709551615ULL}}, integer) == "n: is out of range");
    CHECK(message_of({{"n", -3}}, integer) == "");
    CHECK(message_of({{"at", "yesterday"}}, [](FieldReader& f) -> Result<void> {
            DG_TRY(f.time("at"));
            return {};
          }).rfind("at: ", 0) == 0);
  }
  SUBCASE("lists and objects") {
    auto strings = [](FieldReader& f) -> Result<void> {
      DG_TRY(f.strings("after"));
      return {};
    };
    CHECK(message_of({{"after", "staging"}}, strings) == "after: must be a list of strings");
    CHECK(message_of({{"after", {"a", 2}}}, strings) == "after[1]: must be a string");
    CHECK(message_of({{"subject", "d"}}, read_record) == "subject: must be an object");
    CHECK(message_of({{"subject", {{"digest", "d"}}}, {"gates", json::object()}}, read_record) ==
          "gates: must be a list of objects");
    CHECK(message_of({{"subject", {{"digest", "d"}}}, {"gates", {"scan"}}}, read_record) ==
          "gates[0]: must be an object");
    CHECK(message_of(json::array(), read_record) == "must be an object");
  }
  SUBCASE("null is the wrong type unless the reader reads it as absent") {
    json doc = {{"environment", "e"}, {"reference", "r"}, {"dry_run", nullptr}};
    CHECK(message_of(doc, read_request) == "dry_run: must be true or false");
    CHECK(message_of(doc, read_request, FieldReader::Nulls::absent) == "");
    CHECK(message_of({{"reference", "r"}, {"environment", nullptr}}, read_request,
                     FieldReader::Nulls::absent) == "environment: is required");
  }
}

TEST_CASE("FieldReader refuses an unknown field at every level, named by its full path") {
  const json gate = {{"name", "scan"}, {"tool", {{"name", "trivy"}}}};
  const json subject = {{"digest", "d"}};
  CHECK(message_of({{"environment", "e"}, {"reference", "r"}, {"dryrun", true}}, read_request) ==
        "dryrun: unknown field");
  CHECK(message_of({{"environment", "e"},
                    {"reference", "r"},
                    {"break_glass", {{"reason", "x"}, {"approver", "y"}}}},
                   read_request) == "break_glass.approver: unknown field");
  CHECK(message_of({{"subject", {{"digest", "d"}, {"nmae", "x"}}}}, read_record) ==
        "subject.nmae: unknown field");
  json finding = gate;
  finding["finding"] = json::object();
  CHECK(message_of({{"subject", subject}, {"gates", {gate, finding}}}, read_record) ==
        "gates[1].finding: unknown field");
  json tool = gate;
  tool["tool"]["versoin"] = "1";
  CHECK(message_of({{"subject", subject}, {"gates", {tool}}}, read_record) ==
        "gates[0].tool.versoin: unknown field");
  SUBCASE("a reader opened at a path prefixes it") {
    auto r = FieldReader::read({{"max_body", 1}}, "limits",
                               [](FieldReader&) -> Result<void> { return {}; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "limits.max_body: unknown field");
  }
  SUBCASE("maps keyed by name read their entries through keys()") {
    json policy = {{"environments", {{"production", {{"require_gatez", {"scan"}}}}}}};
    auto msg = message_of(policy, [](FieldReader& f) -> Result<void> {
      return f.object("environments", [](FieldReader& envs) -> Result<void> {
        for (const auto& name : envs.keys()) {
          DG_TRY(envs.object(name, [](FieldReader& env) -> Result<void> {
            DG_TRY(env.optional_strings("require_gates"));
            return {};
          }));
        }
        return {};
      });
    });
    CHECK(msg == "environments.production.require_gatez: unknown field");
  }
}

TEST_CASE("FieldReader names a misspelling of a missing required field as unknown") {
  CHECK(message_of({{"enviroment", "e"}, {"reference", "r"}}, read_request) ==
        "enviroment: unknown field (environment is required)");
  CHECK(message_of({{"subject", {{"digets", "d"}}}}, read_record) ==
        "subject.digets: unknown field (subject.digest is required)");
  // Not a likely misspelling: the missing field is named, the stranger comes second.
  CHECK(message_of({{"colour", "e"}, {"reference", "r"}}, read_request) ==
        "environment: is required");
  auto r = FieldReader::read({{"x", 1}}, "tls", [](FieldReader& f) -> Result<void> {
    return f.missing("certificate", "a PEM file");
  });
  CHECK(r.error().message == "tls.certificate: is required (a PEM file)");
}

TEST_CASE("FieldReader leaves a field taken raw open") {
  json doc = {
      {"subject", {{"digest", "d"}, {"labels", {{"any.label", "x"}, {"nested", {{"k", 1}}}}}}},
      {"gates", {{{"name", "scan"}, {"findings", {{"critical", 0}, {"whatever", 3}}}}}}};
  CHECK(message_of(doc, read_record) == "");
}

TEST_CASE("FieldReader::has and error name fields without reading them") {
  auto r = FieldReader::read({{"a", 1}, {"b", nullptr}}, "env", [](FieldReader& f) -> Result<void> {
    CHECK(f.has("a"));
    CHECK(f.has("b"));
    CHECK_FALSE(f.has("c"));
    CHECK(f.path_of("a") == "env.a");
    CHECK(f.error("a[3]", "bad").message == "env.a[3]: bad");
    DG_TRY(f.integer("a"));
    return {};
  });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "env.b: unknown field");
}

TEST_SUITE_END();
