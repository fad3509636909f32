#include "calibrate/calibration/timing_calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "calibrate/calibration/design_selection.h"
#include "calibrate/calibration/layer_design.h"
#include "calibrate/calibration/timing_store.h"
#include "calibrate/torch/layer_timing.h"
#include "calibrate/torch/measure.h"
#include "calibrate/torch/torch_network.h"
#include "common/utc_time.h"

namespace joulecast {

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Bump when a change to the designs or the measurement makes stored measurements incomparable.
constexpr const char* kVersion = "9";

struct Planned {
  std::string design;  // a layer design or "network"
  int64_t index = 0;
  std::string precision;
};

std::string Ms(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g ms", s * 1e3);
  return b;
}

}  // namespace

Result<TimingOutcome> FitStored(const TimingCalibrationOptions& o, const std::vector<TimingRow>& rows,
                                const std::vector<std::string>& precisions,
                                const nlohmann::json& facts, TimingOutcome out);

Result<TimingOutcome> RunTimingCalibration(const TimingCalibrationOptions& o, EnergyMeter* meter_ptr) {
  if (o.fit_only) {
    Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(o.db_path, "");
    if (!store.ok()) return store.status();
    Result<std::vector<TimingRow>> rows = (*store)->Load();
    if (!rows.ok()) return rows.status();
    for (const std::string& path : o.extra_db_paths) {
      Result<std::unique_ptr<TimingStore>> more = TimingStore::Open(path, "");
      if (!more.ok()) return more.status();
      nlohmann::json other = nlohmann::json::parse((*more)->Meta("profile"), nullptr, false);
      nlohmann::json first = nlohmann::json::parse((*store)->Meta("profile"), nullptr, false);
      if (other.is_discarded() || first.is_discarded() ||
          other.value("device", "") != first.value("device", "") ||
          other["meter"].value("kind", "") != first["meter"].value("kind", "") ||
          other["hardware"].value("gpu", "") != first["hardware"].value("gpu", "") ||
          other["hardware"].value("cpu_model", "") != first["hardware"].value("cpu_model", "")) {
        return Status::Error(path + ": was measured on another device or with another meter than " +
                             o.db_path + "; only calibrations of one machine can be pooled");
      }
      Result<std::vector<TimingRow>> extra = (*more)->Load();
      if (!extra.ok()) return extra.status();
      for (TimingRow& r : *extra) {
        rows->push_back(std::move(r));
      }
    }
    nlohmann::json facts = nlohmann::json::parse((*store)->Meta("profile"), nullptr, false);
    if (facts.is_discarded() || !facts.is_object()) {
      return Status::Error(o.db_path + ": records no facts about the machine it was measured on");
    }
    std::vector<std::string> precisions;
    for (const TimingRow& r : *rows) {
      if (std::find(precisions.begin(), precisions.end(), r.precision) == precisions.end()) {
        precisions.push_back(r.precision);
      }
    }
    TimingOutcome out;
    out.total = out.done = out.resumed = static_cast<int>(rows->size());
    return FitStored(o, *rows, precisions, facts, out);
  }
  EnergyMeter& meter = *meter_ptr;
  const bool gpu = CudaIndex(o.device) >= 0;
  const LayerDesignLimits limits = gpu ? GpuLimits() : CpuLimits();
  const int per_design = o.layers_per_design > 0 ? o.layers_per_design : o.quick ? 5 : 16;
  const int networks = o.networks > 0 ? o.networks : o.quick ? 8 : gpu ? 12 : 24;
  const double window_s = o.window_s > 0 ? o.window_s
                          : meter.real()  ? (o.quick ? 3.0 : 5.0)
                                          : (o.quick ? 0.5 : 1.0);
  std::string key = std::string("version=") + kVersion + ";device=" + o.device +
                    ";threads=" + std::to_string(o.threads) + ";seed=" + std::to_string(o.seed) +
                    ";window_s=" + std::to_string(window_s) + ";meter=" + meter.kind() + ";";
  Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(o.db_path, key);
  if (!store.ok()) return store.status();
  Result<std::vector<TimingRow>> stored = (*store)->Load();
  if (!stored.ok()) return stored.status();

  // The plan, per precision: each design's space-filling timings, every design interleaved;
  // then a marker ("choose") where the rest of each design's timings are chosen where its family
  // is least sure (design_selection.h) and inserted; then Adam's steps and the networks.
  std::vector<Planned> plan;
  const bool with_fp32 =
      std::find(o.precisions.begin(), o.precisions.end(), "fp32") != o.precisions.end();
  auto count = [&](const std::string& d) {
    return std::max(4, static_cast<int>(std::lround(per_design * DesignWeight(d))));
  };
  // Autocast changes only the matrix products; the rest borrow fp32's (time_fit.h) when fp32 is
  // calibrated too.
  auto timed_at = [&](const std::string& d, const std::string& precision) {
    const bool matmul = d.rfind("conv", 0) == 0 || d.rfind("linear", 0) == 0;
    return precision == "fp32" || matmul || !with_fp32;
  };
  // Round i takes every design that has an i-th item in `indices`.
  auto interleave = [&](const std::map<std::string, std::vector<int64_t>>& indices,
                        const std::string& precision) {
    std::vector<Planned> out;
    for (size_t i = 0;; ++i) {
      bool any = false;
      for (const std::string& d : LayerDesigns()) {
        auto it = indices.find(d);
        if (it == indices.end() || i >= it->second.size()) continue;
        out.push_back({d, it->second[i], precision});
        any = true;
      }
      if (!any) return out;
    }
  };
  int chosen_total = 0;
  for (const std::string& precision : o.precisions) {
    std::map<std::string, std::vector<int64_t>> first;
    for (const std::string& d : LayerDesigns()) {
      if (!timed_at(d, precision)) continue;
      for (int i = 0; i < SpaceFillingTimings(count(d)); ++i) first[d].push_back(i);
      chosen_total += count(d) - SpaceFillingTimings(count(d));
    }
    for (Planned& p : interleave(first, precision)) plan.push_back(std::move(p));
    plan.push_back({"choose", 0, precision});
    // Adam's state stays fp32 under autocast: its steps are timed once, at the first precision.
    if (precision == (with_fp32 ? std::string("fp32") : o.precisions.front())) {
      const int steps = o.quick ? 6 : kOptimizerConfigs;
      for (int i = 0; i < steps; ++i) plan.push_back({"optimizer", i, precision});
    }
    for (int i = 0; i < networks; ++i) plan.push_back({"network", i, precision});
  }
  auto is_stored = [&](const Planned& p) {
    return std::any_of(stored->begin(), stored->end(), [&](const TimingRow& r) {
      return r.design == p.design && r.index == p.index && r.precision == p.precision;
    });
  };
  TimingOutcome out;
  out.total = chosen_total;
  for (const Planned& p : plan) {
    if (p.design == "choose") continue;
    ++out.total;
    out.resumed += is_stored(p) ? 1 : 0;
  }
  // Chosen timings a stopped run took: past each design's space-filling ones.
  for (const TimingRow& r : *stored) {
    const auto& designs = LayerDesigns();
    if (std::find(designs.begin(), designs.end(), r.design) != designs.end() &&
        r.index >= SpaceFillingTimings(count(r.design)) &&
        std::find(o.precisions.begin(), o.precisions.end(), r.precision) != o.precisions.end()) {
      ++out.resumed;
    }
  }
  out.done = out.resumed;
  // The chosen timings of `precision`, from its space-filling ones (all stored by then).
  auto choose = [&](const std::string& precision) -> Result<std::vector<Planned>> {
    std::map<std::string, std::vector<int64_t>> chosen;
    for (const std::string& d : LayerDesigns()) {
      if (!timed_at(d, precision)) continue;
      const int filling = SpaceFillingTimings(count(d));
      // By index, whatever order they were stored in: the folds are by position.
      std::map<int64_t, LayerTimingSample> by_index;
      for (const TimingRow& r : *stored) {
        if (r.design != d || r.precision != precision || r.index >= filling) continue;
        Result<LayerCost> layer = CostOfTimedLayer(r.json, r.batch, r.input_needs_grad);
        if (!layer.ok()) return Status::Error(d + " " + std::to_string(r.index) + ": " + layer.status().message());
        by_index[r.index] = {*layer, precision, r.a, r.b};
      }
      std::vector<LayerTimingSample> timed;
      for (auto& [index, sample] : by_index) timed.push_back(std::move(sample));
      const int rest = count(d) - filling;
      Result<std::vector<int64_t>> indices =
          LeastSureIndices(d, timed, filling, rest, 8 * rest, o.seed, limits, gpu);
      if (!indices.ok()) return indices.status();
      chosen[d] = *indices;
    }
    return interleave(chosen, precision);
  };
  const Clock::time_point start = Clock::now();
  // The idle floor, for the record: a real counter over 3 s with nothing running.
  double idle_w = 0;
  if (meter.real() && !(o.stop && o.stop->load())) {
    Result<double> e0 = meter.EnergyJ();
    const Clock::time_point t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    Result<double> e1 = meter.EnergyJ();
    if (e0.ok() && e1.ok()) idle_w = (*e1 - *e0) / Since(t0);
  }
  nlohmann::json facts = {
      {"device", o.device},
      {"hardware", DescribeHardware(o.hardware, CudaIndex(o.device))},
      {"meter", {{"kind", meter.kind()}, {"real", meter.real()}, {"description", meter.description()}}},
      {"idle_w", idle_w},
      {"limit_w", meter.power_limit_w()}};
  facts["hardware"]["threads"] = std::to_string(o.threads);
  if (!o.libtorch_version.empty()) facts["hardware"]["libtorch"] = o.libtorch_version;
  if (Status s = (*store)->SetMeta("profile", facts.dump()); !s.ok()) return s;
  double measured_s = 0;
  int measured = 0;
  for (size_t next = 0; next < plan.size(); ++next) {
    const Planned p = plan[next];
    if (p.design == "choose") {
      Result<std::vector<Planned>> chosen = choose(p.precision);
      if (!chosen.ok()) return chosen.status();
      plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(next) + 1, chosen->begin(), chosen->end());
      continue;
    }
    if (is_stored(p)) continue;
    if (o.stop && o.stop->load()) {
      out.interrupted = true;
      out.elapsed_s = Since(start);
      return out;
    }
    const Clock::time_point t0 = Clock::now();
    TimingRow row;
    row.design = p.design;
    row.index = p.index;
    row.precision = p.precision;
    std::string what;
    if (p.design == "optimizer") {
      const auto [params, tensors] = OptimizerConfig(p.index, limits);
      LayerTimingOptions t;
      t.device = o.device;
      t.threads = o.threads;
      t.seed = o.seed;
      t.min_window_s = gpu ? 0.02 : 0.05;
      t.min_calls = gpu ? 10 : 3;
      t.warmup_calls = gpu ? 3 : 1;
      Result<double> step_s = TimeOptimizerStep(params, tensors, t);
      if (!step_s.ok()) return Status::Error("optimizer " + std::to_string(p.index) + ": " + step_s.status().message());
      row.json = nlohmann::json{{"params", params}, {"tensors", tensors}}.dump();
      row.a = *step_s;
      what = "optimizer " + std::to_string(p.index) + ": Adam over " + std::to_string(params) +
             " values in " + std::to_string(tensors) + " tensors: " + Ms(row.a);
    } else if (p.design != "network") {
      Result<LayerConfig> c = MakeLayerConfig(p.design, p.index, o.seed, limits);
      if (!c.ok()) return c.status();
      Result<Graph> g = LoadTimedArchitecture(c->json, c->batch);
      if (!g.ok()) return Status::Error(p.design + " " + std::to_string(p.index) + ": " + g.status().message());
      LayerTimingOptions t;
      t.device = o.device;
      t.threads = o.threads;
      t.precision = p.precision;
      t.input_needs_grad = c->input_needs_grad;
      t.seed = o.seed;
      t.min_window_s = gpu ? 0.02 : 0.05;
      t.min_calls = gpu ? 10 : 3;
      t.warmup_calls = gpu ? 3 : 1;
      Result<LayerTiming> timing = TimeLayer(*g, t);
      if (!timing.ok()) {
        return Status::Error(p.design + " " + std::to_string(p.index) + " (" + c->json + " at batch " +
                             std::to_string(c->batch) + "): " + timing.status().message());
      }
      row.json = c->json;
      row.batch = c->batch;
      row.input_needs_grad = c->input_needs_grad;
      row.a = timing->forward_s;
      row.b = std::max(0.0, timing->forward_backward_s - timing->forward_s);
      what = p.design + " " + std::to_string(p.index) + " " + p.precision + ": forward " +
             Ms(row.a) + ", backward " + Ms(row.b);
    } else {
      const NetworkConfig n = MakeNetworkConfig(p.index, o.seed, limits);
      Result<Graph> g = LoadTimedArchitecture(n.json, n.batch);
      if (!g.ok()) return Status::Error("network " + std::to_string(p.index) + ": " + g.status().message());
      MeasureOptions m;
      m.batch = n.batch;
      m.dataset = "synthetic";
      m.train.device = o.device;
      m.train.threads = o.threads;
      m.train.seed = o.seed;
      m.train.precision = p.precision;
      m.steps = 3;
      m.warmup_steps = 2;
      Result<Measurement> pilot = MeasureTraining(*g, m, meter);
      if (!pilot.ok()) return Status::Error("network " + std::to_string(p.index) + ": " + pilot.status().message());
      m.warmup_steps = 1;
      m.steps = std::clamp<int64_t>(
          static_cast<int64_t>(std::ceil(window_s / std::max(pilot->time_s_per_step, 1e-6))), 5,
          100000);
      Result<Measurement> r = MeasureTraining(*g, m, meter);
      if (!r.ok()) return Status::Error("network " + std::to_string(p.index) + ": " + r.status().message());
      row.json = n.json;
      row.batch = n.batch;
      row.input_needs_grad = false;
      row.a = r->time_s_per_step;
      row.b = r->energy_j_per_step;
      what = "network " + std::to_string(p.index) + " " + p.precision + ": " + Ms(row.a) +
             "/step, " + std::to_string(row.b) + " J/step over " + std::to_string(r->time_s) + " s";
    }
    row.seconds = Since(t0);
    if (Status s = (*store)->Insert(row); !s.ok()) return s;
    stored->push_back(row);
    ++out.done;
    ++measured;
    measured_s += row.seconds;
    if (o.progress) {
      TimingProgress pr;
      pr.done = out.done;
      pr.total = out.total;
      pr.resumed = out.resumed;
      pr.what = what;
      pr.elapsed_s = Since(start);
      pr.eta_s = measured > 0 ? measured_s / measured * (out.total - out.done) : -1;
      o.progress(pr);
    }
  }
  if (o.progress) {
    TimingProgress pr;
    pr.fitting = true;
    pr.done = out.done;
    pr.total = out.total;
    o.progress(pr);
  }
  out.elapsed_s = Since(start);
  return FitStored(o, *stored, o.precisions, facts, out);
}

Result<TimingOutcome> FitStored(const TimingCalibrationOptions& o, const std::vector<TimingRow>& rows,
                                const std::vector<std::string>& precisions,
                                const nlohmann::json& facts, TimingOutcome out) {
  const Clock::time_point start = Clock::now();
  // Fit on everything stored for the planned precisions.
  std::vector<LayerTimingSample> layers;
  std::vector<NetworkSample> nets;
  std::vector<OptimizerTimingSample> optimizer;
  for (const TimingRow& r : rows) {
    if (std::find(precisions.begin(), precisions.end(), r.precision) == precisions.end()) continue;
    if (r.design == "optimizer") {
      const nlohmann::json j = nlohmann::json::parse(r.json, nullptr, false);
      if (!j.is_object() || !j.contains("params") || !j.contains("tensors") ||
          !j["params"].is_number_integer() || !j["tensors"].is_number_integer()) {
        return Status::Error("optimizer timing " + std::to_string(r.index) + ": stored as '" + r.json +
                             "', not {\"params\": N, \"tensors\": T}");
      }
      optimizer.push_back({r.precision, j["params"].get<int64_t>(), j["tensors"].get<int64_t>(), r.a});
      continue;
    }
    if (r.design != "network") {
      Result<LayerCost> layer = CostOfTimedLayer(r.json, r.batch, r.input_needs_grad);
      if (!layer.ok()) return layer.status();
      layers.push_back({std::move(*layer), r.precision, r.a, r.b});
      continue;
    }
    Result<ModelCost> cost = CostOfTimedArchitecture(r.json, r.batch, false);
    if (!cost.ok()) return cost.status();
    NetworkSample n;
    n.name = "network " + std::to_string(r.index);
    n.cost = std::move(*cost);
    n.precision = r.precision;
    n.time_s = r.a;
    n.energy_j = r.b;
    nets.push_back(std::move(n));
  }
  const std::string device = facts.value("device", o.device);
  const bool gpu = CudaIndex(device) >= 0;
  TimeFitOptions fo;
  fo.async = gpu;
  fo.fp32_matmul_apart = gpu;  // PyTorch's defaults, which calibration keeps (p.tf32 below)
  fo.idle_w = facts.value("idle_w", 0.0);
  fo.limit_w = facts.value("limit_w", 0.0);
  fo.seed = o.seed;
  Result<TimeFitResult> fit = FitTimePower(layers, nets, fo, optimizer);
  if (!fit.ok()) return fit.status();
  Profile& p = out.profile;
  p.version = 3;
  p.created = UtcNow();
  p.device = device;
  for (const auto& [k, v] : facts.at("hardware").items()) {
    p.hardware[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  const nlohmann::json& meter = facts.at("meter");
  p.meter_kind = meter.at("kind").get<std::string>();
  p.meter_real = meter.at("real").get<bool>();
  p.meter_description = meter.at("description").get<std::string>();
  p.time_models = fit->time_models;
  p.power = fit->power;
  p.networks = fit->networks;
  if (gpu) p.tf32 = "convolutions on, matmul off (PyTorch's defaults)";
  out.elapsed_s += Since(start);
  return out;
}

}  // namespace joulecast
