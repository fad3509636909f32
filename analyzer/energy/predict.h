// Predicts the energy and time of one training step from a model's costs and a profile.
#pragma once

#include <array>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/energy/profile.h"

namespace joulecast {

struct Estimate {
  double energy_j = 0;
  double time_s = 0;
};

struct StepPrediction {
  std::vector<Estimate> layers;             ///< Per LayerCost, per batch step.
  std::array<Estimate, kNumKinds> by_kind;  ///< Summed per kind.
  Estimate step;                            ///< Optimizer step and fixed overhead.
  Estimate total;                           ///< Everything, one training step at the batch.
  /// Interval from the models' cross-validated errors: each kind's share of energy moves by its
  /// cv_mape, all in the same direction (a conservative bound).
  Estimate low, high;
  /// Kinds the model has layers of but the profile has no model for (predicted as zero).
  std::vector<Kind> missing_kinds;
};

/// Applies `profile` to every layer of `cost`. Layers of kind `shape` cost nothing; unmodelled
/// layers (kind `other`) are predicted only if the profile has an `other` model.
StepPrediction PredictStep(const ModelCost& cost, const Profile& profile);

}  // namespace joulecast
