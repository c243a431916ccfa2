// Small file helpers.
#pragma once

#include "util/result.hpp"

#include <string>

namespace dg {

// The whole content of `path`.
Result<std::string> read_file(const std::string& path);

// The content of `file`, relative to the directory of `beside` unless absolute (a file named in a
// configuration or policy file is read relative to that file).
Result<std::string> read_file_beside(const std::string& beside, const std::string& file);

// Write `content` to `path` atomically: a temporary file in the same directory, fsync, rename,
// fsync of the directory. `mode` applies to the new file. With `sync` false the fsyncs are
// skipped: the file is still replaced atomically, but may be older after a power cut.
Result<void> write_file_atomic(const std::string& path,
                               const std::string& content,
                               unsigned mode = 0644,
                               bool sync = true);

} // namespace dg
