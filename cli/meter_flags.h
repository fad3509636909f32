// The flag rows of the commands that measure energy (measure, calibrate, search's built-in
// trainer): --device, --meter and --cpu-watts, each with the command's own help.
#pragma once

#include <string>

#include "calibrate/meters/meter.h"
#include "cli/flags.h"
#include "cli/torch_backend.h"

namespace joulecast::cli {

/// --device D: "cpu", "cuda" or "cuda:N", into `device`.
Flag DeviceFlag(std::string* device, std::string help);

/// --meter M: auto, rapl, nvml or estimate, into meter->kind.
Flag MeterFlag(MeterOptions* meter, std::string help);

/// --cpu-watts W, into meter->cpu_watts.
Flag CpuWattsFlag(MeterOptions* meter, std::string help);

/// Points `meter` at the GPU of `device` (none for "cpu") and waits for its queued work before
/// each reading. REQUIRES: `device` passed DeviceFlag and backend.check_device.
void MeterForDevice(const TorchBackend& backend, const std::string& device, MeterOptions* meter);

/// The intra-op threads the profile at `path` was calibrated with (its hardware "threads"), so
/// that training is measured as it was predicted; 0 when it has none or cannot be read.
int ProfileThreads(const std::string& path);

}  // namespace joulecast::cli
