// The libtorch back end of the joulecast executable: what `measure`, `calibrate` and the built-in
// trainer of `search` need from libtorch, built as a shared module (libjoulecast-torch.so) beside
// the executable and loaded at run time only by those commands, as ggml loads its back ends.
// `analyze`, `gate`, `search --trainer CMD` and `search --report` never load it, so they do not
// pay for loading libtorch (about 0.4 s and 150 MB).
//
// The module and the executable come from one build and pass the project's own C++ types (same
// compiler, same headers). LoadTorchBackend refuses a module from another build: a different
// interface version, joulecast version or layout of those types. Errors inside the module come
// back as Status; the module catches what libtorch throws.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "calibrate/calibration/timing_calibration.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/measure.h"
#include "calibrate/train/torch_trainer.h"

namespace joulecast::cli {

/// Bumped whenever TorchBackend changes.
inline constexpr int kTorchBackendVersion = 1;

/// The functions of calibrate/torch/ and calibrate/train/ the commands call; each forwards to
/// the library function of the same name (see its header for the contract).
struct TorchBackend {
  int version = 0;                     ///< kTorchBackendVersion of the module.
  const char* joulecast_version = "";  ///< JOULECAST_VERSION of the module.
  size_t layout = 0;                   ///< TorchBackendLayout() of the module.
  std::string (*libtorch_version)();
  Status (*check_device)(const std::string& device);
  Status (*check_precision)(const std::string& device, const std::string& precision);
  std::function<void()> (*device_synchronizer)(const std::string& device);
  Result<Measurement> (*measure_training)(const Graph& graph, const MeasureOptions& options,
                                          EnergyMeter& meter);
  /// options.stop points at the executable's flag (cli/stop_signals.h): one flag, not a copy.
  Result<TimingOutcome> (*run_timing_calibration)(const TimingCalibrationOptions& options,
                                                  EnergyMeter* meter);
  Result<std::unique_ptr<TorchTrainer>> (*create_trainer)(const TorchTrainerOptions& options,
                                                          std::string* why);
};

/// A fingerprint of the sizes of the types TorchBackend passes: a module whose types differ
/// from the executable's is refused rather than called.
constexpr size_t TorchBackendLayout() {
  size_t h = sizeof(TorchBackend);
  for (size_t s : {sizeof(Graph), sizeof(Node), sizeof(Tensor), sizeof(MeasureOptions),
                   sizeof(Measurement), sizeof(TimingCalibrationOptions), sizeof(TimingOutcome),
                   sizeof(Profile), sizeof(TorchTrainerOptions), sizeof(MeterOptions)}) {
    h = h * 1000003 + s;
  }
  return h;
}

/// The module's file name, found in the executable's own folder.
inline constexpr const char* kTorchModuleFile = "libjoulecast-torch.so";

/// Loads the module beside /proc/self/exe (once per process; later calls return the same
/// table). Errors (one line naming the file): the module is missing (what to install and
/// build), it or libtorch cannot be loaded (the loader's reason), or it is from another build.
Result<const TorchBackend*> LoadTorchBackend();

}  // namespace joulecast::cli

/// The module's one entry point: its table, or null when `version` is not the one it has.
extern "C" const joulecast::cli::TorchBackend* joulecast_torch_backend(int version);
