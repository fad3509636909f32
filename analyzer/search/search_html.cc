// The HTML page of one or more studies. Charts are drawn here as inline SVG (the analysis
// report's svg.h draws bar charts; these are line and scatter plots), with text escaped by its
// Escape and numbers formatted by analyzer/report/format.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "analyzer/report/format.h"
#include "analyzer/report/svg.h"
#include "analyzer/search/search_report.h"
#include "common/html_page.h"

namespace joulecast::search {

namespace {

using report::Coordinate;
using report::Escape;
using report::Real;

// Okabe and Ito's palette (the analysis report's), one colour per study.
const char* const kColours[] = {"#0072b2", "#e69f00", "#009e73", "#d55e00",
                                "#cc79a7", "#56b4e9", "#c8b400", "#000000"};
const char* Colour(size_t study) { return kColours[study % 8]; }

constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

// The search report's own rules, after the style sheet all reports share.
constexpr const char* kExtraStyle = R"(th, td { vertical-align: top; }
.effects svg.chart { display: inline-block; margin: 6px 6px 6px 0; }
.keys i { border-radius: 6px; }
)";

std::string Pct(double fraction, int digits = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", digits, fraction * 100);
  return buf;
}

// One axis of a plot: linear, logarithmic or categorical (positions 0..n-1).
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  bool integer = false;  // Ticks at whole numbers only.
  std::vector<std::string> categories;
  std::string title;
  std::function<std::string(double)> label = [](double v) { return Real(v); };

  // Where v falls between pixels a (at lo) and b (at hi).
  double Map(double v, double a, double b) const {
    double t;
    if (log) {
      t = (std::log10(std::max(v, 1e-300)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    } else {
      t = (v - lo) / (hi - lo);
    }
    if (!std::isfinite(t)) t = 0.5;
    return a + (b - a) * t;
  }

  std::vector<double> Ticks() const {
    std::vector<double> ticks;
    if (!categories.empty()) {
      for (size_t i = 0; i < categories.size(); ++i) ticks.push_back(static_cast<double>(i));
      return ticks;
    }
    if (log) {
      const int a = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
      const int b = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
      const bool thirds = b - a <= 2;
      for (int e = a; e <= b; ++e) {
        for (double m : thirds ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
          double v = m * std::pow(10.0, e);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
        }
      }
      return ticks;
    }
    const double span = hi - lo;
    double step = std::pow(10.0, std::floor(std::log10(span / 5)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
      if (span / (step * m) <= 7) {
        step *= m;
        break;
      }
    }
    if (integer) step = std::max(1.0, std::round(step));
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      ticks.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    }
    return ticks;
  }
};

// A linear axis over [lo, hi] widened by a margin, or a log axis when the values span a wide
// range (all positive).
Axis ValueAxis(std::vector<double> values, bool allow_log, bool from_zero) {
  Axis a;
  values.erase(
      std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
      values.end());
  if (values.empty()) values = {0, 1};
  auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  double lo = *mn, hi = *mx;
  if (allow_log && lo > 0 && hi / lo > 30) {
    a.log = true;
    a.lo = std::pow(10.0, std::floor(std::log10(lo)));
    a.hi = std::pow(10.0, std::ceil(std::log10(hi)));
    return a;
  }
  if (from_zero && lo >= 0) lo = 0;
  if (hi - lo <= 0) {
    double pad = std::abs(hi) > 0 ? std::abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  double pad = (hi - lo) * 0.05;
  a.lo = from_zero && lo == 0 ? 0 : lo - pad;
  a.hi = hi + pad;
  return a;
}

Axis AccuracyAxis(const std::vector<double>& accuracies) {
  Axis a = ValueAxis(accuracies, false, false);
  a.lo = std::max(0.0, a.lo);
  a.hi = std::min(1.0, a.hi);
  if (a.hi <= a.lo) {
    a.lo = 0;
    a.hi = 1;
  }
  a.title = "validation accuracy";
  a.label = [](double v) {
    return Pct(v, std::abs(v * 100 - std::round(v * 100)) < 1e-6 ? 0 : 1);
  };
  return a;
}

Axis EnergyAxis(const std::vector<double>& joules, bool allow_log, const std::string& title) {
  Axis a = ValueAxis(joules, allow_log, true);
  a.title = title;
  a.label = [](double v) { return v == 0 ? std::string("0") : report::Quantity(v, "J"); };
  return a;
}

// A plot: a frame with ticks and grid lines, axis titles, and marks added in drawing order.
class Plot {
 public:
  Plot(std::string id, std::string title, double width, double height, Axis x, Axis y)
      : id_(std::move(id)),
        title_(std::move(title)),
        w_(width),
        h_(height),
        x_(std::move(x)),
        y_(std::move(y)) {}

  double X(double v) const { return x_.Map(v, kLeft, w_ - kRight); }
  double Y(double v) const { return y_.Map(v, h_ - kBottom, kTop); }

  void Point(double x, double y, const char* colour, const std::string& cls,
             const std::string& attributes, const std::string& tooltip, bool hollow = false) {
    marks_ += "<circle class=\"" + cls + "\" cx=\"" + Coordinate(X(x)) + "\" cy=\"" +
              Coordinate(Y(y)) + "\" r=\"" + (hollow ? "6" : "4") + "\" fill=\"" +
              (hollow ? "none" : colour) + "\" stroke=\"" + colour + "\" stroke-width=\"" +
              (hollow ? "2" : "1") + "\" fill-opacity=\"0.8\"" + attributes + "><title>" +
              Escape(tooltip) + "</title></circle>\n";
  }

  // A polyline through (x, y) points; `step`: horizontal then vertical between points.
  void Line(const std::vector<std::pair<double, double>>& points, const char* colour,
            const std::string& cls, const std::string& attributes, bool step, bool dashed) {
    if (points.empty()) return;
    std::string d;
    for (size_t i = 0; i < points.size(); ++i) {
      const double px = X(points[i].first), py = Y(points[i].second);
      if (i == 0) {
        d += "M" + Coordinate(px) + " " + Coordinate(py);
      } else {
        if (step) d += " H" + Coordinate(px);
        d += " L" + Coordinate(px) + " " + Coordinate(py);
      }
    }
    marks_ += "<path class=\"" + cls + "\" d=\"" + d + "\" fill=\"none\" stroke=\"" + colour +
              "\" stroke-width=\"2\"" + (dashed ? " stroke-dasharray=\"5 3\"" : "") + attributes +
              "/>\n";
  }

  std::string Svg() const {
    const std::string eid = Escape(id_);
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + eid +
                    "\" class=\"chart\" role=\"img\" aria-labelledby=\"" + eid +
                    "-title\" width=\"" + Coordinate(w_) + "\" height=\"" + Coordinate(h_) +
                    "\" viewBox=\"0 0 " + Coordinate(w_) + " " + Coordinate(h_) +
                    "\" font-family=\"" + kFont + "\" font-size=\"11\">\n<title id=\"" + eid +
                    "-title\">" + Escape(title_) + "</title>\n<rect x=\"0\" y=\"0\" width=\"" +
                    Coordinate(w_) + "\" height=\"" + Coordinate(h_) + "\" fill=\"#ffffff\"/>\n";
    const double left = kLeft, right = w_ - kRight, top = kTop, bottom = h_ - kBottom;
    for (double t : x_.Ticks()) {
      const double px = X(t);
      s += "<line x1=\"" + Coordinate(px) + "\" y1=\"" + Coordinate(top) + "\" x2=\"" +
           Coordinate(px) + "\" y2=\"" + Coordinate(bottom) + "\" stroke=\"#e3e6eb\"/>\n";
      std::string label = x_.categories.empty()
                              ? x_.label(t)
                              : report::TailEllipsis(x_.categories[static_cast<size_t>(t)], 14);
      s += "<text x=\"" + Coordinate(px) + "\" y=\"" + Coordinate(bottom + 15) +
           "\" text-anchor=\"middle\" fill=\"#4f5766\">" + Escape(label) + "</text>\n";
    }
    for (double t : y_.Ticks()) {
      const double py = Y(t);
      s += "<line x1=\"" + Coordinate(left) + "\" y1=\"" + Coordinate(py) + "\" x2=\"" +
           Coordinate(right) + "\" y2=\"" + Coordinate(py) + "\" stroke=\"#e3e6eb\"/>\n";
      s += "<text x=\"" + Coordinate(left - 6) + "\" y=\"" + Coordinate(py + 4) +
           "\" text-anchor=\"end\" fill=\"#4f5766\">" + Escape(y_.label(t)) + "</text>\n";
    }
    s += "<rect x=\"" + Coordinate(left) + "\" y=\"" + Coordinate(top) + "\" width=\"" +
         Coordinate(right - left) + "\" height=\"" + Coordinate(bottom - top) +
         "\" fill=\"none\" stroke=\"#8a8f98\"/>\n";
    s += "<text x=\"" + Coordinate((left + right) / 2) + "\" y=\"" + Coordinate(h_ - 8) +
         "\" text-anchor=\"middle\" font-size=\"12\">" +
         Escape(x_.title + (x_.log ? " (log scale)" : "")) + "</text>\n";
    s += "<text transform=\"translate(14 " + Coordinate((top + bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + Escape(y_.title) +
         "</text>\n";
    return s + marks_ + "</svg>\n";
  }

 private:
  static constexpr double kLeft = 64, kRight = 16, kTop = 12, kBottom = 44;
  std::string id_, title_;
  double w_, h_;
  Axis x_, y_;
  std::string marks_;
};

bool Done(const StudyTrial& t) { return t.status == "done" && t.accuracy && t.energy_j; }

std::string Attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + Escape(value) + "\"";
}

std::string TrialTip(const StudyReport& r, size_t i) {
  const StudyTrial& t = r.trials[i];
  return StudyLabel(r) + ", trial " + std::to_string(t.number) + ": accuracy " +
         Pct(*t.accuracy, 2) + ", energy " + report::Quantity(*t.energy_j, "J") +
         (t.predicted_energy_j ? " (predicted " + report::Quantity(*t.predicted_energy_j, "J") + ")"
                               : "") +
         "; " + ParamsLabel(r.params[i]);
}

std::string Keys(const std::vector<StudyReport>& studies) {
  std::string s = "<p class=\"keys\">";
  for (size_t k = 0; k < studies.size(); ++k) {
    s += "<span><i style=\"background:" + std::string(Colour(k)) + "\"></i>" +
         Escape(StudyLabel(studies[k])) + "</span>";
  }
  return s + "</p>\n";
}

// (cumulative energy, best accuracy so far) after each finished trial, in number order.
std::vector<std::pair<double, double>> BestCurve(const StudyReport& r) {
  std::vector<std::pair<double, double>> curve;
  double spent = 0, best = -1;
  for (const StudyTrial& t : r.trials) {
    spent += t.energy_j.value_or(0);
    if (Done(t) && *t.accuracy > best) best = *t.accuracy;
    if (best >= 0 && t.status != "running") curve.push_back({spent, best});
  }
  return curve;
}

std::string SummarySection(const std::vector<StudyReport>& studies) {
  double best_all = -1;
  for (const StudyReport& r : studies) {
    if (auto b = BestTrial(r)) best_all = std::max(best_all, *r.trials[*b].accuracy);
  }
  std::string s =
      "<section id=\"summary\">\n<h2>Studies</h2>\n<table id=\"study-table\">\n<tr><th>study</th>"
      "<th>space</th><th class=\"n\">trials</th><th class=\"n\">failed</th><th class=\"n\">best "
      "accuracy</th><th class=\"n\">energy spent</th><th class=\"n\">energy to within 1% of the "
      "best</th></tr>\n";
  for (size_t k = 0; k < studies.size(); ++k) {
    const StudyReport& r = studies[k];
    int failed = 0;
    for (const StudyTrial& t : r.trials) failed += t.status == "failed";
    std::optional<size_t> best = BestTrial(r);
    std::string reach = "not reached";
    for (const auto& [spent, acc] : BestCurve(r)) {
      if (best_all > 0 && acc >= 0.99 * best_all) {
        reach = report::Quantity(spent, "J");
        break;
      }
    }
    s += "<tr data-study=\"" + std::to_string(k) + "\"><td><span style=\"color:" + Colour(k) +
         "\">&#9679;</span> " + Escape(StudyLabel(r)) + "</td><td><code>" +
         Escape(r.key.space_source) + "</code></td><td class=\"n\">" +
         std::to_string(r.trials.size()) + "</td><td class=\"n\">" + std::to_string(failed) +
         "</td><td class=\"n\">" + (best ? Pct(*r.trials[*best].accuracy, 2) : "-") +
         "</td><td class=\"n\">" + Escape(report::Quantity(EnergySpent(r), "J")) +
         "</td><td class=\"n\">" + Escape(reach) + "</td></tr>\n";
  }
  s += "</table>\n<p class=\"note\">Energy to within 1% of the best: the training energy a study "
       "had spent when its best accuracy first came within 1% (relative) of the best accuracy "
       "any study here found, the paper's measure for comparing strategies.</p>\n";
  bool estimated = false;
  for (const StudyReport& r : studies) {
    for (const StudyTrial& t : r.trials) estimated = estimated || (Done(t) && !t.energy_real);
  }
  if (estimated) {
    s += "<p class=\"notice\" id=\"estimate-notice\"><strong>Estimated, not measured.</strong> "
         "Some trials' training energy comes from an estimate or an external trainer, not a "
         "hardware energy counter.</p>\n";
  }
  return s + "</section>\n";
}

// The end of a section with nothing to plot.
constexpr const char* kNoneFinished =
    "<p class=\"note\">No trial has finished yet.</p>\n</section>\n";

// A section (id, heading and introducing paragraph are markup) with the studies' keys and
// `plot`, or, when no trial has `finished`, kNoneFinished in their place.
std::string PlotSection(const char* id, const char* heading, const char* intro,
                        const std::vector<StudyReport>& studies, const Plot& plot, bool finished) {
  const std::string s =
      std::string("<section id=\"") + id + "\">\n<h2>" + heading + "</h2>\n<p>" + intro + "</p>\n";
  if (!finished) return s + kNoneFinished;
  return s + Keys(studies) + plot.Svg() + "</section>\n";
}

std::string BestSection(const std::vector<StudyReport>& studies) {
  std::vector<double> spent, accuracies;
  for (const StudyReport& r : studies) {
    for (const auto& [e, a] : BestCurve(r)) {
      spent.push_back(e);
      accuracies.push_back(a);
    }
  }
  Plot plot("best-vs-energy", "Best accuracy against cumulative training energy", 896, 360,
            EnergyAxis(spent, false, "cumulative training energy"), AccuracyAxis(accuracies));
  for (size_t k = 0; k < studies.size(); ++k) {
    std::vector<std::pair<double, double>> curve = BestCurve(studies[k]);
    plot.Line(curve, Colour(k), "best-line", Attr("data-study", std::to_string(k)), true, false);
    for (const auto& [e, a] : curve) {
      plot.Point(
          e, a, Colour(k), "best-point", Attr("data-study", std::to_string(k)),
          StudyLabel(studies[k]) + ": best " + Pct(a, 2) + " after " + report::Quantity(e, "J"));
    }
  }
  return PlotSection(
      "best-vs-energy-section", "Best accuracy against training energy spent",
      "Each step is a finished trial: the best validation accuracy a study had found against the "
      "training energy it had spent so far. Higher and further left is better.",
      studies, plot, !spent.empty());
}

std::string ScatterSection(const std::vector<StudyReport>& studies) {
  std::vector<double> energies, accuracies;
  for (const StudyReport& r : studies) {
    for (const StudyTrial& t : r.trials) {
      if (!Done(t)) continue;
      energies.push_back(*t.energy_j);
      accuracies.push_back(*t.accuracy);
    }
  }
  Plot plot("accuracy-vs-energy", "Validation accuracy against training energy per trial", 896, 380,
            EnergyAxis(energies, true, "training energy of the trial"), AccuracyAxis(accuracies));
  for (size_t k = 0; k < studies.size(); ++k) {
    const StudyReport& r = studies[k];
    std::vector<std::pair<double, double>> front;
    for (size_t i : ParetoFront(r)) front.push_back({*r.trials[i].energy_j, *r.trials[i].accuracy});
    plot.Line(front, Colour(k), "pareto", Attr("data-study", std::to_string(k)), true, true);
    for (size_t i : ParetoFront(r)) {
      plot.Point(*r.trials[i].energy_j, *r.trials[i].accuracy, Colour(k), "pareto-point",
                 Attr("data-study", std::to_string(k)) +
                     Attr("data-trial", std::to_string(r.trials[i].number)),
                 TrialTip(r, i) + " (on the Pareto front)", true);
    }
    for (size_t i = 0; i < r.trials.size(); ++i) {
      const StudyTrial& t = r.trials[i];
      if (!Done(t)) continue;
      plot.Point(
          *t.energy_j, *t.accuracy, Colour(k), "trial",
          Attr("data-study", std::to_string(k)) + Attr("data-trial", std::to_string(t.number)) +
              Attr("data-accuracy", Real(*t.accuracy)) + Attr("data-energy-j", Real(*t.energy_j)),
          TrialTip(r, i));
    }
  }
  return PlotSection("scatter-section", "Accuracy against training energy",
                     "Every finished trial; the line joins each study's Pareto front (no other "
                     "trial is as accurate for less energy), whose trials are ringed.",
                     studies, plot, !energies.empty());
}

// A parameter's value as a number on its axis (a categorical's index).
std::optional<double> Coordinate(const Parameter& p, const Params& params) {
  auto it = params.find(p.name);
  if (it == params.end()) return std::nullopt;
  if (p.type == Parameter::Type::categorical) {
    for (size_t c = 0; c < p.choices.size(); ++c) {
      if (p.choices[c] == it->second) return static_cast<double>(c);
    }
    return std::nullopt;
  }
  if (auto d = std::get_if<double>(&it->second)) return *d;
  if (auto i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  return std::nullopt;
}

std::string ChoiceText(const Value& v) {
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return Real(std::get<double>(v));
}

std::string EffectsSection(const std::vector<StudyReport>& studies) {
  // Parameters by name, from the first study that has each (studies may search other spaces).
  std::vector<const Parameter*> parameters;
  for (const StudyReport& r : studies) {
    for (const Parameter& p : r.space.parameters) {
      bool seen = false;
      for (const Parameter* q : parameters) seen = seen || q->name == p.name;
      if (!seen) parameters.push_back(&p);
    }
  }
  std::string s =
      "<section id=\"effects\" class=\"effects\">\n<h2>Parameter effects</h2>\n<p>The "
      "validation accuracy of every finished trial against each parameter's "
      "value.</p>\n" +
      Keys(studies);
  std::vector<double> accuracies;
  for (const StudyReport& r : studies) {
    for (const StudyTrial& t : r.trials) {
      if (Done(t)) accuracies.push_back(*t.accuracy);
    }
  }
  if (accuracies.empty()) {
    return s + kNoneFinished;
  }
  for (const Parameter* p : parameters) {
    Axis x;
    if (p->type == Parameter::Type::categorical) {
      for (const Value& v : p->choices) x.categories.push_back(ChoiceText(v));
      x.lo = -0.5;
      x.hi = static_cast<double>(p->choices.size()) - 0.5;
    } else if (p->log && p->low > 0) {
      x.log = true;
      x.lo = p->low;
      x.hi = p->high;
    } else {
      x.integer = p->type == Parameter::Type::integer;
      double pad = (p->high - p->low) * 0.05;
      if (pad <= 0) pad = 0.5;
      x.lo = p->low - pad;
      x.hi = p->high + pad;
    }
    x.title = p->name;
    Plot plot("effect-" + p->name, "Validation accuracy against " + p->name, 440, 250, x,
              AccuracyAxis(accuracies));
    for (size_t k = 0; k < studies.size(); ++k) {
      const StudyReport& r = studies[k];
      for (size_t i = 0; i < r.trials.size(); ++i) {
        if (!Done(r.trials[i])) continue;
        std::optional<double> v = Coordinate(*p, r.params[i]);
        if (!v) continue;
        plot.Point(*v, *r.trials[i].accuracy, Colour(k), "trial",
                   Attr("data-study", std::to_string(k)) +
                       Attr("data-trial", std::to_string(r.trials[i].number)),
                   TrialTip(r, i));
      }
    }
    s += plot.Svg();
  }
  return s + "</section>\n";
}

std::string TrialsSection(const std::vector<StudyReport>& studies) {
  std::string s = "<section id=\"trials\">\n<h2>Trials</h2>\n";
  for (size_t k = 0; k < studies.size(); ++k) {
    const StudyReport& r = studies[k];
    s += "<details" + std::string(studies.size() == 1 ? " open" : "") + ">\n<summary>" +
         Escape(StudyLabel(r)) + ": " + std::to_string(r.trials.size()) +
         " trials</summary>\n<table class=\"trials\" data-study=\"" + std::to_string(k) +
         "\">\n<tr><th class=\"n\">#</th><th>status</th><th class=\"n\">accuracy</th><th "
         "class=\"n\">energy</th><th class=\"n\">predicted</th><th class=\"n\">time</th>"
         "<th>parameters</th></tr>\n";
    for (size_t i = 0; i < r.trials.size(); ++i) {
      const StudyTrial& t = r.trials[i];
      auto q = [](const std::optional<double>& v, const char* unit) {
        return v ? report::Quantity(*v, unit) : std::string("-");
      };
      std::string params = ParamsLabel(r.params[i]);
      if (!t.error.empty()) params += " (failed: " + t.error + ")";
      s += "<tr><td class=\"n\">" + std::to_string(t.number) + "</td><td>" + Escape(t.status) +
           "</td><td class=\"n\">" + (t.accuracy ? Pct(*t.accuracy, 2) : "-") +
           "</td><td class=\"n\">" + Escape(q(t.energy_j, "J")) + "</td><td class=\"n\">" +
           Escape(q(t.predicted_energy_j, "J")) + "</td><td class=\"n\">" +
           Escape(t.time_s ? report::Duration(*t.time_s) : "-") + "</td><td>" + Escape(params) +
           "</td></tr>\n";
    }
    s += "</table>\n</details>\n";
  }
  return s + "</section>\n";
}

}  // namespace

std::string SearchHtml(const std::vector<StudyReport>& studies) {
  std::string title = studies.size() == 1
                          ? "Search: " + StudyLabel(studies[0])
                          : "Search: " + std::to_string(studies.size()) + " studies compared";
  std::string spaces;
  for (const StudyReport& r : studies) {
    if (spaces.find(r.key.space_source) == std::string::npos) {
      spaces += (spaces.empty() ? "" : ", ") + r.key.space_source;
    }
  }
  return HtmlPage(
      Escape(title), "Energy-aware search by joulecast over " + Escape(spaces) + ".",
      SummarySection(studies) + BestSection(studies) + ScatterSection(studies) +
          EffectsSection(studies) + TrialsSection(studies),
      "Made by <code>joulecast search</code>; <code>--format json</code> gives the same "
      "trials for scripts (docs/search.md).",
      kExtraStyle);
}

}  // namespace joulecast::search
