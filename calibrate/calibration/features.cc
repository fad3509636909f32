#include "calibrate/calibration/features.h"

#include "analyzer/energy/profile.h"
#include "analyzer/json/json_frontend.h"

namespace joulecast {

double NetworkFeatures::Get(const std::string& model_class, const std::string& name) const {
  auto k = by_class.find(model_class);
  if (k == by_class.end()) return 0;
  auto f = k->second.find(name);
  return f == k->second.end() ? 0 : f->second;
}

Result<NetworkFeatures> FeaturesOf(const Graph& graph, const ModelCost& cost) {
  NetworkFeatures f;
  for (const LayerCost& lc : cost.layers) {
    if (!lc.modelled) {
      const Node& n = graph.nodes[lc.node];
      return Status::Error(graph.name + ": node '" + n.name + "' (" + n.op_type +
                           "): " + lc.why_unmodelled);
    }
    if (lc.kind == Kind::shape) continue;
    std::map<std::string, double>& sums = f.by_class[ModelClass(lc)];
    for (const std::string& name : FeatureNames()) {
      if (name == "params" || name == "one") continue;
      sums[name] += LayerFeature(lc, name);
    }
  }
  f.params = static_cast<double>(cost.params.value());
  return f;
}

Result<NetworkFeatures> FeaturesOfJson(const std::string& json, int64_t batch) {
  LoadOptions options;
  options.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(json, "calibration network", options);
  if (!g.ok()) return g.status();
  Result<ModelCost> cost = ComputeCosts(*g);
  if (!cost.ok()) return cost.status();
  return FeaturesOf(*g, *cost);
}

NetworkFeatures Difference(const NetworkFeatures& a, const NetworkFeatures& b) {
  NetworkFeatures d = a;
  for (const auto& [cls, sums] : b.by_class) {
    for (const auto& [name, value] : sums) d.by_class[cls][name] -= value;
  }
  d.params = a.params - b.params;
  return d;
}

std::string MeasuredClass(const NetworkFeatures& delta, Kind kind) {
  const std::string k(KindName(kind));
  std::string best;
  double most = 0;
  for (const auto& [cls, sums] : delta.by_class) {
    if (cls != k && cls.rfind(k + ".", 0) != 0) continue;
    auto it = sums.find("layers");
    if (it != sums.end() && it->second > most) {
      most = it->second;
      best = cls;
    }
  }
  return best;
}

}  // namespace joulecast
