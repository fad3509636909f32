// RAPL through Linux powercap: the CPU packages' (and their DRAM's) own energy counters.
//
// Intel and AMD CPUs both appear under the same names in <root> (normally /sys/class/powercap):
//   intel-rapl:N     a top-level zone: "package-N" (or "package-N-die-D"), or "psys" (the whole
//                    platform, which already contains the packages)
//   intel-rapl:N:M   a subzone of package N: "core" and "uncore" (parts of the package) or "dram"
// The meter sums every package zone and every DRAM zone, and nothing else: psys, core and uncore
// would count the same joules twice. intel-rapl-mmio:* zones are a second interface to the same
// package counters and are skipped too.
//
// Each energy_uj counts microjoules from 0 to max_energy_range_uj and then wraps to 0. A wrap is
// handled when readings come at least once per wrap period (minutes to hours of full load).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// Reads the whole (small) file at `path` into `*text`. Returns 0, or the errno of the failure.
/// The seam through which tests make a file unreadable (as root, chmod 000 does not block reads).
using ReadFileFn = std::function<int(const std::string& path, std::string* text)>;

/// The default ReadFileFn: open(2) and read(2).
int ReadSmallFile(const std::string& path, std::string* text);

/// Microjoules added between two readings `prev_uj` then `cur_uj` of a counter that takes the
/// values 0..max_range_uj and wraps to 0: cur - prev, or after one wrap
/// (max_range_uj - prev) + cur + 1. REQUIRES: prev_uj, cur_uj <= max_range_uj.
uint64_t RaplDeltaUj(uint64_t prev_uj, uint64_t cur_uj, uint64_t max_range_uj);

/// One counter the meter sums.
struct RaplZone {
  std::string dir;            ///< Directory under the root, e.g. "intel-rapl:0:1".
  std::string label;          ///< What it measures, e.g. "package-0" or "dram-0".
  uint64_t max_range_uj = 0;  ///< max_energy_range_uj.
  uint64_t last_uj = 0;       ///< Last energy_uj read.
  uint64_t total_uj = 0;      ///< Microjoules since the meter was opened.
};

class RaplMeter final : public EnergyMeter {
 public:
  /// Finds the zones under `root` and takes the first reading. Errors (one line, starting
  /// "RAPL: "): no powercap tree or no package zone at `root`; a file that cannot be read or
  /// parsed, naming it; energy_uj readable by root only, saying how to grant read access.
  static Result<std::unique_ptr<RaplMeter>> Open(const std::string& root,
                                                 ReadFileFn read = ReadSmallFile);

  std::string kind() const override { return "rapl"; }
  bool real() const override { return true; }
  /// E.g. "RAPL (/sys/class/powercap): package-0 + dram-0 + package-1; psys, core skipped
  /// (they overlap the packages)".
  std::string description() const override;
  /// RAPL counters update about every millisecond.
  double update_period_s() const override { return 0.001; }
  /// Reads every zone. Errors: a zone that became unreadable, or a reading above its range.
  Result<double> EnergyJ() override;

  /// The zones summed, in index order: intel-rapl:0, intel-rapl:0:2, intel-rapl:1, ...
  const std::vector<RaplZone>& zones() const { return zones_; }

 private:
  RaplMeter(std::string root, ReadFileFn read) : root_(std::move(root)), read_(std::move(read)) {}
  Status ReadCounter(const RaplZone& zone, const std::string& file, uint64_t* value) const;

  std::string root_;
  ReadFileFn read_;
  std::vector<RaplZone> zones_;
  std::vector<std::string> skipped_;  ///< Zones seen and deliberately left out, for description().
};

}  // namespace joulecast
