#include "analyzer/energy/predict.h"

#include <gtest/gtest.h>

#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;
using testing::Is;

ModelCost ConvRelu(Graph& g) {
  EXPECT_TRUE(g.Finalize().ok());
  EXPECT_TRUE(InferShapes(g).empty());
  auto c = ComputeCosts(g);
  EXPECT_TRUE(c.ok());
  return *c;
}

TEST(Predict, SumsLinearModelsPerLayerKindAndStep) {
  GraphBuilder b;
  int x = b.Input("x", {2, 1, 4, 4});
  int c = b.Node(Op::Conv, {x, b.Param("w", {3, 1, 3, 3})}, {{"pads", Is({1, 1, 1, 1})}});
  int r = b.Node(Op::Relu, {c});
  b.Node(Op::Sigmoid, {r});
  ModelCost cost = ConvRelu(b.g);
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
  GraphBuilder b;
  int x = b.Input("x", {2, 4, 4, 4});
  int c = b.Node(Op::Conv, {x, b.Param("w", {4, 1, 3, 3})}, {{"group", testing::I(4)}});
  b.Node(Op::Tanh, {c});
  ModelCost cost = ConvRelu(b.g);
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

}  // namespace
}  // namespace joulecast
