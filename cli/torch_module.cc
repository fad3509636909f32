// The entry point of libjoulecast-torch.so, the executable's libtorch back end
// (cli/torch_backend.h). Built only with libtorch; only this symbol is exported.
#include <exception>
#include <string>

#include "calibrate/torch/torch_network.h"
#include "cli/torch_backend.h"

namespace joulecast::cli {

namespace {

// Whatever libtorch throws past the libraries' own handlers becomes an error line here, so that
// no exception crosses into the executable.
template <typename F>
auto Guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Status::Error(std::string(what) + ": " + e.what());
  }
}

const TorchBackend kBackend = {
    .version = kTorchBackendVersion,
    .joulecast_version = JOULECAST_VERSION,
    .layout = TorchBackendLayout(),
    .libtorch_version = &LibtorchVersion,
    .check_device =
        [](const std::string& device) {
          return Guarded("libtorch", [&] { return CheckDevice(device); });
        },
    .check_precision =
        [](const std::string& device, const std::string& precision) {
          return Guarded("libtorch", [&] { return CheckPrecision(device, precision); });
        },
    .device_synchronizer = &DeviceSynchronizer,
    .measure_training =
        [](const Graph& graph, const MeasureOptions& options, EnergyMeter& meter) {
          return Guarded("training failed", [&] { return MeasureTraining(graph, options, meter); });
        },
    .run_timing_calibration =
        [](const TimingCalibrationOptions& options, EnergyMeter* meter) {
          return Guarded("calibration failed",
                         [&] { return RunTimingCalibration(options, meter); });
        },
    .create_trainer =
        [](const TorchTrainerOptions& options, std::string* why) {
          return Guarded("libtorch", [&] { return TorchTrainer::Create(options, why); });
        },
};

}  // namespace

}  // namespace joulecast::cli

extern "C" __attribute__((visibility("default"))) const joulecast::cli::TorchBackend*
joulecast_torch_backend(int version) {
  return version == joulecast::cli::kTorchBackendVersion ? &joulecast::cli::kBackend : nullptr;
}
