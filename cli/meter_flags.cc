#include "cli/meter_flags.h"

#include <filesystem>
#include <optional>

#include "analyzer/energy/profile.h"

namespace joulecast::cli {

namespace {

// The CUDA index of "cuda" (0) or "cuda:N", -1 for "cpu", nullopt for anything else.
std::optional<int> CudaIndexOf(const std::string& device) {
  if (device == "cpu") return -1;
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) != 0) return std::nullopt;
  auto n = IntIn(device.substr(5), 0, 9999);
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

}  // namespace

// clang-format off
Flag DeviceFlag(std::string* device, std::string help) {
  static const char* const kError = "--device must be cpu, cuda or cuda:N";
  return {.name = "--device", .metavar = "D", .kind = FlagKind::text, .help = std::move(help),
          .error = kError, .set = [device](const FlagValue& v) {
            if (!CudaIndexOf(v.text)) return std::string(kError);
            *device = v.text;
            return std::string();
          }};
}

Flag MeterFlag(MeterOptions* meter, std::string help) {
  return {.name = "--meter", .metavar = "M", .kind = FlagKind::choice,
          .choices = {"auto", "rapl", "nvml", "estimate"}, .help = std::move(help),
          .set = Into(&meter->kind)};
}

Flag CpuWattsFlag(MeterOptions* meter, std::string help) {
  return {.name = "--cpu-watts", .metavar = "W", .kind = FlagKind::real, .help = std::move(help),
          .error = "--cpu-watts needs a positive number of watts",
          .set = [meter](const FlagValue& v) {
            meter->cpu_watts = v.real;
            return std::string();
          }};
}

// clang-format on
void MeterForDevice(const TorchBackend& backend, const std::string& device, MeterOptions* meter) {
  const int gpu = CudaIndexOf(device).value_or(-1);
  meter->gpu = gpu >= 0;
  meter->gpu_index = gpu >= 0 ? gpu : 0;
  meter->synchronize = backend.device_synchronizer(device);
}

int ProfileThreads(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return 0;
  Result<Profile> profile = LoadProfile(path);
  if (!profile.ok()) return 0;
  auto it = profile->hardware.find("threads");
  if (it == profile->hardware.end()) return 0;
  auto n = IntIn(it->second, 1, 1024);
  return n ? static_cast<int>(*n) : 0;
}

}  // namespace joulecast::cli
