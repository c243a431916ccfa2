#include "util/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace dg {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(Errc::io, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> read_file_beside(const std::string& beside, const std::string& file) {
  if (file.empty() || file[0] == '/') {
    return read_file(file);
  }
  const auto slash = beside.find_last_of('/');
  return read_file(slash == std::string::npos ? file : beside.substr(0, slash + 1) + file);
}

Result<void>
write_file_atomic(const std::string& path, const std::string& content, unsigned mode, bool sync) {
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return make_error(Errc::io, "cannot create " + tmp + ": " + std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(Errc::io, std::string(what) + " " + tmp + ": " + std::strerror(err));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || (sync && ::fsync(fd) != 0)) {
    return fail("cannot sync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, "cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  if (!sync) {
    return {};
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    std::ignore = ::fsync(dfd); // the rename is done; a failed directory sync only weakens it
    ::close(dfd);
  }
  return {};
}

} // namespace dg
