#include "calibrate/calibration/design.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "analyzer/core/costs.h"
#include "analyzer/json/json_frontend.h"
#include "calibrate/calibration/features.h"
#include "calibrate/calibration/halton.h"

namespace joulecast {
namespace {

using nlohmann::json;

TEST(Halton, DeterministicAndInTheUnitCube) {
  const ScrambledHalton a(8, 42), b(8, 42), c(8, 43);
  bool differs = false;
  for (uint64_t i = 0; i < 500; ++i) {
    const std::vector<double> p = a.Point(i);
    ASSERT_EQ(p.size(), 8u);
    EXPECT_EQ(p, b.Point(i)) << i;
    for (double u : p) {
      EXPECT_GE(u, 0);
      EXPECT_LT(u, 1);
    }
    differs = differs || p != c.Point(i);
  }
  EXPECT_TRUE(differs) << "another seed must scramble differently";
}

TEST(Halton, FirstBaseSquaredPointsStratifyEachAxis) {
  // Digit scrambling keeps van der Corput's property: the first b^2 points of the dimension with
  // base b fall one in each of b^2 equal intervals.
  const ScrambledHalton h(4, 9);
  const int bases[] = {2, 3, 5, 7};
  for (int d = 0; d < 4; ++d) {
    const int cells = bases[d] * bases[d];
    std::set<int> seen;
    for (int i = 0; i < cells; ++i) seen.insert(static_cast<int>(h.Point(i)[d] * cells + 1e-9));  // 5/9*9 may round down
    EXPECT_EQ(static_cast<int>(seen.size()), cells) << "dimension " << d;
  }
}

Result<ModelCost> CostOf(const std::string& text, int64_t batch, Graph* graph) {
  LoadOptions o;
  o.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(text, "test", o);
  if (!g.ok()) return g.status();
  *graph = std::move(*g);
  return ComputeCosts(*graph);
}

TEST(Design, PairsAreDeterministicLoadAndStayWithinLimits) {
  const DesignLimits limits = FullLimits();
  for (Design d : AllDesigns()) {
    std::set<std::string> configs;
    for (int i = 0; i < 24; ++i) {
      Result<ProbePair> p = MakeProbePair(d, i, 1, limits);
      ASSERT_TRUE(p.ok()) << DesignName(d) << " " << i << ": " << p.status().message();
      Result<ProbePair> again = MakeProbePair(d, i, 1, limits);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(p->probe_json, again->probe_json);
      EXPECT_EQ(p->base_json, again->base_json);
      EXPECT_EQ(p->config_json, again->config_json);
      configs.insert(p->config_json);

      const json c = json::parse(p->config_json);
      EXPECT_EQ(c["design"], std::string(DesignName(d)));
      EXPECT_GE(p->batch, limits.min_batch);
      EXPECT_LE(p->batch, limits.max_batch);
      EXPECT_EQ(c["batch"], p->batch);
      for (const char* key : {"in_channels", "out_channels", "channels"}) {
        if (!c.contains(key)) continue;
        EXPECT_GE(c[key].get<int64_t>(), 1);
        EXPECT_LE(c[key].get<int64_t>(), limits.max_channels);
      }
      if (c.contains("spatial")) {
        EXPECT_GE(c["spatial"].get<int64_t>(), limits.min_spatial);
        EXPECT_LE(c["spatial"].get<int64_t>(), limits.max_spatial);
      }
      for (const char* key : {"in_features", "out_features"}) {
        if (!c.contains(key)) continue;
        EXPECT_GE(c[key].get<int64_t>(), limits.min_features);
        EXPECT_LE(c[key].get<int64_t>(), limits.max_features);
      }
      if (c.contains("groups")) {
        const int64_t g = c["groups"];
        EXPECT_EQ(c["in_channels"].get<int64_t>() % g, 0) << p->config_json;
        EXPECT_EQ(c["out_channels"].get<int64_t>() % g, 0) << p->config_json;
      }

      Graph probe, base;
      Result<ModelCost> pc = CostOf(p->probe_json, p->batch, &probe);
      Result<ModelCost> bc = CostOf(p->base_json, p->batch, &base);
      ASSERT_TRUE(pc.ok()) << pc.status().message();
      ASSERT_TRUE(bc.ok()) << bc.status().message();
      EXPECT_TRUE(pc->unmodelled.empty());
      // Both end in logits [batch, 10], as MeasureTraining needs.
      for (const Graph* g : {&probe, &base}) {
        const Tensor& out = g->tensors[g->outputs[0]];
        EXPECT_EQ(out.dims, (std::vector<int64_t>{p->batch, 10})) << p->probe_json;
      }
      // Within the step cap, unless shrunk all the way to the minimum sizes.
      Result<double> est = EstimateStepSeconds(p->probe_json, p->batch);
      ASSERT_TRUE(est.ok());
      EXPECT_GT(*est, 0);
      if (c["shrink"].get<double>() > 0) {
        EXPECT_LE(*est, d == Design::network ? limits.max_network_step_s : limits.max_step_s)
            << p->config_json;
        for (const Graph* g : {&probe, &base}) {
          for (const Tensor& t : g->tensors) {
            if (t.role != Role::activation || t.dims.size() != 4) continue;
            EXPECT_LE(t.dims[0] * t.dims[2] * t.dims[3], limits.max_positions) << p->config_json;
            EXPECT_LE(t.dims[0] * t.dims[1] * t.dims[2] * t.dims[3] * 4, limits.max_tensor_bytes);
          }
        }
      }
    }
    EXPECT_GE(configs.size(), 20u) << DesignName(d) << ": the design should spread its points";
  }
}

TEST(Design, ConvDesignCoversKernelsStridesAndGroupModes) {
  std::set<int> kernels, strides;
  bool grouped = false, depthwise = false, dense = false;
  for (int i = 0; i < 40; ++i) {
    Result<ProbePair> p = MakeProbePair(Design::conv, i, 1, FullLimits());
    ASSERT_TRUE(p.ok());
    const json c = json::parse(p->config_json);
    kernels.insert(c["kernel"].get<int>());
    strides.insert(c["stride"].get<int>());
    const int64_t g = c["groups"], cin = c["in_channels"];
    dense = dense || g == 1;
    depthwise = depthwise || (g == cin && g > 1);
    grouped = grouped || (g > 1 && g < cin);
  }
  EXPECT_EQ(kernels, (std::set<int>{1, 3, 5, 7}));
  EXPECT_EQ(strides, (std::set<int>{1, 2}));
  EXPECT_TRUE(dense && grouped && depthwise);
}

TEST(Design, LimitsShrinkTheSizes) {
  DesignLimits tiny = QuickLimits();
  tiny.max_channels = 4;
  tiny.max_spatial = 8;
  tiny.max_batch = 8;
  for (Design d : AllDesigns()) {
    Result<ProbePair> p = MakeProbePair(d, 3, 5, tiny);
    ASSERT_TRUE(p.ok());
    const json c = json::parse(p->config_json);
    EXPECT_EQ(p->batch, 8);
    if (c.contains("spatial")) {
      EXPECT_LE(c["spatial"].get<int64_t>(), 8);
    }
  }
}

// A relu pair written out by hand, and its features: probe - base is the relu alone, because
// the head sees the same shape either way.
TEST(Features, ProbeMinusBaseOfAHandWrittenReluPair) {
  const std::string probe = R"({"input": {"shape": [3, 8, 8]}, "layers": [
      {"op": "conv2d", "id": "stem", "out_channels": 4, "kernel": 1},
      {"op": "relu"},
      {"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]})";
  const std::string base = R"({"input": {"shape": [3, 8, 8]}, "layers": [
      {"op": "conv2d", "id": "stem", "out_channels": 4, "kernel": 1},
      {"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]})";
  Result<NetworkFeatures> p = FeaturesOfJson(probe, 2);
  Result<NetworkFeatures> b = FeaturesOfJson(base, 2);
  ASSERT_TRUE(p.ok() && b.ok());
  // Base, by hand at batch 2: stem 2*4*8*8 = 512 outputs, each 3 MACs.
  EXPECT_EQ(b->Get("conv.input", "macs_fwd"), 1536);
  EXPECT_EQ(b->Get("conv.input", "macs_bwd_input"), 0);  // It reads the data.
  EXPECT_EQ(b->Get("conv.input", "macs_bwd_weight"), 1536);
  EXPECT_EQ(b->Get("pool.global_avg", "elements_fwd"), 8);     // 2 x 4 averages
  EXPECT_EQ(b->Get("pool.global_avg", "elements_bwd"), 512);   // its input's gradient
  EXPECT_EQ(b->Get("linear", "macs_fwd"), 80);      // 2 x 4 x 10
  EXPECT_EQ(b->params, 4 * 3 + 4 + 4 * 10 + 10);
  EXPECT_EQ(b->Get("conv.input", "layers"), 1);

  const NetworkFeatures d = Difference(*p, *b);
  EXPECT_EQ(d.Get("relu", "elements_fwd"), 512);
  EXPECT_EQ(d.Get("relu", "elements_bwd"), 512);
  EXPECT_EQ(d.Get("relu", "saved_activation_bytes"), 512 * 4);  // relu keeps its output
  EXPECT_EQ(d.Get("relu", "layers"), 1);
  for (const char* k : {"conv.input", "pool.global_avg", "linear"}) {
    for (const char* f : {"macs_fwd", "elements_fwd", "elements_bwd", "layers"}) {
      EXPECT_EQ(d.Get(k, f), 0) << k << " " << f;
    }
  }
  EXPECT_EQ(MeasuredClass(d, Kind::relu), "relu");
  EXPECT_EQ(d.params, 0);
}

// The design's own conv pairs against the formulas: the conv's MACs, the head's change (pool
// over other channels and size, linear from other channels) and the parameters.
TEST(Features, ConvPairsMatchTheFormulas) {
  int checked = 0;
  for (int i = 0; i < 12; ++i) {
    Result<ProbePair> p = MakeProbePair(Design::conv, i, 3, QuickLimits());
    ASSERT_TRUE(p.ok());
    const json c = json::parse(p->config_json);
    const double n = p->batch, cin = c["in_channels"], cout = c["out_channels"];
    const double k = c["kernel"], s = c["stride"], h = c["spatial"], g = c["groups"];
    const double ho = std::floor((h + 2 * std::floor(k / 2) - k) / s) + 1;
    Result<NetworkFeatures> pf = FeaturesOfJson(p->probe_json, p->batch);
    Result<NetworkFeatures> bf = FeaturesOfJson(p->base_json, p->batch);
    ASSERT_TRUE(pf.ok() && bf.ok());
    const NetworkFeatures d = Difference(*pf, *bf);
    const double macs = n * cout * ho * ho * (cin / g) * k * k;
    const std::string cls = MeasuredClass(d, Kind::conv);
    EXPECT_EQ(cls, g == 1 ? "conv" : g == cin ? "conv.depthwise" : "conv.grouped") << p->config_json;
    EXPECT_EQ(d.Get(cls, "macs_fwd"), macs) << p->config_json;
    EXPECT_EQ(d.Get(cls, "macs_bwd_input"), macs) << p->config_json;  // after the stem
    EXPECT_EQ(d.Get(cls, "macs_bwd_weight"), macs) << p->config_json;
    EXPECT_EQ(d.Get(cls, "elements_fwd"), n * cout * ho * ho);
    EXPECT_EQ(d.Get(cls, "layers"), 1);
    EXPECT_EQ(d.Get("pool.global_avg", "elements_fwd"), n * (cout - cin));
    EXPECT_EQ(d.Get("pool.global_avg", "elements_bwd"), n * (cout * ho * ho - cin * h * h));
    EXPECT_EQ(d.Get("pool.global_avg", "layers"), 0);
    EXPECT_EQ(d.Get("linear", "macs_fwd"), n * 10 * (cout - cin));
    EXPECT_EQ(d.params, cout * (cin / g) * k * k + cout + 10 * (cout - cin));
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

TEST(Features, FirstLayerDesignsComputeNoInputGradient) {
  for (Design d : {Design::conv_first, Design::linear_first}) {
    Result<ProbePair> p = MakeProbePair(d, 0, 1, QuickLimits());
    ASSERT_TRUE(p.ok());
    Result<NetworkFeatures> pf = FeaturesOfJson(p->probe_json, p->batch);
    Result<NetworkFeatures> bf = FeaturesOfJson(p->base_json, p->batch);
    ASSERT_TRUE(pf.ok() && bf.ok());
    const NetworkFeatures delta = Difference(*pf, *bf);
    const std::string k = std::string(KindName(DesignKind(d))) + ".input";
    EXPECT_EQ(SampleClass(d, delta), k);
    EXPECT_GT(delta.Get(k, "macs_fwd"), 0);
    EXPECT_GT(delta.Get(k, "macs_bwd_weight"), 0);
    // The head's linear gets an input gradient in the probe; the layer itself none: the only
    // input-gradient MACs are the head's, fout x 10 per sample.
    if (d == Design::conv_first) {
      EXPECT_EQ(pf->Get("conv.input", "macs_bwd_input"), 0);
    } else {
      const double fout = json::parse(p->config_json)["out_features"];
      EXPECT_EQ(pf->Get("linear", "macs_bwd_input"), p->batch * fout * 10);
    }
  }
}

TEST(Design, EstimatedStepSecondsByHand) {
  const std::string net = R"({"input": {"shape": [3, 8, 8]}, "layers": [
      {"op": "conv2d", "out_channels": 4, "kernel": 1}, {"op": "relu"},
      {"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]})";
  Result<double> s = EstimateStepSeconds(net, 2);
  ASSERT_TRUE(s.ok());
  // conv: 1536 MACs forward + 1536 weight gradient, 512 outputs; relu: 512 outputs; pool: 8;
  // linear: 80 MACs x 3, 20 outputs; four layers (flatten is free).
  const double want = (3072 + 240) / 2e10 + (512 + 512 + 8 + 20) * 2e-9 + 4 * 3e-5;
  EXPECT_NEAR(*s, want, 1e-15);
  // A grouped conv is charged at the slower rate.
  const std::string grouped = R"({"input": {"shape": [4, 8, 8]}, "layers": [
      {"op": "conv2d", "out_channels": 4, "kernel": 1, "groups": 2},
      {"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]})";
  Result<double> g = EstimateStepSeconds(grouped, 1);
  ASSERT_TRUE(g.ok());
  // 256 outputs x 2 MACs, forward and weight gradient (the data needs no gradient); linear 4 to
  // 10 with both gradients.
  EXPECT_NEAR(*g, 1024 / 3e9 + 120 / 2e10 + (256 + 4 + 10) * 2e-9 + 3 * 3e-5, 1e-15);
}

TEST(Design, Names) {
  for (Design d : AllDesigns()) EXPECT_EQ(DesignFromName(DesignName(d)), d);
  EXPECT_FALSE(DesignFromName("conv3d").has_value());
  EXPECT_EQ(DesignKind(Design::conv_first), Kind::conv);
  EXPECT_EQ(DesignKind(Design::linear_first), Kind::linear);
  EXPECT_EQ(DesignKind(Design::dropout), Kind::dropout);
}

}  // namespace
}  // namespace joulecast
