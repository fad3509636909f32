// The libtorch builders op by op: each ONNX op's semantics against libtorch computed directly,
// and the builder table against the analyzer's registry.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/op_registry.h"
#include "analyzer/core/test_graph_builder.h"
#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/torch_test_util.h"

namespace joulecast {
namespace {

using testing::Build;
using testing::ExpectClose;
using testing::F;
using testing::GraphBuilder;
using testing::I;
using testing::Is;
using testing::RunGraph;
using testing::S;

// A scalar constant of an integer `dtype` (the IR keeps integer values, unlike float ones).
int IntScalar(GraphBuilder& b, const std::string& name, int64_t v, DType dtype = DType::int64) {
  int t = b.Ints(name, {v});
  b.g.tensors[t].dims.clear();
  b.g.tensors[t].dtype = dtype;
  return t;
}

TEST(Ops, ConvWithAsymmetricPadsEqualsSymmetricThenCropped) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 6, 5});
  int w = b.Param("w", {4, 3, 3, 3});
  int bias = b.Param("b", {4});
  b.Node(Op::Conv, {x, w, bias}, {{"pads", Is({1, 1, 0, 0})}});
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  at::Tensor in = at::randn({2, 3, 6, 5});
  at::Tensor got = (*net)->Forward(in).detach();
  const auto& p = (*net)->parameters();
  at::Tensor want = at::conv2d(in, p[0], p[1], 1, 1).detach().narrow(2, 0, 5).narrow(3, 0, 4);
  ExpectClose(got, want);
}

TEST(Ops, GroupedStridedConvWithSameUpper) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4, 7, 7});
  int w = b.Param("w", {4, 2, 3, 3});
  b.Node(Op::Conv, {x, w},
         {{"group", I(2)}, {"strides", Is({2, 2})}, {"auto_pad", S("SAME_UPPER")}});
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  at::Tensor in = at::randn({1, 4, 7, 7});
  at::Tensor got = (*net)->Forward(in).detach();
  // SAME_UPPER: ceil(7/2) = 4 outputs; total pad (4-1)*2 + 3 - 7 = 2, one on each side.
  at::Tensor want = at::conv2d(in, (*net)->parameters()[0], {}, 2, 1, 1, 2).detach();
  ExpectClose(got, want);
}

TEST(Ops, ConvTransposeWithOutputShape) {
  GraphBuilder b;
  int x = b.Input("x", {1, 2, 3, 3});
  int w = b.Param("w", {2, 3, 3, 3});
  b.Node(Op::ConvTranspose, {x, w}, {{"strides", Is({2, 2})}, {"output_shape", Is({6, 6})}});
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  at::Tensor in = at::randn({1, 2, 3, 3});
  at::Tensor got = (*net)->Forward(in).detach();
  // Full output 2*(3-1)+3 = 7; total padding 1 goes to the start (not SAME_UPPER).
  at::Tensor full = at::conv_transpose2d(in, (*net)->parameters()[0], {}, 2).detach();
  ExpectClose(got, full.narrow(2, 1, 6).narrow(3, 1, 6));
}

TEST(Ops, GemmWithTransposesAlphaAndBeta) {
  GraphBuilder b;
  int a = b.Input("a", {3, 4});
  int bm = b.Param("b", {5, 3});  // Used as B^T: transA=1 makes A' [4, 3], so B must be [3, 5].
  int c = b.Param("c", {1, 5});
  b.Node(Op::Gemm, {a, bm, c},
         {{"transA", I(1)}, {"transB", I(1)}, {"alpha", F(0.5)}, {"beta", F(2.0)}});
  // Shape inference takes A's rows as the batch; the IR's input is [3, 4] with batch 3.
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  at::Tensor in = at::randn({3, 4});
  const auto& p = (*net)->parameters();
  at::Tensor want = (0.5 * at::mm(in.t(), p[0].t()) + 2.0 * p[1]).detach();
  ExpectClose((*net)->Forward(in).detach(), want);
}

// `in` (1x1x3x3) through AveragePool with `attrs` and count_include_pad `include`.
at::Tensor AveragePool3x3(std::map<std::string, Attr> attrs, int64_t include,
                          const at::Tensor& in) {
  GraphBuilder b;
  int x = b.Input("x", {1, 1, 3, 3});
  attrs["count_include_pad"] = I(include);
  b.Node(Op::AveragePool, {x}, std::move(attrs));
  return RunGraph(b, in);
}

TEST(Ops, AveragePoolCountIncludePad) {
  for (int64_t include : {0, 1}) {
    at::Tensor y = AveragePool3x3({{"kernel_shape", Is({3, 3})}, {"pads", Is({1, 1, 1, 1})}},
                                  include, at::ones({1, 1, 3, 3}));
    ASSERT_TRUE(y.defined());
    EXPECT_NEAR(y[0][0][0][0].item<double>(), include ? 4.0 / 9 : 1.0, 1e-6);
    EXPECT_NEAR(y[0][0][1][1].item<double>(), 1.0, 1e-6);
  }
}

TEST(Ops, AveragePoolWithAsymmetricPads) {
  for (int64_t include : {0, 1}) {
    at::Tensor y = AveragePool3x3(
        {{"kernel_shape", Is({2, 2})}, {"strides", Is({2, 2})}, {"pads", Is({0, 0, 1, 1})}},
        include, at::arange(9, at::kFloat).reshape({1, 1, 3, 3}));
    ASSERT_TRUE(y.defined());
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
    EXPECT_NEAR(y[0][0][0][0].item<double>(), (0 + 1 + 3 + 4) / 4.0, 1e-6);
    // One real pixel in the last window, two in the one beside it.
    EXPECT_NEAR(y[0][0][1][1].item<double>(), include ? 8 / 4.0 : 8.0, 1e-6);
    EXPECT_NEAR(y[0][0][0][1].item<double>(), include ? (2 + 5) / 4.0 : (2 + 5) / 2.0, 1e-6);
  }
}

TEST(Ops, MaxPoolCeilModeAndAsymmetricPads) {
  {
    GraphBuilder b;
    int x = b.Input("x", {1, 1, 5, 5});
    b.Node(Op::MaxPool, {x},
           {{"kernel_shape", Is({2, 2})}, {"strides", Is({2, 2})}, {"ceil_mode", I(1)}});
    at::Tensor in = at::arange(25, at::kFloat).reshape({1, 1, 5, 5});
    at::Tensor y = RunGraph(b, in);
    ASSERT_TRUE(y.defined());
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 3, 3}));
    EXPECT_EQ(y[0][0][2][2].item<float>(), 24);
  }
  {
    GraphBuilder b;
    int x = b.Input("x", {1, 1, 3, 3});
    b.Node(Op::MaxPool, {x}, {{"kernel_shape", Is({3, 3})}, {"pads", Is({2, 2, 0, 0})}});
    at::Tensor in = -at::arange(1, 10, at::kFloat).reshape({1, 1, 3, 3});
    at::Tensor y = RunGraph(b, in);
    ASSERT_TRUE(y.defined());
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 3, 3}));
    EXPECT_EQ(y[0][0][0][0].item<float>(), -1);  // Padding is -inf, never the maximum.
    EXPECT_EQ(y[0][0][2][2].item<float>(), -1);
  }
}

TEST(Ops, BatchNormTrainsAndUpdatesRunningStatsWithOnnxMomentum) {
  GraphBuilder b;
  int x = b.Input("x", {8, 2, 3, 3});
  b.Node(Op::BatchNormalization,
         {x, b.Param("s", {2}), b.Param("bias", {2}), b.Buffer("mean", {2}), b.Buffer("var", {2})},
         {{"momentum", F(0.9)}, {"epsilon", F(1e-5)}});
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  at::Tensor in = at::randn({8, 2, 3, 3}) * 3 + 5;
  at::Tensor y = (*net)->Forward(in).detach();
  // Batch statistics: each channel comes out standardised.
  EXPECT_NEAR(y.mean({0, 2, 3})[0].item<double>(), 0, 1e-4);
  EXPECT_NEAR(y.std({0, 2, 3}, false)[1].item<double>(), 1, 1e-3);
  ASSERT_EQ((*net)->buffers().size(), 2u);
  at::Tensor want_mean = 0.1 * in.mean({0, 2, 3});
  ExpectClose((*net)->buffers()[0], want_mean);
}

TEST(Ops, LayerAndInstanceNormalization) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 4});
  int ln =
      b.Node(Op::LayerNormalization, {x, b.Param("g", {4}), b.Param("be", {4})}, {{"axis", I(-1)}});
  b.Node(Op::InstanceNormalization, {ln, b.Param("s", {3}), b.Param("t", {3})});
  at::Tensor in = at::randn({2, 3, 4});
  at::Tensor want =
      at::instance_norm(at::layer_norm(in, {4}), {}, {}, {}, {}, true, 0.1, 1e-5, false);
  ExpectClose(RunGraph(b, in).detach(), want);
}

TEST(Ops, ActivationsIncludingClipWithIntegerBounds) {
  GraphBuilder b;
  int x = b.Input("x", {2, 8});
  int lo = IntScalar(b, "lo", 0);
  int hi = IntScalar(b, "hi", 6);
  int c = b.Node(Op::Clip, {x, lo, hi});
  int l = b.Node(Op::LeakyRelu, {c}, {{"alpha", F(0.2)}});
  int hs = b.Node(Op::HardSigmoid, {l});
  int sm = b.Node(Op::Softmax, {hs}, {{"axis", I(1)}});
  b.Node(Op::Selu, {sm});
  at::Tensor in = at::randn({2, 8}) * 5;
  at::Tensor t = at::clamp(in, 0, 6);
  t = at::leaky_relu(t, 0.2);
  t = at::clamp(t * 0.2 + 0.5, 0, 1);
  t = at::softmax(t, 1);
  t = at::selu(t);
  ExpectClose(RunGraph(b, in).detach(), t);
}

TEST(Ops, ReductionsAndGlobalPools) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 4, 5});
  int gap = b.Node(Op::GlobalAveragePool, {x});
  int gmp = b.Node(Op::GlobalMaxPool, {x});
  int sum = b.Node(Op::Add, {gap, gmp});
  int rs = b.Node(Op::ReduceSum, {sum, b.Ints("axes", {2, 3})}, {{"keepdims", I(0)}});
  b.Node(Op::ReduceMax, {rs}, {{"axes", Is({1})}, {"keepdims", I(1)}});
  at::Tensor in = at::randn({2, 3, 4, 5});
  at::Tensor want = (in.mean({2, 3}) + in.amax({2, 3})).amax({1}, true);
  ExpectClose(RunGraph(b, in).detach(), want);
}

TEST(Ops, SplitConcatAndTranspose) {
  GraphBuilder b;
  int x = b.Input("x", {2, 6, 3});
  int s0 = b.Node(Op::Split, {x, b.Ints("split", {2, 4})}, {{"axis", I(1)}}, 2);
  int cat = b.Node(Op::Concat, {s0 + 1, s0}, {{"axis", I(-2)}});
  b.Node(Op::Transpose, {cat}, {{"perm", Is({0, 2, 1})}});
  at::Tensor in = at::randn({2, 6, 3});
  at::Tensor want = at::cat({in.narrow(1, 2, 4), in.narrow(1, 0, 2)}, 1).permute({0, 2, 1});
  ExpectClose(RunGraph(b, in).detach(), want);
}

TEST(Ops, PadModes) {
  at::Tensor in = at::arange(12, at::kFloat).reshape({1, 1, 3, 4});
  for (const char* mode : {"constant", "reflect", "edge"}) {
    GraphBuilder b;
    int x = b.Input("x", {1, 1, 3, 4});
    b.Node(Op::Pad, {x, b.Ints("pads", {0, 0, 1, 2, 0, 0, 0, 1})}, {{"mode", S(mode)}});
    at::Tensor y = RunGraph(b, in);
    ASSERT_TRUE(y.defined()) << mode;
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 4, 7})) << mode;
    std::string m = mode;
    at::Tensor want = m == "constant"  ? at::constant_pad_nd(in, {2, 1, 1, 0}, 0)
                      : m == "reflect" ? at::reflection_pad2d(in, {2, 1, 1, 0})
                                       : at::replication_pad2d(in, {2, 1, 1, 0});
    ExpectClose(y, want);
  }
}

TEST(Ops, ResizeNearestBySizes) {
  GraphBuilder b;
  int x = b.Input("x", {1, 2, 2, 3});
  b.Node(Op::Resize, {x, -1, -1, b.Ints("sizes", {1, 2, 4, 6})}, {{"mode", S("nearest")}});
  at::Tensor in = at::randn({1, 2, 2, 3});
  at::Tensor want = in.repeat_interleave(2, 2).repeat_interleave(2, 3);
  ExpectClose(RunGraph(b, in), want);
}

TEST(Ops, ReshapeFlattenSqueezeUnsqueezeExpandTile) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 4});
  int r = b.Node(Op::Reshape, {x, b.Ints("shape", {0, -1, 2})});  // [2, 6, 2]
  int f = b.Node(Op::Flatten, {r}, {{"axis", I(2)}});             // [12, 2]
  int u = b.Node(Op::Unsqueeze, {f, b.Ints("axes", {1})});        // [12, 1, 2]
  int e = b.Node(Op::Expand, {u, b.Ints("shape", {1, 3, 1})});    // [12, 3, 2]
  int t = b.Node(Op::Tile, {e, b.Ints("repeats", {1, 1, 2})});    // [12, 3, 4]
  int s = b.Node(Op::Slice, {t, b.Ints("starts", {0}), b.Ints("ends", {1}), b.Ints("ax", {1})});
  b.Node(Op::Squeeze, {s, b.Ints("axes2", {1})});  // [12, 4]
  at::Tensor in = at::randn({2, 3, 4});
  at::Tensor want = in.reshape({12, 2}).repeat({1, 2});
  ExpectClose(RunGraph(b, in), want);
}

TEST(Ops, SliceWithNegativeStepAndGather) {
  GraphBuilder b;
  int x = b.Input("x", {2, 6});
  int s = b.Node(Op::Slice, {x, b.Ints("starts", {-1}), b.Ints("ends", {-100}), b.Ints("axes", {1}),
                             b.Ints("steps", {-2})});                    // cols 5, 3, 1
  b.Node(Op::Gather, {s, b.Ints("idx", {2, -3, 0})}, {{"axis", I(1)}});  // cols 1, 5, 5
  at::Tensor in = at::randn({2, 6});
  at::Tensor want = at::stack({in.select(1, 1), in.select(1, 5), in.select(1, 5)}, 1);
  ExpectClose(RunGraph(b, in), want);
}

TEST(Ops, ElementwiseBroadcastingWithParameters) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 4});
  int w = b.Param("w", {4, 5});
  int mm = b.Node(Op::MatMul, {x, w});
  int bias = b.Param("bias", {5});
  int add = b.Node(Op::Add, {mm, bias});
  int scale = b.Param("scale", {1, 1, 5});
  int mul = b.Node(Op::Mul, {add, scale});
  int mx = b.Node(Op::Max, {mul, b.Node(Op::Neg, {mul})});
  b.Node(Op::Sqrt, {mx});
  auto net = Build(b);
  ASSERT_TRUE(net.ok()) << net.status().message();
  const auto& p = (*net)->parameters();
  // Linear-style bias: U(+-1/sqrt(4)); the scale starts at one.
  EXPECT_LE(p[1].abs().max().item<double>(), 0.5);
  EXPECT_TRUE(at::all(p[2] == 1).item<bool>());
  at::Tensor in = at::randn({2, 3, 4});
  at::Tensor want = ((at::matmul(in, p[0]) + p[1]) * p[2]).abs().sqrt().detach();
  ExpectClose((*net)->Forward(in).detach(), want);
}

TEST(Ops, DropoutTrainsUnlessTrainingModeIsFalse) {
  for (int64_t mode : {1, 0}) {
    GraphBuilder b;
    int x = b.Input("x", {64, 64});
    int m = IntScalar(b, "mode", mode, DType::boolean);
    b.Node(Op::Dropout, {x, -1, m});
    at::Tensor in = at::ones({64, 64});
    at::Tensor y = RunGraph(b, in);
    ASSERT_TRUE(y.defined());
    double zeros = (y == 0).to(at::kFloat).mean().item<double>();
    if (mode) {
      EXPECT_NEAR(zeros, 0.5, 0.05);
    } else {
      EXPECT_EQ(zeros, 0);
    }
  }
}

TEST(Ops, FoldedShapePlumbingIsNotRun) {
  // Reshape's target comes from Shape -> Gather -> Concat, all folded by shape inference.
  GraphBuilder b;
  testing::FlattenThroughShapePlumbing(b, b.Input("x", {2, 3, 4}));
  at::Tensor in = at::randn({2, 3, 4});
  ExpectClose(RunGraph(b, in), in.reshape({2, 12}));
}

// GroupNormalization per channel (opset 21) and per group (18) against the formula by hand and
// against libtorch's own group_norm, with the analyzer's parameter count.
TEST(Ops, GroupNormalizationPerChannelAndPerGroup) {
  const int64_t channels = 6, groups = 3;
  for (int64_t per : {channels, groups}) {
    GraphBuilder b;
    int x = b.Input("x", {2, channels, 3, 4});
    b.Node(Op::GroupNormalization, {x, b.Param("scale", {per}), b.Param("bias", {per})},
           {{"num_groups", I(groups)}, {"epsilon", F(1e-3)}});
    auto net = Build(b);
    ASSERT_TRUE(net.ok()) << net.status().message();
    EXPECT_EQ((*net)->parameter_count(), 2 * per);
    Result<ModelCost> cost = ComputeCosts(b.g);
    ASSERT_TRUE(cost.ok()) << cost.status().message();
    EXPECT_EQ((*net)->parameter_count(), cost->params.value());
    const auto& p = (*net)->parameters();
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(at::all(p[0] == 1).item<bool>() && at::all(p[1] == 0).item<bool>()) << per;
    p[0].detach().copy_(at::randn({per}));
    p[1].detach().copy_(at::randn({per}));
    const int64_t r = channels / per;
    at::Tensor w = p[0].detach().repeat_interleave(r).requires_grad_(true);
    at::Tensor bias = p[1].detach().repeat_interleave(r).requires_grad_(true);
    at::Tensor in = at::randn({2, channels, 3, 4}) * 3 + 1, probe = at::randn({2, channels, 3, 4});
    at::Tensor g = in.reshape({2, groups, -1}), c = g - g.mean({2}, true);
    at::Tensor want = (c / at::sqrt((c * c).mean({2}, true) + 1e-3)).reshape(in.sizes()) *
                          w.reshape({1, -1, 1, 1}) +
                      bias.reshape({1, -1, 1, 1});
    at::Tensor got = (*net)->Forward(in);
    ExpectClose(got.detach(), want.detach());
    ExpectClose(got.detach(), at::group_norm(in, groups, w.detach(), bias.detach(), 1e-3));
    (got * probe).sum().backward();
    (want * probe).sum().backward();
    ExpectClose(p[0].grad(), w.grad().reshape({per, r}).sum(1));  // Summed over each group.
    ExpectClose(p[1].grad(), bias.grad().reshape({per, r}).sum(1));
  }
}

// Beyond the table's static_assert, every op built on a node without inputs whose output is the
// graph's: only Unknown is unknown, and exactly the plumbing ops are not run (so that output has
// no value); every other builder fails on the missing input.
TEST(BuilderTable, OnlyUnknownIsUnknownAndExactlyThePlumbingIsNotRun) {
  for (const OpSpec& spec : AllOps()) {
    GraphBuilder b;
    b.Input("x", {2, 3});
    b.g.outputs.push_back(b.Node(spec.op, {}));
    ASSERT_TRUE(b.g.Finalize().ok()) << spec.name;
    auto net = TorchNetwork::Build(b.g);
    ASSERT_FALSE(net.ok()) << spec.name;
    const std::string& m = net.status().message();
    EXPECT_EQ(m.find("op not modelled") != std::string::npos, spec.op == Op::Unknown) << m;
    EXPECT_EQ(m.find("has no value the network computes") != std::string::npos, spec.has(kPlumbing))
        << m;
    if (spec.op != Op::Unknown && !spec.has(kPlumbing)) {
      EXPECT_NE(m.find("input"), std::string::npos) << m;
    }
  }
}

}  // namespace
}  // namespace joulecast
