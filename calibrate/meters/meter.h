// Energy meters: where joulecast's joules come from.
//
// Three kinds behind one interface: RAPL (Linux powercap, Intel and AMD CPUs), NVML (NVIDIA
// GPUs, loaded at run time) and an explicit estimate (process CPU time x power per busy thread)
// for machines with no counter, such as VMs and CI runners. Only RAPL and NVML are real
// counters; everything measured with the estimate must say so (EnergyMeter::real() is false).
// This library does not depend on libtorch.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "analyzer/core/status.h"

namespace joulecast {

/// A cumulative energy counter. Not thread-safe: one thread reads it.
class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  /// "rapl", "nvml" or "estimate".
  virtual std::string kind() const = 0;
  /// True only for a hardware energy counter.
  virtual bool real() const = 0;
  /// One line saying what is measured and how, e.g. "RAPL (/sys/class/powercap): package-0 +
  /// dram-0" or "estimate, not a counter: process CPU time x 2.19 W per busy thread (table: AMD
  /// EPYC 7763 64-Core Processor, 280 W TDP / 128 threads; --cpu-watts overrides)".
  virtual std::string description() const = 0;
  /// Readings change at about this period (seconds): RAPL 0.001, NVML 0.1, the estimate 0.001.
  /// A window shorter than about 10x this is dominated by quantisation; measure longer ones.
  virtual double update_period_s() const = 0;
  /// Joules consumed since the meter was opened, monotonic (counter wraparound handled; call at
  /// least once per wrap period, which is minutes to hours).
  virtual Result<double> EnergyJ() = 0;
  /// The device's enforced power limit in watts, 0 when this meter cannot tell.
  virtual double power_limit_w() const { return 0; }
};

struct MeterOptions {
  /// "auto" (the best real counter available, else the estimate), "rapl", "nvml", "estimate".
  std::string kind = "auto";
  /// Root of the powercap tree; tests point it at a fake tree in a temporary folder.
  std::string powercap_root = "/sys/class/powercap";
  /// Where /proc/cpuinfo is read from (CPU model for the estimate's table).
  std::string cpuinfo_path = "/proc/cpuinfo";
  /// The estimate's power per busy thread (`--cpu-watts`); unset: the table, else the default.
  std::optional<double> cpu_watts;
  /// NVML device index (`--device cuda:N`).
  int gpu_index = 0;
  /// Called before each NVML reading to wait for queued GPU work (the torch side sets it).
  std::function<void()> synchronize;
  /// The run trains on a GPU: "auto" then tries NVML (device gpu_index) before RAPL. Without it
  /// "auto" never opens NVML, so a CPU run is not charged for an idle GPU.
  bool gpu = false;
  /// The NVML library dlopen() loads; tests point it at a fake, users at an unusual install.
  std::string nvml_library = "libnvidia-ml.so.1";
  /// The estimate's CPU seconds so far; unset: this process's (ProcessCpuSeconds). `track`
  /// points it at the CPU time of the command's process tree.
  std::function<double()> cpu_seconds;
};

/// Opens the meter `options.kind` names. "auto" tries NVML (only when options.gpu), then RAPL,
/// then the estimate, which always opens. `why` (if given) gets one line saying which meter was
/// picked and why the better ones were not (e.g. "RAPL energy_uj is readable by root only: ...").
/// Errors (one line): an explicit "rapl" or "nvml" that cannot open (never a silent fallback),
/// an unknown kind (listing the valid ones), a cpu_watts outside (0, 1000] watts.
Result<std::unique_ptr<EnergyMeter>> OpenMeter(const MeterOptions& options,
                                               std::string* why = nullptr);

}  // namespace joulecast
