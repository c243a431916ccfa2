// digestgated_bench: digestgated with the benchmark's slow-sync seam (bench/slow_sync_vfs.hpp),
// turned on by DG_BENCH_SYNC_DELAY_US. Built only with -DDG_BENCH=ON; never installed.
#include "bench/slow_sync_vfs.hpp"

#include "daemon/app.hpp"

#include <iostream>

int main(int argc, char** argv) {
  try {
    auto delay = dg::bench::install_slow_sync_vfs_from_environment();
    if (delay.count() > 0) {
      std::cerr << "digestgated_bench: every sync takes " << delay.count() << " us more\n";
    }
  } catch (const std::exception& ex) {
    std::cerr << "digestgated_bench: " << ex.what() << '\n';
    return 1;
  }
  return dg::daemon::daemon_main(argc, argv);
}
