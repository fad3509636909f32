#include <cmath>

#include <nlohmann/json.hpp>

#include "analyzer/core/shape_inference.h"
#include "analyzer/report/report_internal.h"

namespace joulecast::report {

namespace {

using nlohmann::ordered_json;

// Exact integers print as integers; a per-sample share of a count that is not linear in the
// batch prints as a real number.
ordered_json Number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 9e15) return static_cast<int64_t>(v);
  return v;
}

ordered_json WorkJson(const Work& w, const ModelCost& c, bool per_sample) {
  auto n = [&](Count x) { return per_sample ? Number(c.PerSample(x)) : ordered_json(x.value()); };
  ordered_json j;
  j["macs_fwd"] = n(w.macs_fwd);
  j["macs_bwd_input"] = n(w.macs_bwd_input);
  j["macs_bwd_weight"] = n(w.macs_bwd_weight);
  j["elements_fwd"] = n(w.elements_fwd);
  j["elements_bwd"] = n(w.elements_bwd);
  j["saved_activation_bytes"] = n(w.saved_bytes);
  return j;
}

ordered_json Dims(const Tensor& t) {
  if (!t.shape_known) return nullptr;
  return t.dims;
}

ordered_json EstimateJson(const Estimate& e) {
  return {{"energy_j", e.energy_j}, {"time_s", e.time_s}};
}

// energy_j, time_s, their bounds, and the energy in kWh and gCO2e.
ordered_json BoundedJson(const Bounded& b, double g_per_kwh) {
  ordered_json j = EstimateJson(b.mid);
  j["energy_j_low"] = b.low.energy_j;
  j["energy_j_high"] = b.high.energy_j;
  j["time_s_low"] = b.low.time_s;
  j["time_s_high"] = b.high.time_s;
  j["kwh"] = KilowattHours(b.mid.energy_j);
  j["gco2e"] = GramsCo2e(b.mid.energy_j, g_per_kwh);
  j["gco2e_low"] = GramsCo2e(b.low.energy_j, g_per_kwh);
  j["gco2e_high"] = GramsCo2e(b.high.energy_j, g_per_kwh);
  return j;
}

// {"batch": {"value": 512, "source": "file"}, ...}: the settings and where each came from.
ordered_json TrainingJson(const ResolvedTraining& t) {
  auto setting = [](const auto& v) {
    return ordered_json{{"value", v.value}, {"source", SettingSourceName(v.source)}};
  };
  return {{"batch", setting(t.batch)},
          {"epochs", setting(t.epochs)},
          {"samples", setting(t.samples)},
          {"optimizer", setting(t.optimizer)},
          {"precision", setting(t.precision)}};
}

ordered_json CarbonJson(const CarbonIntensity& c) {
  ordered_json j = {{"g_per_kwh", c.g_per_kwh}, {"from", c.FromName()}};
  if (c.from == CarbonIntensity::From::region) {
    j["region"] = c.region;
    j["region_name"] = c.region_name;
    j["year"] = c.year;
    j["source"] = c.source;
  }
  return j;
}

ordered_json PredictionJson(const ReportInput& in) {
  const Profile& p = *in.profile;
  const StepPrediction& s = *in.prediction;
  ordered_json j;
  ordered_json hw = ordered_json::object();
  for (const auto& [k, v] : p.hardware) hw[k] = v;
  j["profile"] = {{"source", p.source}, {"default", in.default_profile}, {"created", p.created},
                  {"device", p.device}, {"hardware", hw},
                  {"meter", {{"kind", p.meter_kind}, {"real", p.meter_real},
                             {"description", p.meter_description}}}};
  RunPrediction r = in.run ? *in.run : PredictRun(s, TrainingRun{.batch = in.cost->batch});
  const double g = r.run.carbon_g_per_kwh;
  j["run"] = {{"batch", r.run.batch}, {"samples", r.run.samples}, {"epochs", r.run.epochs},
              {"steps_per_epoch", r.steps_per_epoch}, {"steps", r.steps},
              {"carbon_intensity_g_per_kwh", g}};
  if (in.carbon) j["carbon"] = CarbonJson(*in.carbon);
  j["per_step"] = BoundedJson(r.per_step, g);
  j["per_epoch"] = BoundedJson(r.per_epoch, g);
  j["total"] = BoundedJson(r.total, g);
  j["optimizer_and_overhead"] = EstimateJson(s.step);
  ordered_json kinds;
  for (int k = 0; k < kNumKinds; ++k) {
    ordered_json e = EstimateJson(s.by_kind[k]);
    e["share"] = s.total.energy_j > 0 ? s.by_kind[k].energy_j / s.total.energy_j : 0.0;
    e["total_energy_j"] = s.by_kind[k].energy_j * static_cast<double>(r.steps);
    kinds[std::string(KindName(static_cast<Kind>(k)))] = e;
  }
  j["by_kind"] = kinds;
  ordered_json missing = ordered_json::array();
  for (Kind k : s.missing_kinds) missing.push_back(KindName(k));
  j["kinds_without_model"] = missing;
  ordered_json subs = ordered_json::array();
  for (const auto& [cls, used] : s.substitutes) subs.push_back({{"class", cls}, {"predicted_as", used}});
  j["substituted_models"] = subs;
  if (!s.layer_times.empty()) {
    // Schema 3: the time x power model's own terms.
    j["model"] = {{"precision", s.precision},
                  {"device_busy_s", s.device_busy_s},
                  {"power_w", s.power_w},
                  {"idle_w", p.power.idle_w},
                  {"layers_outside_calibrated_sizes", s.outside_range},
                  {"whole_network_cv_error", p.networks.cv_mape}};
  }
  return j;
}

}  // namespace

std::string Json(const ReportInput& in) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  ordered_json j;
  j["schema"] = "joulecast.analysis/1";
  ordered_json model;
  model["name"] = g.name;
  model["source"] = g.source;
  model["batch"] = c.batch;
  model["batch_symbolic"] = g.batch_symbolic;
  ordered_json inputs = ordered_json::array();
  for (int i : g.inputs) {
    inputs.push_back({{"name", g.tensors[i].name}, {"shape", Dims(g.tensors[i])},
                      {"dtype", DTypeName(g.tensors[i].dtype)}});
  }
  model["inputs"] = inputs;
  model["nodes"] = g.nodes.size();
  model["params"] = c.params.value();
  model["buffers"] = c.buffers.value();
  model["macs"] = Number(c.PerSample(c.total.macs_fwd));
  j["model"] = model;
  if (in.training) j["training"] = TrainingJson(*in.training);
  j["per_sample"] = WorkJson(c.total, c, true);
  j["per_batch"] = WorkJson(c.total, c, false);
  j["memory"] = {{"param_bytes", c.param_bytes.value()},
                 {"buffer_bytes", c.buffer_bytes.value()},
                 {"grad_bytes", c.grad_bytes.value()},
                 {"adam_state_bytes", c.adam_state_bytes.value()},
                 {"sgd_momentum_bytes", c.sgd_momentum_bytes.value()},
                 {"activation_bytes_per_batch", c.total.saved_bytes.value()}};
  ordered_json kinds;
  for (int k = 0; k < kNumKinds; ++k) {
    const KindTotals& kt = c.by_kind[k];
    ordered_json e;
    e["layers"] = kt.layers;
    e["params"] = kt.params.value();
    e["buffers"] = kt.buffers.value();
    e["macs"] = Number(c.PerSample(kt.work.macs_fwd));
    e["per_batch"] = WorkJson(kt.work, c, false);
    kinds[std::string(KindName(static_cast<Kind>(k)))] = e;
  }
  j["by_kind"] = kinds;
  if (in.prediction) j["prediction"] = PredictionJson(in);
  ordered_json layers = ordered_json::array();
  for (size_t li = 0; li < c.layers.size(); ++li) {
    const LayerCost& lc = c.layers[li];
    const Node& n = g.nodes[lc.node];
    ordered_json l;
    l["name"] = n.name;
    l["op"] = n.op_type;
    l["kind"] = KindName(lc.kind);
    l["model_class"] = ModelClass(lc);
    l["output_shape"] = n.outputs.empty() ? ordered_json(nullptr) : Dims(g.tensors[n.outputs[0]]);
    l["params"] = lc.params.value();
    l["buffers"] = lc.buffers.value();
    l["macs"] = Number(c.PerSample(lc.work.macs_fwd));
    l["modelled"] = lc.modelled;
    l["per_batch"] = WorkJson(lc.work, c, false);
    if (in.prediction) {
      l["prediction"] = EstimateJson(in.prediction->layers[li]);
      if (!in.prediction->layer_times.empty() && lc.kind != Kind::shape) {
        const LayerTime& t = in.prediction->layer_times[li];
        l["prediction"]["regime"] = RegimeName(t.regime);
        l["prediction"]["device_s"] = t.device_s;
        l["prediction"]["family"] = t.family;
        l["prediction"]["outside_calibrated_sizes"] = t.outside_range;
      }
    }
    layers.push_back(l);
  }
  j["layers"] = layers;
  ordered_json unmodelled = ordered_json::array();
  for (int i : c.unmodelled) {
    const Node& n = g.nodes[c.layers[i].node];
    unmodelled.push_back({{"name", n.name}, {"op", n.op_type}, {"why", c.layers[i].why_unmodelled}});
  }
  j["unmodelled"] = unmodelled;
  return j.dump(2) + "\n";
}

}  // namespace joulecast::report
