#include "calibrate/calibration/recorded_data.h"

#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "analyzer/json/json_frontend.h"

namespace joulecast {

namespace {

using nlohmann::json;

Result<ModelCost> Cost(const json& arch, int64_t batch, bool input_needs_grad,
                       const std::string& where) {
  LoadOptions load;
  load.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(arch.dump(), where, load);
  if (!g.ok()) return g.status();
  CostOptions options;
  options.input_needs_grad = input_needs_grad;
  return ComputeCosts(*g, options);
}

// Calls `row` on every line of a JSON-lines file; stops at the first error.
Status EachLine(const std::string& path, const std::function<Status(const json&, const std::string&)>& row) {
  std::ifstream f(path);
  if (!f) return Status::Error(path + ": cannot open");
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n);
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::Error(where + ": not a JSON object");
    try {
      Status s = row(j, where);
      if (!s.ok()) return s;
    } catch (const json::exception& e) {
      return Status::Error(where + ": " + e.what());
    }
  }
  return Status();
}

}  // namespace

Result<RecordedData> LoadRecordedData(const std::string& dir) {
  RecordedData d;
  {
    std::ifstream f(dir + "/meta.json");
    json meta = json::parse(f, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) return Status::Error(dir + "/meta.json: cannot read");
    d.idle_w = meta.value("idle_power_w", 0.0);
    d.limit_w = meta.value("power_limit_w", 0.0);
  }
  Status s = EachLine(dir + "/layers.jsonl", [&](const json& j, const std::string& where) -> Status {
    const bool first = j.at("first_layer").get<bool>();
    Result<ModelCost> c = Cost(j.at("arch"), j.at("batch").get<int64_t>(), !first, where);
    if (!c.ok()) return c.status();
    for (const LayerCost& l : c->layers) {
      if (l.kind == Kind::shape) continue;
      LayerTimingSample t;
      t.layer = l;
      t.precision = j.value("precision", "fp32");
      t.forward_s = j.at("fwd_ms").get<double>() * 1e-3;
      t.backward_s = j.at("fwd_bwd_ms").get<double>() * 1e-3 - t.forward_s;
      d.layers.push_back(std::move(t));
      break;
    }
    return Status();
  });
  if (!s.ok()) return s;
  s = EachLine(dir + "/networks.jsonl", [&](const json& j, const std::string& where) -> Status {
    NetworkSample n;
    n.name = j.at("arch").at("name").get<std::string>();
    n.precision = j.value("precision", "fp32");
    Result<ModelCost> c = Cost(j.at("arch"), j.at("batch").get<int64_t>(), false, where);
    if (!c.ok()) return c.status();
    n.cost = std::move(*c);
    n.time_s = j.at("time_s_per_step").get<double>();
    n.energy_j = j.at("energy_j_per_step").get<double>();
    d.networks.push_back(std::move(n));
    return Status();
  });
  if (!s.ok()) return s;
  if (std::ifstream(dir + "/adam.jsonl")) {
    s = EachLine(dir + "/adam.jsonl", [&](const json& j, const std::string&) -> Status {
      OptimizerTimingSample o;
      o.precision = j.value("precision", "fp32");
      o.params = j.at("params").get<int64_t>();
      o.tensors = j.at("tensors").get<int64_t>();
      o.step_s = j.at("step_ms").get<double>() * 1e-3;
      d.optimizer.push_back(o);
      return Status();
    });
    if (!s.ok()) return s;
  }
  return d;
}

}  // namespace joulecast
