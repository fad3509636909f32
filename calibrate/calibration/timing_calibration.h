// `joulecast calibrate` as a library: times single layers at the sizes real networks use
// (layer_design.h, calibrate/torch/layer_timing.h), measures whole random networks over long
// windows with the energy meter, stores every measurement in SQLite as soon as it is taken
// (timing_store.h: a stopped run resumes), and fits the time x power profile (time_fit.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/energy/profile.h"
#include "calibrate/calibration/hardware.h"
#include "calibrate/calibration/time_fit.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// Where a calibration stands, reported after each measurement.
struct TimingProgress {
  int done = 0, total = 0, resumed = 0;
  std::string what;          ///< The measurement just taken, e.g. "conv 12 fp32: 1.2 ms".
  double elapsed_s = 0;
  double eta_s = -1;         ///< -1 before it is known.
  bool fitting = false;
};

struct TimingCalibrationOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda[:N]"; the caller has checked it.
  int threads = 0;             ///< libtorch intra-op threads; 0 keeps libtorch's default.
  bool quick = false;          ///< Fewer layers and networks, shorter windows.
  std::vector<std::string> precisions = {"fp32"};  ///< Each is timed and fitted.
  uint64_t seed = 1;
  std::string db_path;         ///< REQUIRED.
  /// Timings per design and precision, scaled by DesignWeight() (at least 4); 0: 16 (quick 5).
  int layers_per_design = 0;
  int networks = 0;            ///< 0: 24 on a CPU, 12 on a GPU (quick 8), per precision.
  /// Each network's measured window; 0: 5 s with a real counter (quick 3 s), 1 s (0.5 s) with
  /// the estimate.
  double window_s = 0;
  std::string libtorch_version;
  HardwareSources hardware;
  /// Measure nothing: fit what db_path (and extra_db_paths) hold, made by earlier runs on one
  /// machine, with the facts the first recorded (hardware, meter, idle power). Refits after a
  /// change of the model, or pools several calibrations of one machine.
  bool fit_only = false;
  std::vector<std::string> extra_db_paths;
  const std::atomic<bool>* stop = nullptr;  ///< Raised: stop after the current measurement.
  std::function<void(const TimingProgress&)> progress;
};

struct TimingOutcome {
  bool interrupted = false;
  int total = 0, done = 0, resumed = 0;
  double elapsed_s = 0;
  Profile profile;      ///< When not interrupted.
};

/// Runs or resumes the calibration, reading `meter` (null only with fit_only). Errors (one
/// line): the database, a meter that fails, a network libtorch cannot build, or the fit.
Result<TimingOutcome> RunTimingCalibration(const TimingCalibrationOptions& options,
                                           EnergyMeter* meter);

}  // namespace joulecast
