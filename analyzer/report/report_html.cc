#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "analyzer/core/shape_inference.h"
#include "analyzer/report/format.h"
#include "analyzer/report/report_internal.h"
#include "analyzer/report/svg.h"
#include "common/html_page.h"

namespace joulecast::report {

namespace {

// Above this many costed layers the per-layer chart keeps the ones with the most energy (MACs
// without a prediction), in graph order, and says how many it hid; the table of all layers
// keeps every one. 200 rows (4,000 px) holds ResNet-50 whole.
constexpr size_t kMaxLayerBars = 200;

// Okabe and Ito's palette, told apart with the common colour-vision deficiencies, then greys.
const char* KindColour(Kind k) {
  switch (k) {
    case Kind::conv: return "#0072b2";
    case Kind::linear: return "#e69f00";
    case Kind::relu: return "#009e73";
    case Kind::activation: return "#56b4e9";
    case Kind::norm: return "#cc79a7";
    case Kind::pool: return "#d55e00";
    case Kind::elementwise: return "#c8b400";
    case Kind::dropout: return "#8c8c8c";
    case Kind::shape: return "#c4c4c4";
    case Kind::other: return "#6a3d9a";
  }
  return "#000000";
}
constexpr const char* kOverheadColour = "#3b3b3b";

std::string Tag(const char* tag, const std::string& escaped, const char* cls = nullptr) {
  std::string open = std::string("<") + tag + (cls ? std::string(" class=\"") + cls + "\"" : "");
  return open + ">" + escaped + "</" + tag + ">";
}

// A table row from plain-text cells; cells whose index is in `numeric` align right.
std::string Row(const std::vector<std::string>& cells, std::vector<bool> numeric,
                const char* cell = "td") {
  std::string out = "<tr>";
  for (size_t i = 0; i < cells.size(); ++i) {
    out += Tag(cell, Escape(cells[i]), i < numeric.size() && numeric[i] ? "n" : nullptr);
  }
  return out + "</tr>\n";
}

std::string Pair(const std::string& term, const std::string& escaped_value) {
  return "<dt>" + Escape(term) + "</dt><dd>" + escaped_value + "</dd>\n";
}

std::string Card(const std::string& big, const std::string& what) {
  return "<div class=\"card\"><b>" + Escape(big) + "</b><span>" + Escape(what) + "</span></div>\n";
}

std::string Co2(double joules, double g_per_kwh) { return Emissions(GramsCo2e(joules, g_per_kwh)); }

// " (file)": where a training setting came from; "" without the settings.
std::string From(const ResolvedTraining* t, Setting<int64_t> ResolvedTraining::*setting) {
  if (!t) return "";
  return std::string(" (") + SettingSourceName((t->*setting).source) + ")";
}

double MacsPerSample(const ModelCost& c, const Work& w) {
  return c.PerSample(w.macs_fwd) + c.PerSample(w.macs_bwd_input) + c.PerSample(w.macs_bwd_weight);
}

RunPrediction RunOf(const ReportInput& in) {
  return in.run ? *in.run : PredictRun(*in.prediction, TrainingRun{.batch = in.cost->batch});
}

std::string PredictionSection(const ReportInput& in) {
  const Profile& p = *in.profile;
  const RunPrediction r = RunOf(in);
  const double g = r.run.carbon_g_per_kwh;
  std::string out = "<section id=\"prediction\">\n<h2>Predicted training energy</h2>\n";
  if (!p.meter_real) {
    out += "<p class=\"notice\" id=\"estimate-notice\"><strong>Estimated, not measured.</strong> "
           "The profile was calibrated with the <code>" + Escape(p.meter_kind) + "</code> meter, "
           "not a hardware energy counter (" +
           Escape(p.meter_description.empty() ? "no description" : p.meter_description) +
           "). Calibrate on hardware with a RAPL or NVML counter for measured numbers.</p>\n";
  }
  out += "<div class=\"cards\">\n" +
         Card(Quantity(r.total.mid.energy_j, "J"),
              "whole run, " + Quantity(r.total.low.energy_j, "J") + " to " +
                  Quantity(r.total.high.energy_j, "J")) +
         Card(WattHours(r.total.mid.energy_j), "whole run") +
         Card(Co2(r.total.mid.energy_j, g), "whole run, at " + Si(g) + " gCO2e/kWh") +
         Card(Duration(r.total.mid.time_s), "training time, " + Duration(r.total.low.time_s) +
                                                " to " + Duration(r.total.high.time_s)) +
         "</div>\n<dl id=\"run\">\n" +
         Pair("epochs", Grouped(r.run.epochs) + From(in.training, &ResolvedTraining::epochs)) +
         Pair("samples per epoch",
              Grouped(r.run.samples) + From(in.training, &ResolvedTraining::samples)) +
         Pair("batch", Grouped(r.run.batch) + From(in.training, &ResolvedTraining::batch)) +
         Pair("steps per epoch", Grouped(r.steps_per_epoch)) +
         Pair("steps in all", Grouped(r.steps)) +
         Pair("carbon intensity",
              in.carbon ? Escape(in.carbon->Describe())
                        : Escape(Si(g)) + " gCO2e/kWh (<code>--carbon-intensity</code>)") +
         "</dl>\n<table id=\"totals\">\n" +
         Row({"", "energy", "interval", "time", "electricity", "emissions"},
             {false, true, true, true, true, true}, "th");
  auto row = [&](const char* name, const Bounded& b) {
    out += Row({name, Quantity(b.mid.energy_j, "J"),
                Quantity(b.low.energy_j, "J") + " to " + Quantity(b.high.energy_j, "J"),
                Duration(b.mid.time_s), WattHours(b.mid.energy_j), Co2(b.mid.energy_j, g)},
               {false, true, true, true, true, true});
  };
  row("per step", r.per_step);
  row("per epoch", r.per_epoch);
  row("whole run", r.total);
  out += "</table>\n<p class=\"note\">The interval moves each layer's energy by its model's "
         "cross-validated error, all in the same direction.</p>\n</section>\n";
  return out;
}

std::string NoPredictionSection() {
  return "<section id=\"no-prediction\">\n<h2>No prediction</h2>\n<p class=\"notice none\">No "
         "prediction was made: no hardware profile was available. Give one with "
         "<code>--profile P</code> (<code>joulecast calibrate</code> makes one) for energy, time "
         "and CO2e; below is the cost analysis, in multiply-accumulates.</p>\n</section>\n";
}

std::string KindSection(const ReportInput& in) {
  const ModelCost& c = *in.cost;
  std::vector<ChartItem> items;
  std::string out = "<section id=\"kinds\">\n";
  if (in.prediction) {
    const StepPrediction& s = *in.prediction;
    const RunPrediction r = RunOf(in);
    const double steps = static_cast<double>(r.steps);
    out += "<h2>Energy per layer kind</h2>\n<p>Share of one training step's predicted energy; "
           "the shares of the whole run are the same.</p>\n";
    std::string rows = Row({"kind", "layers", "energy/step", "share", "time/step", "whole run"},
                           {false, true, true, true, true, true}, "th");
    auto add = [&](const std::string& name, const std::string& kind, const char* colour,
                   const Estimate& e, int layers) {
      std::string share = Percent(e.energy_j, s.total.energy_j);
      items.push_back({name, kind, colour, e.energy_j, Quantity(e.energy_j, "J") + " per step",
                       name + ": " + share + " of the energy, " + Quantity(e.energy_j, "J") +
                           " per step, " + Quantity(e.energy_j * steps, "J") + " in the run"});
      rows += Row({name, layers < 0 ? "" : std::to_string(layers), Quantity(e.energy_j, "J"),
                   share, Duration(e.time_s), Quantity(e.energy_j * steps, "J")},
                  {false, true, true, true, true, true});
    };
    for (int k = 0; k < kNumKinds; ++k) {
      if (s.by_kind[k].energy_j <= 0) continue;
      std::string name(KindName(static_cast<Kind>(k)));
      add(name, name, KindColour(static_cast<Kind>(k)), s.by_kind[k], c.by_kind[k].layers);
    }
    if (s.step.energy_j > 0) add("optimizer + overhead", "overhead", kOverheadColour, s.step, -1);
    out += StackedBarChart("kind-share", "Share of a training step's energy per layer kind", items);
    out += "<table id=\"kind-table\">\n" + rows +
           Row({"total", "", Quantity(s.total.energy_j, "J"), "100.0%", Duration(s.total.time_s),
                Quantity(s.total.energy_j * steps, "J")},
               {false, true, true, true, true, true}) + "</table>\n";
    if (!s.missing_kinds.empty()) {
      std::string kinds;
      for (Kind k : s.missing_kinds) kinds += (kinds.empty() ? "" : ", ") + std::string(KindName(k));
      out += "<p class=\"notice\" id=\"missing-kinds\">The profile has no model for: " +
             Escape(kinds) + ". Those layers are predicted as zero, not counted.</p>\n";
    }
    if (!s.substitutes.empty()) {
      std::string subs;
      for (const auto& [cls, used] : s.substitutes) {
        subs += (subs.empty() ? "" : ", ") + cls + " (predicted as " + used + ")";
      }
      out += "<p class=\"notice\" id=\"substituted-models\">The profile has no model of their "
             "own for: " + Escape(subs) + ".</p>\n";
    }
  } else {
    const double all = MacsPerSample(c, c.total);
    out += "<h2>Multiply-accumulates per layer kind</h2>\n<p>Share of the forward and backward "
           "MACs of one training step, per sample.</p>\n";
    std::string rows = Row({"kind", "layers", "params", "MACs fwd/sample", "MACs bwd/sample",
                            "share of MACs"}, {false, true, true, true, true, true}, "th");
    for (int k = 0; k < kNumKinds; ++k) {
      const KindTotals& kt = c.by_kind[k];
      if (kt.layers == 0) continue;
      std::string name(KindName(static_cast<Kind>(k)));
      double macs = MacsPerSample(c, kt.work);
      items.push_back({name, name, KindColour(static_cast<Kind>(k)), macs, Si(macs) + " MACs",
                       name + ": " + Percent(macs, all) + " of the MACs, " + Si(macs) +
                           " per sample"});
      rows += Row({name, std::to_string(kt.layers), Grouped(kt.params.value()),
                   Si(c.PerSample(kt.work.macs_fwd)), Si(macs - c.PerSample(kt.work.macs_fwd)),
                   Percent(macs, all)}, {false, true, true, true, true, true});
    }
    out += StackedBarChart("kind-macs", "Share of a training step's MACs per layer kind", items);
    out += "<table id=\"kind-table\">\n" + rows + "</table>\n";
  }
  return out + "</section>\n";
}

std::string LayerSection(const ReportInput& in) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  const StepPrediction* s = in.prediction;
  auto value = [&](size_t li) {
    return s ? s->layers[li].energy_j : MacsPerSample(c, c.layers[li].work);
  };
  std::vector<size_t> costed;
  bool present[kNumKinds] = {};
  for (size_t li = 0; li < c.layers.size(); ++li) {
    if (c.layers[li].kind == Kind::shape) continue;
    costed.push_back(li);
    present[static_cast<int>(c.layers[li].kind)] = true;
  }
  std::vector<size_t> shown = costed;
  double hidden_value = 0, all_value = 0;
  for (size_t li : costed) all_value += value(li);
  if (shown.size() > kMaxLayerBars) {
    std::stable_sort(shown.begin(), shown.end(),
                     [&](size_t a, size_t b) { return value(a) > value(b); });
    for (size_t i = kMaxLayerBars; i < shown.size(); ++i) hidden_value += value(shown[i]);
    shown.resize(kMaxLayerBars);
    std::sort(shown.begin(), shown.end());
  }
  std::vector<ChartItem> items;
  for (size_t li : shown) {
    const LayerCost& lc = c.layers[li];
    const Node& n = g.nodes[lc.node];
    const std::string kind(KindName(lc.kind));
    const double v = value(li);
    std::string text;
    if (!lc.modelled && v == 0) {
      text = "unmodelled";
    } else if (s) {
      bool no_model = std::find(s->missing_kinds.begin(), s->missing_kinds.end(), lc.kind) !=
                      s->missing_kinds.end();
      text = no_model && v == 0 ? "no model" : Quantity(v, "J");
    } else {
      text = Si(v);
    }
    std::string tip = n.name + " (" + n.op_type + ", " + (s ? "model " + ModelClass(lc) : kind) +
                      "): " + text +
                      (s ? " per step, " + Percent(v, s->total.energy_j) + " of the step"
                         : " MACs per sample, forward and backward");
    items.push_back({n.name, kind, KindColour(lc.kind), v, text, tip});
  }
  const size_t shape_nodes = c.layers.size() - costed.size();
  std::string out = "<section id=\"layers\" data-layers=\"" + std::to_string(costed.size()) +
                    "\" data-shown=\"" + std::to_string(shown.size()) + "\">\n<h2>" +
                    (s ? "Energy per layer, one training step" : "MACs per layer, per sample") +
                    "</h2>\n<p>One bar per layer in graph order, coloured by kind";
  if (shape_nodes) {
    out += "; " + std::to_string(shape_nodes) + " zero-cost shape node" +
           (shape_nodes == 1 ? " is" : "s are") + " not shown";
  }
  out += ". Hover over a bar for the layer's op and its share.</p>\n";
  if (shown.size() < costed.size()) {
    out += "<p class=\"notice\" id=\"hidden-layers\">" + std::to_string(costed.size() - shown.size()) +
           " of " + std::to_string(costed.size()) + " layers are hidden: the chart keeps the " +
           std::to_string(kMaxLayerBars) + " with the most " + (s ? "energy" : "MACs") +
           ". The hidden ones hold " + Percent(hidden_value, all_value) + " of the layers' " +
           (s ? "energy" : "MACs") + "; the table of all layers below lists every one.</p>\n";
  }
  out += "<p class=\"keys\">";
  for (int k = 0; k < kNumKinds; ++k) {
    if (!present[k]) continue;
    out += "<span><i style=\"background:" + std::string(KindColour(static_cast<Kind>(k))) +
           "\"></i>" + Escape(KindName(static_cast<Kind>(k))) + "</span>";
  }
  out += "</p>\n";
  out += BarChart(s ? "layer-energy" : "layer-macs",
                  s ? "Predicted energy of each layer in one training step"
                    : "Forward and backward MACs of each layer, per sample",
                  items);
  return out + "</section>\n";
}

std::string ProfileSection(const ReportInput& in) {
  const Profile& p = *in.profile;
  std::string out = "<section id=\"profile\">\n<h2>Hardware profile</h2>\n<dl>\n" +
                    Pair("file", "<code>" + Escape(p.source) + "</code>" +
                                     (in.default_profile ? " (the default: no --profile given)" : "")) +
                    Pair("created", Escape(p.created.empty() ? "unknown" : p.created)) +
                    Pair("device", Escape(p.device));
  for (const auto& [key, v] : p.hardware) {
    bool bytes = key.ends_with("_bytes") && !v.empty() &&
                 v.find_first_not_of("0123456789") == std::string::npos && v.size() < 19;
    out += Pair(key, Escape(bytes ? Bytes(std::stoll(v)) : v));
  }
  out += Pair("meter", Escape(p.meter_kind) + (p.meter_real ? ": a hardware energy counter"
                                                            : ": an estimate, not a counter; "
                                                              "energies are estimated, not measured"));
  out += Pair("meter description",
              Escape(p.meter_description.empty() ? "none" : p.meter_description));
  return out + "</dl>\n</section>\n";
}

std::string ModelSection(const ReportInput& in) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  std::string inputs;
  for (int i : g.inputs) {
    const Tensor& t = g.tensors[i];
    inputs += (inputs.empty() ? "" : ", ") + t.name + " " + ShapeString(g, t) + " " +
              DTypeName(t.dtype);
  }
  std::string out =
      "<section id=\"model\">\n<h2>Model</h2>\n<dl>\n" + Pair("name", Escape(g.name)) +
      Pair("source", "<code>" + Escape(g.source) + "</code>") +
      Pair("batch", Escape(std::to_string(c.batch) +
                           (g.batch_symbolic ? " (symbolic, --batch)" : " (fixed by the model)"))) +
      Pair("inputs", Escape(inputs)) + Pair("nodes", Grouped(static_cast<int64_t>(g.nodes.size()))) +
      Pair("parameters", Grouped(c.params.value())) + Pair("buffers", Grouped(c.buffers.value())) +
      Pair("forward MACs per sample", Escape(Si(c.PerSample(c.total.macs_fwd)))) +
      Pair("backward MACs per sample",
           Escape(Si(c.PerSample(c.total.macs_bwd_input) + c.PerSample(c.total.macs_bwd_weight)))) +
      Pair("training memory",
           Escape("parameters " + Bytes(c.param_bytes.value()) + ", gradients " +
                  Bytes(c.grad_bytes.value()) + ", Adam state " + Bytes(c.adam_state_bytes.value()) +
                  ", activations kept for backward " + Bytes(c.total.saved_bytes.value()) +
                  " at batch " + std::to_string(c.batch))) +
      "</dl>\n";
  if (!c.unmodelled.empty()) {
    out += "<h3 id=\"unmodelled\">Unmodelled nodes</h3>\n<p>Their cost is not counted.</p>\n"
           "<table>\n" + Row({"node", "op", "why"}, {}, "th");
    for (int i : c.unmodelled) {
      const Node& n = g.nodes[c.layers[i].node];
      out += Row({n.name, n.op_type, c.layers[i].why_unmodelled}, {});
    }
    out += "</table>\n";
  }
  return out + "</section>\n";
}

std::string LayerTable(const ReportInput& in) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  std::vector<std::string> header = {"layer", "op", "kind", "output shape", "params", "MACs/sample"};
  std::vector<bool> right = {false, false, false, false, true, true};
  if (in.prediction) {
    header.insert(header.end(), {"model", "energy/step"});
    right.insert(right.end(), {false, true});
  }
  std::string out = "<section id=\"all-layers\">\n<details>\n<summary>All layers (table)</summary>\n"
                    "<table>\n" + Row(header, right, "th");
  for (size_t li = 0; li < c.layers.size(); ++li) {
    const LayerCost& lc = c.layers[li];
    if (lc.kind == Kind::shape) continue;
    const Node& n = g.nodes[lc.node];
    std::vector<std::string> row = {
        n.name, n.op_type, std::string(KindName(lc.kind)),
        n.outputs.empty() ? "" : ShapeString(g, g.tensors[n.outputs[0]]), Grouped(lc.params.value()),
        lc.modelled ? Si(c.PerSample(lc.work.macs_fwd)) : "unmodelled"};
    if (in.prediction) {
      row.insert(row.end(), {ModelClass(lc), Quantity(in.prediction->layers[li].energy_j, "J")});
    }
    out += Row(row, right);
  }
  return out + "</table>\n</details>\n</section>\n";
}

}  // namespace

std::string Html(const ReportInput& in) {
  const Graph& g = *in.graph;
  const ModelCost& c = *in.cost;
  const bool predicted = in.prediction && in.profile;
  const std::string title = g.name.empty() ? g.source : g.name;
  const std::string subtitle =
      "Training energy analysis by joulecast. Source <code>" + Escape(g.source) +
      "</code>, batch " + std::to_string(c.batch) + ", " + Grouped(c.params.value()) +
      " parameters, " + Escape(Si(c.PerSample(c.total.macs_fwd))) + " forward MACs per sample.";
  ReportInput view = in;
  if (!predicted) view.prediction = nullptr;
  std::string sections = predicted ? PredictionSection(view) : NoPredictionSection();
  sections += KindSection(view) + LayerSection(view);
  if (predicted) sections += ProfileSection(view);
  sections += ModelSection(view) + LayerTable(view);
  return HtmlPage(
      Escape(title), subtitle, sections,
      "Made by <code>joulecast analyze --format html</code>; <code>--format json</code> "
      "gives the same numbers for scripts (docs/analysis-json.md).");
}

}  // namespace joulecast::report
