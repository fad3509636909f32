#include "calibrate/meters/nvml_meter.h"

#include <dlfcn.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

namespace joulecast {
namespace {

// The few NVML declarations used, so that nvml.h is not needed at build time. nvmlReturn_t is a
// C enum (int-sized); nvmlDevice_t an opaque pointer.
using nvmlReturn_t = int;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned kNvmlNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using GetCountFn = nvmlReturn_t (*)(unsigned* count);
using GetHandleFn = nvmlReturn_t (*)(unsigned index, nvmlDevice_t* device);
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t device, char* name, unsigned length);
using GetEnergyFn = nvmlReturn_t (*)(nvmlDevice_t device, unsigned long long* energy_mj);
using GetPowerFn = nvmlReturn_t (*)(nvmlDevice_t device, unsigned* power_mw);
using GetLimitFn = nvmlReturn_t (*)(nvmlDevice_t device, unsigned* limit_mw);

using Clock = std::chrono::steady_clock;

}  // namespace

void PowerIntegrator::Add(double time_s, double power_w) {
  if (samples_ > 0) {
    if (time_s <= last_time_s_) return;
    energy_j_ += 0.5 * (last_power_w_ + power_w) * (time_s - last_time_s_);
  }
  last_time_s_ = time_s;
  last_power_w_ = power_w;
  ++samples_;
}

struct NvmlMeter::State {
  std::string library;
  void* handle = nullptr;
  bool initialised = false;
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  ErrorStringFn error_string = nullptr;  // optional
  GetCountFn get_count = nullptr;        // optional
  GetHandleFn get_handle = nullptr;
  GetNameFn get_name = nullptr;      // optional
  GetEnergyFn get_energy = nullptr;  // optional: absent from drivers before Volta's
  GetPowerFn get_power = nullptr;
  GetLimitFn get_limit = nullptr;  // optional
  double limit_w = 0;

  nvmlDevice_t device = nullptr;
  int index = 0;
  std::string name;
  std::function<void()> synchronize;

  bool counter = false;
  unsigned long long start_mj = 0;

  // Power sampling, when there is no counter. `mu` guards everything below it.
  Clock::time_point t0;
  std::mutex mu;
  std::condition_variable wake;
  bool stop = false;
  PowerIntegrator integrator;
  Status sample_error;
  std::thread sampler;

  ~State() {
    if (sampler.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
      }
      wake.notify_all();
      sampler.join();
    }
    if (initialised) shutdown();
    if (handle != nullptr) dlclose(handle);
  }

  std::string ErrorText(nvmlReturn_t code) const {
    if (error_string != nullptr) {
      if (const char* text = error_string(code)) return text;
    }
    return "NVML error " + std::to_string(code);
  }

  std::string Gpu() const {
    return "GPU " + std::to_string(index) + (name.empty() ? "" : " (" + name + ")");
  }

  // Reads the power now and adds it to the integral; the first failure is kept for EnergyJ.
  Status Sample() {
    unsigned power_mw = 0;
    const nvmlReturn_t ret = get_power(device, &power_mw);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu);
    if (!sample_error.ok()) return sample_error;
    if (ret != kNvmlSuccess) {
      sample_error =
          Status::Error("NVML: reading the power of " + Gpu() + " failed: " + ErrorText(ret));
      return sample_error;
    }
    integrator.Add(t, power_mw * 1e-3);
    return Status();
  }

  void SampleLoop() {
    const auto period = std::chrono::duration<double>(kPowerSamplePeriodS);
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      if (wake.wait_for(lock, period, [this] { return stop; })) break;
      lock.unlock();
      const bool ok = Sample().ok();
      lock.lock();
      if (!ok) break;  // the GPU is gone; EnergyJ reports why
    }
  }

  template <typename Fn>
  bool Symbol(const char* symbol, Fn* fn) {
    *fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
    return *fn != nullptr;
  }
};

NvmlMeter::NvmlMeter(std::unique_ptr<State> state) : state_(std::move(state)) {}
NvmlMeter::~NvmlMeter() = default;

Result<std::unique_ptr<NvmlMeter>> NvmlMeter::Open(const MeterOptions& options) {
  if (options.gpu_index < 0) {
    return Status::Error("NVML: GPU index " + std::to_string(options.gpu_index) + " is negative");
  }
  auto s = std::make_unique<State>();
  s->library = options.nvml_library;
  s->index = options.gpu_index;
  s->synchronize = options.synchronize;

  dlerror();
  s->handle = dlopen(s->library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (s->handle == nullptr) {
    const char* err = dlerror();
    return Status::Error("NVML: cannot load " + s->library + " (" +
                         (err != nullptr ? err : "unknown dlopen error") +
                         "): no NVIDIA driver here, or its library is not on the loader path");
  }
  const char* missing = nullptr;
  if (!s->Symbol("nvmlInit_v2", &s->init))
    missing = "nvmlInit_v2";
  else if (!s->Symbol("nvmlShutdown", &s->shutdown))
    missing = "nvmlShutdown";
  else if (!s->Symbol("nvmlDeviceGetHandleByIndex_v2", &s->get_handle))
    missing = "nvmlDeviceGetHandleByIndex_v2";
  else if (!s->Symbol("nvmlDeviceGetPowerUsage", &s->get_power))
    missing = "nvmlDeviceGetPowerUsage";
  if (missing != nullptr) {
    return Status::Error("NVML: " + s->library + " has no " + missing +
                         " (not NVML, or a driver too old)");
  }
  s->Symbol("nvmlErrorString", &s->error_string);
  s->Symbol("nvmlDeviceGetCount_v2", &s->get_count);
  s->Symbol("nvmlDeviceGetName", &s->get_name);
  s->Symbol("nvmlDeviceGetTotalEnergyConsumption", &s->get_energy);
  s->Symbol("nvmlDeviceGetEnforcedPowerLimit", &s->get_limit);

  nvmlReturn_t ret = s->init();
  if (ret != kNvmlSuccess) {
    return Status::Error("NVML: initialisation failed: " + s->ErrorText(ret) +
                         " (is the NVIDIA driver loaded? `nvidia-smi` should list the GPU)");
  }
  s->initialised = true;

  unsigned count = 0;
  if (s->get_count != nullptr && s->get_count(&count) == kNvmlSuccess &&
      static_cast<unsigned>(s->index) >= count) {
    return Status::Error("NVML: no GPU at index " + std::to_string(s->index) + " (" +
                         std::to_string(count) + " NVIDIA GPU" + (count == 1 ? "" : "s") +
                         " visible)");
  }
  ret = s->get_handle(static_cast<unsigned>(s->index), &s->device);
  if (ret != kNvmlSuccess) {
    return Status::Error("NVML: cannot open GPU " + std::to_string(s->index) + ": " +
                         s->ErrorText(ret));
  }
  if (s->get_name != nullptr) {
    char name[kNvmlNameBufferSize] = {};
    if (s->get_name(s->device, name, sizeof name) == kNvmlSuccess) s->name = name;
  }

  if (unsigned limit_mw = 0; s->get_limit != nullptr &&
                             s->get_limit(s->device, &limit_mw) == kNvmlSuccess) {
    s->limit_w = limit_mw * 1e-3;
  }
  if (s->synchronize) s->synchronize();
  std::string no_counter = "nvmlDeviceGetTotalEnergyConsumption missing";
  if (s->get_energy != nullptr) {
    ret = s->get_energy(s->device, &s->start_mj);
    if (ret == kNvmlSuccess) {
      s->counter = true;
      return std::unique_ptr<NvmlMeter>(new NvmlMeter(std::move(s)));
    }
    no_counter = "total energy: " + s->ErrorText(ret);
  }
  // No counter (before Volta): integrate sampled power from now on.
  unsigned power_mw = 0;
  ret = s->get_power(s->device, &power_mw);
  if (ret != kNvmlSuccess) {
    return Status::Error("NVML: " + s->Gpu() + " reports neither energy (" + no_counter +
                         ") nor power (" + s->ErrorText(ret) + ")");
  }
  s->t0 = Clock::now();
  s->integrator.Add(0, power_mw * 1e-3);
  State* raw = s.get();
  s->sampler = std::thread([raw] { raw->SampleLoop(); });
  return std::unique_ptr<NvmlMeter>(new NvmlMeter(std::move(s)));
}

bool NvmlMeter::has_energy_counter() const { return state_->counter; }

double NvmlMeter::power_limit_w() const { return state_->limit_w; }

std::string NvmlMeter::description() const {
  if (state_->counter) return "NVML " + state_->Gpu() + ": total-energy counter";
  char period[32];
  std::snprintf(period, sizeof period, "%g", kPowerSamplePeriodS * 1e3);
  return "NVML " + state_->Gpu() + ": power sampled every " + period +
         " ms and integrated (this GPU has no total-energy counter)";
}

Result<double> NvmlMeter::EnergyJ() {
  State& s = *state_;
  if (s.synchronize) s.synchronize();
  if (s.counter) {
    unsigned long long now_mj = 0;
    const nvmlReturn_t ret = s.get_energy(s.device, &now_mj);
    if (ret != kNvmlSuccess) {
      return Status::Error("NVML: reading the energy of " + s.Gpu() +
                           " failed: " + s.ErrorText(ret));
    }
    if (now_mj < s.start_mj) {
      return Status::Error("NVML: the energy counter of " + s.Gpu() +
                           " went backwards (driver reloaded?)");
    }
    return static_cast<double>(now_mj - s.start_mj) * 1e-3;
  }
  Status sampled = s.Sample();
  if (!sampled.ok()) return sampled;
  std::lock_guard<std::mutex> lock(s.mu);
  return s.integrator.energy_j();
}

}  // namespace joulecast
