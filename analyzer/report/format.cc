#include "analyzer/report/format.h"

#include <cmath>
#include <cstdio>

namespace joulecast::report {

std::string Grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string Si(double v) {
  const char* suffix[] = {"", " K", " M", " G", " T", " P", " E"};
  int i = 0;
  while (v >= 999.5 && i < 6) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 && v == std::floor(v) ? "%.0f%s" : "%.3g%s", v, suffix[i]);
  return buf;
}

std::string Bytes(int64_t bytes) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 5) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.1f %s", v, unit[i]);
  return buf;
}

std::string Quantity(double v, const char* unit) {
  const char* prefix[] = {"n", "\xC2\xB5", "m", "", "k", "M", "G", "T"};
  int i = 3;
  if (v != 0 && std::isfinite(v)) {
    while (std::fabs(v) < 0.9995 && i > 0) {
      v *= 1000;
      --i;
    }
    while (std::fabs(v) >= 999.5 && i < 7) {
      v /= 1000;
      ++i;
    }
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", v, prefix[i], unit);
  return buf;
}

std::string Emissions(double grams) {
  if (std::isfinite(grams) && std::fabs(grams) >= 999.5e3) return Quantity(grams / 1e6, "tCO2e");
  return Quantity(grams, "gCO2e");
}

std::string WattHours(double joules) { return Quantity(joules / 3600, "Wh"); }

std::string Percent(double part, double whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buf;
}

std::string SignedPercent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100 * fraction);
  return buf;
}

std::string Duration(double seconds) {
  if (seconds < 59.95) return Quantity(seconds, "s");
  char buf[32];
  if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%.3g min", seconds / 60);
  } else if (seconds < 2 * 86400) {
    std::snprintf(buf, sizeof buf, "%.3g h", seconds / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g days", seconds / 86400);
  }
  return buf;
}

}  // namespace joulecast::report
