#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "analyzer/core/shape_inference.h"
#include "analyzer/report/format.h"
#include "analyzer/report/report_internal.h"

namespace joulecast::report {

namespace {

// Display width of UTF-8 text: code points, not bytes.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
  return w;
}

// Columns of text; numeric columns are right-aligned. Renders as aligned text or markdown.
class Columns {
 public:
  Columns(std::vector<std::string> header, std::vector<bool> right)
      : right_(std::move(right)) { rows_.push_back(std::move(header)); }
  void Row(std::vector<std::string> r) { rows_.push_back(std::move(r)); }

  std::string Render(bool markdown) const {
    std::vector<size_t> w(rows_[0].size(), 0);
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
    }
    std::string out;
    for (size_t ri = 0; ri < rows_.size(); ++ri) {
      const auto& r = rows_[ri];
      if (markdown) out += "|";
      for (size_t i = 0; i < r.size(); ++i) {
        std::string pad(w[i] - Width(r[i]), ' ');
        std::string cell = right_[i] ? pad + r[i] : r[i] + pad;
        if (markdown) {
          out += " " + cell + " |";
        } else {
          out += (i ? "  " : "") + cell;
        }
      }
      while (!markdown && !out.empty() && out.back() == ' ') out.pop_back();
      out += "\n";
      if (markdown && ri == 0) {
        out += "|";
        for (size_t i = 0; i < r.size(); ++i) {
          out += ' ';
          out.append(w[i] > 0 ? w[i] - 1 : 0, '-');
          out += right_[i] ? ": |" : "- |";
        }
        out += "\n";
      }
    }
    return out;
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// "batch 512 (file), 25 epochs (file) of 60,000 samples (file), adam (file), fp32 (default)".
std::string TrainingLine(const ResolvedTraining& t) {
  auto from = [](SettingSource s) { return std::string(" (") + SettingSourceName(s) + ")"; };
  return "batch " + std::to_string(t.batch.value) + from(t.batch.source) + ", " +
         std::to_string(t.epochs.value) + (t.epochs.value == 1 ? " epoch" : " epochs") +
         from(t.epochs.source) + " of " + Grouped(t.samples.value) + " samples" +
         from(t.samples.source) + ", " + t.optimizer.value + from(t.optimizer.source) + ", " +
         t.precision.value + from(t.precision.source);
}

// The predicted energy and time of one training step, and what the numbers rest on.
std::string PredictionSection(const ReportInput& in, bool md) {
  const ModelCost& c = *in.cost;
  const StepPrediction& s = *in.prediction;
  const Profile& p = *in.profile;
  RunPrediction r = in.run ? *in.run : PredictRun(s, TrainingRun{.batch = c.batch});
  const double g = r.run.carbon_g_per_kwh;
  std::string out = md ? "\n#### Predicted training energy\n\n" : "\npredicted training energy:\n";
  std::string indent = md ? "" : "  ";
  out += indent + std::to_string(r.run.epochs) + (r.run.epochs == 1 ? " epoch" : " epochs") +
         " of " + Grouped(r.run.samples) + " samples at batch " + std::to_string(c.batch) + ": " +
         Grouped(r.steps_per_epoch) + " steps per epoch, " + Grouped(r.steps) + " in all\n";
  if (md) out += "\n";
  Columns run({"", "energy", "interval", "time", "electricity", "emissions"},
              {false, true, true, true, true, true});
  auto row = [&](const char* name, const Bounded& b) {
    run.Row({name, Quantity(b.mid.energy_j, "J"),
             Quantity(b.low.energy_j, "J") + " to " + Quantity(b.high.energy_j, "J"),
             Quantity(b.mid.time_s, "s"), WattHours(b.mid.energy_j),
             Emissions(GramsCo2e(b.mid.energy_j, g))});
  };
  row("per step", r.per_step);
  row("per epoch", r.per_epoch);
  row("whole run", r.total);
  std::string runs = run.Render(md);
  if (!md) {
    for (size_t pos = 0; pos < runs.size(); pos = runs.find('\n', pos) + 1) runs.insert(pos, indent);
  }
  std::string intensity;
  if (in.carbon) {
    intensity = in.carbon->Describe();
  } else {
    char flag[64];
    std::snprintf(flag, sizeof flag, "%g gCO2e/kWh", g);
    intensity = flag;
  }
  out += runs + (md ? "\n" : indent) + "emissions at " + intensity + "\n";
  out += md ? "\n#### Per kind, one training step\n\n" : "\n" + indent + "per kind, one step:\n";
  Columns kinds({"kind", "energy/step", "share", "time/step"}, {false, true, true, true});
  for (int k = 0; k < kNumKinds; ++k) {
    if (s.by_kind[k].energy_j <= 0) continue;
    kinds.Row({std::string(KindName(static_cast<Kind>(k))), Quantity(s.by_kind[k].energy_j, "J"),
               Percent(s.by_kind[k].energy_j, s.total.energy_j), Quantity(s.by_kind[k].time_s, "s")});
  }
  kinds.Row({"optimizer+overhead", Quantity(s.step.energy_j, "J"),
             Percent(s.step.energy_j, s.total.energy_j), Quantity(s.step.time_s, "s")});
  std::string table = kinds.Render(md);
  if (!md) {
    for (size_t pos = 0; pos < table.size(); pos = table.find('\n', pos) + 1) table.insert(pos, indent);
  }
  out += table;
  if (!s.missing_kinds.empty()) {
    out += (md ? "\n" : indent) + std::string("no model in the profile for:");
    for (Kind k : s.missing_kinds) out.append(1, ' ').append(KindName(k));
    out += " (not counted)\n";
  }
  if (!s.substitutes.empty()) {
    out += (md ? "\n" : indent) + std::string("no model in the profile for:");
    for (const auto& [cls, used] : s.substitutes) out += " " + cls + " (predicted as " + used + ")";
    out += "\n";
  }
  std::string hw;
  for (const char* key : {"cpu_model", "threads", "gpu"}) {
    auto it = p.hardware.find(key);
    if (it != p.hardware.end()) hw += (hw.empty() ? "" : ", ") + std::string(key) + " " + it->second;
  }
  out += (md ? "\n" : indent) + std::string("profile ") + (md ? "`" : "") + p.source +
         (md ? "`" : "") + (in.default_profile ? " (the default: no --profile given)" : "") +
         ", device " + p.device + (hw.empty() ? "" : ", " + hw) + "\n";
  if (!s.layer_times.empty()) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s, mean power %.0f W (idle %.0f W), device busy %.0f%% of the step; interval: "
                  "90%% of the calibration's held-out networks were within %.0f%%\n",
                  s.precision.c_str(), s.power_w, p.power.idle_w,
                  s.total.time_s > 0 ? 100 * s.device_busy_s / s.total.time_s : 0.0,
                  100 * p.networks.cv_p90);
    out += indent + line;
  }
  out += indent + "meter " + p.meter_kind + ": " +
         (p.meter_description.empty() ? "no description" : p.meter_description) +
         (p.meter_real ? " (a hardware counter)\n"
                       : "; energies from it are estimated, not measured\n");
  return out;
}

}  // namespace

std::string Table(const ReportInput& in, bool md) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  std::string out;
  std::string title = g.name.empty() ? g.source : g.name;
  std::string batch = g.batch_symbolic ? "N = " + std::to_string(c.batch) + " (symbolic)"
                                       : std::to_string(c.batch) + " (fixed by the model)";
  if (md) {
    out += "### joulecast analysis: " + title + "\n\n";
    out += "Source `" + g.source + "`, batch " + batch + ". Parameters " + Grouped(c.params.value()) +
           ", buffers " + Grouped(c.buffers.value()) + ", forward MACs per sample " +
           Si(c.PerSample(c.total.macs_fwd)) + ".\n\n";
    if (in.training) out += "Training: " + TrainingLine(*in.training) + ".\n\n";
  } else {
    out += title + " (" + g.source + ")\n";
    out += "batch " + batch + "; parameters " + Grouped(c.params.value()) + "; buffers " +
           Grouped(c.buffers.value()) + "; forward MACs per sample " +
           Si(c.PerSample(c.total.macs_fwd)) + "\n";
    if (in.training) out += "training: " + TrainingLine(*in.training) + "\n";
    out += "\n";
  }

  std::vector<std::string> header = {"layer", "op", "kind", "output shape", "params", "MACs/sample"};
  std::vector<bool> right = {false, false, false, false, true, true};
  const bool regimes = in.prediction && !in.prediction->layer_times.empty();
  if (in.prediction) {
    header.push_back("energy/step");
    right.push_back(true);
  }
  if (regimes) {
    header.insert(header.end(), {"time/step", "bound by"});
    right.insert(right.end(), {true, false});
  }
  Columns layers(header, right);
  int hidden = 0;
  for (size_t li = 0; li < c.layers.size(); ++li) {
    const LayerCost& lc = c.layers[li];
    if (lc.kind == Kind::shape) {
      ++hidden;
      continue;
    }
    const Node& n = g.nodes[lc.node];
    std::string shape = n.outputs.empty() ? "" : ShapeString(g, g.tensors[n.outputs[0]]);
    std::string macs = lc.modelled ? Si(c.PerSample(lc.work.macs_fwd)) : "unmodelled";
    std::vector<std::string> row = {n.name, n.op_type, std::string(KindName(lc.kind)), shape,
                                    Grouped(lc.params.value()), macs};
    if (in.prediction) row.push_back(Quantity(in.prediction->layers[li].energy_j, "J"));
    if (regimes) {
      const LayerTime& t = in.prediction->layer_times[li];
      row.push_back(Quantity(t.time_s, "s"));
      row.push_back(std::string(RegimeName(t.regime)) + (t.outside_range ? " (!)" : ""));
    }
    layers.Row(row);
  }
  out += layers.Render(md);
  if (hidden) {
    out += (md ? "\n" : "") + std::to_string(hidden) +
           (hidden == 1 ? " zero-cost shape node" : " zero-cost shape nodes") + " not shown.\n";
  }
  if (regimes) {
    out += (md ? "\n" : "") + std::string(
        "bound by: dispatch (launching kernels or ops), memory (moving bytes) or compute "
        "(multiply-accumulates; a pool's outputs), the larger term of the layer's predicted time.\n");
    if (in.prediction->outside_range > 0) {
      out += (md ? "\n**Warning:** " : "warning: ") +
             std::to_string(in.prediction->outside_range) +
             (in.prediction->outside_range == 1
                  ? " layer (!) is more than 2x outside the sizes the profile timed for its "
                    "family: its prediction extrapolates.\n"
                  : " layers (!) are more than 2x outside the sizes the profile timed for their "
                    "families: their predictions extrapolate.\n");
    }
  }

  out += md ? "\n#### Per kind, one training step\n\n" : "\nper kind, one training step:\n";
  Columns kinds({"kind", "layers", "params", "MACs fwd/sample", "MACs bwd/sample",
                       "share of MACs", "elements/sample"},
                      {false, true, true, true, true, true, true});
  double all = c.PerSample(c.total.macs_fwd) + c.PerSample(c.total.macs_bwd_input) +
               c.PerSample(c.total.macs_bwd_weight);
  for (int k = 0; k < kNumKinds; ++k) {
    const KindTotals& kt = c.by_kind[k];
    if (kt.layers == 0) continue;
    double bwd = c.PerSample(kt.work.macs_bwd_input) + c.PerSample(kt.work.macs_bwd_weight);
    kinds.Row({std::string(KindName(static_cast<Kind>(k))), std::to_string(kt.layers),
               Grouped(kt.params.value()), Si(c.PerSample(kt.work.macs_fwd)), Si(bwd),
               Percent(c.PerSample(kt.work.macs_fwd) + bwd, all),
               Si(c.PerSample(kt.work.elements_fwd + kt.work.elements_bwd))});
  }
  double bwd = c.PerSample(c.total.macs_bwd_input) + c.PerSample(c.total.macs_bwd_weight);
  kinds.Row({"total", std::to_string(c.layers.size()), Grouped(c.params.value()),
             Si(c.PerSample(c.total.macs_fwd)), Si(bwd), "100.0%",
             Si(c.PerSample(c.total.elements_fwd + c.total.elements_bwd))});
  out += kinds.Render(md);

  out += md ? "\n" : "\n";
  out += "training memory: parameters " + Bytes(c.param_bytes.value()) + ", gradients " +
         Bytes(c.grad_bytes.value()) + ", Adam state " + Bytes(c.adam_state_bytes.value()) +
         " (SGD momentum " + Bytes(c.sgd_momentum_bytes.value()) + "), activations kept for backward " +
         Bytes(c.total.saved_bytes.value()) + " at batch " + std::to_string(c.batch) + "\n";
  if (in.prediction) out += PredictionSection(in, md);
  if (!c.unmodelled.empty()) {
    out += md ? "\n**Unmodelled nodes** (their cost is not counted):\n\n"
              : "\nunmodelled nodes (their cost is not counted):\n";
    for (int i : c.unmodelled) {
      const Node& n = g.nodes[c.layers[i].node];
      out += (md ? "- `" : "  ") + n.name + (md ? "` (" : " (") + n.op_type + "): " +
             c.layers[i].why_unmodelled + "\n";
    }
  }
  return out;
}

}  // namespace joulecast::report
