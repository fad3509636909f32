#include "cli/child_meter_options.h"

#include <cstdlib>

namespace joulecast::cli {

ChildMeterOptions ChildMeterOptionsFromEnvironment(const MeterOptions& meter) {
  ChildMeterOptions o;
  o.meter = meter;
  if (const char* root = std::getenv("JOULECAST_POWERCAP_ROOT"); root && *root) {
    o.meter.powercap_root = root;
  }
  if (const char* lib = std::getenv("JOULECAST_NVML_LIBRARY"); lib && *lib) {
    o.meter.nvml_library = lib;
  }
  if (const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES")) o.cuda_visible_devices = cvd;
  return o;
}

search::ExternalTrainer::OpenChildMeter ChildMeterOpener(ChildMeterOptions options) {
  return [options](std::string* error) -> std::unique_ptr<ChildMeter> {
    Result<std::unique_ptr<ChildMeter>> meter = OpenChildMeter(options);
    if (!meter.ok()) {
      *error = meter.status().message();
      return nullptr;
    }
    return std::move(*meter);
  };
}

}  // namespace joulecast::cli
