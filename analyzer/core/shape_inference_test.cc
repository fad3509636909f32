#include "analyzer/core/shape_inference.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "analyzer/core/test_graph_builder.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;
using testing::I;
using testing::Is;
using testing::S;
using Dims = std::vector<int64_t>;

// Finalizes and infers, failing the test on any diagnostic.
void Infer(Graph& g) {
  ASSERT_TRUE(g.Finalize().ok());
  auto d = InferShapes(g);
  ASSERT_TRUE(d.empty()) << d[0].message;
}

// Finalizes and infers, expecting exactly one diagnostic, whose message holds each of `expected`.
void ExpectOneDiagnostic(Graph& g, std::initializer_list<std::string> expected) {
  ASSERT_TRUE(g.Finalize().ok());
  auto d = InferShapes(g);
  ASSERT_EQ(d.size(), 1u);
  for (const std::string& e : expected) {
    EXPECT_NE(d[0].message.find(e), std::string::npos) << d[0].message;
  }
}

TEST(ShapeInference, ConvWithPadsStridesDilationGroups) {
  GraphBuilder b;
  int x = b.Input("x", {2, 8, 32, 30});
  int w = b.Param("w", {16, 4, 3, 3});
  int y = b.Node(Op::Conv, {x, w}, {{"group", I(2)}, {"strides", Is({2, 1})},
                                     {"dilations", Is({1, 2})}, {"pads", Is({1, 0, 1, 0})}});
  Infer(b.g);
  // H: (32 + 2 - 3) / 2 + 1 = 16; W: (30 - 5) / 1 + 1 = 26.
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{2, 16, 16, 26}));
  EXPECT_TRUE(b.g.tensors[y].batched);
}

TEST(ShapeInference, ConvAutoPadSameUpper) {
  GraphBuilder b;
  int x = b.Input("x", {1, 3, 15, 15});
  int w = b.Param("w", {4, 3, 3, 3});
  int y = b.Node(Op::Conv, {x, w}, {{"strides", Is({2, 2})}, {"auto_pad", S("SAME_UPPER")}});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{1, 4, 8, 8}));
}

TEST(ShapeInference, ConvChannelMismatchNamesNode) {
  GraphBuilder b;
  int x = b.Input("x", {1, 3, 8, 8});
  int w = b.Param("w", {4, 5, 3, 3});
  b.Node(Op::Conv, {x, w});
  ExpectOneDiagnostic(b.g, {"node 'Conv_0' (Conv)", "channels"});
}

TEST(ShapeInference, ConvTransposeDoublesResolution) {
  GraphBuilder b;
  int x = b.Input("x", {1, 8, 7, 7});
  int w = b.Param("w", {8, 4, 4, 4});
  int y = b.Node(Op::ConvTranspose, {x, w}, {{"strides", Is({2, 2})}, {"pads", Is({1, 1, 1, 1})}});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{1, 4, 14, 14}));
}

TEST(ShapeInference, PoolCeilModeDropsWindowStartingInPadding) {
  GraphBuilder b;
  int x = b.Input("x", {1, 64, 112, 112});
  int y = b.Node(Op::MaxPool, {x}, {{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})},
                                     {"ceil_mode", I(1)}});
  int z = b.Node(Op::AveragePool, {x}, {{"kernel_shape", Is({2, 2})}, {"strides", Is({2, 2})},
                                         {"pads", Is({1, 1, 1, 1})}, {"ceil_mode", I(1)}});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{1, 64, 56, 56}));  // ceil(109/2)+1 = 56, as PyTorch
  EXPECT_EQ(b.g.tensors[z].dims, (Dims{1, 64, 57, 57}));  // last window would start in padding
}

TEST(ShapeInference, KernelLargerThanInputIsAnError) {
  GraphBuilder b;
  int x = b.Input("x", {1, 1, 2, 2});
  b.Node(Op::MaxPool, {x}, {{"kernel_shape", Is({3, 3})}});
  ExpectOneDiagnostic(b.g, {"does not fit"});
}

TEST(ShapeInference, ShapePlumbingFoldsThroughDivIntoReshape) {
  // The channel shuffle of ShuffleNetV2 as torch exports it with a dynamic batch.
  GraphBuilder b;
  int x = b.Input("x", {4, 116, 28, 28});
  int shape = b.Node(Op::Shape, {x});
  int n = b.Node(Op::Gather, {shape, b.Ints("i0", {0})});
  int c = b.Node(Op::Gather, {shape, b.Ints("i1", {1})});
  int cpg = b.Node(Op::Div, {c, b.Ints("groups", {2})});
  int target = b.Node(Op::Concat, {n, b.Ints("g", {2}), cpg, b.Ints("hw", {28, 28})},
                      {{"axis", I(0)}});
  int y = b.Node(Op::Reshape, {x, target});
  int t = b.Node(Op::Transpose, {y}, {{"perm", Is({0, 2, 1, 3, 4})}});
  int back = b.Node(Op::Reshape, {t, b.Ints("flat", {4, -1, 28, 28})});
  Infer(b.g);
  EXPECT_EQ(*b.g.tensors[target].int_values, (Dims{4, 2, 58, 28, 28}));
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{4, 2, 58, 28, 28}));
  EXPECT_EQ(b.g.tensors[t].dims, (Dims{4, 58, 2, 28, 28}));
  EXPECT_EQ(b.g.tensors[back].dims, (Dims{4, 116, 28, 28}));
  EXPECT_TRUE(b.g.tensors[back].batched);
}

TEST(ShapeInference, ReshapeCopiesZeroAndInfersMinusOne) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3, 4, 5});
  int y = b.Node(Op::Reshape, {x, b.Ints("s", {0, -1})});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{2, 60}));
}

TEST(ShapeInference, ReshapeWithWrongElementCountFails) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  b.Node(Op::Reshape, {x, b.Ints("s", {4, 2})});
  ExpectOneDiagnostic(b.g, {"8 elements but the input has 6"});
}

TEST(ShapeInference, UnknownValuesStopInferenceWithoutError) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  int o = b.Node(Op::Unknown, {x});
  int y = b.Node(Op::Reshape, {x, o});
  int z = b.Node(Op::Relu, {y});
  Infer(b.g);
  EXPECT_FALSE(b.g.tensors[y].shape_known);
  EXPECT_FALSE(b.g.tensors[z].shape_known);
}

TEST(ShapeInference, MatMulBroadcastsBatchDims) {
  GraphBuilder b;
  int x = b.Input("x", {8, 1, 5, 6});
  int w = b.Param("w", {3, 6, 7});
  int y = b.Node(Op::MatMul, {x, w});
  int v = b.Node(Op::MatMul, {x, b.Param("v", {6})});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{8, 3, 5, 7}));
  EXPECT_EQ(b.g.tensors[v].dims, (Dims{8, 1, 5}));
}

TEST(ShapeInference, GemmInnerMismatchFails) {
  GraphBuilder b;
  int x = b.Input("x", {2, 10});
  b.Node(Op::Gemm, {x, b.Param("w", {5, 11})}, {{"transB", I(1)}});
  ExpectOneDiagnostic(b.g, {"inner dimensions differ: 10 vs 11"});
}

TEST(ShapeInference, SliceSplitConcatSqueezeUnsqueeze) {
  GraphBuilder b;
  int x = b.Input("x", {2, 10, 6});
  int s = b.Node(Op::Slice, {x, b.Ints("st", {1}), b.Ints("en", {INT64_MAX}), b.Ints("ax", {1}),
                             b.Ints("sp", {3})});
  int parts = b.Node(Op::Split, {x, b.Ints("split", {4, 6})}, {{"axis", I(1)}}, 2);
  int cat = b.Node(Op::Concat, {parts, x}, {{"axis", I(1)}});
  int u = b.Node(Op::Unsqueeze, {x, b.Ints("ua", {0, -1})});
  int q = b.Node(Op::Squeeze, {u, b.Ints("qa", {0})});
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[s].dims, (Dims{2, 3, 6}));  // 1, 4, 7
  EXPECT_EQ(b.g.tensors[parts].dims, (Dims{2, 4, 6}));
  EXPECT_EQ(b.g.tensors[parts + 1].dims, (Dims{2, 6, 6}));
  EXPECT_EQ(b.g.tensors[cat].dims, (Dims{2, 14, 6}));
  EXPECT_EQ(b.g.tensors[u].dims, (Dims{1, 2, 10, 6, 1}));
  EXPECT_EQ(b.g.tensors[q].dims, (Dims{2, 10, 6, 1}));
}

TEST(ShapeInference, AbsurdDimensionsAreAnErrorNotAnAllocation) {
  GraphBuilder b;
  int x = b.Input("x", {1, 1 << 20});
  b.Node(Op::Expand, {x, b.Ints("s", {int64_t{1} << 40, 1 << 20})});
  ExpectOneDiagnostic(b.g, {"absurd"});
}

TEST(ShapeInference, MissingRequiredInputIsAnErrorNotACrash) {
  GraphBuilder b;
  int x = b.Input("x", {2, 3});
  b.Node(Op::Div, {x});
  b.Node(Op::Conv, {x, -1});
  ASSERT_TRUE(b.g.Finalize().ok());
  auto d = InferShapes(b.g);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NE(d[0].message.find("(Div): needs at least 2 inputs; input 1 is missing"),
            std::string::npos) << d[0].message;
  EXPECT_NE(d[1].message.find("(Conv): needs at least 2 inputs"), std::string::npos);
}

TEST(ShapeInference, KeepsShapesTheFrontEndAlreadyKnows) {
  GraphBuilder b;
  int x = b.Input("x", {1, 3});
  int y = b.Node(Op::Relu, {x});
  b.g.tensors[y].dims = {1, 3};
  b.g.tensors[y].shape_known = true;
  Infer(b.g);
  EXPECT_EQ(b.g.tensors[y].dims, (Dims{1, 3}));
}

TEST(ShapeInference, ShapeStringShowsSymbolicBatch) {
  GraphBuilder b;
  int x = b.Input("x", {1, 3, 8, 8});
  b.g.batch_symbolic = true;
  EXPECT_EQ(ShapeString(b.g, b.g.tensors[x]), "N\xC3\x97" "3\xC3\x97" "8\xC3\x97" "8");
  b.g.batch_symbolic = false;
  EXPECT_EQ(ShapeString(b.g, b.g.tensors[x]), "1\xC3\x97" "3\xC3\x97" "8\xC3\x97" "8");
}

}  // namespace
}  // namespace joulecast
