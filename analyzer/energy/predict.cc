#include "analyzer/energy/predict.h"

#include <algorithm>

namespace joulecast {

namespace {

Estimate Apply(const LinearModel& m, const LayerCost* layer, double params) {
  Estimate e;
  for (size_t i = 0; i < m.features.size(); ++i) {
    const std::string& f = m.features[i];
    double x = f == "one" ? 1.0 : f == "params" ? params : layer ? LayerFeature(*layer, f) : 0.0;
    e.energy_j += m.energy_j[i] * x;
    e.time_s += m.time_s[i] * x;
  }
  return e;
}

}  // namespace

StepPrediction PredictStep(const ModelCost& cost, const Profile& profile) {
  StepPrediction p;
  p.layers.resize(cost.layers.size());
  std::array<bool, kNumKinds> missing{};
  auto widen = [&](const Estimate& e, double mape) {
    p.low.energy_j += e.energy_j * std::max(0.0, 1 - mape);
    p.low.time_s += e.time_s * std::max(0.0, 1 - mape);
    p.high.energy_j += e.energy_j * (1 + mape);
    p.high.time_s += e.time_s * (1 + mape);
  };
  for (size_t i = 0; i < cost.layers.size(); ++i) {
    const LayerCost& lc = cost.layers[i];
    if (lc.kind == Kind::shape) continue;
    const std::string model_class = ModelClass(lc);
    std::string used;
    const LinearModel* m = ModelFor(profile, model_class, &used);
    if (!m) {
      missing[static_cast<int>(lc.kind)] = true;
      continue;
    }
    if (used != model_class &&
        std::find_if(p.substitutes.begin(), p.substitutes.end(), [&](const auto& s) {
          return s.first == model_class;
        }) == p.substitutes.end()) {
      p.substitutes.emplace_back(model_class, used);
    }
    p.layers[i] = Apply(*m, &lc, static_cast<double>(lc.params.value()));
    widen(p.layers[i], m->cv_mape);
    Estimate& k = p.by_kind[static_cast<int>(lc.kind)];
    k.energy_j += p.layers[i].energy_j;
    k.time_s += p.layers[i].time_s;
  }
  p.step = Apply(profile.step, nullptr, static_cast<double>(cost.params.value()));
  widen(p.step, profile.step.cv_mape);
  p.total = p.step;
  for (int k = 0; k < kNumKinds; ++k) {
    p.total.energy_j += p.by_kind[k].energy_j;
    p.total.time_s += p.by_kind[k].time_s;
    if (missing[k]) p.missing_kinds.push_back(static_cast<Kind>(k));
  }
  if (profile.networks.samples > 0) {
    const double e = profile.networks.cv_p90;
    p.low = {p.total.energy_j * std::max(0.0, 1 - e), p.total.time_s * std::max(0.0, 1 - e)};
    p.high = {p.total.energy_j * (1 + e), p.total.time_s * (1 + e)};
  }
  return p;
}

RunPrediction PredictRun(const StepPrediction& step, const TrainingRun& run) {
  RunPrediction r;
  r.run = run;
  r.steps_per_epoch = run.StepsPerEpoch();
  r.steps = r.steps_per_epoch * run.epochs;
  r.per_step = {step.total, step.low, step.high};
  auto scale = [](const Bounded& b, double k) {
    auto s = [k](const Estimate& e) { return Estimate{e.energy_j * k, e.time_s * k}; };
    return Bounded{s(b.mid), s(b.low), s(b.high)};
  };
  r.per_epoch = scale(r.per_step, static_cast<double>(r.steps_per_epoch));
  r.total = scale(r.per_step, static_cast<double>(r.steps));
  return r;
}

}  // namespace joulecast
