// The one temporary directory of the tests, benchmarks and fuzz helpers.
#pragma once

#include <string>

namespace dg::test {

// A fresh directory `<base>/<prefix>-XXXXXX`, removed recursively on destruction.
//
// `base` defaults to $TMPDIR (or /tmp). The directory is kept (and its path printed on stderr)
// when `keep` is set, or when DG_E2E_KEEP is set in the environment, for a post-mortem.
class TempDir {
public:
  explicit TempDir(const std::string& prefix = "digestgate-e2e",
                   const std::string& base = "",
                   bool keep = false);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  // path() + "/" + `name`.
  std::string file(const std::string& name) const { return m_path + "/" + name; }

private:
  std::string m_path;
  bool m_keep = false;
};

} // namespace dg::test
