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
  ordered_json step = EstimateJson(s.total);
  step["energy_j_low"] = s.low.energy_j;
  step["energy_j_high"] = s.high.energy_j;
  step["time_s_low"] = s.low.time_s;
  step["time_s_high"] = s.high.time_s;
  j["per_step"] = step;
  j["optimizer_and_overhead"] = EstimateJson(s.step);
  ordered_json kinds;
  for (int k = 0; k < kNumKinds; ++k) {
    kinds[std::string(KindName(static_cast<Kind>(k)))] = EstimateJson(s.by_kind[k]);
  }
  j["by_kind"] = kinds;
  ordered_json missing = ordered_json::array();
  for (Kind k : s.missing_kinds) missing.push_back(KindName(k));
  j["kinds_without_model"] = missing;
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
    l["output_shape"] = n.outputs.empty() ? ordered_json(nullptr) : Dims(g.tensors[n.outputs[0]]);
    l["params"] = lc.params.value();
    l["buffers"] = lc.buffers.value();
    l["macs"] = Number(c.PerSample(lc.work.macs_fwd));
    l["modelled"] = lc.modelled;
    l["per_batch"] = WorkJson(lc.work, c, false);
    if (in.prediction) l["prediction"] = EstimateJson(in.prediction->layers[li]);
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
