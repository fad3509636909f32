// The features a sample is fitted on: the analyzer's own per-layer costs (costs.h) of a network,
// summed per layer kind, under the profile's feature names (profile.h). Because a profile
// predicts a network as the sum of its layers, a measured network is described exactly by these
// sums, and the difference of two networks by the difference of their sums.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "analyzer/core/costs.h"
#include "analyzer/core/status.h"

namespace joulecast {

/// Per model class (ModelClass(): "conv", "conv.depthwise", ...), the sum over the network's
/// layers of that class of LayerFeature(layer, name), for every name in FeatureNames() but
/// "params" and "one" (whole-step features); and the network's trainable parameters, the step
/// model's "params". Kind::shape layers cost nothing and are left out.
struct NetworkFeatures {
  std::map<std::string, std::map<std::string, double>> by_class;
  double params = 0;

  /// by_class[model_class][name], 0 where absent.
  double Get(const std::string& model_class, const std::string& name) const;
};

/// The features of a costed network. Fails, naming the node, on an unmodelled layer.
Result<NetworkFeatures> FeaturesOf(const Graph& graph, const ModelCost& cost);

/// Loads `json` (a JSON architecture) at `batch` and returns its features.
Result<NetworkFeatures> FeaturesOfJson(const std::string& json, int64_t batch);

/// a - b, class by class and feature by feature.
NetworkFeatures Difference(const NetworkFeatures& a, const NetworkFeatures& b);

/// The class of `kind` that `delta` (probe - base) adds the most layers of: the class a sample
/// of a design measuring `kind` measures. Empty if it adds none.
std::string MeasuredClass(const NetworkFeatures& delta, Kind kind);

}  // namespace joulecast
