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
// Its standard error passes through to joulecast's. A non-zero exit, a death by signal or a bad
// last line fails the trial with a one-line reason; the search goes on.
#pragma once

#include <atomic>
#include <string>

#include "analyzer/search/trainer.h"

namespace joulecast::search {

class ExternalTrainer : public Trainer {
 public:
  /// `command` is given to /bin/sh -c as it is. `cancel`, if given, is polled while the trial
  /// runs: once true, the trainer's process group is sent SIGTERM and Train returns an error.
  explicit ExternalTrainer(std::string command, const std::atomic<bool>* cancel = nullptr);

  /// Runs the command for one trial. Errors (the search stops): the command cannot be started,
  /// or `cancel` was set.
  Result<TrialOutcome> Train(const TrialRequest& request) override;

 private:
  std::string command_;
  const std::atomic<bool>* cancel_;
};

/// The JSON object a trainer reads (one line, no trailing newline).
std::string TrialRequestJson(const TrialRequest& request);

/// Reads a trainer's standard output: its last non-empty line must be a JSON object with a
/// number "accuracy" in [0, 1] and a finite number "energy_j" >= 0. Returns an outcome with
/// ok = false and a one-line error otherwise.
TrialOutcome ParseTrainerOutput(const std::string& output);

}  // namespace joulecast::search
