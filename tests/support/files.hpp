// Whole files, for the tests, benchmarks and fuzz helpers.
#pragma once

#include <string>

namespace dg::test {

// The bytes of `path`, or "" when it does not exist or cannot be read (a file another process
// may not have written yet).
std::string read_text(const std::string& path);

// Replaces `path` with `content` atomically. Throws std::runtime_error when it cannot.
void write_text(const std::string& path, const std::string& content);

// The bytes of `relative` (say "tests/data/admission/pod.json") in the source tree. Throws
// std::runtime_error naming the file when it cannot be read.
std::string source_file(const std::string& relative);

} // namespace dg::test
