// How the search trains a trial: a small interface the analyzer owns, so that the search never
// includes calibrate/. Two implementations: an external command (external_trainer.h, here) and
// the built-in libtorch trainer on Fashion-MNIST (calibrate/train/torch_trainer.h).
#pragma once

#include <cstdint>
#include <string>

#include "analyzer/core/status.h"
#include "analyzer/search/space.h"

namespace joulecast::search {

/// One trial to train.
struct TrialRequest {
  int trial = 0;  ///< The trial's number in the study (from 0).
  Params params;
  std::string architecture_json;  ///< The space's architecture with every "$name" replaced.
  Training training;              ///< The space's training with the parameters applied.
  /// The search's --seed. The train/validation split depends on it alone, so that every trial
  /// of a study is validated on the same samples; weights and batch order depend on it and on
  /// `trial`.
  uint64_t seed = 1;
};

/// What training a trial gave.
struct TrialOutcome {
  bool ok = false;           ///< False: the trial failed (`error` says why); the search goes on.
  double accuracy = 0;       ///< Validation accuracy in [0, 1].
  double energy_j = 0;       ///< Energy of the training (not the validation), joules.
  bool energy_real = false;  ///< True only when a hardware counter measured `energy_j`.
  std::string meter;         ///< Which meter: "rapl", "nvml", "estimate", "external", ...
  double time_s = 0;         ///< Wall time of the trial.
  std::string error;         ///< One line, when !ok.
};

/// Trains trials, one at a time.
class Trainer {
 public:
  virtual ~Trainer() = default;
  /// Trains `request`. A trial that fails on its own (a network that does not train, a script
  /// that exits non-zero) is an outcome with ok = false; an error Status means no trial can be
  /// trained (a dataset or meter that cannot be read, a command that cannot start, an
  /// interruption) and stops the search.
  virtual Result<TrialOutcome> Train(const TrialRequest& request) = 0;
};

}  // namespace joulecast::search
