// systemd readiness notification (sd_notify protocol) without libsystemd.
#pragma once

#include <string_view>

namespace dg::daemon {

// Send `state` (e.g. "READY=1") to $NOTIFY_SOCKET if set; a no-op otherwise. Best effort.
void notify_systemd(std::string_view state);

} // namespace dg::daemon
