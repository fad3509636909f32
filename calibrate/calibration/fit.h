// Fitting a profile's models to measured samples.
//
// Every sample is a probe network and its base (design.h), each measured per training step. The
// profile predicts a network as the sum, over its layers, of its kind's linear model, plus the
// step model over "params" and "one". So a sample gives two equations in the same unknown
// coefficients: probe - base (the layer's Delta: the head's and stem's differences enter with
// their own kinds' features, so they cancel correctly) and the base on its own (which pins down
// the step model). All samples of all kinds are fitted jointly, by non-negative least squares
// with each row weighted by 1 / (|target| + 2 standard errors), so that the fit minimises
// relative errors without chasing noise.
//
// Each kind's feature set is chosen from candidates by k-fold cross-validation (folds over
// samples, seeded) on the mean absolute percentage error of held-out samples' Delta for that
// kind: coordinate descent over kinds, starting from each kind's first candidate, until no kind
// changes. Energy picks the features; time is fitted on the same ones.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analyzer/core/ops.h"
#include "analyzer/core/status.h"
#include "analyzer/energy/profile.h"
#include "calibrate/calibration/features.h"

namespace joulecast {

/// One measured sample as the fit sees it. Energies in joules and times in seconds per training
/// step, each the mean over repeats with its standard error.
struct FitSample {
  /// The class the sample measures (SampleClass()), or kNetworkClass.
  std::string model_class = "conv";
  NetworkFeatures probe, base;
  double probe_energy_j = 0, probe_energy_se_j = 0;
  double base_energy_j = 0, base_energy_se_j = 0;
  double probe_time_s = 0, probe_time_se_s = 0;
  double base_time_s = 0, base_time_se_s = 0;
  /// Standard errors of probe - base; negative: not known, taken as the two errors combined.
  double delta_energy_se_j = -1, delta_time_se_s = -1;
};

/// The label of samples that measure a whole network (the network design) rather than a class.
inline constexpr const char* kNetworkClass = "network";

/// Feature names of one candidate model, from FeatureNames().
using FeatureSet = std::vector<std::string>;

/// Candidates for a model class: MAC-based ones for conv and linear classes (three MAC features
/// and "layers", then with elements, then with saved activation bytes), element-based ones
/// otherwise.
std::vector<FeatureSet> DefaultCandidates(const std::string& model_class);

struct FitOptions {
  int folds = 5;          ///< k of the cross-validation (fewer when there are fewer samples).
  uint64_t seed = 1;      ///< Seeds the assignment of samples to folds.
  /// Weight of a whole-network sample's equation against one layer's: whole networks are what
  /// users predict, so their relative errors count more.
  double network_weight = 3;
  /// Candidates per model class; a class not listed gets DefaultCandidates().
  std::map<std::string, std::vector<FeatureSet>> candidates;
};

struct FitResult {
  /// One model per class in any network: a class that samples measure has the cross-validated
  /// energy MAPE of its Delta and its sample count; one only in stems and heads (samples 0)
  /// has the held-out MAPE of the base networks.
  std::map<std::string, LinearModel> models;
  /// The step model ("params", "one"); its cv_mape is on held-out base networks' energy.
  LinearModel step;
  /// The same cross-validation of the time models, for the record.
  std::map<std::string, double> time_cv_mape;
  double step_time_cv_mape = 0;
  /// Per sample (in input order), its Delta's energy as predicted when it was held out.
  std::vector<double> held_out_delta_energy_j;
  /// Held-out errors of the whole networks of the samples labelled kNetworkClass (zero samples
  /// when there are none).
  NetworkError networks;
};

/// Fits the models. Errors: fewer than 2 samples; a non-finite measurement (naming the sample).
Result<FitResult> FitModels(const std::vector<FitSample>& samples, const FitOptions& options);

}  // namespace joulecast
