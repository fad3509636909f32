// A hardware profile: what one machine costs per unit of work, fitted by `joulecast calibrate`
// and read by the predictor. Stored as versioned JSON (schema "joulecast.profile/3", the time x
// power model of time_model.h; /2 and /1, the linear models below, are still read;
// docs/profile.md); nlohmann-json stays inside this library.
//
// Schemas 1 and 2: the model is linear in named features of the analyzer's cost model: a layer of model class c
// (ModelClass(): its kind, or kind.variant such as "conv.depthwise") costs
//   sum over f of models[c].energy_j[f] * feature_f(layer)
// where features are per-batch counts of one training step (Work's fields, by their JSON
// names) plus "layers" (1 for each layer: a per-layer overhead). The optimizer step and the
// fixed per-step overhead form the "step" model over "params" (trainable parameters) and "one".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/status.h"
#include "analyzer/energy/time_model.h"

namespace joulecast {

/// One linear model over named features.
struct LinearModel {
  std::vector<std::string> features;  ///< Feature names, e.g. "macs_fwd", "layers".
  std::vector<double> energy_j;       ///< Joules per unit of each feature.
  std::vector<double> time_s;         ///< Seconds per unit of each feature.
  double cv_mape = 0;                 ///< Cross-validated mean absolute percentage error (0.05 = 5%).
  int samples = 0;                    ///< Measurements the model was fitted on.
};

/// How well a profile predicts whole networks it was not fitted on: relative errors of the
/// calibration's random networks, each predicted by the models fitted without it (k-fold).
struct NetworkError {
  double cv_mape = 0;  ///< Mean absolute relative error.
  double cv_p90 = 0;   ///< 90th percentile of the absolute relative errors.
  int samples = 0;     ///< Networks; 0: not measured (a profile of version 1, or a quick run).
  double time_cv_mape = 0;  ///< The same for the step time (schema 3).
};

struct Profile {
  int version = 1;
  std::string created;                ///< ISO 8601 UTC time of the calibration.
  std::string device = "cpu";         ///< "cpu" or "cuda:N".
  /// What was measured on: cpu_model, cores, threads, memory_bytes, gpu, driver, cuda,
  /// libtorch (strings; absent keys unknown).
  std::map<std::string, std::string> hardware;
  std::string meter_kind;             ///< "rapl", "nvml" or "estimate".
  bool meter_real = false;            ///< True only for a hardware energy counter.
  std::string meter_description;
  /// Per-layer models by model class ("conv", "conv.depthwise", "activation.tanh"); see
  /// ModelFor() for the classes a profile lacks.
  std::map<std::string, LinearModel> models;
  LinearModel step;                   ///< Optimizer step and fixed overhead, per training step.
  NetworkError networks;              ///< Whole-network error; sets the prediction interval.
  /// Schema 3: the time model of each precision calibrated ("fp32", "bf16", "fp16"), and the
  /// power model (time_model.h). Empty for schemas 1 and 2, which predict with `models`.
  std::map<std::string, TimeModel> time_models;
  PowerModel power;
  /// TF32 as calibrated, e.g. "convolutions on, matmul off" (PyTorch's defaults); "" on a CPU.
  std::string tf32;
  std::string source;                 ///< The file it was read from (not stored).
};

/// True for a kind name or "kind.variant" with a variant of lower-case letters, digits and '_'.
bool IsModelClass(const std::string& name);

/// The model a layer of `model_class` is predicted with: its own; else its kind's plain model
/// ("conv"); else the kind's reference variant (activation.tanh, pool.max, elementwise.add,
/// norm, conv, linear); else null. `used` (optional) gets the class used.
const LinearModel* ModelFor(const Profile& profile, const std::string& model_class,
                            std::string* used = nullptr);

/// The names features may use, in a stable order.
const std::vector<std::string>& FeatureNames();

/// Value of feature `name` for one layer (per batch); "layers" is 1. Unknown names give 0.
double LayerFeature(const LayerCost& layer, const std::string& name);

/// Reads and validates a profile; errors name the file and the field (JSON pointer).
Result<Profile> LoadProfile(const std::string& path);
/// Parses profile JSON text; `source` names it in messages.
Result<Profile> ParseProfile(const std::string& text, const std::string& source);
/// Serialises a profile (without `source`).
std::string ProfileJson(const Profile& profile);

}  // namespace joulecast
