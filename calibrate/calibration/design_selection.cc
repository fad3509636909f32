#include "calibrate/calibration/design_selection.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "analyzer/json/json_frontend.h"

namespace joulecast {

int SpaceFillingTimings(int count) { return std::min(count, std::max(3, (2 * count + 2) / 3)); }

Result<Graph> LoadTimedArchitecture(const std::string& json, int64_t batch) {
  LoadOptions load;
  load.batch = batch;
  return ParseJsonArchitecture(json, "calibration", load);
}

Result<ModelCost> CostOfTimedArchitecture(const std::string& json, int64_t batch,
                                          bool input_needs_grad) {
  Result<Graph> g = LoadTimedArchitecture(json, batch);
  if (!g.ok()) return g.status();
  CostOptions co;
  co.input_needs_grad = input_needs_grad;
  return ComputeCosts(*g, co);
}

Result<LayerCost> CostOfTimedLayer(const std::string& json, int64_t batch, bool input_needs_grad) {
  Result<ModelCost> cost = CostOfTimedArchitecture(json, batch, input_needs_grad);
  if (!cost.ok()) return cost.status();
  for (LayerCost& l : cost->layers) {
    if (l.kind != Kind::shape) return std::move(l);
  }
  return Status::Error("the architecture " + json + " has no layer to time");
}

Result<std::vector<int64_t>> LeastSureIndices(const std::string& design,
                                              const std::vector<LayerTimingSample>& timed,
                                              int64_t first, int count, int pool, uint64_t seed,
                                              const LayerDesignLimits& limits, bool async) {
  std::vector<int64_t> chosen;
  if (count <= 0) return chosen;
  std::vector<const LayerTimingSample*> samples;
  for (const LayerTimingSample& s : timed) samples.push_back(&s);
  const int block = samples.size() >= 3 ? ChooseChannelBlock(samples, async) : 0;
  const std::vector<FamilyTime> committee = FitFamilyFolds(samples, async, block);
  if (committee.empty()) {
    for (int i = 0; i < count; ++i) chosen.push_back(first + i);
    return chosen;
  }
  // Each candidate's spread: the largest minus the smallest log of its predicted time.
  const int bytes = ElementBytes(timed.empty() ? "fp32" : timed.front().precision);
  std::vector<std::pair<double, int64_t>> spread;
  for (int64_t index = first; index < first + std::max(pool, count); ++index) {
    Result<LayerConfig> c = MakeLayerConfig(design, index, seed, limits);
    if (!c.ok()) return c.status();
    Result<LayerCost> layer = CostOfTimedLayer(c->json, c->batch, c->input_needs_grad);
    if (!layer.ok()) return Status::Error(design + " " + std::to_string(index) + ": " + layer.status().message());
    double lo = INFINITY, hi = -INFINITY;
    for (const FamilyTime& f : committee) {
      const auto [fwd, bwd] = AloneTime(f, *layer, async, bytes);
      const double t = std::log(std::max(fwd + bwd, 1e-12));
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
    spread.emplace_back(hi - lo, index);
  }
  // The widest first; ties to the earlier point, so that the choice is the same every time.
  std::stable_sort(spread.begin(), spread.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int i = 0; i < count; ++i) chosen.push_back(spread[static_cast<size_t>(i)].second);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace joulecast
