// The local history of tracked runs (`joulecast track` adds one row per run, `joulecast history`
// lists them): an SQLite file, by default $JOULECAST_HISTORY, else
// $XDG_DATA_HOME/joulecast/history.db, else ~/.local/share/joulecast/history.db.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/track/tracked_run.h"

namespace joulecast::track {

/// One stored run.
struct HistoryRow {
  int64_t id = 0;           ///< 1, 2, ... in the order runs were added.
  std::string started_utc;  ///< ISO 8601.
  std::string command;      ///< CommandLineOf the command.
  int exit_code = 0;        ///< The command's; 128 + signal when a signal ended it.
  std::string status;       ///< "ok", "failed" or "interrupted".
  std::string meter;        ///< "rapl+nvml", "estimate", ...
  bool meter_real = false;  ///< Every device had a hardware counter.
  double energy_j = 0;      ///< Measured, all devices.
  double duration_s = 0;    ///< Wall time.
  /// The predicted whole-run joules and interval; unset without --predict.
  std::optional<double> predicted_j, predicted_low_j, predicted_high_j;
  std::string profile;  ///< The prediction's profile; "" without one.
  std::string model;    ///< The predicted model file; "" without one.
};

/// A profile's error on the user's runs.
struct ProfileError {
  std::string profile;        ///< The profile file.
  int runs = 0;               ///< Completed (ok) runs with a prediction.
  double mean_abs_error = 0;  ///< Mean of |measured / predicted - 1|.
  int outside_interval = 0;   ///< Of those, measured outside the interval.
};

/// The default history file from the environment (see above); "" when no HOME either.
std::string DefaultHistoryPath();

/// Appends `run`, creating the file (and its folder) when missing. Errors: one line naming the
/// file.
Status AppendRun(const std::string& path, const TrackedRun& run);

/// Every row, oldest first. Errors: a missing file or not a history database, naming it.
Result<std::vector<HistoryRow>> ReadHistory(const std::string& path);

/// Per profile, over the completed runs with a prediction, in the order profiles first appear.
std::vector<ProfileError> ProfileErrors(const std::vector<HistoryRow>& rows);

/// `joulecast history` output: text or JSON (schema "joulecast.history/1").
std::string RenderHistory(const std::string& path, const std::vector<HistoryRow>& rows, bool json);

}  // namespace joulecast::track
