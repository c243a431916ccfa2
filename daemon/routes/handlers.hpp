// Every endpoint's handler, one file per resource in this folder; routed by the table in
// daemon/routes/table.cpp (see daemon/router.hpp for how to add one). A handler answers its
// context exactly once, now or from the ledger's completion thread.
#pragma once

#include "daemon/context.hpp"

namespace dg::daemon {

class Core;

// health.cpp: no token.
void get_healthz(Core& core, const Ctx& ctx);
void get_readyz(Core& core, const Ctx& ctx);
void get_metrics(Core& core, const Ctx& ctx);

// ui.cpp: the web view's static files, no token.
void get_ui(Core& core, const Ctx& ctx);

// whoami.cpp
void get_whoami(Core& core, const Ctx& ctx);

// ledger_reads.cpp
void get_entries(Core& core, const Ctx& ctx);
void get_entry(Core& core, const Ctx& ctx);
void get_checkpoint(Core& core, const Ctx& ctx);
void get_consistency(Core& core, const Ctx& ctx);
void get_keys(Core& core, const Ctx& ctx);

// digests.cpp
void get_digest(Core& core, const Ctx& ctx);

// environments.cpp
void get_environments(Core& core, const Ctx& ctx);
void get_environment(Core& core, const Ctx& ctx);
void post_deployment(Core& core, const Ctx& ctx);

// rollback.cpp
void post_rollback(Core& core, const Ctx& ctx);

// promotions.cpp
void post_promotion(Core& core, const Ctx& ctx);

// validations.cpp
void post_validation(Core& core, const Ctx& ctx);

// revocations.cpp
void post_revocation(Core& core, const Ctx& ctx);

// schemas.cpp
void get_validation_schema(Core& core, const Ctx& ctx);

// admission.cpp: a token of any role, or a client certificate verified by TLS.
void post_admission(Core& core, const Ctx& ctx);

// observations.cpp
void post_observation(Core& core, const Ctx& ctx);
void get_resolve(Core& core, const Ctx& ctx);

// policy.cpp
void get_policy(Core& core, const Ctx& ctx);
void post_what_if(Core& core, const Ctx& ctx);

} // namespace dg::daemon
