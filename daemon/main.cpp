// digestgated: the digestgate daemon.
#include "daemon/app.hpp"

int main(int argc, char** argv) {
  return dg::daemon::daemon_main(argc, argv);
}
