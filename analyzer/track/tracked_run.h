// A training command measured by `joulecast track` (docs/track.md): how it ended, the energy
// each device used, and, with --predict, the prediction beside it. Rendered as text, markdown
// or JSON (schema "joulecast.track/1"); rendering never fails.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzer/carbon/carbon.h"
#include "analyzer/core/training_settings.h"
#include "common/child_meter.h"

namespace joulecast::track {

/// How a tracked command ended.
enum class RunStatus {
  ok,           ///< Exit code 0.
  failed,       ///< A non-zero exit code, or killed by a signal joulecast did not forward.
  interrupted,  ///< Stopped by SIGINT or SIGTERM (Ctrl-C, kill): the run is partial.
};

/// "ok", "failed" or "interrupted".
const char* RunStatusName(RunStatus status);

/// What `--predict MODEL` predicted for the run.
struct TrackPrediction {
  std::string model;          ///< The model file.
  std::string model_name;     ///< The graph's name.
  std::string profile;        ///< The profile file the prediction rests on.
  bool profile_real = false;  ///< The profile was calibrated with a hardware counter.
  double energy_j = 0;        ///< Whole run, central value.
  double low_j = 0;           ///< The interval's bounds.
  double high_j = 0;
  double time_s = 0;          ///< Predicted training time.
  ResolvedTraining training;  ///< The settings predicted, with their sources.
};

/// One tracked run.
struct TrackedRun {
  std::string started_utc;           ///< ISO 8601, when the command started.
  std::vector<std::string> command;  ///< The command and its arguments.
  double duration_s = 0;             ///< Wall time from start to exit.
  int exit_code = 0;                 ///< The command's, 128 + signal when a signal ended it.
  RunStatus status = RunStatus::ok;
  std::string meter;        ///< The meters' kinds: "rapl+nvml", "estimate", ...
  bool meter_real = false;  ///< Every device had a hardware counter.
  std::string meter_why;    ///< Why these meters (one line).
  std::vector<DeviceEnergy> devices;
  double energy_j = 0;  ///< All devices together.
  CarbonIntensity carbon;
  std::optional<TrackPrediction> prediction;
};

/// measured / predicted - 1, as a signed fraction; nullopt when the prediction is not positive.
std::optional<double> RelativeDifference(const TrackedRun& run);

/// The command as one line, each argument quoted for a POSIX shell when it needs it.
std::string CommandLineOf(const std::vector<std::string>& command);

enum class TrackFormat { text, markdown, json };

/// Renders `run` in `format`.
std::string RenderTrackedRun(const TrackedRun& run, TrackFormat format);

}  // namespace joulecast::track
