// Predicts the energy and time of one training step from a model's costs and a profile.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
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
  /// Interval from the profile's cross-validated errors: the total moves by the 90th percentile
  /// of its whole-network errors (Profile::networks) when the profile has them; else each
  /// layer's energy moves by its model's cv_mape, all in the same direction (a wider bound).
  Estimate low, high;
  /// Kinds the model has layers of but the profile has no model for (predicted as zero).
  std::vector<Kind> missing_kinds;
  /// Model classes the profile has no model of, each with the class predicted in its place
  /// (ModelFor()), in first-seen order: {"conv.grouped", "conv"}.
  std::vector<std::pair<std::string, std::string>> substitutes;
  /// Schema 3 only (empty otherwise): per LayerCost, its time, regime, family and whether it
  /// lies outside the family's calibrated sizes.
  std::vector<LayerTime> layer_times;
  int outside_range = 0;    ///< Layers outside their family's calibrated sizes (schema 3).
  double device_busy_s = 0; ///< Device busy time per step (schema 3).
  double power_w = 0;       ///< Mean power over the step (schema 3).
  std::string precision;    ///< The precision predicted (schema 3), e.g. "fp32".
};

/// Applies `profile` to every layer of `cost`. Schema 3: the time x power model of
/// time_model.h at `precision`, which the profile must have (ProfilePrecision()). Schemas 1
/// and 2: each layer with the linear model of its ModelClass() (or the substitute ModelFor()
/// picks), at the precision they were calibrated at. Layers of kind `shape` cost nothing;
/// unmodelled layers (kind `other`) are predicted only if the profile has a model for them.
StepPrediction PredictStep(const ModelCost& cost, const Profile& profile,
                           const std::string& precision = "fp32");

/// OK when `profile` can predict training at `precision`; else one line saying which
/// precisions it has and how to get the one asked for.
Status ProfilePrecision(const Profile& profile, const std::string& precision);

/// Grams of CO2-equivalent per kWh used when none is given: about the world average of
/// electricity generation in 2023 (Ember, Global Electricity Review 2024: 480 g/kWh).
inline constexpr double kDefaultCarbonIntensity = 480;
/// Training samples per epoch when none is given: Fashion-MNIST's training split, the paper's.
inline constexpr int64_t kDefaultSamples = 60000;

/// What a whole training run is: `epochs` passes over `samples` at `batch`.
struct TrainingRun {
  int64_t samples = kDefaultSamples;
  int64_t epochs = 1;
  int64_t batch = 1;
  double carbon_g_per_kwh = kDefaultCarbonIntensity;
  /// ceil(samples / batch): the last, partial batch counts as a full step (an upper bound off by
  /// less than one step per epoch).
  int64_t StepsPerEpoch() const { return batch > 0 ? (samples + batch - 1) / batch : 0; }
};

/// A quantity with its interval.
struct Bounded {
  Estimate mid, low, high;
};

/// One training step scaled to an epoch and to the whole run.
struct RunPrediction {
  TrainingRun run;
  int64_t steps_per_epoch = 0;
  int64_t steps = 0;  ///< steps_per_epoch x epochs.
  Bounded per_step, per_epoch, total;
};

RunPrediction PredictRun(const StepPrediction& step, const TrainingRun& run);

/// Joules to kilowatt-hours.
inline double KilowattHours(double joules) { return joules / 3.6e6; }
/// Joules to grams of CO2e at `g_per_kwh`.
inline double GramsCo2e(double joules, double g_per_kwh) { return KilowattHours(joules) * g_per_kwh; }

}  // namespace joulecast
