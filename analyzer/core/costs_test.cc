#include "analyzer/core/costs.h"

#include <gtest/gtest.h>

#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;
using testing::I;
using testing::Is;

ModelCost Costs(Graph& g) {
  EXPECT_TRUE(g.Finalize().ok());
  auto d = InferShapes(g);
  EXPECT_TRUE(d.empty()) << d[0].message;
  auto r = ComputeCosts(g);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : ModelCost{};
}

const LayerCost& LayerOf(const ModelCost& mc, const Graph& g, Op op, int nth = 0) {
  for (const LayerCost& lc : mc.layers) {
    if (g.nodes[lc.node].op == op && nth-- == 0) return lc;
  }
  throw std::runtime_error("no such layer");
}

// conv(1->6, 5x5, pad 2) -> relu -> conv(6->16, 5x5) -> flatten -> gemm(16*24*24 -> 10), batch 4.
struct SmallCnn {
  GraphBuilder b;
  SmallCnn() {
    int x = b.Input("x", {4, 1, 28, 28});
    int c1 = b.Node(Op::Conv, {x, b.Param("w1", {6, 1, 5, 5}), b.Param("b1", {6})},
                    {{"pads", Is({2, 2, 2, 2})}});
    int r = b.Node(Op::Relu, {c1});
    int c2 = b.Node(Op::Conv, {r, b.Param("w2", {16, 6, 5, 5}), b.Param("b2", {16})});
    int f = b.Node(Op::Flatten, {c2});
    b.Node(Op::Gemm, {f, b.Param("w3", {10, 16 * 24 * 24}), b.Param("b3", {10})},
           {{"transB", I(1)}});
  }
};

TEST(Costs, ConvAndGemmMacsAreExact) {
  SmallCnn m;
  ModelCost mc = Costs(m.b.g);
  const auto& c1 = LayerOf(mc, m.b.g, Op::Conv, 0);
  const auto& c2 = LayerOf(mc, m.b.g, Op::Conv, 1);
  const auto& fc = LayerOf(mc, m.b.g, Op::Gemm);
  EXPECT_EQ(c1.work.macs_fwd.value(), 4 * 6 * 28 * 28 * 25);
  EXPECT_EQ(c2.work.macs_fwd.value(), 4 * 16 * 24 * 24 * 6 * 25);
  EXPECT_EQ(fc.work.macs_fwd.value(), 4 * 10 * 16 * 24 * 24);
  EXPECT_EQ(mc.total.macs_fwd.value(),
            c1.work.macs_fwd.value() + c2.work.macs_fwd.value() + fc.work.macs_fwd.value());
  EXPECT_DOUBLE_EQ(mc.PerSample(mc.total.macs_fwd), mc.total.macs_fwd.value() / 4.0);
}

TEST(Costs, LayerFedByGraphInputComputesNoInputGradient) {
  SmallCnn m;
  ModelCost mc = Costs(m.b.g);
  const auto& c1 = LayerOf(mc, m.b.g, Op::Conv, 0);
  const auto& c2 = LayerOf(mc, m.b.g, Op::Conv, 1);
  EXPECT_EQ(c1.work.macs_bwd_input.value(), 0);
  EXPECT_EQ(c1.work.macs_bwd_weight.value(), c1.work.macs_fwd.value());
  EXPECT_EQ(c2.work.macs_bwd_input.value(), c2.work.macs_fwd.value());
  EXPECT_EQ(c2.work.macs_bwd_weight.value(), c2.work.macs_fwd.value());
}

TEST(Costs, ParametersCountedOnceAndKindsSummarised) {
  SmallCnn m;
  ModelCost mc = Costs(m.b.g);
  int64_t expected = 6 * 25 + 6 + 16 * 6 * 25 + 16 + 10 * 16 * 24 * 24 + 10;
  EXPECT_EQ(mc.params.value(), expected);
  EXPECT_EQ(mc.param_bytes.value(), 4 * expected);
  EXPECT_EQ(mc.adam_state_bytes.value(), 8 * expected);
  const auto& conv = mc.by_kind[static_cast<int>(Kind::conv)];
  EXPECT_EQ(conv.layers, 2);
  EXPECT_EQ(conv.params.value(), 6 * 25 + 6 + 16 * 6 * 25 + 16);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::relu)].layers, 1);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::shape)].layers, 1);  // Flatten
  EXPECT_TRUE(mc.unmodelled.empty());
}

TEST(Costs, SavedActivationsCountSharedTensorsOnce) {
  SmallCnn m;
  ModelCost mc = Costs(m.b.g);
  // Saved: x (conv1 needs it for its weight gradient), relu's output (read by relu's backward
  // and conv2's), flatten's output for the gemm. conv1's output is not kept (relu keeps its own).
  int64_t x = 4 * 28 * 28, relu = 4 * 6 * 28 * 28, flat = 4 * 16 * 24 * 24;
  EXPECT_EQ(mc.total.saved_bytes.value(), 4 * (x + relu + flat));
}

TEST(Costs, BatchNormRunningStatsAreBuffers) {
  GraphBuilder b;
  int x = b.Input("x", {2, 8, 4, 4});
  b.Node(Op::BatchNormalization, {x, b.Param("s", {8}), b.Param("bias", {8}), b.Buffer("m", {8}),
                                  b.Buffer("v", {8})}, {}, 3);
  ModelCost mc = Costs(b.g);
  EXPECT_EQ(mc.params.value(), 16);
  EXPECT_EQ(mc.buffers.value(), 16);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::norm)].layers, 1);
  // Its statistics are per channel: time models see its channels.
  EXPECT_EQ(mc.layers.at(0).in_channels, 8);
  EXPECT_EQ(mc.layers.at(0).gemm_n, 0);
}

TEST(Costs, UnknownOpIsListedNotSilentlyZero) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4});
  int u = b.Node(Op::Unknown, {x});
  b.g.nodes.back().op_type = "MyCustomOp";
  b.Node(Op::Relu, {u});
  ModelCost mc = Costs(b.g);
  ASSERT_EQ(mc.unmodelled.size(), 2u);  // the op itself, and the relu whose shape it hides
  EXPECT_EQ(mc.layers[mc.unmodelled[0]].why_unmodelled, "op not modelled");
  EXPECT_EQ(mc.layers[mc.unmodelled[1]].why_unmodelled, "input shape unknown");
  EXPECT_EQ(mc.layers[mc.unmodelled[0]].kind, Kind::other);
}

TEST(Costs, ShapePlumbingCostsNothing) {
  GraphBuilder b;
  testing::FlattenThroughShapePlumbing(b, b.Input("x", {2, 3, 4}));
  ModelCost mc = Costs(b.g);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::shape)].layers, 4);
  EXPECT_EQ(mc.total.elements_fwd.value(), 0);
}

TEST(Costs, MatMulOfTwoActivationsHasTwoInputGradients) {
  GraphBuilder b;
  int x = b.Input("x", {2, 5, 6});
  int a = b.Node(Op::MatMul, {x, b.Param("w", {6, 6})});
  int t = b.Node(Op::Transpose, {a}, {{"perm", Is({0, 2, 1})}});
  b.Node(Op::MatMul, {a, t});
  ModelCost mc = Costs(b.g);
  const auto& mm = LayerOf(mc, b.g, Op::MatMul, 1);
  EXPECT_EQ(mm.work.macs_fwd.value(), 2 * 5 * 5 * 6);
  EXPECT_EQ(mm.work.macs_bwd_input.value(), 2 * mm.work.macs_fwd.value());
  EXPECT_EQ(mm.work.macs_bwd_weight.value(), 0);
}

TEST(Costs, DecomposedLayerNormCountsAsNorm) {
  GraphBuilder b;
  int x = b.Input("x", {2, 7, 7, 96});
  int axes = b.Ints("axes", {-1});
  (void)axes;
  int mean = b.Node(Op::ReduceMean, {x}, {{"axes", Is({-1})}});
  int d = b.Node(Op::Sub, {x, mean});
  int two = b.Param("two", {});  // stands in for the constant exponent
  b.g.tensors[two].role = Role::constant;
  int p = b.Node(Op::Pow, {d, two});
  int var = b.Node(Op::ReduceMean, {p}, {{"axes", Is({-1})}});
  int eps = b.Param("eps", {});
  b.g.tensors[eps].role = Role::constant;
  int ve = b.Node(Op::Add, {var, eps});
  int sd = b.Node(Op::Sqrt, {ve});
  int y = b.Node(Op::Div, {d, sd});
  int g = b.Node(Op::Mul, {y, b.Param("gamma", {96})});
  b.Node(Op::Add, {g, b.Param("beta", {96})});
  ModelCost mc = Costs(b.g);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::norm)].layers, 9);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::elementwise)].layers, 0);
  EXPECT_EQ(mc.by_kind[static_cast<int>(Kind::norm)].params.value(), 192);
}

TEST(Costs, OverflowIsAnErrorNamingTheNode) {
  GraphBuilder b;
  int x = b.Input("x", {int64_t{1} << 22, 1 << 22});
  b.Node(Op::Gemm, {x, b.Param("w", {1 << 22, 1 << 22})});
  ASSERT_TRUE(b.g.Finalize().ok());
  InferenceOptions lax;
  lax.max_tensor_elements = INT64_MAX;
  ASSERT_TRUE(InferShapes(b.g, lax).empty());
  auto r = ComputeCosts(b.g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 'Gemm_0' (Gemm)"), std::string::npos);
  EXPECT_NE(r.status().message().find("overflows"), std::string::npos);
}

}  // namespace
}  // namespace joulecast
