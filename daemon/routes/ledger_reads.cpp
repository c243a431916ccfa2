// Reads of the ledger itself: GET /v1/entries, /v1/entries/{seq}, /v1/checkpoint,
// /v1/proofs/consistency and /v1/keys.
#include "daemon/core.hpp"
#include "daemon/render.hpp"
#include "daemon/routes/handlers.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"

namespace dg::daemon {

using nlohmann::json;

namespace {

// The filter of GET /v1/entries from its query; answers 400 and returns nullopt when bad.
std::optional<ledger::EntryFilter> entry_filter(const Ctx& ctx) {
  ledger::EntryFilter filter;
  if (!ctx->param("after").empty()) {
    auto v = to_int(ctx->param("after"));
    if (!v || *v < 0) {
      ctx->error(400, "bad-request", "after must be a non-negative integer");
      return std::nullopt;
    }
    filter.after = *v;
  }
  if (!ctx->param("limit").empty()) {
    auto v = to_int(ctx->param("limit"));
    if (!v || *v < 1 || *v > 1000) {
      ctx->error(400, "bad-request", "limit must be an integer from 1 to 1000");
      return std::nullopt;
    }
    filter.limit = *v;
  }
  filter.kind = ctx->param("kind");
  if (!filter.kind.empty() && !ledger::is_entry_kind(filter.kind)) {
    ctx->error(400, "bad-request",
               "kind must be one of validation, promotion, rollback, deployment, revocation, "
               "policy");
    return std::nullopt;
  }
  filter.digest = ctx->param("digest");
  filter.environment = ctx->param("environment");
  return filter;
}

} // namespace

void get_entries(Core& core, const Ctx& ctx) {
  auto filter = entry_filter(ctx);
  if (!filter) {
    return;
  }
  json entries = json::array();
  std::int64_t last = filter->after;
  bool read = core.read(ctx, [&](ledger::View& view) {
    for (const auto& e : view.entries(*filter)) {
      entries.push_back(entry_json(e));
      last = e.seq;
    }
  });
  if (read) {
    ctx->reply(200, json{{"entries", entries}, {"next_after", last}});
  }
}

void get_entry(Core& core, const Ctx& ctx) {
  const std::string& seq_text = ctx->arg("seq");
  auto seq = to_int(seq_text);
  if (!seq || *seq < 1) {
    ctx->error(400, "bad-request", "an entry's seq is a positive integer");
    return;
  }
  std::string note = core.ledger->checkpoint();
  auto cp = ledger::parse_checkpoint(note);
  if (!cp) {
    ctx->error(503, "unavailable", "no checkpoint yet");
    return;
  }
  std::optional<ledger::Entry> entry;
  std::vector<Hash> proof;
  bool read = core.read(ctx, [&](ledger::View& view) {
    entry = view.entry(*seq);
    if (entry && static_cast<std::uint64_t>(*seq) <= cp->size) {
      proof = view.inclusion_proof(static_cast<std::uint64_t>(*seq - 1), cp->size);
    }
  });
  if (!read) {
    return;
  }
  // The answer reflects the checkpoint it proves against.
  ctx->tree_size = static_cast<std::int64_t>(cp->size);
  if (!entry || static_cast<std::uint64_t>(*seq) > cp->size) {
    ctx->error(404, "not-found", "no entry " + seq_text);
    return;
  }
  ctx->reply(200, json{{"entry", entry_json(*entry)},
                       {"leaf_hash", to_hex(entry->leaf)},
                       {"index", *seq - 1},
                       {"tree_size", cp->size},
                       {"root_hash", to_hex(cp->root)},
                       {"inclusion_proof", hashes_json(proof)},
                       {"checkpoint", note}});
}

void get_checkpoint(Core& core, const Ctx& ctx) {
  std::string note = core.ledger->checkpoint();
  if (auto size = ledger::checkpoint_size(note)) {
    ctx->tree_size = static_cast<std::int64_t>(*size);
  }
  ctx->reply_text(200, std::move(note), "text/plain; charset=utf-8");
}

void get_consistency(Core& core, const Ctx& ctx) {
  auto from = to_int(ctx->param("from"));
  auto to = to_int(ctx->param("to"));
  auto cp = ledger::parse_checkpoint(core.ledger->checkpoint());
  std::uint64_t size = cp ? cp->size : 0;
  ctx->tree_size = static_cast<std::int64_t>(size);
  if (!from || !to || *from < 1 || *from > *to || static_cast<std::uint64_t>(*to) > size) {
    ctx->error(400, "bad-request",
               "need 0 < from <= to <= " + std::to_string(size) + " (the current tree size)");
    return;
  }
  std::vector<Hash> proof;
  Hash root1{}, root2{};
  bool read = core.read(ctx, [&](ledger::View& view) {
    proof =
        view.consistency_proof(static_cast<std::uint64_t>(*from), static_cast<std::uint64_t>(*to));
    root1 = view.root_at(static_cast<std::uint64_t>(*from));
    root2 = view.root_at(static_cast<std::uint64_t>(*to));
  });
  if (read) {
    ctx->reply(200, json{{"from", *from},
                         {"to", *to},
                         {"root1", to_hex(root1)},
                         {"root2", to_hex(root2)},
                         {"proof", hashes_json(proof)}});
  }
}

void get_keys(Core& core, const Ctx& ctx) {
  std::string verifier = core.ledger->verifier();
  auto v = ledger::parse_verifier(verifier);
  json body{{"origin", core.config.origin}, {"algorithm", "ed25519"}, {"verifier", verifier}};
  if (v) {
    body["public_key"] = base64_encode(v->public_key);
  }
  auto pem = read_file(core.config.state_dir + "/checkpoint.pub");
  body["public_key_pem"] = pem ? json(*pem) : json(nullptr);
  ctx->reply(200, body);
}

} // namespace dg::daemon
