#include <memory>
#include <string>
#include <vector>

#include "calibrate/meters/estimate_meter.h"
#include "calibrate/meters/meter.h"
#include "calibrate/meters/nvml_meter.h"
#include "calibrate/meters/rapl_meter.h"

namespace joulecast {
namespace {

template <typename M>
Result<std::unique_ptr<EnergyMeter>> Upcast(Result<std::unique_ptr<M>> meter) {
  if (!meter.ok()) return meter.status();
  return std::unique_ptr<EnergyMeter>(std::move(*meter));
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

Result<std::unique_ptr<EnergyMeter>> OpenMeter(const MeterOptions& options, std::string* why) {
  std::string ignored;
  std::string& line = why != nullptr ? *why : ignored;
  const std::string& kind = options.kind;
  if (kind != "auto" && kind != "rapl" && kind != "nvml" && kind != "estimate") {
    return Status::Error("unknown meter '" + kind + "': expected auto, rapl, nvml or estimate");
  }
  // A bad --cpu-watts is bad input whichever meter ends up used.
  if (Result<CpuWatts> watts = ChooseCpuWatts(options); !watts.ok()) return watts.status();

  if (kind != "auto") {
    Result<std::unique_ptr<EnergyMeter>> meter =
        kind == "rapl"   ? Upcast(RaplMeter::Open(options.powercap_root))
        : kind == "nvml" ? Upcast(NvmlMeter::Open(options))
                         : Upcast(EstimateMeter::Open(options));
    if (meter.ok()) line = kind + ", as asked";
    return meter;
  }

  const std::string cpu_watts_unused =
      options.cpu_watts ? " (--cpu-watts unused: a real counter is available)" : "";
  std::vector<std::string> unusable;
  if (options.gpu) {
    Result<std::unique_ptr<NvmlMeter>> nvml = NvmlMeter::Open(options);
    if (nvml.ok()) {
      line = "auto picked nvml, the GPU's hardware counter" + cpu_watts_unused;
      return Upcast(std::move(nvml));
    }
    unusable.push_back(nvml.status().message());
  }
  Result<std::unique_ptr<RaplMeter>> rapl = RaplMeter::Open(options.powercap_root);
  if (rapl.ok()) {
    line = "auto picked rapl, the CPU's hardware counter" +
           (unusable.empty() ? cpu_watts_unused : ", not counting the GPU: " + Join(unusable));
    return Upcast(std::move(rapl));
  }
  unusable.push_back(rapl.status().message());
  line = "auto picked the estimate (not a measurement), no hardware counter being usable" +
         std::string(options.gpu ? ", and it does not count the GPU" : "") + ": " + Join(unusable);
  return Upcast(EstimateMeter::Open(options));
}

}  // namespace joulecast
