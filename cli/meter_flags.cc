#include "cli/meter_flags.h"

#include "calibrate/torch/torch_network.h"
#include "cli/flags.h"

namespace joulecast::cli {

bool IsMeterFlag(const std::string& flag) {
  return flag == "--device" || flag == "--meter" || flag == "--cpu-watts";
}

std::string ParseMeterFlag(const std::string& flag, const std::optional<std::string>& value,
                           std::string* device, MeterOptions* meter) {
  if (flag == "--device") {
    if (!value || (*value != "cpu" && CudaIndex(*value) < 0)) {
      return "--device must be cpu, cuda or cuda:N";
    }
    *device = *value;
  } else if (flag == "--meter") {
    if (value != "auto" && value != "rapl" && value != "nvml" && value != "estimate") {
      return "--meter must be auto, rapl, nvml or estimate";
    }
    meter->kind = *value;
  } else {
    auto watts = value ? PositiveReal(*value) : std::nullopt;
    if (!watts) return "--cpu-watts needs a positive number of watts";
    meter->cpu_watts = *watts;
  }
  return "";
}

}  // namespace joulecast::cli
