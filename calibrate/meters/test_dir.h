// A temporary folder for the meters' tests: fake powercap trees and cpuinfo files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace joulecast::testing {

/// A fresh folder under the system's temporary directory (mkdtemp), removed with its contents
/// on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "joulecast-meters-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  const std::string& path() const { return path_; }
  /// path() + "/" + relative.
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

  /// Writes `text` to `relative` (replacing it), creating the folders on the way.
  void Write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path file = *this / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::trunc);
    out << text;
    if (!out) ADD_FAILURE() << "cannot write " << file;
  }

 private:
  std::string path_;
};

}  // namespace joulecast::testing
