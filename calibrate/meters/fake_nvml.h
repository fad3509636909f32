// A stand-in for libnvidia-ml.so.1, built only for the tests (the joulecast_fake_nvml module).
// It exports the NVML functions NvmlMeter uses plus fake_nvml_state(), through which a test sets
// what the "GPU" reports and counts the calls made.
#pragma once

#include <atomic>

namespace joulecast::testing {

/// What the fake reports; every field may be changed while a meter is open.
struct FakeNvml {
  std::atomic<int> init_result{0};        ///< nvmlInit_v2's return code (9: driver not loaded).
  std::atomic<unsigned> device_count{1};  ///< GPUs visible.
  std::atomic<bool> has_energy{true};     ///< false: total energy is NVML_ERROR_NOT_SUPPORTED.
  std::atomic<unsigned long long> energy_mj{0};  ///< The total-energy counter.
  std::atomic<unsigned> power_mw{0};             ///< What nvmlDeviceGetPowerUsage reports.
  std::atomic<int> power_result{0};              ///< nvmlDeviceGetPowerUsage's return code.
  std::atomic<unsigned> limit_mw{0};  ///< The enforced power limit (0: NVML_ERROR_NOT_SUPPORTED).
  std::atomic<int> inits{0};                     ///< Calls to nvmlInit_v2.
  std::atomic<int> shutdowns{0};                 ///< Calls to nvmlShutdown.
  std::atomic<int> power_reads{0};               ///< Calls to nvmlDeviceGetPowerUsage.

  /// Back to one GPU with a counter at 0 and no calls counted.
  void Reset() {
    init_result = 0;
    device_count = 1;
    has_energy = true;
    energy_mj = 0;
    power_mw = 0;
    power_result = 0;
    limit_mw = 0;
    inits = 0;
    shutdowns = 0;
    power_reads = 0;
  }
};

}  // namespace joulecast::testing

/// The fake's state, shared by every dlopen of the module.
extern "C" joulecast::testing::FakeNvml* fake_nvml_state();
