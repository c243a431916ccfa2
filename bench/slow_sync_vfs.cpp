#include "bench/slow_sync_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace dg::bench {

namespace {

std::atomic<long long> g_delay_us{0};
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs{};
sqlite3_io_methods g_methods{};

// Our file: the base the shim hands SQLite, followed in memory by the real VFS's file.
struct SlowFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_file* real_of(sqlite3_file* f) {
  return reinterpret_cast<SlowFile*>(f)->real;
}

int slow_close(sqlite3_file* f) {
  sqlite3_file* real = real_of(f);
  int rc = real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
  f->pMethods = nullptr;
  return rc;
}
int slow_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int slow_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}
int slow_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int slow_sync(sqlite3_file* f, int flags) {
  int rc = real_of(f)->pMethods->xSync(real_of(f), flags);
  if (long long us = g_delay_us.load(std::memory_order_relaxed); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
  return rc;
}
int slow_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int slow_lock(sqlite3_file* f, int level) {
  return real_of(f)->pMethods->xLock(real_of(f), level);
}
int slow_unlock(sqlite3_file* f, int level) {
  return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
int slow_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int slow_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int slow_sector_size(sqlite3_file* f) {
  return real_of(f)->pMethods->xSectorSize(real_of(f));
}
int slow_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
int slow_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
int slow_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void slow_shm_barrier(sqlite3_file* f) {
  real_of(f)->pMethods->xShmBarrier(real_of(f));
}
int slow_shm_unmap(sqlite3_file* f, int delete_flag) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}
int slow_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, out);
}
int slow_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

int slow_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* slow = reinterpret_cast<SlowFile*>(f);
  slow->real = reinterpret_cast<sqlite3_file*>(slow + 1);
  slow->real->pMethods = nullptr;
  int rc = g_real->xOpen(g_real, name, slow->real, flags, out_flags);
  f->pMethods = slow->real->pMethods != nullptr ? &g_methods : nullptr;
  return rc;
}

// The VFS's own methods, forwarded with the real VFS as their first argument (it may keep state
// there).
int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
int vfs_randomness(sqlite3_vfs*, int n, char* out) {
  return g_real->xRandomness(g_real, n, out);
}
int vfs_sleep(sqlite3_vfs*, int us) {
  return g_real->xSleep(g_real, us);
}
int vfs_current_time(sqlite3_vfs*, double* out) {
  return g_real->xCurrentTime(g_real, out);
}
int vfs_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError(g_real, n, out);
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}

void init_methods() {
  g_methods.iVersion = 3;
  g_methods.xClose = slow_close;
  g_methods.xRead = slow_read;
  g_methods.xWrite = slow_write;
  g_methods.xTruncate = slow_truncate;
  g_methods.xSync = slow_sync;
  g_methods.xFileSize = slow_file_size;
  g_methods.xLock = slow_lock;
  g_methods.xUnlock = slow_unlock;
  g_methods.xCheckReservedLock = slow_check_reserved;
  g_methods.xFileControl = slow_file_control;
  g_methods.xSectorSize = slow_sector_size;
  g_methods.xDeviceCharacteristics = slow_device_characteristics;
  g_methods.xShmMap = slow_shm_map;
  g_methods.xShmLock = slow_shm_lock;
  g_methods.xShmBarrier = slow_shm_barrier;
  g_methods.xShmUnmap = slow_shm_unmap;
  g_methods.xFetch = slow_fetch;
  g_methods.xUnfetch = slow_unfetch;
}

} // namespace

void install_slow_sync_vfs(std::chrono::microseconds delay) {
  g_delay_us = delay.count();
  if (g_real != nullptr) {
    return;
  }
  if (sqlite3_initialize() != SQLITE_OK || (g_real = sqlite3_vfs_find(nullptr)) == nullptr) {
    throw std::runtime_error("slow-sync VFS: no default SQLite VFS");
  }
  init_methods();
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(sizeof(SlowFile)) + g_real->szOsFile;
  g_vfs.mxPathname = g_real->mxPathname;
  g_vfs.zName = "dg-slow-sync";
  g_vfs.xOpen = slow_open;
  g_vfs.xDelete = vfs_delete;
  g_vfs.xAccess = vfs_access;
  g_vfs.xFullPathname = vfs_full_pathname;
  g_vfs.xRandomness = vfs_randomness;
  g_vfs.xSleep = vfs_sleep;
  g_vfs.xCurrentTime = vfs_current_time;
  g_vfs.xGetLastError = vfs_last_error;
  g_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  if (sqlite3_vfs_register(&g_vfs, 1) != SQLITE_OK) {
    throw std::runtime_error("slow-sync VFS: sqlite3_vfs_register failed");
  }
}

std::chrono::microseconds install_slow_sync_vfs_from_environment() {
  const char* text = std::getenv(k_sync_delay_variable); // NOLINT(concurrency-mt-unsafe)
  if (text == nullptr || *text == '\0') {
    return std::chrono::microseconds(0);
  }
  long long us = std::atoll(text);
  if (us <= 0) {
    return std::chrono::microseconds(0);
  }
  install_slow_sync_vfs(std::chrono::microseconds(us));
  return std::chrono::microseconds(us);
}

} // namespace dg::bench
