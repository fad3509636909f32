// Power per busy hardware thread for the estimate meter, by CPU model.
//
// Each row is one CPU model, matched against the "model name" line of /proc/cpuinfo, with the
// two published numbers its figure comes from: watts per busy thread = TDP / hardware threads,
// the CPU's power at full load shared evenly among its threads. docs/meters.md lists the rows
// (a test keeps the two in step). A CPU not in the table gets kDefaultWattsPerThread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "analyzer/core/status.h"

namespace joulecast {

/// One CPU model with its published power figure.
struct CpuPowerRow {
  const char* pattern;  ///< ECMAScript regex searched in the model name; rows are tried in order.
  const char* model;    ///< A "model name" line this row is for, as /proc/cpuinfo prints it.
  double tdp_w;         ///< Thermal design power from the vendor's specification.
  int threads;          ///< Hardware threads (cores x SMT).

  /// tdp_w / threads.
  double watts_per_thread() const { return tdp_w / threads; }
};

/// For a CPU the table does not know: about one busy server or desktop core at its share of TDP
/// (the table's CPUs span 3.75-15.8 W per core), so an unknown SMT thread is over- rather than
/// under-estimated.
inline constexpr double kDefaultWattsPerThread = 10.0;

/// Every row, in match order.
std::span<const CpuPowerRow> CpuPowerTable();

/// The first row whose pattern is found in `model_name`, or nullptr.
const CpuPowerRow* FindCpuPower(std::string_view model_name);

/// The value of the first "model name" line of the cpuinfo file at `path`. Errors (one line,
/// naming the file): it cannot be read, or it has no such line (e.g. most ARM kernels).
Result<std::string> ReadCpuModel(const std::string& path);

}  // namespace joulecast
