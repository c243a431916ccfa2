// The daemon's command line: `digestgated --config FILE` and `digestgated init --state-dir DIR`.
#pragma once

namespace dg::daemon {

int daemon_main(int argc, char** argv);

} // namespace dg::daemon
