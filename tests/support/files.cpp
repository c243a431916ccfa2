#include "tests/support/files.hpp"

#include "util/files.hpp"

#include <stdexcept>

namespace dg::test {

std::string read_text(const std::string& path) {
  auto content = dg::read_file(path);
  return content ? std::move(*content) : std::string();
}

void write_text(const std::string& path, const std::string& content) {
  auto written = dg::write_file_atomic(path, content);
  if (!written) {
    throw std::runtime_error("cannot write " + path + ": " + written.error().message);
  }
}

std::string source_file(const std::string& relative) {
  auto content = dg::read_file(std::string(DG_SOURCE_DIR) + "/" + relative);
  if (!content) {
    throw std::runtime_error("cannot read " + relative +
                             " in the source tree: " + content.error().message);
  }
  return std::move(*content);
}

} // namespace dg::test
