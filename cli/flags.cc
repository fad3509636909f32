#include "cli/flags.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace joulecast::cli {

std::optional<int64_t> IntIn(const std::string& s, int64_t min, int64_t max) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno != 0 || v > static_cast<unsigned long long>(max)) return std::nullopt;
  if (static_cast<int64_t>(v) < min) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> PositiveReal(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<int64_t>> DimsArg(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    size_t x = s.find('x', start);
    auto v = IntIn(s.substr(start, x == std::string::npos ? std::string::npos : x - start), 1,
                   int64_t{1} << 20);
    if (!v) return std::nullopt;
    out.push_back(*v);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return out;
}

}  // namespace joulecast::cli
