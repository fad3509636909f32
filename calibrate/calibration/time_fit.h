// Fitting the time x power model (analyzer/energy/time_model.h) to measurements, in three
// stages, each on what measures it best:
//   1. Families, from layer timings (one layer alone, forward and backward): per model class
//      and precision, the dispatch floors, MAC rates, bandwidth and half-efficiency sizes, by
//      Nelder-Mead on squared log errors (relative errors, both passes), from a few starts.
//   2. The network context, from whole training steps: per precision, the host time per
//      launch, the device scale, the optimizer's time per parameter tensor and the per-step
//      overhead, again on squared log errors of the step time, with the families fixed.
//   3. Power, from the same steps' energy over their measured time: one active power and a dynamic
//      power per precision by non-negative least squares on relative errors, given each step's
//      predicted device share.
// The whole-network error is cross-validated: stages 2 and 3 are refitted without each fold of
// networks and predict it. Nothing here needs libtorch; tests fit recorded measurements.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/status.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"

namespace joulecast {

/// One layer timed alone, both passes, per call.
struct LayerTimingSample {
  LayerCost layer;         ///< Costed as timed (CostOptions::input_needs_grad).
  std::string precision = "fp32";
  double forward_s = 0;    ///< One forward call.
  double backward_s = 0;   ///< One forward+backward call minus forward_s.
};

/// One whole network's training step.
struct NetworkSample {
  std::string name;
  ModelCost cost;
  std::string precision = "fp32";
  double time_s = 0;    ///< Per step.
  double energy_j = 0;  ///< Per step, from the meter (idle power included).
};

struct TimeFitOptions {
  bool async = false;      ///< A GPU (the host runs ahead of the device).
  int folds = 5;           ///< Cross-validation folds over networks (fewer if fewer networks).
  uint64_t seed = 1;       ///< Assigns networks to folds.
  double idle_w = 0;       ///< Measured idle power, recorded (0: unknown).
  double limit_w = 0;      ///< Power limit, recorded and used as the cap (0: none).
  /// Adam's memory traffic per parameter and precision byte: reads parameter, gradient and two
  /// moments, writes parameter and moments (7 accesses).
  double optimizer_accesses_per_param = 7;
};

struct TimeFitResult {
  std::map<std::string, TimeModel> time_models;  ///< By precision.
  PowerModel power;
  NetworkError networks;  ///< Held-out energy (and time) error of the networks.
};

/// Fits one family on its samples (one model class, one precision).
/// REQUIRES: samples not empty.
FamilyTime FitFamily(const std::vector<const LayerTimingSample*>& samples, bool async);

/// Fits everything. Errors: no layer samples; a precision with networks but no layer samples;
/// fewer than 3 networks (power and the network context need them).
Result<TimeFitResult> FitTimePower(const std::vector<LayerTimingSample>& layers,
                                   const std::vector<NetworkSample>& networks,
                                   const TimeFitOptions& options);

/// Step time and energy of `cost` under a fitted model at `precision` (PredictStep() on a
/// profile of just that model and power).
Estimate PredictNetwork(const TimeModel& model, const PowerModel& power, const ModelCost& cost,
                        const std::string& precision);

}  // namespace joulecast
