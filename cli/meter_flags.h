// The flags every command that measures energy takes: --device, --meter and --cpu-watts.
// Built only with libtorch (CudaIndex lives on the torch side).
#pragma once

#include <optional>
#include <string>

#include "calibrate/meters/meter.h"

namespace joulecast::cli {

/// True for --device, --meter and --cpu-watts.
bool IsMeterFlag(const std::string& flag);

/// Applies `flag` with `value` (nullopt when the command line ended) to `device` or `meter`.
/// Returns an error line, empty on success. REQUIRES: IsMeterFlag(flag).
std::string ParseMeterFlag(const std::string& flag, const std::optional<std::string>& value,
                           std::string* device, MeterOptions* meter);

}  // namespace joulecast::cli
