#include "daemon/service.hpp"

#include "daemon/core.hpp"
#include "daemon/log.hpp"
#include "daemon/observer.hpp"
#include "daemon/router.hpp"
#include "util/files.hpp"

namespace dg::daemon {

using nlohmann::json;

Service::Service(Config config,
                 std::unique_ptr<ledger::Ledger> ledger,
                 Metrics& metrics,
                 FactsCacheLimits cache_limits)
    : m_core(std::make_unique<Core>(std::move(config), std::move(ledger), metrics, cache_limits)),
      m_router(std::make_unique<Router>(route_table())) {
  m_core->observer->start();
}

Service::~Service() {
  close();
}

void Service::close() {
  m_core->observer->stop();
  m_core->ledger->close();
}

const Config& Service::config() const {
  return m_core->config;
}

ledger::Ledger& Service::ledger() {
  return *m_core->ledger;
}

void Service::set_stopping() {
  m_core->stopping = true;
  m_core->observer->request_stop();
}

bool Service::ready() const {
  return !m_core->stopping && m_core->policy() != nullptr && m_core->ledger->integrity().ok &&
         m_core->ledger->available();
}

Result<void> Service::load_policy() {
  const std::string& path = m_core->config.policy_path;
  auto text = read_file(path);
  if (!text) {
    return make_error(Errc::invalid_argument, "policy: " + text.error().message);
  }
  auto parsed = policy::parse_policy(
      *text, [&](const std::string& file) { return read_file_beside(path, file); });
  if (!parsed) {
    return make_error(Errc::invalid_argument, "policy " + path + ": " + parsed.error().message);
  }
  auto pol = std::make_shared<const policy::Policy>(std::move(*parsed));
  // The policy is ledgered with the digest of every trust root it names, so a trust root that
  // changes under an unchanged policy file is ledgered too (docs/sigstore.md).
  json body = {{"sha256", pol->sha256}, {"path", path}, {"policy", pol->document}};
  json roots = json::object();
  for (const auto& [name, trust] : pol->trusted_roots) {
    roots[name] = {{"file", pol->document["trusted_roots"][name]["file"]},
                   {"sha256", trust->sha256()}};
  }
  if (!roots.empty()) {
    body["trusted_roots"] = roots;
  }
  std::string newest;
  json newest_roots;
  auto read = m_core->ledger->read([&](ledger::View& view) {
    auto e = view.latest_policy();
    if (e && e->body.is_object() && e->body.contains("sha256") && e->body["sha256"].is_string()) {
      newest = e->body["sha256"].get<std::string>();
      newest_roots = e->body.value("trusted_roots", json());
    }
  });
  if (!read) {
    return read.error();
  }
  const bool changed = newest != pol->sha256 || newest_roots != body.value("trusted_roots", json());
  if (changed && m_core->ledger->integrity().ok) {
    auto appended = m_core->append(ledger::Draft{ledger::k_policy, "digestgated", body});
    if (!appended) {
      return make_error(appended.error().code,
                        "cannot ledger the policy: " + appended.error().message);
    }
    json fields = {{"sha256", pol->sha256}, {"seq", appended->entry.seq}};
    if (!roots.empty()) {
      fields["trusted_roots"] = roots;
    }
    log("info", "policy ledgered", fields);
  }
  m_core->set_policy(std::move(pol));
  return {};
}

void Service::handle(Request request, Respond respond) {
  auto ctx = std::make_shared<Context>();
  ctx->request = std::move(request);
  ctx->respond = std::move(respond);
  ctx->metrics = &m_core->metrics;
  ctx->current_size = [ledger = m_core->ledger.get()] { return ledger->size(); };
  try {
    m_router->dispatch(*m_core, ctx);
  } catch (const std::exception& ex) {
    log("error", "request failed", {{"request_id", ctx->request.request_id}, {"error", ex.what()}});
    ctx->error(500, "internal", std::string("internal error: ") + ex.what());
  }
}

} // namespace dg::daemon
