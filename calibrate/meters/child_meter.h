// The energy meters around a child process (`joulecast track`, the search's external trainer):
// RAPL for the CPU packages and their DRAM, NVML for every visible GPU, or, when the machine has
// neither, the labelled estimate: the CPU time of the child's whole process tree x watts per
// busy thread. Implements the ChildMeter interface of common/child_meter.h.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "calibrate/meters/meter.h"
#include "common/child_meter.h"

namespace joulecast {

/// Which meters measure a child.
struct ChildMeterOptions {
  /// kind: "auto" (RAPL and NVML for every visible GPU, whichever open; the estimate when none
  /// does), "rapl", "nvml" or "estimate"; also the powercap root, the NVML library and
  /// --cpu-watts. Its gpu, gpu_index, synchronize and cpu_seconds are not used.
  MeterOptions meter;
  /// CUDA_VISIBLE_DEVICES as the child will see it; unset: every GPU NVML lists.
  std::optional<std::string> cuda_visible_devices;
  /// Where the process tree is read (tests may point it elsewhere).
  std::string proc_root = "/proc";
};

/// The GPU indices a CUDA_VISIBLE_DEVICES value names ("0,2" -> {0, 2}; "" or "-1" -> none;
/// entries after a -1 are ignored, as CUDA does). Error (one line): an entry that is not an
/// index (a GPU UUID or MIG name), which joulecast cannot map to NVML.
Result<std::vector<int>> ParseCudaVisibleDevices(const std::string& value);

/// CPU seconds (user + system) used so far by `pid` and every live descendant, counting the
/// children each of them has reaped, from <proc_root>/<pid>/stat. 0 when `pid` is gone.
double ProcessTreeCpuSeconds(pid_t pid, const std::string& proc_root = "/proc");

/// Opens the meters `options` select. `why` (if given) gets one line saying which were picked
/// and why the others were not. Errors (one line): an explicit kind that cannot open, an
/// unknown kind, a bad --cpu-watts, a CUDA_VISIBLE_DEVICES that cannot be read.
Result<std::unique_ptr<ChildMeter>> OpenChildMeter(const ChildMeterOptions& options,
                                                   std::string* why = nullptr);

}  // namespace joulecast
