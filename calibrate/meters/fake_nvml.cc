// The fake NVML library (see fake_nvml.h). Signatures follow nvml.h with the same plain types
// nvml_meter.cc declares; return codes are NVML's.
#include "calibrate/meters/fake_nvml.h"

#include <cstdlib>
#include <cstring>

namespace {

joulecast::testing::FakeNvml g_state;

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotSupported = 3;

struct FakeDevice {
  unsigned index;
};
FakeDevice g_devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

}  // namespace

extern "C" {

joulecast::testing::FakeNvml* fake_nvml_state() { return &g_state; }

int nvmlInit_v2() {
  // A process that cannot reach fake_nvml_state() (joulecast track in a CLI test) sets the fake
  // up through the environment: how many GPUs, and millijoules added at each energy reading.
  if (const char* gpus = std::getenv("JOULECAST_FAKE_NVML_GPUS")) {
    g_state.device_count = static_cast<unsigned>(std::atoi(gpus));
  }
  ++g_state.inits;
  return g_state.init_result;
}

int nvmlShutdown() {
  ++g_state.shutdowns;
  return kSuccess;
}

const char* nvmlErrorString(int code) {
  switch (code) {
    case kSuccess:
      return "Success";
    case kInvalidArgument:
      return "Invalid Argument";
    case kNotSupported:
      return "Not Supported";
    case 9:
      return "Driver Not Loaded";
    case 15:
      return "GPU is lost";
    default:
      return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = g_state.device_count;
  return kSuccess;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (index >= g_state.device_count || index >= 8) return kInvalidArgument;
  *device = &g_devices[index];
  return kSuccess;
}

int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  const char* text = static_cast<FakeDevice*>(device)->index == 0 ? "Fake GPU 0" : "Fake GPU";
  if (length <= std::strlen(text)) return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  std::strcpy(name, text);
  return kSuccess;
}

int nvmlDeviceGetTotalEnergyConsumption(void*, unsigned long long* energy_mj) {
  if (!g_state.has_energy) return kNotSupported;
  if (const char* step = std::getenv("JOULECAST_FAKE_NVML_MJ_PER_READ")) {
    g_state.energy_mj += std::strtoull(step, nullptr, 10);
  }
  *energy_mj = g_state.energy_mj;
  return kSuccess;
}

int nvmlDeviceGetPowerUsage(void*, unsigned* power_mw) {
  ++g_state.power_reads;
  if (g_state.power_result != kSuccess) return g_state.power_result;
  *power_mw = g_state.power_mw;
  return kSuccess;
}

int nvmlDeviceGetEnforcedPowerLimit(void*, unsigned* limit_mw) {
  if (g_state.limit_mw == 0) return kNotSupported;
  *limit_mw = g_state.limit_mw;
  return kSuccess;
}

}  // extern "C"
