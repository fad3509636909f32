// NVIDIA GPUs through NVML, loaded at run time: dlopen("libnvidia-ml.so.1"), so joulecast builds
// and runs without the driver and a machine without it gets a one-line error, never a crash.
//
// On Volta and newer, the board's total-energy counter (millijoules since the driver loaded) is
// read directly. Older GPUs have only the instantaneous power (milliwatts): a background thread,
// started by Open and stopped by the destructor, samples it every kPowerSamplePeriodS and
// integrates with the trapezoid rule. Both count the whole board (GPU and its memory), not only
// this process's share.
#pragma once

#include <memory>
#include <string>

#include "analyzer/core/status.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// How often the fallback samples the power of a GPU without an energy counter (seconds).
inline constexpr double kPowerSamplePeriodS = 0.02;

/// Trapezoid-rule integral of power samples over time. Not thread-safe.
class PowerIntegrator {
 public:
  /// Adds the sample `power_w` taken at `time_s`; the first sample starts the integral. A sample
  /// not later than the previous one is ignored (a clock that did not move).
  void Add(double time_s, double power_w);
  /// Joules between the first and the last sample.
  double energy_j() const { return energy_j_; }
  /// Samples accepted so far.
  int samples() const { return samples_; }

 private:
  double energy_j_ = 0;
  double last_time_s_ = 0;
  double last_power_w_ = 0;
  int samples_ = 0;
};

class NvmlMeter final : public EnergyMeter {
 public:
  /// Loads options.nvml_library, initialises NVML and opens GPU options.gpu_index, calling
  /// options.synchronize (if set) before the first reading and before each EnergyJ. Errors (one
  /// line, starting "NVML: "): the library cannot be loaded or lacks a function, NVML cannot
  /// initialise (no driver), no GPU at that index, the GPU reports neither energy nor power.
  static Result<std::unique_ptr<NvmlMeter>> Open(const MeterOptions& options);
  ~NvmlMeter() override;

  std::string kind() const override { return "nvml"; }
  bool real() const override { return true; }
  /// E.g. "NVML GPU 0 (NVIDIA H100 80GB HBM3): total-energy counter".
  std::string description() const override;
  /// The driver refreshes energy and power every 20-100 ms on recent GPUs.
  double update_period_s() const override { return 0.1; }
  /// Joules the GPU board used since Open. Errors: NVML failed a reading (e.g. GPU lost).
  Result<double> EnergyJ() override;

  /// nvmlDeviceGetEnforcedPowerLimit, read at Open; 0 when the driver does not report it.
  double power_limit_w() const override;

  /// True when the GPU has the total-energy counter; false when power is sampled.
  bool has_energy_counter() const;

 private:
  struct State;  // The loaded library, the device and the sampler thread.
  explicit NvmlMeter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace joulecast
