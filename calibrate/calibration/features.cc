#include "calibrate/calibration/features.h"

#include "analyzer/energy/profile.h"
#include "analyzer/json/json_frontend.h"

namespace joulecast {

double NetworkFeatures::Get(Kind kind, const std::string& name) const {
  auto k = by_kind.find(kind);
  if (k == by_kind.end()) return 0;
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
    std::map<std::string, double>& sums = f.by_kind[lc.kind];
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
  for (const auto& [kind, sums] : b.by_kind) {
    for (const auto& [name, value] : sums) d.by_kind[kind][name] -= value;
  }
  d.params = a.params - b.params;
  return d;
}

}  // namespace joulecast
