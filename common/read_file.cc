#include "common/read_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace joulecast {

std::optional<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes,
                                        std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = std::string("cannot open: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[1 << 16];
  while (text.size() <= max_bytes && (file.read(buffer, sizeof buffer) || file.gcount() > 0)) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) {
    *error = "cannot read the file";
    return std::nullopt;
  }
  return text;
}

std::string FileStem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  return dot == 0 || dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace joulecast
