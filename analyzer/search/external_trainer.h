// `--trainer 'CMD'`: trials trained by any program (docs/search.md, "The trainer protocol").
//
// CMD runs with /bin/sh -c in its own process group (a Ctrl-C at the terminal reaches joulecast,
// which lets the trial finish, not the trainer). It reads one JSON object on standard input:
//   {"trial": 3, "seed": 1, "params": {"learning_rate": 0.001, ...},
//    "architecture": {...the expanded architecture...},
//    "training": {"dataset": "fashion-mnist", "epochs": 2, "batch_size": 512, ...}}
// and prints, as the last non-empty line of its standard output, one JSON object:
//   {"accuracy": 0.87, "energy_j": 1234.5}
// with optional "energy_real" (bool, default false) and "meter" (string, default "external").
// Given a ChildMeter (the command line opens one with the energy meters), the trainer's energy
// is measured while it runs, and a trainer that reports no "energy_j" gets the measured one.
// Its standard error passes through to joulecast's. A non-zero exit, a death by signal or a bad
// last line fails the trial with a one-line reason; the search goes on.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "analyzer/search/trainer.h"
#include "common/child_meter.h"

namespace joulecast::search {

class ExternalTrainer : public Trainer {
 public:
  /// `command` is given to /bin/sh -c as it is. `cancel`, if given, is polled while the trial
  /// runs: once true, the trainer's process group is sent SIGTERM and Train returns an error.
  explicit ExternalTrainer(std::string command, const std::atomic<bool>* cancel = nullptr);

  /// Opens the meters measured around each trial's command; it returns the meter, or an error
  /// line (the search stops). Without it, the trainer must report "energy_j".
  using OpenChildMeter = std::function<std::unique_ptr<ChildMeter>(std::string* error)>;
  /// Measures every trial with meters from `open_meter`.
  void MeasureWith(OpenChildMeter open_meter) { open_meter_ = std::move(open_meter); }

  /// Runs the command for one trial. Errors (the search stops): the command cannot be started,
  /// or `cancel` was set.
  Result<TrialOutcome> Train(const TrialRequest& request) override;

 private:
  std::string command_;
  const std::atomic<bool>* cancel_;
  OpenChildMeter open_meter_;
};

/// The energy measured around a trainer's run.
struct MeteredEnergy {
  double energy_j = 0;
  bool real = false;  ///< Every device had a hardware counter.
  std::string meter;  ///< "rapl", "nvml", "estimate", "rapl+nvml", ...
};

/// The JSON object a trainer reads (one line, no trailing newline).
std::string TrialRequestJson(const TrialRequest& request);

/// Reads a trainer's standard output: its last non-empty line must be a JSON object with a
/// number "accuracy" in [0, 1] and a finite number "energy_j" >= 0, which may be left out when
/// `metered` is given: the outcome then has the metered energy and meter. Returns an outcome
/// with ok = false and a one-line error otherwise.
TrialOutcome ParseTrainerOutput(const std::string& output,
                                const std::optional<MeteredEnergy>& metered = std::nullopt);

}  // namespace joulecast::search
