#include "daemon/service.hpp"

#include "daemon/log.hpp"
#include "daemon/ui.hpp"
#include "policy/decision.hpp"
#include "policy/evidence.hpp"
#include "policy/reference.hpp"
#include "util/crypto.hpp"
#include "util/files.hpp"
#include "util/time.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>

namespace dg::daemon {

using nlohmann::json;
using policy::Candidate;
using policy::Facts;
using policy::Reason;
using policy::Reasons;

// What one input of a promotion is and what the ledger said about it at one snapshot: every answer
// its evaluation needs from the ledger. Immutable once made.
struct InputLookups {
  struct Approved {
    std::string environment;
    std::string digest;
    bool approved = false;
  };
  policy::Candidate candidate; // input, reference, tag_digests, revoked; never facts
  // The digest's facts, when it is a sha256 digest reference. Not owned: the facts cache alone
  // bounds how many facts are held, so remembered lookups whose facts it dropped are unusable.
  bool has_facts = false;
  std::weak_ptr<const CachedFacts> facts;
  nlohmann::json previous = nullptr;
  std::vector<Approved> approved; // the approved_in questions asked, with their answers

  // Bytes held, roughly, for SnapshotMemo's bound.
  std::size_t bytes() const {
    std::size_t n = sizeof(*this) + 2 * candidate.input.size() +
                    candidate.revoked.value_or(std::string()).size() + 80;
    for (const auto& d : candidate.tag_digests) {
      n += d.size() + 32;
    }
    for (const auto& a : approved) {
      n += sizeof(a) + a.environment.size() + a.digest.size();
    }
    return n;
  }
};

// A dry run's answer and what it was made of besides its request.
struct DryRunAnswer {
  std::string policy_sha256;
  std::vector<policy::Reasons> reasons; // per input
  std::vector<nlohmann::json> previous; // per input
  bool approved = false;
  std::string body;

  // Bytes held, roughly, for SnapshotMemo's bound.
  std::size_t bytes() const {
    std::size_t n = sizeof(*this) + policy_sha256.size() + body.size() + 80 * previous.size();
    for (const auto& list : reasons) {
      for (const auto& r : list) {
        n += sizeof(r) + r.code.size() + r.message.size() + r.gate.size() + r.reference.size();
      }
    }
    return n;
  }
};

namespace {

// A response body's text.
std::string json_text(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

// One request in flight. Shared so that a handler that waits for the ledger keeps it alive.
struct Service::Context {
  Request request;
  Respond respond;
  const Principal* principal = nullptr;
  std::string path;
  std::map<std::string, std::string> query;
  std::string route;
  bool answered = false;
  Metrics* metrics = nullptr;

  void reply(int status, const json& body) {
    reply_text(status, json_text(body), "application/json");
  }

  void reply_text(int status, std::string body, std::string content_type) {
    if (answered) {
      return;
    }
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    if (status == 401) {
      r.headers["WWW-Authenticate"] = "Bearer";
    }
    send(std::move(r));
  }

  void send(Response r) {
    if (answered) {
      return;
    }
    answered = true;
    metrics->request(route, request.method, r.status);
    respond(std::move(r));
  }

  void error(int status, const std::string& code, const std::string& message) {
    reply(status, json{{"error", code}, {"message", message}});
  }

  const std::string& param(const std::string& key) const {
    static const std::string k_empty;
    auto it = query.find(key);
    return it == query.end() ? k_empty : it->second;
  }
};

namespace {

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return std::nullopt;
      }
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::int64_t> to_int(const std::string& s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string::npos) {
      next = path.size();
    }
    parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

json entry_json(const ledger::Entry& e) {
  return json{{"seq", e.seq},     {"kind", e.kind}, {"time", e.time},
              {"actor", e.actor}, {"body", e.body}, {"leaf_hash", to_hex(e.leaf)}};
}

json hashes_json(const std::vector<Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) {
    out.push_back(to_hex(h));
  }
  return out;
}

json reason_json(const Reason& r) {
  json j{{"code", r.code}, {"message", r.message}};
  j["gate"] = r.gate.empty() ? json(nullptr) : json(r.gate);
  if (!r.reference.empty()) {
    j["reference"] = r.reference;
  }
  return j;
}

json reasons_json(const Reasons& reasons) {
  json out = json::array();
  for (const auto& r : reasons) {
    out.push_back(reason_json(r));
  }
  return out;
}

std::string str(const json& obj, const char* key) {
  if (!obj.is_object()) {
    return {};
  }
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json slot_json(const std::string& repository,
               const std::string& digest,
               std::int64_t seq,
               const std::string& time) {
  return json{
      {"digest", digest}, {"reference", repository + "@" + digest}, {"seq", seq}, {"time", time}};
}

// The last known-good digest of (`env`, `repository`): the newest digest approved there before
// the current one that is not revoked, was never rolled back from there, and — once any
// deployment has been reported there — was reported succeeded without drift.
std::optional<ledger::Approval>
last_known_good(ledger::View& view, const std::string& env, const std::string& repository) {
  auto slots = view.slots(env);
  const ledger::Slot* current = nullptr;
  for (const auto& s : slots) {
    if (s.repository == repository) {
      current = &s;
    }
  }
  if (current == nullptr) {
    return std::nullopt;
  }
  auto deployments = view.deployments(env, repository);
  std::set<std::string> good;
  for (const auto& d : deployments) {
    if (d.status == "succeeded" && !d.drift) {
      good.insert(d.digest);
    }
  }
  for (const auto& a : view.approvals(env, repository)) {
    if (a.seq >= current->seq || a.digest == current->digest) {
      continue;
    }
    if (view.revocation(a.digest) || view.rolled_back_from(env, repository, a.digest)) {
      continue;
    }
    if (!deployments.empty() && !good.count(a.digest)) {
      continue;
    }
    return a;
  }
  return std::nullopt;
}

json lkg_json(const std::optional<ledger::Approval>& a) {
  if (!a) {
    return nullptr;
  }
  return slot_json(a->repository, a->digest, a->seq, a->time);
}

struct PromotionRequest {
  std::string environment;
  std::vector<std::string> inputs;
  bool bundle = false;
  bool dry_run = false;
  std::string deploy_commit;
  std::optional<std::string> break_glass;
};

struct Evaluation {
  std::vector<Candidate> candidates;
  std::vector<Reasons> reasons; // per candidate
  std::vector<json> previous;   // per candidate: previous digest or null
  bool overridable = true;      // false when a reason is one break glass cannot override
  Reasons all() const {
    Reasons out;
    for (const auto& r : reasons) {
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  }
};

bool never_overridable(const std::string& code) {
  return code == policy::reason::malformed_reference || code == policy::reason::mutable_reference ||
         code == policy::reason::unsupported_digest_algorithm ||
         code == policy::reason::ledger_integrity || code == policy::reason::revoked;
}

// Every reason `candidate` fails in `environment` under `pol`, with the digest's facts and the
// timeless evidence reasons taken from the cache: the same reasons as policy::evaluate with the
// facts of load_facts.
Reasons evaluate_cached(const std::shared_ptr<const policy::Policy>& pol,
                        const std::string& environment,
                        const Candidate& candidate,
                        const std::shared_ptr<const CachedFacts>& cached,
                        const policy::ApprovedIn& approved_in,
                        const policy::EvaluationOptions& options) {
  const Facts* facts = cached ? cached->facts().get() : nullptr;
  return policy::evaluate(*pol, environment, candidate, facts, approved_in, options,
                          [&](const policy::EnvironmentPolicy& env, const Facts&) {
                            return cached->timeless_evidence(pol, env);
                          });
}

// Judge the input `lookups` describes, whose digest's facts are `facts`, asking `approved_in`
// whether it was approved in the environments that come before, and add it to `ev`.
void judge(Evaluation& ev,
           const InputLookups& lookups,
           const std::shared_ptr<const CachedFacts>& facts,
           const std::shared_ptr<const policy::Policy>& pol,
           const PromotionRequest& req,
           const policy::ApprovedIn& approved_in,
           const ledger::Integrity& integrity,
           TimeNs now) {
  Candidate c = lookups.candidate;
  policy::EvaluationOptions options;
  options.now = now;
  Reasons reasons = evaluate_cached(pol, req.environment, c, facts, approved_in, options);
  if (!integrity.ok) {
    reasons.push_back(Reason{policy::reason::ledger_integrity,
                             "the ledger failed its integrity check: " + integrity.message,
                             {},
                             {}});
  }
  std::string label = c.reference && !c.reference->digest.empty() ? c.reference->pinned() : c.input;
  for (auto& r : reasons) {
    r.reference = label;
    ev.overridable = ev.overridable && !never_overridable(r.code);
  }
  ev.candidates.push_back(std::move(c));
  ev.reasons.push_back(std::move(reasons));
  ev.previous.push_back(lookups.previous);
}

// Evaluate `req` on `view`. When `looked_up` is given, it receives what the ledger answered for
// each input, approved_in questions included, for evaluate_remembered.
Evaluation
evaluate_promotion(ledger::View& view,
                   FactsCache& cache,
                   const std::shared_ptr<const policy::Policy>& pol,
                   const PromotionRequest& req,
                   const ledger::Integrity& integrity,
                   TimeNs now,
                   std::vector<std::shared_ptr<const InputLookups>>* looked_up = nullptr) {
  Evaluation ev;
  auto slots = view.slots(req.environment);
  for (const auto& input : req.inputs) {
    auto lookups = std::make_shared<InputLookups>();
    std::shared_ptr<const CachedFacts> facts;
    Candidate& c = lookups->candidate;
    c.input = input;
    c.reference = policy::parse_reference(input);
    if (c.reference) {
      const auto& ref = *c.reference;
      if (ref.digest.empty()) {
        c.tag_digests = view.tag_digests(ref.name(), ref.familiar_tag());
      } else if (policy::is_sha256_digest(ref.digest)) {
        facts = cache.get(view, ref.digest);
        lookups->has_facts = true;
        lookups->facts = facts;
        if (auto rev = view.revocation(ref.digest)) {
          c.revoked = rev->reason;
        }
      }
      for (const auto& s : slots) {
        if (s.repository == ref.name()) {
          lookups->previous = s.digest;
        }
      }
    }
    auto approved_in = [&](const std::string& env, const std::string& digest) {
      bool approved = view.approved_in(env, digest);
      lookups->approved.push_back({env, digest, approved});
      return approved;
    };
    judge(ev, *lookups, facts, pol, req, approved_in, integrity, now);
    if (looked_up != nullptr) {
      looked_up->push_back(std::move(lookups));
    }
  }
  return ev;
}

// Evaluate `req` from what the ledger answered earlier (`looked_up`, one per input); nullopt if
// the evaluation asks a question that was not asked then (the policy changed, say), or if the facts
// cache has dropped a digest's facts since.
std::optional<Evaluation>
evaluate_remembered(const std::vector<std::shared_ptr<const InputLookups>>& looked_up,
                    const std::shared_ptr<const policy::Policy>& pol,
                    const PromotionRequest& req,
                    const ledger::Integrity& integrity,
                    TimeNs now) {
  Evaluation ev;
  bool unanswered = false;
  for (const auto& lookups : looked_up) {
    std::shared_ptr<const CachedFacts> facts = lookups->facts.lock();
    if (lookups->has_facts && !facts) {
      return std::nullopt;
    }
    auto approved_in = [&](const std::string& env, const std::string& digest) {
      for (const auto& a : lookups->approved) {
        if (a.environment == env && a.digest == digest) {
          return a.approved;
        }
      }
      unanswered = true;
      return false;
    };
    judge(ev, *lookups, facts, pol, req, approved_in, integrity, now);
  }
  if (unanswered) {
    return std::nullopt;
  }
  return ev;
}

// The key of a dry run's input in the memo: unambiguous for any environment and input text.
std::string memo_key(const std::string& environment, const std::string& input) {
  return std::to_string(environment.size()) + ":" + environment + input;
}

json promotion_item(const Candidate& c, const json& previous, const std::string& env) {
  json item{{"environment", env}, {"input", c.input}};
  if (c.reference && !c.reference->digest.empty()) {
    item["reference"] = c.reference->pinned();
    item["repository"] = c.reference->name();
    item["digest"] = c.reference->digest;
  } else {
    item["reference"] = c.input;
    item["repository"] = c.reference ? json(c.reference->name()) : json(nullptr);
    item["digest"] = nullptr;
  }
  item["previous_digest"] = previous;
  return item;
}

// The answer to a promotion request: `seq` is null and `checkpoint` empty unless ledgered.
json promotion_answer(const Evaluation& ev,
                      bool approved,
                      const json& seq,
                      const std::string& checkpoint,
                      const PromotionRequest& req,
                      const std::string& policy_sha256) {
  json body{{"decision", approved ? "approved" : "refused"},
            {"seq", seq},
            {"environment", req.environment},
            {"policy_sha256", policy_sha256},
            {"dry_run", req.dry_run}};
  if (!checkpoint.empty()) {
    body["checkpoint"] = checkpoint;
  }
  json items = json::array();
  for (std::size_t i = 0; i < ev.candidates.size(); ++i) {
    json item = promotion_item(ev.candidates[i], ev.previous[i], req.environment);
    // All or nothing: in a refused bundle no reference is approved, not even one that passed.
    item["decision"] = approved ? "approved" : "refused";
    if (!ev.reasons[i].empty()) {
      item["reasons"] = reasons_json(ev.reasons[i]);
    }
    items.push_back(std::move(item));
  }
  if (!req.bundle) {
    body["digest"] = items[0]["digest"];
    body["reference"] = items[0]["reference"];
    body["repository"] = items[0]["repository"];
    body["previous_digest"] = items[0]["previous_digest"];
  } else {
    body["promotions"] = items;
  }
  Reasons all = ev.all();
  if (approved && req.break_glass) {
    body["break_glass"] = json{{"reason", *req.break_glass}, {"overridden", reasons_json(all)}};
  }
  if (!approved) {
    body["reasons"] = reasons_json(all);
  }
  return body;
}

bool same_reasons(const Reasons& a, const Reasons& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Reason& x, const Reason& y) {
    return x.code == y.code && x.message == y.message && x.gate == y.gate &&
           x.reference == y.reference;
  });
}

// True if `answer` was made from an evaluation with the outcome of `ev` under a policy with
// `policy_sha256`: then, for the same request, its text is the answer to `ev`.
bool made_of(const DryRunAnswer& answer,
             const Evaluation& ev,
             bool approved,
             const std::string& policy_sha256) {
  return answer.approved == approved && answer.policy_sha256 == policy_sha256 &&
         answer.previous == ev.previous &&
         std::equal(answer.reasons.begin(), answer.reasons.end(), ev.reasons.begin(),
                    ev.reasons.end(), same_reasons);
}

// Everything of a dry run's request its answer depends on, apart from the evaluation: the
// environment, the inputs in order, bundle or not, and the break glass reason. Unambiguous.
std::string answer_key(const PromotionRequest& req) {
  std::string key = memo_key(req.environment, "");
  key += req.bundle ? 'B' : 'S';
  for (const auto& input : req.inputs) {
    key += memo_key(input, "");
  }
  key += req.break_glass ? memo_key(*req.break_glass, "") : std::string("-");
  return key;
}

} // namespace

// --- Service ------------------------------------------------------------------------------

Service::Service(Config config,
                 std::unique_ptr<ledger::Ledger> ledger,
                 Metrics& metrics,
                 FactsCacheLimits cache_limits)
    : m_config(std::move(config)), m_ledger(std::move(ledger)), m_metrics(metrics),
      m_facts_cache(cache_limits),
      m_dry_runs(k_max_remembered, k_max_remembered_bytes, k_max_remembered_entry_bytes),
      m_dry_run_answers(k_max_remembered, k_max_remembered_bytes, k_max_remembered_entry_bytes) {
  m_metrics.ledger_size(m_ledger->size());
  m_metrics.checkpoint_size(m_ledger->size());
}

Service::~Service() {
  m_ledger->close();
}

std::shared_ptr<const policy::Policy> Service::policy() const {
  std::lock_guard lock(m_policy_mutex);
  return m_policy;
}

bool Service::ready() const {
  return !m_stopping && policy() != nullptr && m_ledger->integrity().ok;
}

Result<void> Service::load_policy() {
  auto text = read_file(m_config.policy_path);
  if (!text) {
    return make_error(Errc::invalid_argument, "policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(*text);
  if (!parsed) {
    return make_error(Errc::invalid_argument,
                      "policy " + m_config.policy_path + ": " + parsed.error().message);
  }
  auto pol = std::make_shared<const policy::Policy>(std::move(*parsed));
  std::string newest;
  auto read = m_ledger->read([&](ledger::View& view) {
    if (auto e = view.latest_policy()) {
      newest = str(e->body, "sha256");
    }
  });
  if (!read) {
    return read.error();
  }
  if (newest != pol->sha256 && m_ledger->integrity().ok) {
    auto appended = m_ledger->append(ledger::Draft{
        ledger::k_policy, "digestgated",
        json{{"sha256", pol->sha256}, {"path", m_config.policy_path}, {"policy", pol->document}}});
    if (!appended) {
      return make_error(appended.error().code,
                        "cannot ledger the policy: " + appended.error().message);
    }
    m_metrics.ledger_size(m_ledger->size());
    log("info", "policy ledgered", {{"sha256", pol->sha256}, {"seq", appended->entry.seq}});
  }
  std::lock_guard lock(m_policy_mutex);
  m_policy = std::move(pol);
  return {};
}

void Service::handle(Request request, Respond respond) {
  auto ctx = std::make_shared<Context>();
  ctx->request = std::move(request);
  ctx->respond = std::move(respond);
  ctx->metrics = &m_metrics;
  ctx->route = "unknown";
  try {
    dispatch(ctx);
  } catch (const std::exception& ex) {
    log("error", "request failed", {{"request_id", ctx->request.request_id}, {"error", ex.what()}});
    ctx->error(500, "internal", std::string("internal error: ") + ex.what());
  }
}

void Service::dispatch(const std::shared_ptr<Context>& ctx) {
  Context& c = *ctx;
  const std::string& target = c.request.target;
  auto qpos = target.find('?');
  std::string raw_path = target.substr(0, qpos);
  auto path = percent_decode(raw_path, false);
  if (!path || path->empty() || path->front() != '/') {
    c.error(400, "bad-request", "malformed request target");
    return;
  }
  c.path = *path;
  // Split before decoding, so that an encoded '/' stays inside its segment.
  std::vector<std::string> parts;
  for (const auto& segment : split_path(raw_path)) {
    auto decoded = percent_decode(segment, false);
    if (!decoded) {
      c.error(400, "bad-request", "malformed request target");
      return;
    }
    parts.push_back(std::move(*decoded));
  }
  if (qpos != std::string::npos) {
    std::string_view q = std::string_view(target).substr(qpos + 1);
    while (!q.empty()) {
      auto amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      auto eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!key || !value) {
        c.error(400, "bad-request", "malformed query string");
        return;
      }
      if (!key->empty()) {
        c.query[*key] = *value;
      }
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    }
  }
  const std::string& method = c.request.method;

  // Endpoints without a token.
  if (c.path == "/healthz" || c.path == "/readyz" || c.path == "/metrics") {
    c.route = c.path;
    if (method != "GET" && method != "HEAD") {
      c.error(405, "method-not-allowed", "use GET");
      return;
    }
    if (c.path == "/healthz") {
      c.reply(200, json{{"status", "ok"}});
    } else if (c.path == "/readyz") {
      json problems = json::array();
      auto integrity = m_ledger->integrity();
      if (!integrity.ok) {
        problems.push_back("ledger-integrity: " + integrity.message);
      }
      if (!policy()) {
        problems.push_back("no policy loaded");
      }
      if (m_stopping) {
        problems.push_back("stopping");
      }
      if (problems.empty()) {
        c.reply(200, json{{"status", "ready"}, {"entries", m_ledger->size()}});
      } else {
        c.reply(503, json{{"status", "not-ready"}, {"problems", problems}});
      }
    } else {
      c.reply_text(200, m_metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    return;
  }

  // The web view's static files, without a token.
  if (is_ui_path(c.path)) {
    c.route = "/ui/";
    c.send(ui_response(method, c.path, c.request.if_none_match));
    return;
  }

  if (parts.empty() || parts[0] != "v1") {
    c.error(404, "not-found", "no such endpoint: " + c.path);
    return;
  }

  // Authentication: every /v1/ endpoint needs a bearer token.
  const std::string& auth = c.request.authorization;
  constexpr std::string_view k_bearer = "Bearer ";
  if (auth.size() > k_bearer.size() && (auth.compare(0, k_bearer.size(), k_bearer) == 0 ||
                                        auth.compare(0, k_bearer.size(), "bearer ") == 0)) {
    std::string hash = to_hex(sha256(std::string_view(auth).substr(k_bearer.size())));
    for (const auto& p : m_config.principals) {
      // Compare against every principal so the time taken does not say which one matched.
      if (constant_time_equal(hash, p.token_sha256) && c.principal == nullptr) {
        c.principal = &p;
      }
    }
  }

  std::optional<std::string> arg;
  std::string route;
  std::string want_method;
  std::string role;
  auto n = parts.size();
  if (n == 2 && parts[1] == "entries") {
    route = "/v1/entries", want_method = "GET";
  } else if (n == 3 && parts[1] == "entries") {
    route = "/v1/entries/{seq}", want_method = "GET", arg = parts[2];
  } else if (n == 2 && parts[1] == "checkpoint") {
    route = "/v1/checkpoint", want_method = "GET";
  } else if (n == 3 && parts[1] == "proofs" && parts[2] == "consistency") {
    route = "/v1/proofs/consistency", want_method = "GET";
  } else if (n == 2 && parts[1] == "keys") {
    route = "/v1/keys", want_method = "GET";
  } else if (n == 3 && parts[1] == "digests") {
    route = "/v1/digests/{digest}", want_method = "GET", arg = parts[2];
  } else if (n == 2 && parts[1] == "environments") {
    route = "/v1/environments", want_method = "GET";
  } else if (n == 3 && parts[1] == "environments") {
    route = "/v1/environments/{env}", want_method = "GET", arg = parts[2];
  } else if (n == 4 && parts[1] == "environments" && parts[3] == "deployments") {
    route = "/v1/environments/{env}/deployments", want_method = "POST", arg = parts[2];
    role = "promoter";
  } else if (n == 4 && parts[1] == "environments" && parts[3] == "rollback") {
    route = "/v1/environments/{env}/rollback", want_method = "POST", arg = parts[2];
    role = "operator";
  } else if (n == 2 && parts[1] == "policy") {
    route = "/v1/policy", want_method = "GET";
  } else if (n == 2 && parts[1] == "whoami") {
    route = "/v1/whoami", want_method = "GET";
  } else if (n == 3 && parts[1] == "policy" && parts[2] == "what-if") {
    route = "/v1/policy/what-if", want_method = "POST"; // read-only: any role
  } else if (n == 2 && parts[1] == "validations") {
    route = "/v1/validations", want_method = "POST", role = "recorder";
  } else if (n == 2 && parts[1] == "promotions") {
    route = "/v1/promotions", want_method = "POST", role = "promoter";
  } else if (n == 2 && parts[1] == "revocations") {
    route = "/v1/revocations", want_method = "POST", role = "operator";
  }
  if (route.empty()) {
    c.error(404, "not-found", "no such endpoint: " + c.path);
    return;
  }
  c.route = route;
  if (c.principal == nullptr) {
    c.error(401, "unauthorized", "a valid bearer token is required");
    return;
  }
  bool is_get = method == "GET" || method == "HEAD";
  if ((want_method == "GET" && !is_get) || (want_method == "POST" && method != "POST")) {
    c.error(405, "method-not-allowed", route + " accepts " + want_method);
    return;
  }
  // The promotion endpoint checks its roles itself: break glass needs operator, not promoter.
  if (!role.empty() && route != "/v1/promotions" && !c.principal->has_role(role)) {
    c.error(403, "forbidden", "principal '" + c.principal->name + "' lacks the role " + role);
    return;
  }

  if (route == "/v1/entries") {
    get_entries(ctx);
  } else if (route == "/v1/entries/{seq}") {
    get_entry(ctx, *arg);
  } else if (route == "/v1/checkpoint") {
    get_checkpoint(ctx);
  } else if (route == "/v1/proofs/consistency") {
    get_consistency(ctx);
  } else if (route == "/v1/keys") {
    get_keys(ctx);
  } else if (route == "/v1/digests/{digest}") {
    get_digest(ctx, *arg);
  } else if (route == "/v1/environments") {
    get_environments(ctx);
  } else if (route == "/v1/environments/{env}") {
    get_environment(ctx, *arg);
  } else if (route == "/v1/environments/{env}/deployments") {
    post_deployment(ctx, *arg);
  } else if (route == "/v1/environments/{env}/rollback") {
    post_rollback(ctx, *arg);
  } else if (route == "/v1/policy") {
    get_policy(ctx);
  } else if (route == "/v1/whoami") {
    get_whoami(ctx);
  } else if (route == "/v1/policy/what-if") {
    post_what_if(ctx);
  } else if (route == "/v1/validations") {
    post_validation(ctx);
  } else if (route == "/v1/promotions") {
    post_promotion(ctx);
  } else if (route == "/v1/revocations") {
    post_revocation(ctx);
  }
}

std::optional<json> Service::body_object(const Ctx& ctx) {
  json body = json::parse(ctx->request.body, nullptr, false);
  if (body.is_discarded()) {
    ctx->error(400, "bad-json", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    ctx->error(400, "bad-json", "the request body must be a JSON object");
    return std::nullopt;
  }
  if (policy::nested_deeper_than(body, policy::k_max_record_depth)) {
    ctx->error(400, "bad-json",
               "the request body nests arrays and objects deeper than " +
                   std::to_string(policy::k_max_record_depth) + " levels");
    return std::nullopt;
  }
  return body;
}

void Service::commit_failed() {
  // A failed commit takes back entries that writer steps saw (and cached) but that never became
  // durable; their seqs could later be reused by other entries.
  m_facts_cache.clear();
  m_dry_runs.clear();
  m_dry_run_answers.clear();
}

void Service::ledger_failure(const Ctx& ctx, const Error& error) {
  log("error", "ledger failure",
      {{"request_id", ctx->request.request_id}, {"error", error.message}});
  if (error.code == Errc::corrupt) {
    ctx->error(503, "ledger-integrity", error.message);
  } else if (error.code == Errc::unavailable) {
    ctx->error(503, "unavailable", error.message);
  } else {
    ctx->error(500, "internal", error.message);
  }
}

// --- Reads --------------------------------------------------------------------------------

void Service::get_entries(const Ctx& ctx) {
  ledger::EntryFilter filter;
  if (!ctx->param("after").empty()) {
    auto v = to_int(ctx->param("after"));
    if (!v || *v < 0) {
      ctx->error(400, "bad-request", "after must be a non-negative integer");
      return;
    }
    filter.after = *v;
  }
  if (!ctx->param("limit").empty()) {
    auto v = to_int(ctx->param("limit"));
    if (!v || *v < 1 || *v > 1000) {
      ctx->error(400, "bad-request", "limit must be an integer from 1 to 1000");
      return;
    }
    filter.limit = *v;
  }
  filter.kind = ctx->param("kind");
  if (!filter.kind.empty() && !ledger::is_entry_kind(filter.kind)) {
    ctx->error(400, "bad-request",
               "kind must be one of validation, promotion, rollback, deployment, revocation, "
               "policy");
    return;
  }
  filter.digest = ctx->param("digest");
  filter.environment = ctx->param("environment");
  json entries = json::array();
  std::int64_t last = filter.after;
  auto r = m_ledger->read([&](ledger::View& view) {
    for (const auto& e : view.entries(filter)) {
      entries.push_back(entry_json(e));
      last = e.seq;
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  ctx->reply(200, json{{"entries", entries}, {"next_after", last}});
}

void Service::get_entry(const Ctx& ctx, const std::string& seq_text) {
  auto seq = to_int(seq_text);
  if (!seq || *seq < 1) {
    ctx->error(400, "bad-request", "an entry's seq is a positive integer");
    return;
  }
  std::string note = m_ledger->checkpoint();
  auto cp = ledger::parse_checkpoint(note);
  if (!cp) {
    ctx->error(503, "unavailable", "no checkpoint yet");
    return;
  }
  std::optional<ledger::Entry> entry;
  std::vector<Hash> proof;
  auto r = m_ledger->read([&](ledger::View& view) {
    entry = view.entry(*seq);
    if (entry && static_cast<std::uint64_t>(*seq) <= cp->size) {
      proof = view.inclusion_proof(static_cast<std::uint64_t>(*seq - 1), cp->size);
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
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

void Service::get_whoami(const Ctx& ctx) {
  ctx->reply(200, json{{"name", ctx->principal->name}, {"roles", ctx->principal->roles}});
}

void Service::get_checkpoint(const Ctx& ctx) {
  ctx->reply_text(200, m_ledger->checkpoint(), "text/plain; charset=utf-8");
}

void Service::get_consistency(const Ctx& ctx) {
  auto from = to_int(ctx->param("from"));
  auto to = to_int(ctx->param("to"));
  auto cp = ledger::parse_checkpoint(m_ledger->checkpoint());
  std::uint64_t size = cp ? cp->size : 0;
  if (!from || !to || *from < 1 || *from > *to || static_cast<std::uint64_t>(*to) > size) {
    ctx->error(400, "bad-request",
               "need 0 < from <= to <= " + std::to_string(size) + " (the current tree size)");
    return;
  }
  std::vector<Hash> proof;
  Hash root1{}, root2{};
  auto r = m_ledger->read([&](ledger::View& view) {
    proof =
        view.consistency_proof(static_cast<std::uint64_t>(*from), static_cast<std::uint64_t>(*to));
    root1 = view.root_at(static_cast<std::uint64_t>(*from));
    root2 = view.root_at(static_cast<std::uint64_t>(*to));
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  ctx->reply(200, json{{"from", *from},
                       {"to", *to},
                       {"root1", to_hex(root1)},
                       {"root2", to_hex(root2)},
                       {"proof", hashes_json(proof)}});
}

void Service::get_keys(const Ctx& ctx) {
  std::string verifier = m_ledger->verifier();
  auto v = ledger::parse_verifier(verifier);
  json body{{"origin", m_config.origin}, {"algorithm", "ed25519"}, {"verifier", verifier}};
  if (v) {
    body["public_key"] = base64_encode(v->public_key);
  }
  auto pem = read_file(m_config.state_dir + "/checkpoint.pub");
  body["public_key_pem"] = pem ? json(*pem) : json(nullptr);
  ctx->reply(200, body);
}

void Service::get_policy(const Ctx& ctx) {
  auto pol = policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }
  std::int64_t seq = 0;
  auto r = m_ledger->read([&](ledger::View& view) {
    if (auto e = view.latest_policy()) {
      seq = e->seq;
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  ctx->reply(200, json{{"sha256", pol->sha256},
                       {"path", m_config.policy_path},
                       {"seq", seq},
                       {"policy", pol->document}});
}

void Service::get_digest(const Ctx& ctx, const std::string& digest) {
  if (!policy::is_sha256_digest(digest)) {
    ctx->error(400, "bad-request",
               "'" + digest.substr(0, 100) + "' is not a digest (sha256:<64 lowercase hex>)");
    return;
  }
  auto pol = policy();
  std::shared_ptr<const Facts> facts;
  std::optional<ledger::Revocation> revoked;
  json current_in = json::array();
  json entries = json::array();
  auto r = m_ledger->read([&](ledger::View& view) {
    facts = m_facts_cache.get(view, digest)->facts();
    revoked = view.revocation(digest);
    for (const auto& s : view.slots("")) {
      if (s.digest == digest) {
        current_in.push_back(json{{"environment", s.environment},
                                  {"repository", s.repository},
                                  {"seq", s.seq},
                                  {"time", s.time}});
      }
    }
    for (const auto& e : view.digest_entries(digest, "")) {
      entries.push_back(json{{"seq", e.seq}, {"kind", e.kind}, {"time", e.time}});
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  if (!facts && !revoked) {
    ctx->error(404, "not-found", digest + " has no recorded evidence");
    return;
  }
  json body = facts ? facts->to_json() : json{{"digest", digest}};
  body["name"] = facts ? json(facts->repository) : json(nullptr);
  if (facts) {
    body["checks"] = policy::compute_checks(*facts).to_json();
    std::vector<policy::TrustedKey> keys =
        pol ? pol->trusted_keys : std::vector<policy::TrustedKey>{};
    json sigs = json::array();
    for (const auto& s : facts->signatures) {
      auto f = policy::check_cosign_signature(s, keys, digest, facts->repository);
      sigs.push_back(json{{"key", f.key.empty() ? json(nullptr) : json(f.key)},
                          {"verified", f.verified && f.binds},
                          {"manifest_digest", f.manifest_digest},
                          {"docker_reference", f.docker_reference},
                          {"error", f.error.empty() ? json(nullptr) : json(f.error)}});
    }
    body["signatures"] = sigs;
    json atts = json::array();
    for (const auto& a : facts->attestations) {
      auto f = policy::check_attestation(a, keys, digest);
      atts.push_back(json{{"key", f.key.empty() ? json(nullptr) : json(f.key)},
                          {"verified", f.verified && f.subject_matches && f.error.empty()},
                          {"predicate_type", f.predicate_type},
                          {"builder_id", f.builder_id},
                          {"source_repository", f.source_repository},
                          {"source_commit", f.source_commit},
                          {"error", f.error.empty() ? json(nullptr) : json(f.error)}});
    }
    body["attestations"] = atts;
  }
  body["entries"] = entries;
  body["current_in"] = current_in;
  body["revoked"] =
      revoked ? json{{"reason", revoked->reason}, {"seq", revoked->seq}, {"time", revoked->time}}
              : json(nullptr);
  ctx->reply(200, body);
}

void Service::get_environments(const Ctx& ctx) {
  auto pol = policy();
  std::map<std::string, json> envs;
  if (pol) {
    for (const auto& [name, e] : pol->environments) {
      envs[name] = json::object();
    }
  }
  auto r = m_ledger->read([&](ledger::View& view) {
    for (const auto& name : view.environments()) {
      envs.try_emplace(name, json::object());
    }
    for (const auto& s : view.slots("")) {
      envs[s.environment][s.repository] =
          json{{"current", slot_json(s.repository, s.digest, s.seq, s.time)},
               {"last_known_good", lkg_json(last_known_good(view, s.environment, s.repository))}};
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  json list = json::array();
  for (auto& [name, repos] : envs) {
    list.push_back(json{{"name", name},
                        {"in_policy", pol && pol->environment(name) != nullptr},
                        {"repositories", repos}});
  }
  ctx->reply(200, json{{"environments", list}});
}

void Service::get_environment(const Ctx& ctx, const std::string& env) {
  auto pol = policy();
  std::int64_t limit = 50;
  if (!ctx->param("limit").empty()) {
    auto v = to_int(ctx->param("limit"));
    if (!v || *v < 1 || *v > 1000) {
      ctx->error(400, "bad-request", "limit must be an integer from 1 to 1000");
      return;
    }
    limit = *v;
  }
  std::string repository = ctx->param("repository");
  if (!repository.empty()) {
    auto normalized = policy::normalize_repository(repository);
    if (!normalized) {
      ctx->error(400, "bad-request", "repository: " + normalized.error().message);
      return;
    }
    repository = *normalized;
  }
  json repos = json::object();
  json history = json::array();
  bool known = pol && pol->environment(env) != nullptr;
  auto r = m_ledger->read([&](ledger::View& view) {
    for (const auto& s : view.slots(env)) {
      if (!repository.empty() && s.repository != repository) {
        continue;
      }
      repos[s.repository] =
          json{{"current", slot_json(s.repository, s.digest, s.seq, s.time)},
               {"last_known_good", lkg_json(last_known_good(view, env, s.repository))}};
    }
    for (const auto& e : view.environment_history(env, repository, limit)) {
      history.push_back(entry_json(e));
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  if (!known && history.empty()) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy or the ledger");
    return;
  }
  ctx->reply(200, json{{"name", env}, {"repositories", repos}, {"history", history}});
}

// --- Writes -------------------------------------------------------------------------------

void Service::post_validation(const Ctx& ctx) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  auto record = policy::parse_record(*input);
  if (!record) {
    ctx->error(400, "bad-request", record.error().message);
    return;
  }
  struct Outcome {
    std::optional<Error> conflict;
    json checks;
  };
  auto outcome = std::make_shared<Outcome>();
  auto rec = std::make_shared<policy::Record>(std::move(*record));
  std::string actor = ctx->principal->name;
  FactsCache& cache = m_facts_cache;
  m_ledger->submit(
      [rec, outcome, actor, &cache](ledger::View& view) -> std::optional<ledger::Draft> {
        auto cached = cache.get(view, rec->digest);
        Facts facts = cached->facts() ? *cached->facts() : Facts{};
        auto merged = policy::merge_record(facts, *rec, view.size() + 1);
        if (!merged) {
          outcome->conflict = merged.error();
          return std::nullopt;
        }
        outcome->checks = policy::compute_checks(facts).to_json();
        json tags = json::array();
        if (rec->document["subject"].contains("tags")) {
          tags = rec->document["subject"]["tags"];
        }
        return ledger::Draft{ledger::k_validation, actor,
                             json{{"digest", rec->digest},
                                  {"repository", rec->repository},
                                  {"tags", tags},
                                  {"evidence", rec->document},
                                  {"checks", outcome->checks}}};
      },
      [this, ctx, rec, outcome](Result<std::optional<ledger::Committed>> result) {
        if (!result) {
          commit_failed();
          ledger_failure(ctx, result.error());
          return;
        }
        if (!*result) {
          ctx->error(409, "evidence-conflict", outcome->conflict->message);
          return;
        }
        m_metrics.ledger_size((*result)->entry.seq);
        m_metrics.checkpoint_size((*result)->entry.seq);
        ctx->reply(201, json{{"seq", (*result)->entry.seq},
                             {"digest", rec->digest},
                             {"repository", rec->repository},
                             {"checks", outcome->checks},
                             {"checkpoint", (*result)->checkpoint}});
      });
}

void Service::post_promotion(const Ctx& ctx) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  PromotionRequest req;
  const json& b = *input;
  if (!b.contains("environment") || !b["environment"].is_string() ||
      b["environment"].get<std::string>().empty()) {
    ctx->error(400, "bad-request", "environment is required (a string)");
    return;
  }
  req.environment = b["environment"].get<std::string>();
  bool has_one = b.contains("reference");
  bool has_many = b.contains("references");
  if (has_one == has_many) {
    ctx->error(400, "bad-request", "give either reference (a string) or references (a list)");
    return;
  }
  if (has_one) {
    if (!b["reference"].is_string()) {
      ctx->error(400, "bad-request", "reference must be a string");
      return;
    }
    req.inputs.push_back(b["reference"].get<std::string>());
  } else {
    if (!b["references"].is_array() || b["references"].empty() || b["references"].size() > 100) {
      ctx->error(400, "bad-request", "references must be a list of 1 to 100 strings");
      return;
    }
    for (const auto& r : b["references"]) {
      if (!r.is_string()) {
        ctx->error(400, "bad-request", "references must be a list of strings");
        return;
      }
      req.inputs.push_back(r.get<std::string>());
    }
    req.bundle = true;
    std::set<std::string> repos;
    for (const auto& text : req.inputs) {
      auto ref = policy::parse_reference(text);
      if (ref && !repos.insert(ref->name()).second) {
        ctx->error(400, "bad-request",
                   "a bundle holds one reference per repository; " + ref->name() +
                       " appears twice");
        return;
      }
    }
  }
  if (b.contains("dry_run")) {
    if (!b["dry_run"].is_boolean()) {
      ctx->error(400, "bad-request", "dry_run must be true or false");
      return;
    }
    req.dry_run = b["dry_run"].get<bool>();
  }
  if (b.contains("deploy_commit") && !b["deploy_commit"].is_null()) {
    if (!b["deploy_commit"].is_string()) {
      ctx->error(400, "bad-request", "deploy_commit must be a string");
      return;
    }
    req.deploy_commit = b["deploy_commit"].get<std::string>();
  }
  if (b.contains("break_glass") && !b["break_glass"].is_null()) {
    const json& bg = b["break_glass"];
    if (!bg.is_object() || !bg.contains("reason") || !bg["reason"].is_string() ||
        bg["reason"].get<std::string>().empty()) {
      ctx->error(400, "bad-request", "break_glass must be {\"reason\": \"...\"}");
      return;
    }
    req.break_glass = bg["reason"].get<std::string>();
  }
  const Principal& who = *ctx->principal;
  if (req.break_glass ? !who.has_role("operator") : !who.has_role("promoter")) {
    ctx->error(403, "forbidden",
               req.break_glass ? "break glass needs the operator role"
                               : "principal '" + who.name + "' lacks the role promoter");
    return;
  }
  auto pol = policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }

  auto respond = [this, ctx, req, pol](const Evaluation& ev, bool approved, json seq,
                                       const std::string& checkpoint) {
    if (!req.dry_run) {
      m_metrics.decision("promotion", approved ? "approved" : "refused");
      for (const auto& r : ev.all()) {
        m_metrics.reason(r.code);
      }
    }
    ctx->reply(approved ? 200 : 403,
               promotion_answer(ev, approved, seq, checkpoint, req, pol->sha256));
  };
  auto decide = [req](const Evaluation& ev) {
    bool clean = ev.all().empty();
    return clean || (req.break_glass.has_value() && ev.overridable);
  };

  if (req.dry_run) {
    auto integrity = m_ledger->integrity();
    // While the ledger has not grown, what it answered to the same questions still holds.
    std::int64_t size = m_ledger->size();
    std::vector<std::shared_ptr<const InputLookups>> remembered;
    for (const auto& text : req.inputs) {
      auto found = m_dry_runs.find(size, memo_key(req.environment, text));
      if (!found) {
        break;
      }
      remembered.push_back(std::move(found));
    }
    std::optional<Evaluation> ev;
    if (remembered.size() == req.inputs.size()) {
      ev = evaluate_remembered(remembered, pol, req, integrity, now_ns());
    }
    if (!ev) {
      std::vector<std::shared_ptr<const InputLookups>> looked_up;
      std::int64_t snapshot = 0;
      auto r = m_ledger->read([&](ledger::View& view) {
        snapshot = view.size();
        ev = evaluate_promotion(view, m_facts_cache, pol, req, integrity, now_ns(), &looked_up);
      });
      if (!r) {
        ledger_failure(ctx, r.error());
        return;
      }
      for (std::size_t i = 0; i < looked_up.size(); ++i) {
        std::size_t bytes = looked_up[i]->bytes();
        m_dry_runs.store(snapshot, memo_key(req.environment, req.inputs[i]),
                         std::move(looked_up[i]), bytes);
      }
    }
    // The answer is a function of the evaluation and the request: when both are what they were
    // for a remembered answer, its text is this answer's text.
    bool approved = decide(*ev);
    std::string key = answer_key(req);
    auto answer = m_dry_run_answers.find(size, key);
    if (!answer || !made_of(*answer, *ev, approved, pol->sha256)) {
      auto made = std::make_shared<DryRunAnswer>();
      made->policy_sha256 = pol->sha256;
      made->reasons = ev->reasons;
      made->previous = ev->previous;
      made->approved = approved;
      made->body = json_text(promotion_answer(*ev, approved, nullptr, "", req, pol->sha256));
      m_dry_run_answers.store(size, key, made, made->bytes());
      answer = std::move(made);
    }
    ctx->reply_text(approved ? 200 : 403, answer->body, "application/json");
    return;
  }

  auto integrity = m_ledger->integrity();
  if (!integrity.ok) {
    // The ledger accepts no entry; evaluate on a snapshot and refuse without a seq.
    std::optional<Evaluation> ev;
    auto r = m_ledger->read([&](ledger::View& view) {
      ev = evaluate_promotion(view, m_facts_cache, pol, req, integrity, now_ns());
    });
    if (!r) {
      ledger_failure(ctx, r.error());
      return;
    }
    respond(*ev, false, nullptr, "");
    return;
  }

  auto ev = std::make_shared<std::optional<Evaluation>>();
  auto approved = std::make_shared<bool>(false);
  std::string actor = who.name;
  FactsCache& cache = m_facts_cache;
  m_ledger->submit(
      [req, pol, ev, approved, actor, decide, integrity,
       &cache](ledger::View& view) -> std::optional<ledger::Draft> {
        *ev = evaluate_promotion(view, cache, pol, req, integrity, now_ns());
        *approved = decide(**ev);
        json items = json::array();
        for (std::size_t i = 0; i < (*ev)->candidates.size(); ++i) {
          json item = promotion_item((*ev)->candidates[i], (*ev)->previous[i], req.environment);
          item.erase("environment");
          items.push_back(std::move(item));
        }
        json body{{"environment", req.environment},
                  {"decision", *approved ? "approved" : "refused"},
                  {"bundle", req.bundle},
                  {"policy_sha256", pol->sha256},
                  {"promotions", items},
                  {"reasons", reasons_json((*ev)->all())}};
        if (!req.deploy_commit.empty()) {
          body["deploy_commit"] = req.deploy_commit;
        }
        if (req.break_glass) {
          body["break_glass"] = json{{"reason", *req.break_glass}, {"used", *approved}};
        }
        return ledger::Draft{ledger::k_promotion, actor, std::move(body)};
      },
      [this, ctx, ev, approved, respond](Result<std::optional<ledger::Committed>> result) {
        if (!result) {
          commit_failed();
        }
        if (!result || !*result) {
          ledger_failure(ctx, result ? make_error(Errc::internal, "nothing was ledgered")
                                     : result.error());
          return;
        }
        m_metrics.ledger_size((*result)->entry.seq);
        m_metrics.checkpoint_size((*result)->entry.seq);
        respond(**ev, *approved, (*result)->entry.seq, (*result)->checkpoint);
      });
}

void Service::post_deployment(const Ctx& ctx, const std::string& env) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  const json& b = *input;
  std::string digest = str(b, "digest");
  std::string status = str(b, "status");
  if (!policy::is_sha256_digest(digest)) {
    ctx->error(400, "bad-request", "digest is required (sha256:<64 lowercase hex>)");
    return;
  }
  if (status != "succeeded" && status != "failed") {
    ctx->error(400, "bad-request", "status must be \"succeeded\" or \"failed\"");
    return;
  }
  std::string running;
  if (b.contains("running_digest") && !b["running_digest"].is_null()) {
    running = str(b, "running_digest");
    if (!policy::is_sha256_digest(running)) {
      ctx->error(400, "bad-request", "running_digest must be sha256:<64 lowercase hex>");
      return;
    }
  }
  auto pol = policy();
  if (!pol || pol->environment(env) == nullptr) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy");
    return;
  }
  struct Outcome {
    std::string error;
    std::string repository;
    bool drift = false;
    bool current = false;
  };
  auto out = std::make_shared<Outcome>();
  std::string actor = ctx->principal->name;
  m_ledger->submit(
      [=](ledger::View& view) -> std::optional<ledger::Draft> {
        auto repository = view.digest_repository(digest);
        if (!repository) {
          // A digest reported as deployed but never recorded: find it among approvals anyway.
          out->error = digest + " has no recorded evidence";
          return std::nullopt;
        }
        out->repository = *repository;
        out->drift = !running.empty() && running != digest;
        for (const auto& s : view.slots(env)) {
          if (s.repository == *repository && s.digest == digest) {
            out->current = true;
          }
        }
        json body{{"environment", env}, {"repository", *repository}, {"digest", digest},
                  {"status", status},   {"drift", out->drift},       {"current", out->current}};
        body["running_digest"] = running.empty() ? json(nullptr) : json(running);
        return ledger::Draft{ledger::k_deployment, actor, std::move(body)};
      },
      [this, ctx, out, env, digest, status,
       running](Result<std::optional<ledger::Committed>> result) {
        if (!result) {
          commit_failed();
          ledger_failure(ctx, result.error());
          return;
        }
        if (!*result) {
          ctx->error(404, "not-found", out->error);
          return;
        }
        m_metrics.ledger_size((*result)->entry.seq);
        if (out->drift) {
          log("warn", "deployment drift",
              {{"environment", env}, {"digest", digest}, {"running_digest", running}});
        }
        ctx->reply(201, json{{"seq", (*result)->entry.seq},
                             {"environment", env},
                             {"repository", out->repository},
                             {"digest", digest},
                             {"status", status},
                             {"running_digest", running.empty() ? json(nullptr) : json(running)},
                             {"drift", out->drift},
                             {"current", out->current},
                             {"checkpoint", (*result)->checkpoint}});
      });
}

void Service::post_rollback(const Ctx& ctx, const std::string& env) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  const json& b = *input;
  std::string reason = str(b, "reason");
  if (reason.empty()) {
    ctx->error(400, "bad-request", "reason is required (a non-empty string)");
    return;
  }
  std::string repository;
  if (b.contains("repository") && !b["repository"].is_null()) {
    auto normalized = policy::normalize_repository(str(b, "repository"));
    if (!normalized) {
      ctx->error(400, "bad-request", "repository: " + normalized.error().message);
      return;
    }
    repository = *normalized;
  }
  std::string to;
  if (b.contains("to") && !b["to"].is_null()) {
    to = str(b, "to");
    if (!policy::is_sha256_digest(to)) {
      ctx->error(400, "bad-request", "to must be a digest (sha256:<64 lowercase hex>)");
      return;
    }
  }
  std::optional<std::string> break_glass;
  if (b.contains("break_glass") && !b["break_glass"].is_null()) {
    const json& bg = b["break_glass"];
    if (!bg.is_object() || str(bg, "reason").empty()) {
      ctx->error(400, "bad-request", "break_glass must be {\"reason\": \"...\"}");
      return;
    }
    break_glass = str(bg, "reason");
  }
  auto pol = policy();
  if (!pol) {
    ctx->error(503, "not-ready", "no policy loaded");
    return;
  }
  if (pol->environment(env) == nullptr) {
    ctx->error(404, "not-found", "no environment '" + env + "' in the policy");
    return;
  }
  struct Outcome {
    int status = 0;
    std::string error_code;
    std::string error;
    std::string repository;
    std::string from;
    std::string target;
    Reasons reasons;
    bool approved = false;
  };
  auto out = std::make_shared<Outcome>();
  std::string actor = ctx->principal->name;
  FactsCache* cache = &m_facts_cache;
  m_ledger->submit(
      [=](ledger::View& view) -> std::optional<ledger::Draft> {
        auto slots = view.slots(env);
        std::string repo = repository;
        if (repo.empty()) {
          if (slots.size() != 1) {
            out->status = 400;
            out->error_code = "bad-request";
            out->error = "repository is required: " + env + " holds " +
                         std::to_string(slots.size()) + " repositories";
            return std::nullopt;
          }
          repo = slots[0].repository;
        }
        const ledger::Slot* current = nullptr;
        for (const auto& s : slots) {
          if (s.repository == repo) {
            current = &s;
          }
        }
        if (current == nullptr) {
          out->status = 409;
          out->error_code = "no-known-good";
          out->error = "nothing of " + repo + " is current in " + env + "; nothing to roll back";
          return std::nullopt;
        }
        out->repository = repo;
        out->from = current->digest;
        if (!to.empty()) {
          bool approved_here = false;
          for (const auto& a : view.approvals(env, repo)) {
            approved_here = approved_here || a.digest == to;
          }
          if (!approved_here || to == current->digest) {
            out->status = 409;
            out->error_code = "no-known-good";
            out->error = to == current->digest
                             ? to + " is already current in " + env
                             : to + " was never approved for " + repo + " in " + env;
            return std::nullopt;
          }
          out->target = to;
        } else {
          auto lkg = last_known_good(view, env, repo);
          if (!lkg) {
            out->status = 409;
            out->error_code = "no-known-good";
            out->error = "no known-good digest of " + repo + " in " + env +
                         " to roll back to (none approved before the current one that is not "
                         "revoked, not rolled back from, and reported healthy)";
            return std::nullopt;
          }
          out->target = lkg->digest;
        }
        Candidate c;
        c.input = repo + "@" + out->target;
        c.reference = policy::parse_reference(c.input);
        auto cached = cache->get(view, out->target);
        if (auto rev = view.revocation(out->target)) {
          c.revoked = rev->reason;
        }
        auto approved_in = [&](const std::string& e, const std::string& d) {
          return view.approved_in(e, d);
        };
        policy::EvaluationOptions options;
        options.now = now_ns();
        options.skip_stage_order = true;
        options.skip_evidence_age = true;
        out->reasons = evaluate_cached(pol, env, c, cached, approved_in, options);
        for (auto& r : out->reasons) {
          r.reference = c.input;
        }
        bool overridable = true;
        for (const auto& r : out->reasons) {
          overridable = overridable && !never_overridable(r.code);
        }
        out->approved = out->reasons.empty() || (break_glass.has_value() && overridable);
        json body{{"environment", env},
                  {"repository", repo},
                  {"from_digest", out->from},
                  {"digest", out->target},
                  {"reference", c.input},
                  {"reason", reason},
                  {"decision", out->approved ? "approved" : "refused"},
                  {"policy_sha256", pol->sha256},
                  {"reasons", reasons_json(out->reasons)}};
        if (break_glass) {
          body["break_glass"] = json{{"reason", *break_glass}, {"used", !out->reasons.empty()}};
        }
        return ledger::Draft{ledger::k_rollback, actor, std::move(body)};
      },
      [this, ctx, out, env, break_glass, pol](Result<std::optional<ledger::Committed>> result) {
        if (!result) {
          commit_failed();
          ledger_failure(ctx, result.error());
          return;
        }
        if (!*result) {
          ctx->error(out->status, out->error_code, out->error);
          return;
        }
        m_metrics.ledger_size((*result)->entry.seq);
        m_metrics.decision("rollback", out->approved ? "approved" : "refused");
        for (const auto& r : out->reasons) {
          m_metrics.reason(r.code);
        }
        json body{{"decision", out->approved ? "approved" : "refused"},
                  {"seq", (*result)->entry.seq},
                  {"environment", env},
                  {"repository", out->repository},
                  {"digest", out->target},
                  {"reference", out->repository + "@" + out->target},
                  {"previous_digest", out->from},
                  {"policy_sha256", pol->sha256},
                  {"checkpoint", (*result)->checkpoint}};
        if (out->approved && break_glass && !out->reasons.empty()) {
          body["break_glass"] =
              json{{"reason", *break_glass}, {"overridden", reasons_json(out->reasons)}};
        }
        if (!out->approved) {
          body["reasons"] = reasons_json(out->reasons);
        }
        body["entry"] = entry_json((*result)->entry);
        ctx->reply(out->approved ? 200 : 403, body);
      });
}

void Service::post_revocation(const Ctx& ctx) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  std::string digest = str(*input, "digest");
  std::string reason = str(*input, "reason");
  if (!policy::is_sha256_digest(digest)) {
    ctx->error(400, "bad-request", "digest is required (sha256:<64 lowercase hex>)");
    return;
  }
  if (reason.empty()) {
    ctx->error(400, "bad-request", "reason is required (a non-empty string)");
    return;
  }
  struct Outcome {
    bool already = false;
    json affected = json::array();
  };
  auto out = std::make_shared<Outcome>();
  std::string actor = ctx->principal->name;
  m_ledger->submit(
      [=](ledger::View& view) -> std::optional<ledger::Draft> {
        if (view.revocation(digest)) {
          out->already = true;
          return std::nullopt;
        }
        for (const auto& s : view.slots("")) {
          if (s.digest != digest) {
            continue;
          }
          // The digest it would roll back to, once this revocation is in force.
          auto lkg = last_known_good(view, s.environment, s.repository);
          out->affected.push_back(json{{"environment", s.environment},
                                       {"repository", s.repository},
                                       {"last_known_good", lkg_json(lkg)}});
        }
        auto repository = view.digest_repository(digest);
        json body{{"digest", digest},
                  {"reason", reason},
                  {"repository", repository ? json(*repository) : json(nullptr)},
                  {"current_in", out->affected}};
        return ledger::Draft{ledger::k_revocation, actor, std::move(body)};
      },
      [this, ctx, out, digest, reason](Result<std::optional<ledger::Committed>> result) {
        if (!result) {
          commit_failed();
          ledger_failure(ctx, result.error());
          return;
        }
        if (!*result) {
          ctx->error(409, "already-revoked", digest + " is already revoked");
          return;
        }
        m_metrics.ledger_size((*result)->entry.seq);
        ctx->reply(201, json{{"seq", (*result)->entry.seq},
                             {"digest", digest},
                             {"reason", reason},
                             {"revoked", true},
                             {"current_in", out->affected},
                             {"environments", out->affected},
                             {"checkpoint", (*result)->checkpoint}});
      });
}

void Service::post_what_if(const Ctx& ctx) {
  auto input = body_object(ctx);
  if (!input) {
    return;
  }
  if (!input->contains("policy") || !(*input)["policy"].is_object()) {
    ctx->error(400, "bad-request", "policy is required (the proposed policy document)");
    return;
  }
  auto proposed = policy::parse_policy((*input)["policy"].dump());
  if (!proposed) {
    ctx->error(400, "bad-request", proposed.error().message);
    return;
  }
  std::int64_t recent = 20;
  json report = json::array();
  auto r = m_ledger->read([&](ledger::View& view) {
    for (const auto& environment : proposed->environments) {
      // Not a structured binding: clang before 16 cannot capture one in a lambda.
      const std::string& name = environment.first;
      std::set<std::pair<std::string, std::string>> seen;
      auto judge = [&](const std::string& repository, const std::string& digest, const char* role,
                       std::int64_t seq) {
        if (!seen.insert({repository, digest}).second) {
          return;
        }
        Candidate c;
        c.input = repository + "@" + digest;
        c.reference = policy::parse_reference(c.input);
        auto cached = m_facts_cache.get(view, digest);
        if (auto rev = view.revocation(digest)) {
          c.revoked = rev->reason;
        }
        auto approved_in = [&](const std::string& e, const std::string& d) {
          return view.approved_in(e, d);
        };
        policy::EvaluationOptions options;
        options.now = now_ns();
        // The proposed policy lives for this request only: nothing to memoize its reasons for.
        auto reasons =
            policy::evaluate(*proposed, name, c, cached->facts().get(), approved_in, options,
                             [&](const policy::EnvironmentPolicy& env, const Facts& facts) {
                               return policy::evaluate_timeless_evidence(*proposed, env, facts);
                             });
        report.push_back(json{{"environment", name},
                              {"repository", repository},
                              {"digest", digest},
                              {"reference", c.input},
                              {"role", role},
                              {"seq", seq},
                              {"decision", reasons.empty() ? "approved" : "refused"},
                              {"reasons", reasons_json(reasons)}});
      };
      for (const auto& s : view.slots(name)) {
        judge(s.repository, s.digest, "current", s.seq);
        std::int64_t n = 0;
        for (const auto& a : view.approvals(name, s.repository)) {
          if (++n > recent) {
            break;
          }
          judge(a.repository, a.digest, "recent-approval", a.seq);
        }
      }
    }
  });
  if (!r) {
    ledger_failure(ctx, r.error());
    return;
  }
  std::int64_t refused = 0;
  for (const auto& item : report) {
    refused += item["decision"] == "refused" ? 1 : 0;
  }
  ctx->reply(200, json{{"policy_sha256", proposed->sha256},
                       {"evaluated", report.size()},
                       {"would_refuse", refused},
                       {"results", report}});
}

} // namespace dg::daemon
