#include "tests/support/tempdir.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace dg::test {

TempDir::TempDir(const std::string& prefix, const std::string& base, bool keep) : m_keep(keep) {
  std::string root = base;
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = root + "/" + prefix + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  m_path = buffer.data();
  if (const char* env = std::getenv("DG_E2E_KEEP"); env != nullptr && *env != '\0') {
    m_keep = true;
  }
}

TempDir::~TempDir() {
  if (m_keep) {
    std::cerr << "keeping " << m_path << '\n';
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

} // namespace dg::test
