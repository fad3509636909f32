// What joulecast's tests share: a temporary folder, a file read whole, a command line run to
// its end (the real executable, end to end) and counts in its output. Header-only and for tests
// only: it reports failures through GoogleTest.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace joulecast::testing {

/// A fresh folder under the system's temporary directory (mkdtemp), removed with its contents
/// on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "joulecast-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  /// The folder.
  const std::filesystem::path& path() const { return path_; }
  /// path() / relative.
  std::filesystem::path operator/(const std::string& relative) const { return path_ / relative; }

  /// Writes `text` to `relative` (replacing it), creating the folders on the way.
  void Write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path file = *this / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) ADD_FAILURE() << "cannot write " << file;
  }

 private:
  std::filesystem::path path_;
};

/// The bytes of the file at `path`; "" when it cannot be read.
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

/// How a command ended and what it wrote.
struct CommandOutput {
  int exit_code = -1;  ///< -1 when it did not exit normally (a signal).
  std::string out, err;
};

/// Runs `command` (a trusted test string) with /bin/sh and waits for it; its standard output
/// and error go through files in a TempDir of their own.
inline CommandOutput RunCommand(const std::string& command) {
  const TempDir dir;
  const int status = std::system(
      (command + " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'").c_str());
  CommandOutput r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(dir / "out");
  r.err = ReadFile(dir / "err");
  return r;
}

/// How many times `what` occurs in `text`.
inline size_t Count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

/// How many lines `text` has: its newlines.
inline size_t Lines(std::string_view text) { return Count(text, "\n"); }

}  // namespace joulecast::testing
