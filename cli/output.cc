// Where the commands' results go: standard output or a file replaced atomically.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"

namespace joulecast::cli {

std::string DefaultProfilePath() {
  const char* dir = std::getenv("JOULECAST_DATA_DIR");
  return std::string(dir && *dir ? dir : JOULECAST_DATA_DIR) + "/profiles/default.json";
}

namespace {

// A device or a pipe (/dev/null, a FIFO): written in place, because renaming a file over it
// would replace it (as root, /dev/null itself).
bool IsSpecial(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  return !ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st) &&
         !std::filesystem::is_directory(st);
}

}  // namespace

std::string WriteOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? "" : "cannot write to standard output";
  }
  if (IsSpecial(path)) {
    std::ofstream f(path, std::ios::binary);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    return f ? "" : path + ": cannot write there";
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return path + ": cannot open for writing";
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return path + ": write failed (disk full?)";
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return path + ": cannot replace: " + ec.message();
  }
  return "";
}

std::string CheckWritable(const std::string& path, const std::string& not_done) {
  if (path.empty() || path == "-" || IsSpecial(path)) return "";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + ": is a folder, not a file";
  const std::string tmp = path + ".tmp";
  const bool existed = std::filesystem::exists(tmp, ec);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::app);
    if (!f) {
      return path + ": cannot write there (cannot create " + tmp + ": " + std::strerror(errno) +
             "); " + not_done;
    }
  }
  if (!existed) std::filesystem::remove(tmp, ec);
  return "";
}

}  // namespace joulecast::cli
