// POST /v1/validations: record CI's evidence about a digest, with the daemon's own checks.
#include "daemon/core.hpp"
#include "daemon/observer.hpp"
#include "daemon/routes/handlers.hpp"
#include "policy/evidence.hpp"

namespace dg::daemon {

using nlohmann::json;

namespace {

Result<policy::Record> read_record(const json& body) {
  return policy::parse_record(body);
}

} // namespace

void post_validation(Core& core, const Ctx& ctx) {
  auto record = Core::read_body(ctx, read_record);
  if (!record) {
    return;
  }
  struct Outcome {
    std::optional<Error> conflict;
    json checks;
  };
  auto out = std::make_shared<Outcome>();
  auto rec = std::make_shared<policy::Record>(std::move(*record));
  FactsCache* cache = &core.facts_cache;
  auto step = [rec, out, actor = ctx->principal->name,
               cache](ledger::View& view) -> std::optional<ledger::Draft> {
    auto cached = cache->get(view, rec->digest);
    policy::Facts facts = cached->facts() ? *cached->facts() : policy::Facts{};
    auto merged = policy::merge_record(facts, *rec, view.size() + 1);
    if (!merged) {
      out->conflict = merged.error();
      return std::nullopt;
    }
    out->checks = policy::compute_checks(facts).to_json();
    json tags = json::array();
    if (rec->document["subject"].contains("tags")) {
      tags = rec->document["subject"]["tags"];
    }
    return ledger::Draft{ledger::k_validation, actor,
                         json{{"digest", rec->digest},
                              {"repository", rec->repository},
                              {"tags", tags},
                              {"evidence", rec->document},
                              {"checks", out->checks}}};
  };
  auto committed = [ctx, rec, out, observer = core.observer.get()](const ledger::Committed& c) {
    observer->after_validation(rec->digest);
    ctx->reply(201, json{{"seq", c.entry.seq},
                         {"digest", rec->digest},
                         {"repository", rec->repository},
                         {"checks", out->checks},
                         {"checkpoint", c.checkpoint}});
  };
  auto conflict = [ctx, out] { ctx->error(409, "evidence-conflict", out->conflict->message); };
  core.submit(ctx, step, committed, conflict);
}

} // namespace dg::daemon
