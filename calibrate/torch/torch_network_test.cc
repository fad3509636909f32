#include "calibrate/torch/torch_network.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"
#include "analyzer/load_model.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;
using testing::I;
using testing::Is;
using testing::S;

Attr F(double v) {
  Attr a;
  a.type = Attr::Type::real;
  a.f = v;
  return a;
}

std::string ModelPath(const std::string& name) {
  return std::string(JOULECAST_SOURCE_DIR) + "/models/" + name + ".json";
}

// Finalizes and infers the builder's graph, its output being the last node's first, then
// builds it.
Result<std::unique_ptr<TorchNetwork>> Build(GraphBuilder& b) {
  if (b.g.outputs.empty()) b.g.outputs.push_back(b.g.nodes.back().outputs[0]);
  Status s = b.g.Finalize();
  EXPECT_TRUE(s.ok()) << s.message();
  auto d = InferShapes(b.g);
  EXPECT_TRUE(d.empty()) << d[0].message;
  return TorchNetwork::Build(b.g);
}

// Builds and runs the graph on `x`; returns the first output (undefined on failure).
at::Tensor RunGraph(GraphBuilder& b, const at::Tensor& x) {
  auto net = Build(b);
  EXPECT_TRUE(net.ok()) << net.status().message();
  if (!net.ok()) return at::Tensor();
  return (*net)->Forward(x);
}

void ExpectClose(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_TRUE(got.defined());
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5))
      << "max difference " << (got - want).abs().max().item<double>();
}

// ---- Whole models from models/*.json ------------------------------------------------------

class JsonModel : public ::testing::TestWithParam<const char*> {};

TEST_P(JsonModel, BuildsRunsAndHasTheAnalyzersParameterCount) {
  LoadOptions lo;
  lo.batch = 4;
  Result<Graph> g = LoadModel(ModelPath(GetParam()), lo);
  ASSERT_TRUE(g.ok()) << g.status().message();
  Result<ModelCost> cost = ComputeCosts(*g);
  ASSERT_TRUE(cost.ok()) << cost.status().message();
  auto net = TorchNetwork::Build(*g);
  ASSERT_TRUE(net.ok()) << net.status().message();
  EXPECT_EQ((*net)->parameter_count(), cost->params.value());
  int64_t counted = 0;
  for (const at::Tensor& p : (*net)->parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
    counted += p.numel();
  }
  EXPECT_EQ(counted, cost->params.value());

  std::vector<int64_t> in = (*net)->input_dims();
  ASSERT_EQ(in[0], 4);
  at::Tensor y = (*net)->Forward(at::randn(in));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 10}));
  EXPECT_TRUE(at::isfinite(y).all().item<bool>());
  // Gradients reach every parameter.
  y.sum().backward();
  for (size_t i = 0; i < (*net)->parameters().size(); ++i) {
    EXPECT_TRUE((*net)->parameters()[i].grad().defined()) << (*net)->parameter_names()[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Models, JsonModel,
                         ::testing::Values("lenet5", "simplecnn", "simplecnn2", "densepolynn",
                                           "denselinearnn", "resnet_small", "mobilenet_small",
                                           "inception_small", "vgg_small"));

TEST(TorchNetwork, InitialisationFollowsPyTorchDefaults) {
  LoadOptions lo;
  lo.batch = 2;
  Result<Graph> g = LoadModel(ModelPath("resnet_small"), lo);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto net = TorchNetwork::Build(*g);
  ASSERT_TRUE(net.ok()) << net.status().message();
  const auto& names = (*net)->parameter_names();
  const auto& params = (*net)->parameters();
  bool saw_conv = false, saw_bn = false, saw_fc = false;
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor p = params[i].detach();
    if (p.dim() == 4) {  // Conv weight [out, in, k, k]: U(+-1/sqrt(in*k*k)).
      double bound = 1 / std::sqrt(static_cast<double>(p.size(1) * p.size(2) * p.size(3)));
      EXPECT_LE(p.abs().max().item<double>(), bound) << names[i];
      EXPECT_NEAR(p.std().item<double>(), bound / std::sqrt(3.0), bound * 0.15) << names[i];
      saw_conv = true;
    } else if (names[i].find("batchnorm") != std::string::npos) {
      double want = names[i].find("weight") != std::string::npos ? 1.0 : 0.0;
      EXPECT_TRUE(at::all(p == want).item<bool>()) << names[i];
      saw_bn = true;
    } else if (p.dim() == 2) {  // Linear [10, 64].
      EXPECT_LE(p.abs().max().item<double>(), 1 / std::sqrt(64.0)) << names[i];
      saw_fc = true;
    }
  }
  EXPECT_TRUE(saw_conv && saw_bn && saw_fc);
  ASSERT_FALSE((*net)->buffers().empty());  // BatchNorm running statistics.
}

TEST(TorchNetwork, SameSeedSameWeights) {
  LoadOptions lo;
  lo.batch = 2;
  Result<Graph> g = LoadModel(ModelPath("lenet5"), lo);
  ASSERT_TRUE(g.ok());
  NetworkOptions o;
  o.seed = 7;
  auto a = TorchNetwork::Build(*g, o), b = TorchNetwork::Build(*g, o);
  o.seed = 8;
  auto c = TorchNetwork::Build(*g, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(at::equal((*a)->parameters()[0], (*b)->parameters()[0]));
  EXPECT_FALSE(at::equal((*a)->parameters()[0], (*c)->parameters()[0]));
}

TEST(TorchNetwork, WrongInputShapeThrowsNamingTheInput) {
  LoadOptions lo;
  lo.batch = 2;
  Result<Graph> g = LoadModel(ModelPath("lenet5"), lo);
  ASSERT_TRUE(g.ok());
  auto net = TorchNetwork::Build(*g);
  ASSERT_TRUE(net.ok());
  try {
    (*net)->Forward(at::randn({3, 1, 28, 28}));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("must be 2x1x28x28, got 3x1x28x28"), std::string::npos)
        << e.what();
  }
}

// ---- Errors ---------------------------------------------------------------------------------

TEST(TorchNetwork, UnknownOpIsAnErrorNamingNodeAndOpType) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  int u = b.Node(Op::Relu, {x});
  b.g.nodes.back().op = Op::Unknown;
  b.g.nodes.back().op_type = "com.example:Frobnicate";
  b.g.nodes.back().name = "frob";
  b.g.tensors[u].shape_known = true;
  b.g.tensors[u].dims = {2, 3};
  auto net = Build(b);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().message().rfind("node 'frob' (com.example:Frobnicate): ", 0), 0u)
      << net.status().message();
}

TEST(TorchNetwork, FloatConstantWithoutValuesIsAnError) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  int c = b.Buffer("clip_min", {});
  b.Node(Op::Clip, {x, c});
  auto net = Build(b);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("(Clip): Clip's min"), std::string::npos)
      << net.status().message();
  EXPECT_NE(net.status().message().find("'clip_min'"), std::string::npos);
}

TEST(TorchNetwork, FloatConstantsFromTheFrontEndAreUsed) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  int lo = b.Reals("lo", {-0.5});
  int hi = b.Reals("hi", {0.25});
  b.Node(Op::Clip, {x, lo, hi});
  at::Tensor in = at::randn({2, 3}) * 4;
  ExpectClose(RunGraph(b, in).detach(), at::clamp(in, -0.5, 0.25));
}

TEST(TorchNetwork, UnsupportedSecondOutputIsAnError) {
  GraphBuilder b;
  int x = b.Input("x", {1, 1, 4, 4});
  int m = b.Node(Op::MaxPool, {x}, {{"kernel_shape", Is({2, 2})}}, 2);
  b.Node(Op::Add, {m, m + 1});
  auto net = Build(b);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("output 1"), std::string::npos) << net.status().message();
}

// ---- ONNX semantics, op by op -----------------------------------------------------------------

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

TEST(Ops, AveragePoolCountIncludePad) {
  for (int64_t include : {0, 1}) {
    GraphBuilder b;
    int x = b.Input("x", {1, 1, 3, 3});
    b.Node(Op::AveragePool, {x},
           {{"kernel_shape", Is({3, 3})},
            {"pads", Is({1, 1, 1, 1})},
            {"count_include_pad", I(include)}});
    at::Tensor y = RunGraph(b, at::ones({1, 1, 3, 3}));
    ASSERT_TRUE(y.defined());
    EXPECT_NEAR(y[0][0][0][0].item<double>(), include ? 4.0 / 9 : 1.0, 1e-6);
    EXPECT_NEAR(y[0][0][1][1].item<double>(), 1.0, 1e-6);
  }
}

TEST(Ops, AveragePoolWithAsymmetricPads) {
  for (int64_t include : {0, 1}) {
    GraphBuilder b;
    int x = b.Input("x", {1, 1, 3, 3});
    b.Node(Op::AveragePool, {x},
           {{"kernel_shape", Is({2, 2})},
            {"strides", Is({2, 2})},
            {"pads", Is({0, 0, 1, 1})},
            {"count_include_pad", I(include)}});
    at::Tensor in = at::arange(9, at::kFloat).reshape({1, 1, 3, 3});
    at::Tensor y = RunGraph(b, in);
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
  int lo = b.g.AddTensor(
      Tensor{"lo", DType::int64, Role::constant, true, {}, false, std::vector<int64_t>{0}, std::nullopt, -1});
  int hi = b.g.AddTensor(
      Tensor{"hi", DType::int64, Role::constant, true, {}, false, std::vector<int64_t>{6}, std::nullopt, -1});
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
    int m = b.g.AddTensor(Tensor{
        "mode", DType::boolean, Role::constant, true, {}, false, std::vector<int64_t>{mode}, std::nullopt, -1});
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
  int x = b.Input("x", {2, 3, 4});
  int shape = b.Node(Op::Shape, {x});
  int n = b.Node(Op::Gather, {shape, b.Ints("zero", {0})});
  int target = b.Node(Op::Concat, {n, b.Ints("minus_one", {-1})}, {{"axis", I(0)}});
  b.Node(Op::Reshape, {x, target});
  at::Tensor in = at::randn({2, 3, 4});
  ExpectClose(RunGraph(b, in), in.reshape({2, 12}));
}

// ---- Real ONNX exports (the torchvision fixture of tests/, at 64 px) ---------------------------

std::string TorchvisionModel(const char* name) {
  const char* dir = std::getenv("JOULECAST_TORCHVISION_DIR");
  return dir ? std::string(dir) + "/64/" + name + ".onnx" : std::string();
}

class TorchvisionModel64 : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionModel64, BuildsWithTorchvisionsParametersAndTrains) {
  const std::string path = TorchvisionModel(GetParam());
  ASSERT_FALSE(path.empty()) << "set JOULECAST_TORCHVISION_DIR (ctest does) to the export folder";
  LoadOptions lo;
  lo.batch = 2;
  Result<Graph> g = LoadModel(path, lo);
  ASSERT_TRUE(g.ok()) << g.status().message();
  Result<ModelCost> cost = ComputeCosts(*g);
  ASSERT_TRUE(cost.ok()) << cost.status().message();
  auto net = TorchNetwork::Build(*g);
  ASSERT_TRUE(net.ok()) << net.status().message();
  EXPECT_EQ((*net)->parameter_count(), cost->params.value());
  int64_t buffer_elements = 0;
  for (const at::Tensor& b : (*net)->buffers()) buffer_elements += b.numel();
  EXPECT_EQ(buffer_elements, cost->buffers.value());
  at::Tensor y = (*net)->Forward(at::randn({2, 3, 64, 64}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 1000}));
  y.logsumexp(1).sum().backward();
  for (size_t i = 0; i < (*net)->parameters().size(); ++i) {
    EXPECT_TRUE((*net)->parameters()[i].grad().defined()) << (*net)->parameter_names()[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionModel64,
                         ::testing::Values("resnet18", "resnet50", "densenet121", "regnet_y_400mf",
                                           "shufflenet_v2_x1_0", "mobilenet_v2",
                                           "mobilenet_v3_small", "mobilenet_v3_large",
                                           "squeezenet1_0", "googlenet", "efficientnet_b0",
                                           "convnext_tiny"));

}  // namespace
}  // namespace joulecast
