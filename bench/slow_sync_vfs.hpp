// A benchmark seam: a SQLite VFS that wraps the default one and makes every xSync take a fixed
// extra time, the way a cloud volume's fsync takes 1-10 ms where this machine's takes 0.15 ms.
// Registered as the default VFS, it applies to every database the process opens afterwards, so
// the SQLite baseline and digestgated pay the same price per sync.
//
// It exists only in the benchmark programs (dg_bench_sqlite and digestgated_bench); the shipped
// digestgated has no such code, which tests/e2e_smoke.cpp checks.
#pragma once

#include <chrono>

namespace dg::bench {

// The environment variable both benchmark programs read: the extra microseconds of every sync.
inline constexpr const char* k_sync_delay_variable = "DG_BENCH_SYNC_DELAY_US";

// Register the slow-sync VFS as the default, with `delay` added to every xSync. Call before any
// database is opened; later calls change the delay. Throws std::runtime_error when SQLite refuses.
void install_slow_sync_vfs(std::chrono::microseconds delay);

// install_slow_sync_vfs(DG_BENCH_SYNC_DELAY_US) when that variable is set to a positive number.
// Returns the delay installed (zero: none).
std::chrono::microseconds install_slow_sync_vfs_from_environment();

} // namespace dg::bench
