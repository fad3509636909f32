// Fitting the time x power model (analyzer/energy/time_model.h) to measurements, in three
// stages, each on what measures it best:
//   1. Families, from layer timings (one layer alone, forward and backward): per model class
//      and precision, the dispatch floors, MAC rates, bandwidth and half-efficiency sizes, by
//      Nelder-Mead on squared log errors (relative errors, both passes), from a few starts;
//      for matrix products also the channel block (none, 8, 16 or 32), whichever fits best.
//   2. The optimizer, from timed optimizer steps where there are some: a host cost per step and
//      per parameter tensor, and the bandwidth of its memory traffic.
//   3. The network context, from whole training steps of every precision at once: the host
//      time per launch and the per-step overhead (the machine's), and per precision the device
//      scale and a host time per parameter tensor (the optimizer's when it was not timed, else
//      autocast's weight casts), again on squared log errors of the step time, with the families
//      fixed.
//   4. Power, from the same steps' energy over their measured time: an active power, a dynamic
//      power while busy, an energy per byte moved and, per precision, an energy per MAC, by
//      non-negative least squares on relative errors, given each step's predicted device share
//      and work; on a GPU, fp32's matrix products their own energy per MAC (full-precision
//      cores, where its convolutions use TF32 ones).
// The whole-network error is cross-validated: stages 3 and 4 are refitted without each fold of
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

/// One optimizer step (Adam) timed alone over `params` values in `tensors` tensors.
struct OptimizerTimingSample {
  std::string precision = "fp32";  ///< The training's precision (Adam's state stays fp32).
  int64_t params = 0;
  int64_t tensors = 0;
  double step_s = 0;  ///< One optimizer.step().
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
  /// Fit energy per MAC and per byte (TimeModel::joules_per_mac, joules_per_byte); false: the
  /// busy-time power alone, as profiles before them (bench/recorded_fit compares the two).
  bool work_energy = true;
  /// fp32's matrix products run on other units than its convolutions (a GPU under PyTorch's
  /// defaults: cuBLAS in full FP32, cuDNN in TF32): fit their energy per MAC apart
  /// (TimeModel::joules_per_mac_matmul), given a fitted fp32 network with most of its MACs in
  /// matrix products (an MLP) to tell it from the convolutions'.
  bool fp32_matmul_apart = false;
};

struct TimeFitResult {
  std::map<std::string, TimeModel> time_models;  ///< By precision.
  PowerModel power;
  NetworkError networks;  ///< Held-out energy (and time) error of the networks.
};

/// Fits one family on its samples (one model class, one precision).
/// REQUIRES: samples not empty.
FamilyTime FitFamily(const std::vector<const LayerTimingSample*>& samples, bool async);

/// The channel block FitFamily() gives `samples` (0: none).
int ChooseChannelBlock(const std::vector<const LayerTimingSample*>& samples, bool async);

/// The family fitted without each of 5 folds of `samples` (sample i is in fold i mod 5: samples
/// come in design order), with `channel_block` fixed: fewer than 3 samples, none. Their
/// held-out errors are FitFamily()'s cv_mape; where they disagree the data leave the family
/// unsure (the calibration places its last timings there: design_selection.h).
std::vector<FamilyTime> FitFamilyFolds(const std::vector<const LayerTimingSample*>& samples,
                                       bool async, int channel_block);

/// Fits the optimizer's host and memory terms (TimeModel::optimizer_step_s, _tensor_s,
/// _bytes_per_s) of `model` on timed steps. REQUIRES: samples not empty.
void FitOptimizer(const std::vector<const OptimizerTimingSample*>& samples, TimeModel& model);

/// Fits everything. Optimizer timings, where a precision has them (else fp32's), fix the
/// optimizer's terms; without them stage 3 fits a cost per tensor from the networks. Errors:
/// no layer samples; a precision with networks but no layer samples; fewer than 3 networks
/// (power and the network context need them).
Result<TimeFitResult> FitTimePower(const std::vector<LayerTimingSample>& layers,
                                   const std::vector<NetworkSample>& networks,
                                   const TimeFitOptions& options,
                                   const std::vector<OptimizerTimingSample>& optimizer = {});

/// Step time and energy of `cost` under a fitted model at `precision` (PredictStep() on a
/// profile of just that model and power).
Estimate PredictNetwork(const TimeModel& model, const PowerModel& power, const ModelCost& cost,
                        const std::string& precision);

}  // namespace joulecast
