// The time x power model fitted on real H200 measurements (../shared/data/gpu-h200): the layer
// timings and half of the whole networks fit it, the other half are predicted.
#include "calibrate/calibration/time_fit.h"

#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "calibrate/calibration/nelder_mead.h"
#include "calibrate/calibration/recorded_data.h"

namespace joulecast {
namespace {

TEST(NelderMeadTest, FindsTheMinimumOfAShiftedBowl) {
  auto f = [](const std::vector<double>& x) {
    return (x[0] - 3) * (x[0] - 3) + 10 * (x[1] + 1) * (x[1] + 1) + std::abs(x[2]);
  };
  std::vector<double> x = NelderMead(f, {0, 0, 1});
  EXPECT_NEAR(x[0], 3, 1e-3);
  EXPECT_NEAR(x[1], -1, 1e-3);
  EXPECT_NEAR(x[2], 0, 1e-3);
}

TEST(TimeFitTest, RejectsTooFewNetworks) {
  LayerTimingSample s;
  s.layer.kind = Kind::relu;
  s.layer.work.elements_fwd = 1000;
  s.layer.work.elements_in = 1000;
  s.forward_s = 1e-5;
  s.backward_s = 2e-5;
  Result<TimeFitResult> r = FitTimePower({s, s, s}, {}, TimeFitOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 3 whole-network"), std::string::npos);
}

// Fits a family to `layers` timed alone by the model itself with `truth`.
FamilyTime FitOwnTimings(const FamilyTime& truth, const std::vector<LayerCost>& layers,
                         bool async) {
  std::vector<LayerTimingSample> samples;
  for (const LayerCost& layer : layers) {
    LayerTimingSample s;
    s.layer = layer;
    std::tie(s.forward_s, s.backward_s) = AloneTime(truth, layer, async, 4);
    samples.push_back(s);
  }
  std::vector<const LayerTimingSample*> ptrs;
  for (const auto& s : samples) ptrs.push_back(&s);
  return FitFamily(ptrs, async);
}

TEST(TimeFitTest, RecoversAKnownRoofline) {
  // Timings made by the model itself: the fit must find rate, bandwidth and floor again.
  FamilyTime truth;
  truth.host_fwd_s = 2e-5;
  truth.host_bwd_s = 5e-5;
  truth.bytes_per_s_fwd = 1e12;
  truth.bytes_per_s_bwd = 5e11;
  std::vector<LayerCost> layers;
  for (int i = 0; i < 18; ++i) {  // from the floor (1e3 elements) to the roofline (1.3e8)
    LayerCost l;
    l.kind = Kind::relu;
    const int64_t n = int64_t{1000} << i;
    l.work.elements_fwd = n;
    l.work.elements_in = n;
    l.work.elements_bwd = n;
    layers.push_back(l);
  }
  const FamilyTime f = FitOwnTimings(truth, layers, true);
  EXPECT_NEAR(f.bytes_per_s_fwd / truth.bytes_per_s_fwd, 1, 0.02);
  EXPECT_NEAR(f.bytes_per_s_bwd / truth.bytes_per_s_bwd, 1, 0.02);
  EXPECT_NEAR(f.host_fwd_s / truth.host_fwd_s, 1, 0.02);
  EXPECT_LT(f.cv_mape, 0.02);
  EXPECT_EQ(f.samples, 18);
}

TEST(TimeFitTest, RecoversKnownOptimizerTermsOnAGpuAndACpu) {
  for (bool async : {true, false}) {
    TimeModel truth;
    truth.async = async;
    truth.optimizer_bytes_per_param = 28;
    truth.optimizer_step_s = 2e-4;
    truth.optimizer_tensor_s = 1.5e-5;
    truth.optimizer_bytes_per_s = 1.4e12;
    std::vector<OptimizerTimingSample> samples;
    for (int64_t params : {10'000, 1'000'000, 30'000'000, 300'000'000}) {
      for (int64_t tensors : {1, 16, 128}) {
        samples.push_back({"fp32", params, tensors, OptimizerTime(truth, params, tensors)});
      }
    }
    std::vector<const OptimizerTimingSample*> ptrs;
    for (const auto& s : samples) ptrs.push_back(&s);
    TimeModel m;
    m.async = async;
    m.optimizer_bytes_per_param = 28;
    FitOptimizer(ptrs, m);
    EXPECT_NEAR(m.optimizer_step_s / truth.optimizer_step_s, 1, 0.02) << async;
    EXPECT_NEAR(m.optimizer_tensor_s / truth.optimizer_tensor_s, 1, 0.02) << async;
    EXPECT_NEAR(m.optimizer_bytes_per_s / truth.optimizer_bytes_per_s, 1, 0.02) << async;
  }
}

TEST(TimeFitTest, FindsTheChannelBlockOfConvolutionsMadeWithOne) {
  // Timings made by the model itself with channels in blocks of 16: the fit must pick 16.
  FamilyTime truth;
  truth.host_fwd_s = 2e-5;
  truth.host_bwd_s = 5e-5;
  truth.macs_per_s_fwd = 5e10;
  truth.macs_per_s_bwd = 4e10;
  truth.bytes_per_s_fwd = 2e10;
  truth.bytes_per_s_bwd = 1e10;
  truth.channel_block = 16;
  std::vector<LayerCost> layers;
  for (int i = 0; i < 40; ++i) {
    LayerCost l;
    l.kind = Kind::conv;
    const int64_t cin = 9 + 7 * i % 120, cout = 12 + 11 * i % 100, positions = 4096 << (i % 3);
    l.in_channels = cin;
    l.gemm_m = positions;
    l.gemm_n = cout;
    l.gemm_k = cin * 9;
    l.groups = 1;
    l.params = cout * cin * 9;
    l.work.macs_fwd = positions * cout * cin * 9;
    l.work.macs_bwd_input = l.work.macs_fwd;
    l.work.macs_bwd_weight = l.work.macs_fwd;
    l.work.elements_in = positions * cin;
    l.work.elements_fwd = positions * cout;
    l.work.elements_bwd = positions * cin;
    layers.push_back(l);
  }
  const FamilyTime f = FitOwnTimings(truth, layers, false);
  EXPECT_EQ(f.channel_block, 16);
  EXPECT_LT(f.cv_mape, 0.05);
}

struct HeldOut {
  double energy_mape = 0, energy_max = 0, time_mape = 0, macs_mape = 0;
  int n = 0;
};

HeldOut FitHalfPredictHalf(const RecordedData& d, const std::string& precision,
                           bool work_energy = true) {
  // Halves by network, so that a network measured in fp32 and bf16 is in one half.
  std::vector<NetworkSample> train, test;
  std::map<std::string, size_t> order;
  for (const NetworkSample& n : d.networks) order.emplace(n.name, order.size());
  for (const NetworkSample& n : d.networks) {
    if (n.precision != "fp32" && n.precision != precision) continue;
    (order[n.name] % 2 == 0 ? train : test).push_back(n);
  }
  TimeFitOptions o;
  o.async = true;
  o.fp32_matmul_apart = true;  // as a GPU calibration fits
  o.idle_w = d.idle_w;
  o.limit_w = d.limit_w;
  o.work_energy = work_energy;
  Result<TimeFitResult> fit = FitTimePower(d.layers, train, o, d.optimizer);
  EXPECT_TRUE(fit.ok()) << fit.status().message();
  // The recorded Adam steps fix the optimizer: about 0.2 ms a step and 15 us a tensor.
  if (fit.ok()) {
    const TimeModel& m = fit->time_models.at(precision);
    EXPECT_NEAR(m.optimizer_step_s, 2e-4, 1e-4);
    EXPECT_NEAR(m.optimizer_tensor_s, 1.5e-5, 0.5e-5);
  }
  HeldOut h;
  if (!fit.ok()) return h;
  // MACs-proportional: one constant fitted on the held-out networks themselves (its best case).
  double num = 0, den = 0;
  std::vector<const NetworkSample*> mine;
  for (const NetworkSample& n : test) {
    if (n.precision != precision) continue;
    mine.push_back(&n);
    const double macs = static_cast<double>(n.cost.total.macs_fwd.value() +
                                            n.cost.total.macs_bwd_input.value() +
                                            n.cost.total.macs_bwd_weight.value());
    num += macs / n.energy_j;
    den += macs * macs / (n.energy_j * n.energy_j);
  }
  const double k = num / den;
  for (const NetworkSample* n : mine) {
    const Estimate e = PredictNetwork(fit->time_models.at(precision), fit->power, n->cost, precision);
    const double err = std::abs(e.energy_j / n->energy_j - 1);
    h.energy_mape += err;
    h.energy_max = std::max(h.energy_max, err);
    h.time_mape += std::abs(e.time_s / n->time_s - 1);
    const double macs = static_cast<double>(n->cost.total.macs_fwd.value() +
                                            n->cost.total.macs_bwd_input.value() +
                                            n->cost.total.macs_bwd_weight.value());
    h.macs_mape += std::abs(k * macs / n->energy_j - 1);
    ++h.n;
  }
  h.energy_mape /= h.n;
  h.time_mape /= h.n;
  h.macs_mape /= h.n;
  std::printf("%s%s: %d held-out networks: energy MAPE %.1f%% (max %.1f%%), time MAPE %.1f%%, "
              "MACs-proportional %.1f%%\n", precision.c_str(), work_energy ? "" : " (busy-time power)",
              h.n, 100 * h.energy_mape, 100 * h.energy_max, 100 * h.time_mape, 100 * h.macs_mape);
  return h;
}

TEST(TimeFitTest, PredictsHeldOutH200NetworksFromLayerTimings) {
  Result<RecordedData> d = LoadRecordedData(JOULECAST_GPU_DATA);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->layers.size(), 657u);
  ASSERT_EQ(d->networks.size(), 48u);
  ASSERT_EQ(d->optimizer.size(), 24u);
  const HeldOut h = FitHalfPredictHalf(*d, "fp32");
  EXPECT_EQ(h.n, 18);
  // bench/recorded_fit prints the figures docs/gpu.md gives; these bounds leave room.
  EXPECT_LT(h.energy_mape, 0.14);
  EXPECT_LT(h.time_mape, 0.12);
  EXPECT_LT(h.energy_mape * 3, h.macs_mape);
  // bf16 fitted with fp32: its energy per MAC is its own. Power that follows the work done
  // predicts it better than power that follows busy time alone.
  const HeldOut bf16 = FitHalfPredictHalf(*d, "bf16");
  EXPECT_EQ(bf16.n, 6);
  EXPECT_LT(bf16.energy_mape, 0.10);
  EXPECT_LT(bf16.time_mape, 0.12);
  const HeldOut busy = FitHalfPredictHalf(*d, "bf16", false);
  EXPECT_LT(bf16.energy_mape, busy.energy_mape);
}

TEST(TimeFitTest, FindsHowFewChannelsSlowABatchNorm) {
  // Timings made by the model itself with a half-efficiency of 150 channels (a GPU gathers the
  // statistics with a block per channel): the fit must find it again.
  const FamilyTime truth{.host_fwd_s = 1e-5, .host_bwd_s = 3e-5, .bytes_per_s_fwd = 2e12,
                         .bytes_per_s_bwd = 1.5e12, .c0 = 150};
  std::vector<LayerCost> layers;
  for (int i = 0; i < 16; ++i) {
    LayerCost l;
    l.kind = Kind::norm;
    l.in_channels = int64_t{8} << (i % 8);                 // 8 to 1024 channels
    const int64_t n = int64_t{1} << (20 + i % 7);          // 1e6 to 6.7e7 elements
    l.work.elements_in = l.work.elements_fwd = l.work.elements_bwd = n;
    layers.push_back(l);
  }
  const FamilyTime f = FitOwnTimings(truth, layers, true);
  EXPECT_NEAR(f.c0 / truth.c0, 1, 0.05);
  EXPECT_NEAR(f.bytes_per_s_fwd / truth.bytes_per_s_fwd, 1, 0.05);
  EXPECT_LT(f.cv_mape, 0.02);
  // Without channels (a layer that is not a per-channel reduction) there is nothing to fit.
  for (LayerCost& l : layers) l.in_channels = 0;
  EXPECT_EQ(FitOwnTimings(truth, layers, true).c0, 0);
}

TEST(TimeFitTest, RecoversKnownEnergiesPerMacAndPerByte) {
  // The recorded H200 shapes, with timings and energies made by a known model: layer timings
  // alone from its families, each network's step time and energy from PredictNetwork() with
  // known active and dynamic power and energies per MAC (their own in bf16) and per byte.
  Result<RecordedData> d = LoadRecordedData(JOULECAST_GPU_DATA);
  ASSERT_TRUE(d.ok()) << d.status().message();
  TimeFitOptions o;
  o.async = true;
  o.fp32_matmul_apart = true;
  o.idle_w = 80;
  o.limit_w = 0;  // no cap: every network's energy shows its work
  Result<TimeFitResult> real = FitTimePower(d->layers, d->networks, o, d->optimizer);
  ASSERT_TRUE(real.ok()) << real.status().message();
  std::map<std::string, TimeModel> truth = real->time_models;
  for (auto& [precision, m] : truth) {
    m.dynamic_w = 150;
    m.joules_per_mac = precision == "fp32" ? 6e-12 : 3e-12;
    if (precision == "fp32") m.joules_per_mac_matmul = 18e-12;  // full-FP32 cores
    m.joules_per_byte = 2e-10;
  }
  const PowerModel power{80, 130, 150, 0};
  RecordedData made = *d;
  for (LayerTimingSample& s : made.layers) {
    const TimeModel& m = truth.at(s.precision);
    std::tie(s.forward_s, s.backward_s) =
        AloneTime(*FamilyFor(m, ModelClass(s.layer)), s.layer, true, ElementBytes(s.precision));
  }
  for (NetworkSample& n : made.networks) {
    const Estimate e = PredictNetwork(truth.at(n.precision), power, n.cost, n.precision);
    n.time_s = e.time_s;
    n.energy_j = e.energy_j;
  }
  Result<TimeFitResult> fit = FitTimePower(made.layers, made.networks, o, made.optimizer);
  ASSERT_TRUE(fit.ok()) << fit.status().message();
  EXPECT_NEAR(fit->time_models.at("fp32").joules_per_mac / 6e-12, 1, 0.15);
  EXPECT_NEAR(fit->time_models.at("bf16").joules_per_mac / 3e-12, 1, 0.15);
  EXPECT_NEAR(fit->time_models.at("fp32").joules_per_byte / 2e-10, 1, 0.15);
  ASSERT_TRUE(fit->time_models.at("fp32").joules_per_mac_matmul.has_value());
  EXPECT_NEAR(*fit->time_models.at("fp32").joules_per_mac_matmul / 18e-12, 1, 0.15);
  // bf16's matrix products run on the tensor cores its convolutions use: one energy per MAC.
  EXPECT_FALSE(fit->time_models.at("bf16").joules_per_mac_matmul.has_value());
  EXPECT_LT(fit->networks.cv_mape, 0.03);
  // Without an MLP among the fitted networks the two cannot be told apart: one energy per MAC.
  RecordedData no_mlp = made;
  std::erase_if(no_mlp.networks, [](const NetworkSample& n) {
    return n.name.find("mlp") != std::string::npos;
  });
  Result<TimeFitResult> conv_only = FitTimePower(no_mlp.layers, no_mlp.networks, o, no_mlp.optimizer);
  ASSERT_TRUE(conv_only.ok()) << conv_only.status().message();
  EXPECT_FALSE(conv_only->time_models.at("fp32").joules_per_mac_matmul.has_value());
}

}  // namespace
}  // namespace joulecast
