// The estimate meter, for machines with no energy counter (most VMs and CI runners): the CPU time
// of this process, all its threads together, times a power per busy thread. It is not a
// measurement: real() is false and description() says so and where the watts came from.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "analyzer/core/status.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// Where the estimate's power per busy thread comes from.
struct CpuWatts {
  double watts_per_thread = 0;
  /// E.g. "--cpu-watts", "table: AMD EPYC 7763, 280 W TDP / 128 threads" or
  /// "default: CPU 'AMD EPYC' is not in the table".
  std::string source;
};

/// options.cpu_watts if set, else the table row for the model in options.cpuinfo_path, else
/// kDefaultWattsPerThread. Errors: a cpu_watts that is not in (0, 1000] watts.
Result<CpuWatts> ChooseCpuWatts(const MeterOptions& options);

class EstimateMeter final : public EnergyMeter {
 public:
  /// Picks the watts (ChooseCpuWatts) and starts counting from this process's CPU time now.
  static Result<std::unique_ptr<EstimateMeter>> Open(const MeterOptions& options);

  std::string kind() const override { return "estimate"; }
  bool real() const override { return false; }
  /// E.g. "estimate, not a counter: process CPU time x 2.19 W per busy thread (table: ...)".
  std::string description() const override;
  /// The CPU-time clock is fine-grained; 1 ms keeps windows long against scheduler noise.
  double update_period_s() const override { return 0.001; }
  /// CPU seconds of every thread of the process (or of options.cpu_seconds) since Open, times
  /// watts_per_thread().
  Result<double> EnergyJ() override;

  double watts_per_thread() const { return watts_.watts_per_thread; }
  /// Where watts_per_thread() came from.
  const std::string& source() const { return watts_.source; }

 private:
  EstimateMeter(CpuWatts watts, std::function<double()> cpu_seconds)
      : watts_(std::move(watts)),
        cpu_seconds_(std::move(cpu_seconds)),
        start_cpu_s_(cpu_seconds_()) {}

  CpuWatts watts_;
  std::function<double()> cpu_seconds_;
  double start_cpu_s_;
};

/// CPU seconds used by all threads of this process so far (CLOCK_PROCESS_CPUTIME_ID).
double ProcessCpuSeconds();

}  // namespace joulecast
