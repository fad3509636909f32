#include "calibrate/calibration/fit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "analyzer/core/costs.h"
#include "analyzer/energy/predict.h"
#include "analyzer/json/json_frontend.h"
#include "calibrate/calibration/design.h"
#include "calibrate/calibration/features.h"
#include "calibrate/calibration/halton.h"

namespace joulecast {
namespace {

// A made-up machine whose costs follow a profile exactly, with feature sets among the default
// candidates' first ones.
Profile TruthProfile() {
  Profile p;
  auto model = [](std::vector<std::string> f, std::vector<double> e) {
    LinearModel m;
    m.features = std::move(f);
    m.energy_j = e;
    for (double& x : e) x *= 0.05;  // 20 W: time = energy / 20
    m.time_s = e;
    return m;
  };
  p.models["conv"] = model({"macs_fwd", "macs_bwd_input", "macs_bwd_weight", "layers"},
                              {2e-9, 3e-9, 2.5e-9, 4e-4});
  p.models["linear"] = model({"macs_fwd", "macs_bwd_input", "macs_bwd_weight", "layers"},
                                {1e-9, 1.5e-9, 1.2e-9, 2e-4});
  p.models["relu"] = model({"elements_fwd", "elements_bwd", "layers"}, {4e-9, 6e-9, 1e-4});
  p.models["pool"] = model({"elements_fwd", "elements_bwd", "layers"}, {8e-9, 5e-9, 1.5e-4});
  p.step = model({"params", "one"}, {3e-8, 5e-3});
  return p;
}

double Energy(const Profile& truth, const std::string& json, int64_t batch, double* time) {
  LoadOptions o;
  o.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(json, "test", o);
  EXPECT_TRUE(g.ok());
  Result<ModelCost> cost = ComputeCosts(*g);
  EXPECT_TRUE(cost.ok());
  StepPrediction p = PredictStep(*cost, truth);
  EXPECT_TRUE(p.missing_kinds.empty());
  *time = p.total.time_s;
  return p.total.energy_j;
}

// Samples of the given designs measured on the made-up machine, with relative noise `noise`
// (uniform in [-noise, noise], deterministic).
std::vector<FitSample> Samples(const std::vector<Design>& designs, int per_design, double noise) {
  const Profile truth = TruthProfile();
  std::vector<FitSample> out;
  uint64_t state = 11;
  auto jitter = [&]() {
    state = SplitMix64(state);
    return 1 + noise * (2 * static_cast<double>(state >> 11) / 9007199254740992.0 - 1);
  };
  for (Design d : designs) {
    for (int i = 0; i < per_design; ++i) {
      Result<ProbePair> p = MakeProbePair(d, i, 1, QuickLimits());
      EXPECT_TRUE(p.ok());
      FitSample s;
      s.probe = *FeaturesOfJson(p->probe_json, p->batch);
      s.base = *FeaturesOfJson(p->base_json, p->batch);
      s.model_class = SampleClass(d, Difference(s.probe, s.base));
      s.probe_energy_j = Energy(truth, p->probe_json, p->batch, &s.probe_time_s) * jitter();
      s.base_energy_j = Energy(truth, p->base_json, p->batch, &s.base_time_s) * jitter();
      s.probe_energy_se_j = s.probe_energy_j * noise / 3;
      s.base_energy_se_j = s.base_energy_j * noise / 3;
      s.probe_time_se_s = s.probe_time_s * noise / 3;
      s.base_time_se_s = s.base_time_s * noise / 3;
      out.push_back(std::move(s));
    }
  }
  return out;
}

const std::vector<Design> kDesigns = {Design::conv, Design::conv_first, Design::linear,
                                      Design::linear_first, Design::relu, Design::pool};

Profile ProfileOf(const FitResult& r) {
  Profile p;
  p.models = r.models;
  p.step = r.step;
  return p;
}

constexpr int kPerDesign = 24;

TEST(Fit, RecoversAKnownMachineExactly) {
  const std::vector<FitSample> samples = Samples(kDesigns, kPerDesign, 0);
  Result<FitResult> r = FitModels(samples, FitOptions{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Profile truth = TruthProfile();
  // Every class in the networks gets a model: those the designs measure, and those only the
  // stems and heads have (the global average pool).
  for (const char* cls : {"conv", "conv.input", "conv.grouped", "conv.depthwise", "linear",
                          "linear.input", "relu", "pool.max", "pool.avg", "pool.global_avg"}) {
    EXPECT_EQ(r->models.count(cls), 1u) << cls;
  }
  EXPECT_EQ(r->models.at("pool.global_avg").samples, 0);
  for (const auto& [cls, got] : r->models) {
    // The simplest candidate is kept when a richer one is no better.
    EXPECT_EQ(got.features, ModelFor(truth, cls)->features) << cls;
    if (got.samples == 0) continue;
    EXPECT_LT(got.cv_mape, 1e-6) << cls;
    EXPECT_LT(r->time_cv_mape.at(cls), 1e-6) << cls;
  }
  // Some features always move together (a trainable layer's macs_fwd and macs_bwd_weight; a
  // relu's elements_fwd and elements_bwd), so only their sums are determined; the per-layer
  // overheads and the step model are determined on their own.
  // A conv after the stem computes all three MAC counts alike, so only their sum is determined
  // for "conv"; the first layers' (conv.input) compute no input gradient.
  const LinearModel& conv = r->models.at("conv");
  EXPECT_NEAR((conv.energy_j[0] + conv.energy_j[1] + conv.energy_j[2]) / 7.5e-9, 1, 1e-6);
  EXPECT_NEAR(conv.energy_j[3] / 4e-4, 1, 1e-6);
  EXPECT_NEAR(conv.time_s[3] / 2e-5, 1, 1e-6);
  const LinearModel& first = r->models.at("conv.input");
  EXPECT_NEAR((first.energy_j[0] + first.energy_j[2]) / 4.5e-9, 1, 1e-6);
  const LinearModel& relu = r->models.at("relu");
  EXPECT_NEAR((relu.energy_j[0] + relu.energy_j[1]) / 1e-8, 1, 1e-6);
  EXPECT_NEAR(relu.energy_j[2] / 1e-4, 1, 1e-6);
  EXPECT_EQ(r->models.at("conv").samples + r->models.at("conv.grouped").samples +
                r->models.at("conv.depthwise").samples + r->models.at("conv.input").samples,
            2 * kPerDesign);
  EXPECT_EQ(r->models.at("relu").samples, kPerDesign);
  EXPECT_EQ(r->step.features, (std::vector<std::string>{"params", "one"}));
  EXPECT_NEAR(r->step.energy_j[0] / 3e-8, 1, 1e-6);
  // Every network has exactly one classifier head, a linear of one class or the other, so the
  // step's fixed cost and the heads' per-layer overheads are determined only together: "one"
  // may take up to a linear layer's overhead (2e-4 J), which predictions do not notice (below).
  EXPECT_NEAR(r->step.energy_j[1], 5e-3, 2.01e-4);
  EXPECT_EQ(r->step.samples, static_cast<int>(samples.size()));

  // And it predicts networks it never saw (later points of the designs) as the truth does.
  const Profile fitted = ProfileOf(*r);
  for (Design d : kDesigns) {
    for (int i = 40; i < 44; ++i) {
      Result<ProbePair> p = MakeProbePair(d, i, 1, QuickLimits());
      ASSERT_TRUE(p.ok());
      double t_want = 0, t_got = 0;
      const double want = Energy(truth, p->probe_json, p->batch, &t_want);
      const double got = Energy(fitted, p->probe_json, p->batch, &t_got);
      EXPECT_NEAR(got / want, 1, 1e-6) << p->config_json;
      EXPECT_NEAR(t_got / t_want, 1, 1e-6) << p->config_json;
    }
  }
}

// 1% noise on each network: the Deltas are differences of two noisy numbers, several times
// noisier relative to themselves (3% to 20% held-out here, more for small layers).
TEST(Fit, NoiseShowsUpInTheHeldOutError) {
  Result<FitResult> r = FitModels(Samples(kDesigns, kPerDesign, 0.01), FitOptions{});
  ASSERT_TRUE(r.ok());
  for (const auto& [cls, m] : r->models) {
    if (m.samples < 8) continue;  // too few to say much
    EXPECT_GT(m.cv_mape, 1e-4) << cls;  // noise cannot be fitted away...
    EXPECT_LT(m.cv_mape, 0.4) << cls;   // ...but the model still predicts
  }
  EXPECT_GT(r->step.cv_mape, 1e-4);
  EXPECT_LT(r->step.cv_mape, 0.1);
}

TEST(Fit, PicksTheCandidateThatExplainsTheData) {
  // relu's true cost is only in saved bytes here; the second candidate can say so.
  std::vector<FitSample> samples = Samples(kDesigns, 12, 0);
  for (FitSample& s : samples) {
    if (s.model_class != "relu") continue;
    const NetworkFeatures d = Difference(s.probe, s.base);
    const double extra = 3e-9 * d.Get("relu", "saved_activation_bytes") *
                         (1 + 0.5 * std::sin(static_cast<double>(s.probe_energy_j) * 1e6));
    s.probe_energy_j += extra;
    s.probe_time_s += extra * 0.05;
  }
  FitOptions o;
  o.candidates["relu"] = {{"layers"}, {"saved_activation_bytes", "layers"}};
  Result<FitResult> r = FitModels(samples, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->models.at("relu").features,
            (std::vector<std::string>{"saved_activation_bytes", "layers"}));
}

TEST(Fit, RejectsTooFewOrBrokenSamples) {
  std::vector<FitSample> one = Samples({Design::relu}, 1, 0);
  Result<FitResult> r = FitModels(one, FitOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 2"), std::string::npos);

  std::vector<FitSample> two = Samples({Design::relu}, 2, 0);
  two[1].probe_energy_j = NAN;
  r = FitModels(two, FitOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sample 1 (relu)"), std::string::npos);
}

TEST(Fit, DefaultCandidatesUseKnownFeatureNames) {
  const std::vector<std::string>& known = FeatureNames();
  for (int k = 0; k < kNumKinds; ++k) {
    for (const FeatureSet& set : DefaultCandidates(std::string(KindName(static_cast<Kind>(k))))) {
      ASSERT_FALSE(set.empty());
      for (const std::string& f : set) {
        EXPECT_NE(std::find(known.begin(), known.end(), f), known.end()) << f;
      }
    }
  }
  EXPECT_EQ(DefaultCandidates("conv.depthwise").front(),
            (FeatureSet{"macs_fwd", "macs_bwd_input", "macs_bwd_weight", "layers"}));
}

}  // namespace
}  // namespace joulecast
