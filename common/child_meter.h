// Measuring the energy of a child process while it runs: the interface the analyzer's external
// trainer uses, implemented with the energy meters (calibrate/meters/child_meter.h) and
// handed to it by the command line, so that the analyzer never includes calibrate/.
// Standard library only.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace joulecast {

/// The energy one device used during a child's run.
struct DeviceEnergy {
  std::string device;       ///< "cpu" (RAPL or the estimate) or "gpu:N" (NVML index N).
  std::string kind;         ///< "rapl", "nvml" or "estimate".
  bool real = false;        ///< True for a hardware counter.
  std::string description;  ///< One line: what was counted and how.
  double energy_j = 0;      ///< Joules since Start.
};

/// Meters around one child process. Use: Arm right before spawning it, Start right after, Poll
/// every second or so while it runs (counters wrap), Finish once it has been reaped. Not
/// thread-safe.
class ChildMeter {
 public:
  virtual ~ChildMeter() = default;
  /// Reads the hardware counters just before the child starts, so that its first moments count
  /// too (without it, Start reads them, after the child may have begun). Returns an error line,
  /// empty on success.
  virtual std::string Arm() = 0;
  /// Starts counting: hardware counters from Arm (else from now), the estimate the CPU time of
  /// `pid`'s process tree. Returns an error line, empty on success.
  virtual std::string Start(pid_t pid) = 0;
  /// Reads every counter; the joules so far, all devices together. Returns an error line, empty
  /// on success.
  virtual std::string Poll(double* energy_j) = 0;
  /// The last reading, after the child was reaped (the estimate then counts its CPU time
  /// exactly, from the kernel's accounting of reaped children). Returns an error line.
  virtual std::string Finish() = 0;
  /// Per device, as of the last Poll or Finish.
  virtual const std::vector<DeviceEnergy>& devices() const = 0;
  /// "rapl+nvml", "nvml", "estimate", ...: the kinds of the devices, joined.
  virtual std::string kind() const = 0;
  /// True when every device has a hardware counter.
  virtual bool real() const = 0;
};

}  // namespace joulecast
