#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"
#include "analyzer/report/format.h"
#include "analyzer/report/report.h"
#include "analyzer/report/report_test_util.h"
#include "analyzer/report/svg.h"
#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::CostedGraph;
using testing::Count;
using testing::Finish;
using testing::GraphBuilder;
using testing::SmallModel;

const char* kHostile = "<script>alert(\"x\")</script> & 'q'";

// SmallModel with hostile names on the conv and the model.
CostedGraph Small() { return SmallModel("small <b>&</b>", "My<Op>", kHostile); }

// A prediction made by hand (so the test does not depend on how profiles fit): each layer costs
// `per_layer_j[i]`, summed per kind, plus `step_j` for the optimizer step.
StepPrediction HandPrediction(const ModelCost& c, const std::vector<double>& per_layer_j,
                              double step_j) {
  StepPrediction s;
  s.layers.resize(c.layers.size());
  for (size_t i = 0; i < c.layers.size(); ++i) {
    s.layers[i] = {per_layer_j[i], per_layer_j[i] / 100};
    s.by_kind[static_cast<int>(c.layers[i].kind)].energy_j += per_layer_j[i];
    s.by_kind[static_cast<int>(c.layers[i].kind)].time_s += per_layer_j[i] / 100;
  }
  s.step = {step_j, step_j / 100};
  s.total = s.step;
  for (const Estimate& e : s.by_kind) {
    s.total.energy_j += e.energy_j;
    s.total.time_s += e.time_s;
  }
  s.low = {s.total.energy_j * 0.8, s.total.time_s * 0.8};
  s.high = {s.total.energy_j * 1.2, s.total.time_s * 1.2};
  return s;
}

Profile EstimateProfile() {
  Profile p;
  p.source = "dev.json";
  p.created = "2024-05-01T12:00:00Z";
  p.device = "cpu";
  p.meter_kind = "estimate";
  p.meter_description = "CPU time x 10 W per busy thread";
  p.hardware["cpu_model"] = "AMD EPYC";
  return p;
}

// The element named right after `open` (an svg id="..." or section) up to its closing tag.
std::string Element(const std::string& html, const std::string& open, const std::string& tag) {
  size_t start = html.find(open);
  if (start == std::string::npos) return "";
  size_t end = html.find("</" + tag + ">", start);
  return html.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Every value of attribute `name` in `text`.
std::vector<double> Attribute(const std::string& text, const std::string& name) {
  std::vector<double> values;
  std::string key = name + "=\"";
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 1)) {
    values.push_back(std::strtod(text.c_str() + pos + key.size(), nullptr));
  }
  return values;
}

// Checks that the tags balance (void elements and "/>" aside), that every '<' starts a tag, and
// that every '&' starts an entity. Returns "" or what is wrong.
std::string CheckWellFormed(const std::string& html) {
  const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link", "wbr"};
  std::vector<std::string> open;
  for (size_t i = 0; i < html.size(); ++i) {
    if (html[i] == '&') {
      size_t semi = html.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return "bare & at " + std::to_string(i);
      for (size_t k = i + 1; k < semi; ++k) {
        if (!std::isalnum(static_cast<unsigned char>(html[k])) && html[k] != '#') {
          return "bare & at " + std::to_string(i);
        }
      }
      continue;
    }
    if (html[i] != '<') continue;
    if (html.compare(i, 9, "<!DOCTYPE") == 0) {
      i = html.find('>', i);
      continue;
    }
    bool closing = i + 1 < html.size() && html[i + 1] == '/';
    size_t name_start = i + (closing ? 2 : 1), name_end = name_start;
    while (name_end < html.size() && (std::isalnum(static_cast<unsigned char>(html[name_end])))) {
      ++name_end;
    }
    if (name_end == name_start) return "stray < at " + std::to_string(i);
    std::string name = html.substr(name_start, name_end - name_start);
    size_t end = name_end;
    char quote = 0;
    for (; end < html.size(); ++end) {
      if (quote) {
        if (html[end] == quote) quote = 0;
      } else if (html[end] == '"' || html[end] == '\'') {
        quote = html[end];
      } else if (html[end] == '>') {
        break;
      }
    }
    if (end == html.size()) return "unterminated <" + name;
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes <" + (open.empty() ? "nothing" : open.back()) + ">";
      }
      open.pop_back();
    } else if (html[end - 1] != '/' && !kVoid.count(name)) {
      open.push_back(name);
      if (name == "style") end = html.find("</style>", end) - 1;
    }
    i = end;
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

TEST(HtmlReport, IsWellFormedAndFetchesNothing) {
  CostedGraph m = Small();
  for (bool predicted : {false, true}) {
    Profile p = EstimateProfile();
    StepPrediction s = HandPrediction(m.c, {1, 0.1, 0.2, 0, 0.5, 0}, 0.3);
    ReportInput in{&m.g, &m.c};
    if (predicted) {
      in.profile = &p;
      in.prediction = &s;
    }
    std::string html = RenderReport(in, ReportFormat::html);
    EXPECT_EQ(CheckWellFormed(html), "") << html;
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
    EXPECT_NE(html.find("<title>joulecast: small &lt;b&gt;&amp;&lt;/b&gt;</title>"),
              std::string::npos);
    // The only URL is the SVG namespace, once per chart; nothing is loaded or run.
    const std::string xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
    EXPECT_EQ(Count(html, "http://"), Count(html, xmlns));
    EXPECT_EQ(Count(html, xmlns), 2u);
    EXPECT_EQ(Count(html, "https://"), 0u);
    for (const char* banned : {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(",
                               "@import", "@font-face"}) {
      EXPECT_EQ(html.find(banned), std::string::npos) << banned;
    }
    EXPECT_EQ(Count(html, "role=\"img\""), 2u);
  }
}

TEST(HtmlReport, EscapesNamesFromTheModel) {
  CostedGraph m = Small();
  std::string html = RenderReport({&m.g, &m.c}, ReportFormat::html);
  EXPECT_EQ(html.find(kHostile), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("My&lt;Op&gt;"), std::string::npos);  // the unmodelled node's op
  EXPECT_EQ(html.find("<b>"), std::string::npos);
}

TEST(HtmlReport, WithoutAPredictionChartsMacsAndSaysSo) {
  CostedGraph m = Small();
  std::string html = RenderReport({&m.g, &m.c}, ReportFormat::html);
  EXPECT_NE(html.find("No prediction was made"), std::string::npos);
  EXPECT_EQ(html.find("id=\"kind-share\""), std::string::npos);
  std::string kinds = Element(html, "id=\"kind-macs\"", "svg");
  // conv and linear have MACs; relu, pool and the unmodelled op have none.
  EXPECT_EQ(Count(kinds, "class=\"segment\""), 2u) << kinds;
  EXPECT_NE(kinds.find("data-kind=\"conv\""), std::string::npos);
  double sum = 0;
  for (double share : Attribute(kinds, "data-share")) sum += share;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  std::string layers = Element(html, "id=\"layer-macs\"", "svg");
  EXPECT_EQ(Count(layers, "class=\"bar\""), 5u);  // six nodes, the flatten is a shape node
  EXPECT_NE(layers.find(">unmodelled</text>"), std::string::npos);
  EXPECT_NE(html.find("1 zero-cost shape node is not shown"), std::string::npos);
  EXPECT_NE(html.find("id=\"unmodelled\""), std::string::npos);
}

TEST(HtmlReport, PredictionShowsTotalsSharesLayersAndTheProfile) {
  CostedGraph m = Small();
  Profile p = EstimateProfile();
  // conv 1 J, relu none (no model), pool 0.2 J, linear 0.5 J, optimizer 0.3 J: a 2 J step.
  StepPrediction s = HandPrediction(m.c, {1, 0, 0.2, 0, 0.5, 0}, 0.3);
  s.missing_kinds = {Kind::relu, Kind::other};
  s.substitutes = {{"conv.grouped", "conv"}};
  RunPrediction r = PredictRun(s, {.samples = 1000, .epochs = 3, .batch = 2,
                                   .carbon_g_per_kwh = 100});
  ReportInput in{&m.g, &m.c, &p, &s, true, &r};
  std::string html = RenderReport(in, ReportFormat::html);
  EXPECT_EQ(CheckWellFormed(html), "");
  EXPECT_EQ(html.find("No prediction was made"), std::string::npos);

  std::string kinds = Element(html, "id=\"kind-share\"", "svg");
  EXPECT_EQ(Count(kinds, "class=\"segment\""), 4u) << kinds;  // three kinds and the optimizer
  std::vector<double> shares = Attribute(kinds, "data-share");
  ASSERT_EQ(shares.size(), 4u);
  EXPECT_NEAR(shares[0], 0.5, 1e-6);  // conv first, in kind order
  double sum = 0;
  for (double share : shares) sum += share;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_NE(kinds.find("data-kind=\"overhead\""), std::string::npos);
  EXPECT_NE(kinds.find(">50.0%</text>"), std::string::npos);
  EXPECT_NE(kinds.find(">1 J per step</text>"), std::string::npos);

  std::string layers = Element(html, "id=\"layer-energy\"", "svg");
  EXPECT_EQ(Count(layers, "class=\"bar\""), 5u);
  std::vector<double> values = Attribute(layers, "data-value");
  EXPECT_EQ(values, (std::vector<double>{1, 0, 0.2, 0.5, 0}));
  EXPECT_NE(layers.find(">no model</text>"), std::string::npos);   // the relu
  EXPECT_NE(layers.find(">unmodelled</text>"), std::string::npos);  // the custom op

  // 3 epochs of 500 steps of 2 J: 3 kJ, 0.833 Wh, 0.0833 gCO2e at 100 g/kWh.
  EXPECT_NE(html.find("<b>3 kJ</b><span>whole run, 2.4 kJ to 3.6 kJ</span>"), std::string::npos);
  EXPECT_NE(html.find("<b>833 mWh</b>"), std::string::npos);
  EXPECT_NE(html.find("<b>83.3 mgCO2e</b><span>whole run, at 100 gCO2e/kWh</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<dt>steps in all</dt><dd>1,500</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dt>epochs</dt><dd>3</dd>"), std::string::npos);
  EXPECT_NE(html.find("<td>per epoch</td><td class=\"n\">1 kJ</td>"), std::string::npos);

  EXPECT_NE(html.find("Estimated, not measured."), std::string::npos);
  EXPECT_NE(html.find("<code>dev.json</code> (the default: no --profile given)"), std::string::npos);
  EXPECT_NE(html.find("<dd>2024-05-01T12:00:00Z</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dt>cpu_model</dt><dd>AMD EPYC</dd>"), std::string::npos);
  EXPECT_NE(html.find("CPU time x 10 W per busy thread"), std::string::npos);
  EXPECT_NE(html.find("The profile has no model for: relu, other."), std::string::npos);
  EXPECT_NE(html.find("no model of their own for: conv.grouped (predicted as conv)."),
            std::string::npos);
  EXPECT_NE(html.find("<th>model</th><th class=\"n\">energy/step</th>"), std::string::npos);

  p.meter_real = true;
  p.meter_kind = "rapl";
  html = RenderReport(in, ReportFormat::html);
  EXPECT_EQ(html.find("not measured"), std::string::npos);
  EXPECT_NE(html.find("rapl: a hardware energy counter"), std::string::npos);
}

TEST(HtmlReport, BigModelsKeepTheLayersWithTheMostEnergy) {
  GraphBuilder b;
  int x = b.Input("input", {1, 8});
  for (int i = 0; i < 250; ++i) x = b.Node(Op::Relu, {x});
  CostedGraph m = Finish(b);
  std::vector<double> energy;
  for (int i = 0; i < 250; ++i) energy.push_back(i < 50 ? 0.001 : 1.0 + i);
  StepPrediction s = HandPrediction(m.c, energy, 0);
  Profile p = EstimateProfile();
  std::string html = RenderReport({&m.g, &m.c, &p, &s}, ReportFormat::html);
  std::string layers = Element(html, "id=\"layer-energy\"", "svg");
  EXPECT_EQ(Count(layers, "class=\"bar\""), 200u);
  EXPECT_EQ(layers.find(">Relu_49<"), std::string::npos);  // a hidden one
  EXPECT_LT(layers.find(">Relu_50<"), layers.find(">Relu_249<"));  // graph order
  EXPECT_NE(html.find("data-layers=\"250\" data-shown=\"200\""), std::string::npos);
  EXPECT_NE(html.find("50 of 250 layers are hidden"), std::string::npos);
  EXPECT_NE(html.find("The hidden ones hold 0.0% of the layers' energy"), std::string::npos);
  EXPECT_EQ(Count(html, "<td>Relu_"), 250u);  // the table keeps all
}

TEST(Svg, EscapeAndEllipsis) {
  EXPECT_EQ(report::Escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(report::TailEllipsis("short", 8), "short");
  EXPECT_EQ(report::TailEllipsis("/layer1/conv1/Conv", 8), "\xE2\x80\xA6" "v1/Conv");
  // Cuts between code points, never inside one: "µ" is two bytes.
  EXPECT_EQ(report::TailEllipsis("\xC2\xB5\xC2\xB5\xC2\xB5xyz", 4), "\xE2\x80\xA6" "xyz");
  EXPECT_EQ(report::TailEllipsis("\xC2\xB5\xC2\xB5\xC2\xB5xyz", 5), "\xE2\x80\xA6\xC2\xB5" "xyz");
}

TEST(Format, Quantities) {
  EXPECT_EQ(report::Quantity(0.0123, "J"), "12.3 mJ");
  EXPECT_EQ(report::Quantity(1.5e6, "J"), "1.5 MJ");
  EXPECT_EQ(report::Duration(12.5), "12.5 s");
  EXPECT_EQ(report::Duration(90), "1.5 min");
  EXPECT_EQ(report::Duration(5400), "1.5 h");
  EXPECT_EQ(report::Duration(3 * 86400), "3 days");
  EXPECT_EQ(report::Grouped(1234567), "1,234,567");
  EXPECT_EQ(report::Si(1820000), "1.82 M");
  EXPECT_EQ(report::Percent(1, 3), "33.3%");
}

}  // namespace
}  // namespace joulecast
