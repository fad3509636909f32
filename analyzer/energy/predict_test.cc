#include "analyzer/energy/predict.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>

#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"
#include "analyzer/energy/time_model.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;
using testing::Is;

// Finalizes, infers and costs `g`.
ModelCost Costs(Graph& g) {
  EXPECT_TRUE(g.Finalize().ok());
  EXPECT_TRUE(InferShapes(g).empty());
  auto c = ComputeCosts(g);
  EXPECT_TRUE(c.ok());
  return c.ok() ? *c : ModelCost{};
}

// A padded 3x3 conv to 3 channels on a 2x1x4x4 input (288 MACs, 27 parameters), then `ops` in a
// chain.
ModelCost PaddedConvThen(std::initializer_list<Op> ops) {
  GraphBuilder b;
  int x = b.Input("x", {2, 1, 4, 4});
  int y = b.Node(Op::Conv, {x, b.Param("w", {3, 1, 3, 3})}, {{"pads", Is({1, 1, 1, 1})}});
  for (Op op : ops) y = b.Node(op, {y});
  return Costs(b.g);
}

// A depthwise 3x3 conv on a 2x4x4x4 input (2x2 output), then `op`.
ModelCost DepthwiseConvThen(Op op) {
  GraphBuilder b;
  int x = b.Input("x", {2, 4, 4, 4});
  int c = b.Node(Op::Conv, {x, b.Param("w", {4, 1, 3, 3})}, {{"group", testing::I(4)}});
  b.Node(op, {c});
  return Costs(b.g);
}

TEST(Predict, SumsLinearModelsPerLayerKindAndStep) {
  ModelCost cost = PaddedConvThen({Op::Relu, Op::Sigmoid});
  Profile p;
  p.models["conv.input"] = {{"macs_fwd", "layers"}, {1e-3, 0.5}, {1e-6, 0.1}, 0.1, 10};
  p.models["relu"] = {{"elements_fwd"}, {0.01}, {0.001}, 0.2, 10};
  p.step = {{"params", "one"}, {0.1, 1.0}, {0.01, 0.1}, 0.0, 10};
  StepPrediction s = PredictStep(cost, p);
  double conv_macs = 2 * 3 * 16 * 9;  // batch 2, 3 channels, 4x4, 3x3 kernel
  EXPECT_DOUBLE_EQ(s.by_kind[static_cast<int>(Kind::conv)].energy_j, conv_macs * 1e-3 + 0.5);
  EXPECT_DOUBLE_EQ(s.by_kind[static_cast<int>(Kind::relu)].energy_j, 2 * 3 * 16 * 0.01);
  EXPECT_DOUBLE_EQ(s.step.energy_j, 27 * 0.1 + 1.0);
  EXPECT_DOUBLE_EQ(s.total.energy_j, conv_macs * 1e-3 + 0.5 + 0.96 + 3.7);
  EXPECT_DOUBLE_EQ(s.total.time_s, conv_macs * 1e-6 + 0.1 + 0.096 + 0.37);
  // The interval moves conv by 10% and relu by 20%; the step model is exact here.
  EXPECT_DOUBLE_EQ(s.high.energy_j - s.total.energy_j, 0.1 * (conv_macs * 1e-3 + 0.5) + 0.2 * 0.96);
  EXPECT_NEAR(s.total.energy_j - s.low.energy_j, s.high.energy_j - s.total.energy_j, 1e-12);
  ASSERT_EQ(s.missing_kinds.size(), 1u);  // no model for the sigmoid's kind
  EXPECT_EQ(s.missing_kinds[0], Kind::activation);
  EXPECT_TRUE(s.substitutes.empty());
}

TEST(Predict, AClassWithoutAModelUsesItsKindsAndSaysSo) {
  ModelCost cost = DepthwiseConvThen(Op::Tanh);
  ASSERT_EQ(ModelClass(cost.layers[0]), "conv.depthwise");
  ASSERT_EQ(ModelClass(cost.layers[1]), "activation.tanh");
  Profile p;
  p.models["conv"] = {{"macs_fwd"}, {1.0}, {1.0}, 0.5, 10};
  p.models["activation.tanh"] = {{"elements_fwd"}, {2.0}, {1.0}, 0.0, 10};
  StepPrediction s = PredictStep(cost, p);
  const double macs = 2 * 4 * 2 * 2 * 9;  // 4 depthwise channels, 2x2 output, 3x3 kernel
  EXPECT_DOUBLE_EQ(s.layers[0].energy_j, macs);
  EXPECT_DOUBLE_EQ(s.layers[1].energy_j, 2 * 4 * 2 * 2 * 2.0);
  EXPECT_DOUBLE_EQ(s.high.energy_j, 1.5 * macs + 64);
  ASSERT_EQ(s.substitutes.size(), 1u);
  EXPECT_EQ(s.substitutes[0].first, "conv.depthwise");
  EXPECT_EQ(s.substitutes[0].second, "conv");
}

// A schema-3 profile by hand: every number of the time x power model checked by arithmetic.
Profile TimePowerProfile(bool async) {
  Profile p;
  p.version = 3;
  TimeModel m;
  m.async = async;
  m.launch_s = 1e-5;
  m.device_scale = {2, 2, 2};
  m.step_overhead_s = 1e-4;
  m.optimizer_launches_per_tensor = 3;
  m.optimizer_bytes_per_param = 28;
  m.optimizer_bytes_per_s = 1e9;
  FamilyTime conv;
  conv.macs_per_s_fwd = 1e6;
  conv.macs_per_s_bwd = 1e6;
  conv.bytes_per_s_fwd = conv.bytes_per_s_bwd = 1e12;
  conv.min_macs = 1;
  conv.max_macs = 1e12;
  conv.max_elements = 1e12;
  FamilyTime relu;
  relu.bytes_per_s_fwd = relu.bytes_per_s_bwd = 1e6;
  relu.max_elements = 10;  // anything larger than 20 elements lies outside
  m.families["conv.input"] = conv;
  m.families["relu"] = relu;
  p.time_models["fp32"] = m;
  p.power = {50, 100, 200, 0};
  p.networks = {0.1, 0.2, 10, 0.1};
  return p;
}

TEST(PredictTimePower, LayersStepAndPowerByHand) {
  ModelCost cost = PaddedConvThen({Op::Relu});
  const Profile p = TimePowerProfile(false);
  StepPrediction s = PredictStep(cost, p, "fp32");
  ASSERT_EQ(s.layer_times.size(), 2u);
  // conv: 288 MACs forward, 288 weight-gradient MACs backward (no input gradient), 2 launches
  // forward and 3 backward, serial: host + device x scale.
  const double macs = 2 * 3 * 16 * 9;
  const auto [bf, bb] = PassBytes(cost.layers[0], 4);
  const double conv_dev = 2 * (macs / 1e6 + bf / 1e12) + 2 * (macs / 1e6 + bb / 1e12);
  EXPECT_NEAR(s.layer_times[0].device_s, conv_dev, 1e-15);
  EXPECT_NEAR(s.layer_times[0].time_s, 5e-5 + conv_dev, 1e-15);
  EXPECT_EQ(s.layer_times[0].regime, Regime::compute);
  EXPECT_FALSE(s.layer_times[0].outside_range);
  // relu: 96 elements in and out, memory-bound at 1 MB/s, and outside its calibrated sizes.
  const auto [rf, rb] = PassBytes(cost.layers[1], 4);
  EXPECT_NEAR(s.layer_times[1].device_s, 2 * (rf + rb) / 1e6, 1e-15);
  EXPECT_EQ(s.layer_times[1].regime, Regime::memory);
  EXPECT_TRUE(s.layer_times[1].outside_range);
  EXPECT_EQ(s.outside_range, 1);
  // Step: optimizer 1 tensor x 3 launches x 10 us + 27 params x 28 B at 1 GB/s, plus overhead.
  const double opt = 3e-5 + 27 * 28 / 1e9;
  EXPECT_NEAR(s.step.time_s, opt + 1e-4, 1e-15);
  const double time = s.layer_times[0].time_s + s.layer_times[1].time_s + opt + 1e-4;
  const double busy = s.layer_times[0].device_s + s.layer_times[1].device_s + 27 * 28 / 1e9;
  EXPECT_NEAR(s.total.time_s, time, 1e-15);
  EXPECT_NEAR(s.total.energy_j, time * 100 + busy * 200, 1e-12);
  EXPECT_NEAR(s.power_w, s.total.energy_j / time, 1e-9);
  // The interval is the whole-network p90.
  EXPECT_NEAR(s.high.energy_j, 1.2 * s.total.energy_j, 1e-12);
  EXPECT_NEAR(s.low.energy_j, 0.8 * s.total.energy_j, 1e-12);
  // Energy per MAC and per byte add each layer's work and the optimizer's traffic; time is
  // unchanged.
  Profile work = p;
  work.time_models["fp32"].joules_per_mac = 1e-9;
  work.time_models["fp32"].joules_per_byte = 1e-10;
  StepPrediction w = PredictStep(cost, work, "fp32");
  EXPECT_NEAR(w.total.time_s, s.total.time_s, 1e-18);
  EXPECT_NEAR(w.layers[0].energy_j - s.layers[0].energy_j, 2 * macs * 1e-9 + (bf + bb) * 1e-10,
              1e-15);
  EXPECT_NEAR(w.layers[1].energy_j - s.layers[1].energy_j, (rf + rb) * 1e-10, 1e-15);
  EXPECT_NEAR(w.step.energy_j - s.step.energy_j, 27 * 28 * 1e-10, 1e-15);
}

TEST(PredictTimePower, AsyncHostRunsAheadAndTheLimitCapsPower) {
  GraphBuilder b;
  int x = b.Input("x", {2, 1, 4, 4});
  b.Node(Op::Relu, {x});
  Graph& g = b.g;
  ASSERT_TRUE(g.Finalize().ok());
  ASSERT_TRUE(InferShapes(g).empty());
  CostOptions o;
  o.input_needs_grad = true;
  auto cost = ComputeCosts(g, o);
  ASSERT_TRUE(cost.ok());
  Profile p = TimePowerProfile(true);
  p.time_models["fp32"].families["relu"].bytes_per_s_fwd = 1e12;
  p.time_models["fp32"].families["relu"].bytes_per_s_bwd = 1e12;
  StepPrediction s = PredictStep(*cost, p, "fp32");
  // A tiny relu on a GPU: its launches (1 + 1) outlast its device time.
  EXPECT_NEAR(s.layer_times[0].time_s, 2e-5, 1e-15);
  EXPECT_EQ(s.layer_times[0].regime, Regime::dispatch);
  p.power.limit_w = 90;  // below even the active power
  StepPrediction capped = PredictStep(*cost, p, "fp32");
  EXPECT_NEAR(capped.total.energy_j, capped.total.time_s * 90, 1e-12);
  EXPECT_LT(capped.total.energy_j, s.total.energy_j);
}

TEST(PredictTimePower, PrecisionsAndSubstitutes) {
  ModelCost cost = DepthwiseConvThen(Op::Sigmoid);
  const Profile p = TimePowerProfile(true);
  EXPECT_TRUE(ProfilePrecision(p, "fp32").ok());
  const Status bf16 = ProfilePrecision(p, "bf16");
  ASSERT_FALSE(bf16.ok());
  EXPECT_NE(bf16.message().find("calibrated at fp32, not bf16"), std::string::npos);
  EXPECT_FALSE(ProfilePrecision(p, "fp8").ok());
  StepPrediction s = PredictStep(cost, p, "fp32");
  // conv.depthwise falls back to "conv", then "linear": neither is here (conv.input is not on
  // the chain), so the conv is missing; the sigmoid falls back to relu's family.
  ASSERT_EQ(s.substitutes.size(), 1u);
  EXPECT_EQ(s.substitutes[0].first, "activation.sigmoid");
  EXPECT_EQ(s.substitutes[0].second, "relu");
  ASSERT_EQ(s.missing_kinds.size(), 1u);
  EXPECT_EQ(s.missing_kinds[0], Kind::conv);
  // A schema-2 profile predicts fp32 only.
  Profile old;
  old.version = 2;
  old.source = "old.json";
  EXPECT_TRUE(ProfilePrecision(old, "fp32").ok());
  EXPECT_NE(ProfilePrecision(old, "bf16").message().find("fp32 only"), std::string::npos);
}

// A 3x3 convolution from `channels` to `channels` on a 2 x channels x 8 x 8 input, padded.
LayerCost SquareConv(int64_t channels, int64_t groups = 1) {
  GraphBuilder b;
  int x = b.Input("x", {2, channels, 8, 8});
  b.Node(Op::Conv, {x, b.Param("w", {channels, channels / groups, 3, 3})},
         {{"pads", Is({1, 1, 1, 1})}, {"group", testing::I(groups)}});
  return Costs(b.g).layers.at(0);
}

TEST(PredictTimePower, ChannelsCostWholeBlocks) {
  FamilyTime f{.macs_per_s_fwd = 1e9, .macs_per_s_bwd = 1e9, .channel_block = 16};
  const LayerCost c33 = SquareConv(33), c48 = SquareConv(48), c32 = SquareConv(32);
  EXPECT_EQ(c33.in_channels, 33);
  EXPECT_EQ(c33.gemm_n, 33);
  // 33 channels in and out fill 33/48 of three blocks each way: they cost what 48 do.
  EXPECT_DOUBLE_EQ(DeviceTime(f, c33, 4).first, DeviceTime(f, c48, 4).first);
  EXPECT_DOUBLE_EQ(DeviceTime(f, c33, 4).second, DeviceTime(f, c48, 4).second);
  EXPECT_LT(DeviceTime(f, c32, 4).first, DeviceTime(f, c33, 4).first / 2);
  // Fewer input channels than a block are not padded: 3 to 16 costs 3/16 of 16 to 16.
  const LayerCost c3 = SquareConv(3), c16 = SquareConv(16);
  LayerCost c3to16 = c16;
  c3to16.in_channels = 3;
  c3to16.gemm_k = 27;
  c3to16.work.macs_fwd = Count(c16.work.macs_fwd.value() * 3 / 16);
  EXPECT_DOUBLE_EQ(DeviceTime(f, c3to16, 4).first * 16, DeviceTime(f, c16, 4).first * 3);
  EXPECT_EQ(c3.in_channels, 3);
  // Without blocks the cost follows the MACs.
  f.channel_block = 0;
  EXPECT_NEAR(DeviceTime(f, c33, 4).first / DeviceTime(f, c48, 4).first, 33.0 * 33 / (48 * 48),
              1e-12);
  // A depthwise convolution's channels are its groups.
  f.channel_block = 16;
  const LayerCost d17 = SquareConv(17, 17), d32 = SquareConv(32, 32);
  EXPECT_EQ(d17.variant, "depthwise");
  EXPECT_DOUBLE_EQ(DeviceTime(f, d17, 4).first, DeviceTime(f, d32, 4).first);
}

TEST(PredictTimePower, FewChannelsSlowABatchNormAlikeAtEveryPrecision) {
  auto norm = [](int64_t channels, int64_t size) {
    GraphBuilder b;
    int x = b.Input("x", {2, channels, size, size});
    b.Node(Op::BatchNormalization, {x, b.Param("s", {channels}), b.Param("bias", {channels}),
                                    b.Buffer("m", {channels}), b.Buffer("v", {channels})}, {}, 1);
    return Costs(b.g).layers.at(0);
  };
  // The same elements over 8 and over 128 channels.
  const LayerCost narrow = norm(8, 32), wide = norm(128, 8);
  FamilyTime f{.bytes_per_s_fwd = 1e9, .bytes_per_s_bwd = 1e9};
  const auto [bf, bb] = PassBytes(narrow, 4);
  EXPECT_NEAR(DeviceTime(f, narrow, 4).first, bf / 1e9, 1e-15);
  f.c0 = 24;
  EXPECT_NEAR(DeviceTime(f, narrow, 4).first, bf / 1e9 * (1 + 24.0 / 8), 1e-15);
  EXPECT_NEAR(DeviceTime(f, wide, 4).second, PassBytes(wide, 4).second / 1e9 * (1 + 24.0 / 128),
              1e-15);
  // At 2 bytes the streaming halves, the channels' stretch does not: a block per channel is
  // bound by the elements it reads.
  EXPECT_NEAR(DeviceTime(f, narrow, 2).first, bf / 2 / 1e9 + bf / 1e9 * 24.0 / 8, 1e-15);
}

TEST(PredictTimePower, AWindowedPoolComputesPerOutput) {
  // A CPU pools at a cost per output: a 3x3 max pool at stride 1 has 4x the outputs of one at
  // stride 2, and its ops term says so; a global pool has no window ops.
  auto pool = [](Op op, int64_t stride) {
    GraphBuilder b;
    int x = b.Input("x", {2, 4, 8, 8});
    std::map<std::string, Attr> attrs = {
        {"kernel_shape", Is({3, 3})}, {"strides", Is({stride, stride})}, {"pads", Is({1, 1, 1, 1})}};
    if (op == Op::GlobalAveragePool) attrs.clear();
    b.Node(op, {x}, attrs);
    EXPECT_TRUE(b.g.Finalize().ok());
    EXPECT_TRUE(InferShapes(b.g).empty());
    CostOptions o;
    o.input_needs_grad = true;  // a pool inside a network: it has a backward
    Result<ModelCost> c = ComputeCosts(b.g, o);
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->layers.at(0) : LayerCost{};
  };
  const LayerCost s1 = pool(Op::MaxPool, 1), s2 = pool(Op::MaxPool, 2);
  ASSERT_EQ(s1.variant, "max");
  EXPECT_EQ(PassOps(s1).first, 2 * 4 * 8 * 8);
  EXPECT_EQ(PassOps(s2).first, 2 * 4 * 4 * 4);
  EXPECT_EQ(PassOps(s1).second, PassOps(s1).first);
  EXPECT_EQ(PassOps(pool(Op::AveragePool, 1)).first, 2 * 4 * 8 * 8);
  EXPECT_EQ(PassOps(pool(Op::GlobalAveragePool, 1)).first, 0);
  // At a rate of 1e6 outputs a second and no bandwidth term, the time is the outputs'.
  const FamilyTime f{.macs_per_s_fwd = 1e6, .macs_per_s_bwd = 1e6};
  EXPECT_NEAR(DeviceTime(f, s1, 4).first, 512e-6, 1e-12);
  EXPECT_NEAR(DeviceTime(f, s2, 4).first * 4, DeviceTime(f, s1, 4).first, 1e-12);
  // A convolution's ops are its MACs.
  const LayerCost conv = PaddedConvThen({}).layers.at(0);
  EXPECT_EQ(PassOps(conv).first, static_cast<double>(conv.work.macs_fwd.value()));
}

TEST(PredictTimePower, AGpusFp32MatrixProductsHaveTheirOwnEnergyPerMac) {
  // A conv, flattened, into a matrix product (a linear layer): with joules_per_mac_matmul set,
  // the linear layer's MACs cost that, the conv's joules_per_mac; unset, both cost the latter.
  GraphBuilder b;
  int x = b.Input("x", {2, 1, 4, 4});
  int c = b.Node(Op::Conv, {x, b.Param("w", {3, 1, 3, 3})}, {{"pads", Is({1, 1, 1, 1})}});
  int f = b.Node(Op::Flatten, {c});
  b.Node(Op::Gemm, {f, b.Param("w2", {5, 48}), b.Param("b2", {5})}, {{"transB", testing::I(1)}});
  const ModelCost cost = Costs(b.g);
  const LayerCost& conv = cost.layers.at(0);
  const LayerCost& linear = cost.layers.at(2);
  ASSERT_EQ(linear.kind, Kind::linear);
  auto macs = [](const LayerCost& l) {
    return static_cast<double>(l.work.macs_fwd.value() + l.work.macs_bwd_input.value() +
                               l.work.macs_bwd_weight.value());
  };
  TimeModel m;
  m.joules_per_mac = 5e-12;
  EXPECT_NEAR(WorkEnergy(m, linear, 4), macs(linear) * 5e-12, 1e-20);
  m.joules_per_mac_matmul = 1.6e-11;
  EXPECT_NEAR(WorkEnergy(m, linear, 4), macs(linear) * 1.6e-11, 1e-20);
  EXPECT_NEAR(WorkEnergy(m, conv, 4), macs(conv) * 5e-12, 1e-20);
}

}  // namespace
}  // namespace joulecast
