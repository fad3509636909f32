// `joulecast calibrate` as a library: measures every design's probe and base networks on this
// machine (design.h), with repeats until the noise is low (below), storing each sample in SQLite
// as soon as it is measured (sample_store.h), then fits a profile (fit.h) that
// `joulecast analyze --profile` reads.
//
// Noise: a sample is measured in paired rounds, each running MeasureTraining (a few steps after
// warm-up, every window at least 10 meter update periods long) on the probe and then the base,
// so that slow drifts of the machine hit both alike, until the relative standard error of the
// per-step energy across rounds is at most `rse` for both (and at least 3 rounds), or the
// sample's time cap is reached. Repeats, steps and RSE of both networks, and the standard error
// of their difference from the paired rounds, are stored with the sample.
//
// Resuming: the plan (which points of which design) follows from the options alone, and a sample
// is stored under its design and Halton index; a run with the same options skips what is stored.
//
// Faults come back as values: an error (one line) for what cannot go on (a network libtorch
// cannot build, a meter that stops reading, a database that cannot be written); `interrupted`
// when `stop` was raised (stop after the current MeasureTraining run; nothing half-measured is
// stored). Nothing here exits the process or writes the profile file: the caller does.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/energy/profile.h"
#include "calibrate/calibration/design.h"
#include "calibrate/calibration/fit.h"
#include "calibrate/calibration/hardware.h"
#include "calibrate/calibration/sample_store.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// Where a calibration stands, reported after each sample and once before fitting.
struct CalibrationProgress {
  bool fitting = false;     ///< All samples are measured; the fit is running.
  int done = 0;             ///< Samples of the plan stored so far, earlier runs' included.
  int total = 0;            ///< Samples in the plan.
  int resumed = 0;          ///< Samples that were already stored when this run started.
  std::string design;       ///< The sample just measured; empty in the first report.
  int64_t index = 0;
  MeasuredNetwork probe, base;  ///< Its measurements.
  double elapsed_s = 0;     ///< Since this run started.
  double eta_s = -1;        ///< Measuring time left at this run's pace; -1 before it is known.
};

struct CalibrationOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda[:N]"; the caller has checked it is usable.
  int threads = 0;             ///< libtorch intra-op threads; 0 keeps libtorch's default.
  bool quick = false;          ///< Fewer, smaller samples: about 2 minutes on 2 cores.
  /// Samples per kind (split between a kind's designs: conv 3/4 conv and 1/4 conv_first, linear
  /// 2/3 and 1/3); 0: the defaults of the full or quick plan.
  int samples_per_kind = 0;
  double rse = 0.02;           ///< Target relative standard error of each network's energy.
  uint64_t seed = 1;           ///< Seeds the designs, the networks' weights and the CV folds.
  std::string db_path;         ///< The SQLite database (REQUIRED).
  /// Designs to measure; empty: all (AllDesigns()). Tests use a few.
  std::vector<Design> designs;
  /// Size ranges and work caps; unset: FullLimits() or QuickLimits().
  std::optional<DesignLimits> limits;
  /// Measuring time after which a sample stops repeating (once each network has 2 rounds);
  /// 0: 8 s, or 2.5 s with quick.
  double sample_time_cap_s = 0;
  /// Measuring time this run aims to stay within: when behind, samples stop repeating sooner
  /// (after 2 rounds at the least). 0: 780 s, or 90 s with quick. Not part of OptionsKey.
  double budget_s = 0;
  /// Measured window each repeat aims at; 0: 0.15 s, or 0.04 s with quick.
  double repeat_window_s = 0;
  std::string libtorch_version;  ///< Recorded in the profile's hardware.
  HardwareSources hardware;      ///< Where hardware facts are read from.
  /// Raised (by a signal handler, say) to stop after the current measurement. May be null.
  const std::atomic<bool>* stop = nullptr;
  /// Called after every sample and before fitting. May be empty.
  std::function<void(const CalibrationProgress&)> progress;
};

/// The plan: how many points of each design, in the order the options give.
std::vector<std::pair<Design, int>> PlanSamples(const CalibrationOptions& options);

/// The canonical description of everything that changes what a sample measures ("key=value;"
/// pairs, docs/calibrate.md): design version, designs, limits, rse, time cap, window, seed,
/// device, threads, and the meter (kind and description). Sample counts are not part of it: the
/// Halton designs are extensible, so a run with more samples per kind adds points to a database
/// and one with fewer uses a prefix.
std::string OptionsKey(const CalibrationOptions& options, const EnergyMeter& meter);

struct CalibrationOutcome {
  bool interrupted = false;  ///< `stop` was raised; `profile` is not set.
  int total = 0;             ///< Samples in the plan.
  int done = 0;              ///< Stored, earlier runs' included.
  int resumed = 0;           ///< Stored before this run.
  double elapsed_s = 0;      ///< This run, measuring and fitting.
  Profile profile;           ///< The fitted profile (when not interrupted).
  FitResult fit;
};

/// Runs or resumes the calibration described by `options`, reading `meter`.
/// REQUIRES: options.db_path not empty.
Result<CalibrationOutcome> RunCalibration(const CalibrationOptions& options, EnergyMeter& meter);

/// The current UTC time as ISO 8601, e.g. "2025-11-23T06:30:00Z".
std::string UtcNow();

}  // namespace joulecast
