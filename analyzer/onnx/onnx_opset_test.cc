// Opsets and ops newer than the linked ONNX library (Debian 12's libonnx 1.12 knows opsets up to
// 17): read through the IR's own checks and inference. GroupNormalization in its opset 18 form
// (scale and bias per group) and opset 21 form (per channel).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/onnx/onnx_test_parse.h"

namespace joulecast {
namespace {

using namespace onnx_testing;
using Dims = std::vector<int64_t>;

// x [N, 16, 8, 8] -> Conv 3x3 (16 -> 16) -> GroupNormalization(num_groups = 4) -> y, with scale
// and bias of `affine` values each.
onnx::ModelProto GroupNormModel(int64_t opset, int64_t affine, int64_t groups = 4) {
  onnx::ModelProto m = NewModel(opset);
  Input(&m, "x", {kSym, 16, 8, 8});
  FloatInit(&m, "conv.weight", {16, 16, 3, 3});
  FloatInit(&m, "gn.weight", {affine});
  FloatInit(&m, "gn.bias", {affine});
  auto* conv = AddNode(&m, "Conv", {"x", "conv.weight"}, {"c"}, "conv");
  AttrInts(conv, "pads", {1, 1, 1, 1});
  auto* gn = AddNode(&m, "GroupNormalization", {"c", "gn.weight", "gn.bias"}, {"y"}, "gn");
  AttrInt(gn, "num_groups", groups);
  AttrFloat(gn, "epsilon", 1e-5f);
  Output(&m, "y");
  return m;
}

TEST(OnnxOpsets, GroupNormalizationPerGroupAndPerChannel) {
  for (auto [opset, affine] : {std::pair<int64_t, int64_t>{18, 4}, {21, 16}}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    Result<Graph> g = Parse(GroupNormModel(opset, affine), Batch(2));
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(FindNode(*g, "gn").op, Op::GroupNormalization);
    EXPECT_EQ(Find(*g, "gn.weight").role, Role::parameter);
    EXPECT_EQ(Find(*g, "gn.bias").role, Role::parameter);
    EXPECT_EQ(Find(*g, "y").dims, (Dims{2, 16, 8, 8}));
    Result<ModelCost> cost = ComputeCosts(*g);
    ASSERT_TRUE(cost.ok()) << cost.status().message();
    const LayerCost& layer = cost->layers.back();
    EXPECT_TRUE(layer.modelled);
    EXPECT_EQ(ModelClass(layer), "norm.group");
    EXPECT_EQ(layer.params.value(), 2 * affine);
    EXPECT_EQ(layer.work.macs_fwd.value(), 0);
    EXPECT_EQ(layer.work.elements_fwd.value(), 2 * 16 * 8 * 8);
    // Its input (the conv's output) and a float mean and inverse deviation per sample and group.
    EXPECT_EQ(layer.work.saved_bytes.value(), 2 * 16 * 8 * 8 * 4 + 2 * 4 * 2 * 4);
  }
}

TEST(OnnxOpsets, GroupNormalizationErrorsNameTheNode) {
  ExpectError(Parse(GroupNormModel(18, 4, 5)),
              "node 'gn' (GroupNormalization): num_groups 5 does not divide the input's 16 "
              "channels");
  ExpectError(Parse(GroupNormModel(21, 8)),
              "node 'gn' (GroupNormalization): scale has 8 values; it needs one per group (4) or "
              "per channel (16)");
  onnx::ModelProto missing_bias = GroupNormModel(18, 4);
  missing_bias.mutable_graph()->mutable_node(1)->mutable_input()->RemoveLast();
  ExpectError(Parse(missing_bias), "needs at least 3 inputs; input 2 is missing");
}

TEST(OnnxOpsets, Opset18ReductionsAndSplitsReadTheirNewForms) {
  // ReduceMean's axes moved to an input, Split got num_outputs with a smaller last part.
  onnx::ModelProto m = NewModel(18);
  Input(&m, "x", {kSym, 10, 4, 4});
  Int64Init(&m, "axes", {2}, {2, 3});
  auto* split = AddNode(&m, "Split", {"x"}, {"a", "b", "c"}, "split");
  AttrInt(split, "num_outputs", 3);
  AttrInt(split, "axis", 1);
  AddNode(&m, "ReduceMean", {"a", "axes"}, {"y"}, "mean");
  Output(&m, "y");
  Output(&m, "b");
  Output(&m, "c");
  Result<Graph> g = Parse(m, Batch(2));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(Find(*g, "a").dims, (Dims{2, 4, 4, 4}));
  EXPECT_EQ(Find(*g, "b").dims, (Dims{2, 4, 4, 4}));
  EXPECT_EQ(Find(*g, "c").dims, (Dims{2, 2, 4, 4}));
  EXPECT_EQ(Find(*g, "y").dims, (Dims{2, 4, 1, 1}));
}

TEST(OnnxFrontend, ExportersDefaultGraphNamesBecomeTheFileName) {
  for (const char* placeholder : {"torch_jit", "torch-jit-export", "main_graph", ""}) {
    onnx::ModelProto m = SmallCnn();
    m.mutable_graph()->set_name(placeholder);
    Result<Graph> g = ParseOnnx(m.SerializeAsString(), "models/my_net.v2.onnx", {});
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(g->name, "my_net.v2") << placeholder;
  }
  onnx::ModelProto named = SmallCnn();
  named.mutable_graph()->set_name("resnet_small");
  Result<Graph> g = Parse(named);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->name, "resnet_small");
}

// Found by fuzzing (scripts/fuzz.sh 600): a model the IR refuses never reaches ONNX's shape
// inference, whose data propagation wrote through a null pointer for an int64 constant of 4 bytes.
TEST(OnnxFrontend, AModelTheIrRefusesNeverReachesOnnxInference) {
  onnx::ModelProto m = NewModel(14);
  Input(&m, "x", {kSym, 4});
  auto* index = Int64Constant(&m, "i", {}, {});
  index->mutable_attribute(0)->mutable_t()->set_raw_data(std::string(4, '\1'));
  AddNode(&m, "Shape", {"x"}, {"s"}, "shape");
  AddNode(&m, "Gather", {"s", "i"}, {"g"}, "gather");
  AddNode(&m, "Reshape", {"x", "missing"}, {"y"}, "reshape");
  Output(&m, "y");
  Result<Graph> g = Parse(m);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().rfind("model.onnx: ", 0), 0u) << g.status().message();
}

TEST(OnnxFrontend, ModelLevelProblemsAreErrors) {
  onnx::ModelProto future = SmallCnn();
  future.mutable_opset_import(0)->set_version(22);
  ExpectError(Parse(future), "opset 22 is not supported (opsets 7 to 21 are)");
  onnx::ModelProto old = SmallCnn();
  old.mutable_opset_import(0)->set_version(6);
  ExpectError(Parse(old), "opset 6");
  onnx::ModelProto other_domain = SmallCnn();
  other_domain.mutable_opset_import(0)->set_domain("com.example");
  ExpectError(Parse(other_domain), "no opset import for the default ONNX domain");
  onnx::ModelProto ai_onnx = SmallCnn();
  ai_onnx.mutable_opset_import(0)->set_domain("ai.onnx");
  EXPECT_TRUE(Parse(ai_onnx).ok());

  onnx::ModelProto no_graph = NewModel();
  no_graph.clear_graph();
  ExpectError(Parse(no_graph), "no graph");

  onnx::ModelProto no_inputs = NewModel();
  FloatInit(&no_inputs, "w", {2});
  AddNode(&no_inputs, "Relu", {"w"}, {"y"});
  Output(&no_inputs, "y");
  ExpectError(Parse(no_inputs), "no inputs");
}

}  // namespace
}  // namespace joulecast
