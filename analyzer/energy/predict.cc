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

// Schema 3: time x power (time_model.h).
StepPrediction PredictTimePower(const ModelCost& cost, const Profile& profile,
                                const std::string& precision) {
  StepPrediction p;
  p.precision = precision;
  const TimeModel& model = profile.time_models.at(precision);
  PowerModel power = profile.power;
  if (model.dynamic_w > 0) power.dynamic_w = model.dynamic_w;
  const int element_bytes = ElementBytes(precision);
  p.layers.resize(cost.layers.size());
  p.layer_times.resize(cost.layers.size());
  std::array<bool, kNumKinds> missing{};
  double time_s = 0, busy_s = 0;
  for (size_t i = 0; i < cost.layers.size(); ++i) {
    const LayerCost& lc = cost.layers[i];
    if (lc.kind == Kind::shape) continue;
    LayerTime t = PredictLayerTime(model, lc, element_bytes);
    const std::string model_class = ModelClass(lc);
    if (t.family.empty()) {
      missing[static_cast<int>(lc.kind)] = true;
    } else if (t.family != model_class &&
               std::find_if(p.substitutes.begin(), p.substitutes.end(), [&](const auto& s) {
                 return s.first == model_class;
               }) == p.substitutes.end()) {
      p.substitutes.emplace_back(model_class, t.family);
    }
    if (t.outside_range) ++p.outside_range;
    p.layers[i] = {t.time_s * power.active_w + t.device_s * power.dynamic_w +
                       WorkEnergy(model, lc, element_bytes),
                   t.time_s};
    time_s += t.time_s;
    busy_s += t.device_s;
    p.layer_times[i] = std::move(t);
  }
  const double optimizer_s = OptimizerTime(model, cost.params.value(), cost.param_tensors);
  const double optimizer_bytes =
      model.optimizer_bytes_per_param * static_cast<double>(cost.params.value());
  const double optimizer_busy_s =
      model.optimizer_bytes_per_s > 0 ? optimizer_bytes / model.optimizer_bytes_per_s : 0;
  p.step.time_s = optimizer_s + model.step_overhead_s;
  p.step.energy_j = p.step.time_s * power.active_w + optimizer_busy_s * power.dynamic_w +
                    optimizer_bytes * model.joules_per_byte;
  time_s += p.step.time_s;
  busy_s += optimizer_busy_s;
  double energy_j = p.step.energy_j;
  for (const Estimate& e : p.layers) energy_j += e.energy_j;
  // Nothing draws more than its limit: scale every share down alike when the sum would.
  if (power.limit_w > 0 && energy_j > time_s * power.limit_w) {
    const double k = time_s * power.limit_w / energy_j;
    for (Estimate& e : p.layers) e.energy_j *= k;
    p.step.energy_j *= k;
    energy_j *= k;
  }
  for (size_t i = 0; i < cost.layers.size(); ++i) {
    Estimate& k = p.by_kind[static_cast<int>(cost.layers[i].kind)];
    k.energy_j += p.layers[i].energy_j;
    k.time_s += p.layers[i].time_s;
  }
  p.total = {energy_j, time_s};
  p.device_busy_s = busy_s;
  p.power_w = time_s > 0 ? energy_j / time_s : 0;
  for (int k = 0; k < kNumKinds; ++k) {
    if (missing[k]) p.missing_kinds.push_back(static_cast<Kind>(k));
  }
  const double e = profile.networks.samples > 0 ? profile.networks.cv_p90 : 0.5;
  p.low = {p.total.energy_j * std::max(0.0, 1 - e), p.total.time_s * std::max(0.0, 1 - e)};
  p.high = {p.total.energy_j * (1 + e), p.total.time_s * (1 + e)};
  return p;
}

}  // namespace

Status ProfilePrecision(const Profile& profile, const std::string& precision) {
  if (precision != "fp32" && precision != "bf16" && precision != "fp16") {
    return Status::Error("precision '" + precision + "' is not fp32, bf16 or fp16");
  }
  if (profile.time_models.empty()) {
    if (precision == "fp32") return Status();
    return Status::Error(profile.source + " (schema " + std::to_string(profile.version) +
                         ") predicts fp32 only; calibrate with joulecast calibrate --precision " +
                         precision + " for a profile that predicts " + precision);
  }
  if (profile.time_models.count(precision)) return Status();
  std::string have;
  for (const auto& [name, model] : profile.time_models) have += (have.empty() ? "" : ", ") + name;
  return Status::Error(profile.source + " was calibrated at " + have + ", not " + precision +
                       ": run joulecast calibrate --precision " + have + "," + precision);
}

StepPrediction PredictStep(const ModelCost& cost, const Profile& profile,
                           const std::string& precision) {
  if (!profile.time_models.empty()) {
    auto it = profile.time_models.find(precision);
    return PredictTimePower(cost, profile,
                            it != profile.time_models.end() ? precision
                                                            : profile.time_models.begin()->first);
  }
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
