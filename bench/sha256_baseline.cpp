// dg_bench_sha256: the verify baseline. Raw SHA-256 (OpenSSL, through util's Sha256) over a
// whole file, read in 1 MiB blocks.
//
// usage: dg_bench_sha256 FILE
// Prints one JSON object: bytes, seconds, bytes per second and the hex digest.
#include "bench/support.hpp"

#include "util/crypto.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dg_bench_sha256 FILE\n";
    return 2;
  }
  int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "dg_bench_sha256: " << argv[1] << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::vector<char> block(1 << 20);
  dg::Sha256 hash;
  std::uint64_t bytes = 0;
  auto started = dg::bench::Clock::now();
  for (;;) {
    ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      std::cerr << "dg_bench_sha256: read: " << std::strerror(errno) << "\n";
      ::close(fd);
      return 1;
    }
    if (n == 0) {
      break;
    }
    hash.update(block.data(), static_cast<std::size_t>(n));
    bytes += static_cast<std::uint64_t>(n);
  }
  dg::Hash digest = hash.finish();
  double seconds = dg::bench::seconds_since(started);
  ::close(fd);
  nlohmann::json report = {{"bytes", bytes},
                           {"seconds", seconds},
                           {"bytes_per_second", static_cast<double>(bytes) / seconds},
                           {"sha256", dg::to_hex(digest)}};
  std::cout << report.dump() << "\n";
  return 0;
}
