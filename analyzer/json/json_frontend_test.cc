#include "analyzer/json/json_frontend.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/json/json_test_util.h"

namespace joulecast {
namespace {

using json_test::CountElements;
using json_test::DimsOf;
using json_test::NodeNamed;
using json_test::OpSequence;
using json_test::SourceDir;

// The example of the issue that defines the format, verbatim.
constexpr const char* kLenet5 = R"({"name": "lenet5", "input": {"shape": [1, 28, 28]}, "layers": [
  {"op": "conv2d", "out_channels": 6, "kernel": 5, "padding": 2}, {"op": "relu"},
  {"op": "maxpool2d", "kernel": 2}, {"op": "flatten"},
  {"op": "linear", "out_features": 120}, {"op": "relu"}, {"op": "linear", "out_features": 10}]})";

Graph MustParse(const std::string& text, const LoadOptions& options = {}) {
  Result<Graph> g = ParseJsonArchitecture(text, "test.json", options);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g.value()) : Graph{};
}

// One layer on an input of shape `chw`, as a document.
std::string OneLayer(const std::string& layer, const std::string& chw = "[4, 8, 8]") {
  return R"({"input": {"shape": )" + chw + R"(}, "layers": [)" + layer + "]}";
}

TEST(JsonFrontend, Lenet5FromTheIssue) {
  Graph g = MustParse(kLenet5);
  EXPECT_EQ(g.name, "lenet5");
  EXPECT_EQ(g.source, "test.json");
  EXPECT_TRUE(g.batch_symbolic);
  EXPECT_EQ(g.batch, 1);
  ASSERT_EQ(g.inputs.size(), 1u);
  const Tensor& input = g.tensors[g.inputs[0]];
  EXPECT_EQ(input.name, "input");
  EXPECT_EQ(input.role, Role::input);
  EXPECT_TRUE(input.batched);
  EXPECT_EQ(input.dims, (std::vector<int64_t>{1, 1, 28, 28}));

  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"Conv", "Relu", "MaxPool", "Flatten", "Gemm",
                                                     "Relu", "Gemm"}));
  // Output shapes from scripts/json_models_reference.py (PyTorch 1.13).
  const std::map<std::string, std::string> shapes = {
      {"conv2d_0", "1x6x28x28"}, {"relu_1", "1x6x28x28"}, {"maxpool2d_2", "1x6x14x14"},
      {"flatten_3", "1x1176"},   {"linear_4", "1x120"},   {"relu_5", "1x120"},
      {"linear_6", "1x10"}};
  for (const auto& [name, dims] : shapes) EXPECT_EQ(DimsOf(g, name), dims) << name;
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "linear_6");
  for (const Tensor& t : g.tensors) {
    if (t.role == Role::activation) {
      EXPECT_TRUE(t.batched) << t.name;
    }
  }

  // The issue's example has one conv and two linear layers (not the classic 61,706-parameter
  // LeNet-5 with two convs and three linears):
  //   conv2d 1->6, 5x5:          6*1*5*5 + 6   =     156
  //   linear 6*14*14=1176 -> 120: 1176*120 + 120 = 141,240
  //   linear 120 -> 10:          120*10 + 10   =   1,210
  //   total                                     = 142,606
  // PyTorch agrees (sum of p.numel(), scripts/json_models_reference.py).
  EXPECT_EQ(CountElements(g, Role::parameter), 142606);
  EXPECT_EQ(CountElements(g, Role::buffer), 0);

  const Node& conv = g.nodes[NodeNamed(g, "conv2d_0")];
  EXPECT_EQ(conv.op_type, "conv2d");
  EXPECT_EQ(conv.Ints("kernel_shape"), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(conv.Ints("strides"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv.Ints("pads"), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(conv.Ints("dilations"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv.Int("group", 0), 1);
  ASSERT_EQ(conv.inputs.size(), 3u);
  EXPECT_EQ(g.tensors[conv.inputs[1]].name, "conv2d_0.weight");
  EXPECT_EQ(g.tensors[conv.inputs[1]].role, Role::parameter);
  EXPECT_EQ(DimsOf(g, "conv2d_0.weight"), "6x1x5x5");
  EXPECT_EQ(DimsOf(g, "conv2d_0.bias"), "6");

  const Node& pool = g.nodes[NodeNamed(g, "maxpool2d_2")];
  EXPECT_EQ(pool.Ints("kernel_shape"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(pool.Ints("strides"), (std::vector<int64_t>{2, 2}));  // stride defaults to kernel

  const Node& fc = g.nodes[NodeNamed(g, "linear_4")];
  EXPECT_EQ(fc.Int("transB", 0), 1);
  EXPECT_EQ(DimsOf(g, "linear_4.weight"), "120x1176");
  EXPECT_EQ(DimsOf(g, "linear_4.bias"), "120");
  EXPECT_EQ(g.nodes[NodeNamed(g, "flatten_3")].Int("axis", 0), 1);
}

TEST(JsonFrontend, BatchAndInputOptions) {
  LoadOptions options;
  options.batch = 8;
  options.input_chw = std::vector<int64_t>{1, 32, 32};
  Graph g = MustParse(kLenet5, options);
  EXPECT_EQ(g.batch, 8);
  EXPECT_TRUE(g.batch_symbolic);
  EXPECT_EQ(DimsOf(g, "input"), "8x1x32x32");
  EXPECT_EQ(DimsOf(g, "linear_4.weight"), "120x1536");  // 6*16*16 features
  EXPECT_EQ(DimsOf(g, "linear_6"), "8x10");
}

struct Reference {
  const char* file;
  int64_t params;
  int64_t buffers;
  int64_t macs_per_sample;
  const char* output;  // Per sample: the shape without the batch axis.
};

// From scripts/json_models_reference.py (PyTorch 1.13): sum of p.numel(), BatchNorm running
// mean and variance, conv and linear MACs counted by forward hooks, output shape.
constexpr Reference kReferences[] = {
    {"models/lenet5.json", 142606, 0, 259920, "10"},
    {"models/simplecnn.json", 252568, 24, 320460, "10"},
    {"models/simplecnn2.json", 252568, 24, 320460, "10"},
    {"models/densepolynn.json", 386718, 0, 386120, "10"},
    {"models/denselinearnn.json", 548893, 0, 548100, "10"},
    {"models/vgg_small.json", 2198602, 1792, 153815552, "10"},
    {"models/resnet_small.json", 78042, 672, 12501632, "10"},
    {"models/mobilenet_small.json", 67914, 1920, 12184064, "10"},
    {"models/inception_small.json", 40962, 64, 5682432, "10"},
    {"analyzer/json/testdata/all_ops.json", 4679, 40, 89060, "3"},
};

TEST(JsonFrontend, EveryModelMatchesPyTorch) {
  for (const Reference& ref : kReferences) {
    SCOPED_TRACE(ref.file);
    LoadOptions options;
    options.batch = 3;
    Result<Graph> g = LoadJsonFile(SourceDir() + "/" + ref.file, options);
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(CountElements(*g, Role::parameter), ref.params);
    EXPECT_EQ(CountElements(*g, Role::buffer), ref.buffers);
    std::string output = std::string("3x") + ref.output;
    EXPECT_EQ(DimsOf(*g, g->tensors[g->outputs[0]].name), output);
    Result<ModelCost> cost = ComputeCosts(*g);
    ASSERT_TRUE(cost.ok()) << cost.status().message();
    EXPECT_EQ(cost->params.value(), ref.params);
    EXPECT_EQ(cost->buffers.value(), ref.buffers);
    EXPECT_EQ(cost->total.macs_fwd.value(), 3 * ref.macs_per_sample);
    EXPECT_TRUE(cost->unmodelled.empty());
  }
}

TEST(JsonFrontend, AllOpsLayerShapesMatchPyTorch) {
  Result<Graph> g = LoadJsonFile(SourceDir() + "/analyzer/json/testdata/all_ops.json", {});
  ASSERT_TRUE(g.ok()) << g.status().message();
  // From scripts/json_models_reference.py (PyTorch 1.13), at batch 1.
  const std::map<std::string, std::string> shapes = {{"c0", "1x8x16x8"},
                                                     {"batchnorm2d_1", "1x8x16x8"},
                                                     {"a", "1x8x16x8"},
                                                     {"b", "1x8x16x8"},
                                                     {"g", "1x8x16x8"},
                                                     {"s", "1x8x16x8"},
                                                     {"sg", "1x8x16x8"},
                                                     {"th", "1x8x16x8"},
                                                     {"cat", "1x16x16x8"},
                                                     {"avgpool2d_9", "1x16x16x8"},
                                                     {"maxpool2d_10", "1x16x8x7"},
                                                     {"adaptive_avgpool2d_11", "1x16x4x7"},
                                                     {"hardswish_12", "1x16x4x7"},
                                                     {"fc_last_axis", "1x16x4x5"},
                                                     {"layernorm_14", "1x16x4x5"},
                                                     {"flatten_15", "1x320"},
                                                     {"linear_16", "1x12"},
                                                     {"batchnorm1d_17", "1x12"},
                                                     {"relu_18", "1x12"},
                                                     {"dropout_19", "1x12"},
                                                     {"layernorm_20", "1x12"},
                                                     {"out", "1x3"}};
  for (const auto& [name, dims] : shapes) EXPECT_EQ(DimsOf(*g, name), dims) << name;
}

TEST(JsonFrontend, OnnxSemanticsOfEachOp) {
  Result<Graph> r = LoadJsonFile(SourceDir() + "/analyzer/json/testdata/all_ops.json", {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Graph& g = *r;

  const Node& conv = g.nodes[NodeNamed(g, "b")];
  EXPECT_EQ(conv.Ints("dilations"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(conv.Int("group", 0), 2);
  EXPECT_EQ(conv.inputs.size(), 2u);  // bias: false
  EXPECT_EQ(DimsOf(g, "b.weight"), "8x4x3x3");
  const Node& c0 = g.nodes[NodeNamed(g, "c0")];
  EXPECT_EQ(c0.Ints("kernel_shape"), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(c0.Ints("strides"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c0.Ints("pads"), (std::vector<int64_t>{1, 2, 1, 2}));

  const Node& bn = g.nodes[NodeNamed(g, "batchnorm2d_1")];
  EXPECT_EQ(bn.op, Op::BatchNormalization);
  ASSERT_EQ(bn.inputs.size(), 5u);
  const Role roles[] = {Role::activation, Role::parameter, Role::parameter, Role::buffer,
                        Role::buffer};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(g.tensors[bn.inputs[i]].role, roles[i]) << i;
  EXPECT_EQ(DimsOf(g, "batchnorm2d_1.running_var"), "8");
  EXPECT_EQ(bn.Int("training_mode", 0), 1);
  EXPECT_DOUBLE_EQ(bn.Real("momentum", 0), 0.9);
  EXPECT_DOUBLE_EQ(bn.Real("epsilon", 0), 1e-5);

  EXPECT_DOUBLE_EQ(g.nodes[NodeNamed(g, "a")].Real("alpha", 0), 0.2);
  EXPECT_EQ(g.nodes[NodeNamed(g, "g")].op, Op::Gelu);
  EXPECT_EQ(g.nodes[NodeNamed(g, "hardswish_12")].op, Op::HardSwish);
  EXPECT_EQ(g.nodes[NodeNamed(g, "sg")].op, Op::Sigmoid);
  EXPECT_EQ(g.nodes[NodeNamed(g, "th")].op, Op::Tanh);
  EXPECT_DOUBLE_EQ(g.nodes[NodeNamed(g, "dropout_19")].Real("ratio", 0), 0.1);
  EXPECT_EQ(g.nodes[NodeNamed(g, "cat")].Int("axis", 0), 1);

  // add with three inputs: a chain of two binary Adds, the last carrying the layer's name.
  EXPECT_EQ(g.nodes[NodeNamed(g, "s.add1")].op, Op::Add);
  EXPECT_EQ(g.nodes[NodeNamed(g, "s")].op, Op::Add);

  const Node& avg = g.nodes[NodeNamed(g, "avgpool2d_9")];
  EXPECT_EQ(avg.op, Op::AveragePool);
  EXPECT_EQ(avg.Int("count_include_pad", 0), 1);
  EXPECT_EQ(avg.Ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  const Node& adaptive = g.nodes[NodeNamed(g, "adaptive_avgpool2d_11")];
  EXPECT_EQ(adaptive.op, Op::AveragePool);
  EXPECT_EQ(adaptive.Ints("kernel_shape"), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(adaptive.Ints("strides"), (std::vector<int64_t>{2, 1}));

  // linear on a rank-4 input: MatMul with W [in, out], then Add with the bias.
  const Node& mm = g.nodes[NodeNamed(g, "fc_last_axis")];
  EXPECT_EQ(mm.op, Op::MatMul);
  EXPECT_EQ(DimsOf(g, "fc_last_axis.weight"), "7x5");
  EXPECT_EQ(g.nodes[NodeNamed(g, "fc_last_axis.bias_add")].op, Op::Add);
  EXPECT_EQ(DimsOf(g, "fc_last_axis.bias"), "5");

  const Node& ln = g.nodes[NodeNamed(g, "layernorm_14")];
  EXPECT_EQ(ln.op, Op::LayerNormalization);
  EXPECT_EQ(ln.Int("axis", 0), 2);
  EXPECT_EQ(DimsOf(g, "layernorm_14.weight"), "4x5");
  EXPECT_EQ(g.nodes[NodeNamed(g, "layernorm_20")].Int("axis", 0), 1);
  EXPECT_EQ(DimsOf(g, "layernorm_20.bias"), "12");

  const Node& gemm = g.nodes[NodeNamed(g, "linear_16")];
  EXPECT_EQ(gemm.op, Op::Gemm);
  EXPECT_EQ(gemm.inputs.size(), 2u);  // bias: false
  EXPECT_EQ(DimsOf(g, "batchnorm1d_17.weight"), "12");
}

TEST(JsonFrontend, AdaptivePoolToOneIsGlobal) {
  Graph g = MustParse(OneLayer(R"({"op": "adaptive_avgpool2d", "output": [1, 1]})"));
  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"GlobalAveragePool"}));
  EXPECT_EQ(DimsOf(g, "adaptive_avgpool2d_0"), "1x4x1x1");
  g = MustParse(OneLayer(R"({"op": "global_avgpool"})"));
  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"GlobalAveragePool"}));
}

TEST(JsonFrontend, GroupNormIsPyTorchsGroupNorm) {
  Graph g = MustParse(OneLayer(R"({"op": "groupnorm", "groups": 2})"));
  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"GroupNormalization"}));
  EXPECT_EQ(g.nodes[0].Int("num_groups", 0), 2);
  EXPECT_DOUBLE_EQ(g.nodes[0].Real("epsilon", 0), 1e-5);
  // nn.GroupNorm(2, 4): a weight and a bias per channel.
  EXPECT_EQ(DimsOf(g, "groupnorm_0.weight"), "4");
  EXPECT_EQ(DimsOf(g, "groupnorm_0.bias"), "4");
  EXPECT_EQ(CountElements(g, Role::parameter), 8);
  EXPECT_EQ(DimsOf(g, "groupnorm_0"), "1x4x8x8");
}

TEST(JsonFrontend, DefaultsFollowPyTorch) {
  Graph g = MustParse(OneLayer(R"({"op": "leaky_relu"}, {"op": "dropout"})"));
  EXPECT_DOUBLE_EQ(g.nodes[0].Real("alpha", 0), 0.01);
  EXPECT_DOUBLE_EQ(g.nodes[1].Real("ratio", 0), 0.5);
  g = MustParse(OneLayer(R"({"op": "avgpool2d", "kernel": [2, 4]})"));
  EXPECT_EQ(g.nodes[0].Ints("strides"), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(g.nodes[0].Ints("pads"), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(DimsOf(g, "avgpool2d_0"), "1x4x4x2");
}

TEST(JsonFrontend, FromReadsTheInputAndEarlierLayers) {
  Graph g = MustParse(OneLayer(
      R"({"op": "conv2d", "id": "x", "out_channels": 4, "kernel": 1},
         {"op": "relu", "from": ["input"], "id": "skip"},
         {"op": "add", "from": ["x", "skip"]})"));
  EXPECT_EQ(g.nodes[1].inputs[0], g.inputs[0]);
  EXPECT_EQ(DimsOf(g, "add_2"), "1x4x8x8");
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "add_2");
}

TEST(JsonFrontend, NameDefaultsToTheFileStem) {
  Graph g = MustParse(OneLayer(R"({"op": "relu"})"));
  EXPECT_EQ(g.name, "test");
}

// Each bad input must give one line "test.json: <pointer>: ..." naming the field.
struct BadCase {
  std::string text;
  const char* pointer;  // Appears as "test.json: <pointer>: ".
  const char* also;     // Another part the message must contain.
};

// Layers on a 1x8x8 input.
std::string L(const std::string& layers) { return OneLayer(layers, "[1, 8, 8]"); }

const std::vector<BadCase> kBadCases = {
    {L(R"({"op": "conv2d", "out_channel": 4, "kernel": 3})"), "/layers/0/out_channel",
     "unknown field \"out_channel\" for conv2d; its fields are op, id"},
    {L(R"({"op": "relu"}, {"op": "conv3d"})"), "/layers/1/op",
     "unknown op \"conv3d\"; the ops are conv2d, linear, relu"},
    {L(R"({"op": 3})"), "/layers/0/op", "expected a non-empty string, got 3"},
    {L(R"({"kernel": 3})"), "/layers/0/op", "missing required field"},
    {L(R"(3)"), "/layers/0", "expected an object, got 3"},
    {L(R"({"op": "conv2d", "kernel": 3})"), "/layers/0/out_channels",
     "missing required field; expected a positive integer"},
    {L(R"({"op": "relu"}, {"op": "relu"}, {"op": "relu"},
       {"op": "conv2d", "out_channels": 4, "kernel": "x"})"),
     "/layers/3/kernel", "expected a positive integer up to 1048576 or [h, w] of such, got \"x\""},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": 0})"), "/layers/0/kernel", "got 0"},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": [3]})"), "/layers/0/kernel",
     "got an array of 1 values"},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": [3, "a"]})"), "/layers/0/kernel/1",
     "got \"a\""},
    {L(R"({"op": "conv2d", "out_channels": 2.5, "kernel": 3})"), "/layers/0/out_channels",
     "got 2.5"},
    {L(R"({"op": "conv2d", "out_channels": -1, "kernel": 3})"), "/layers/0/out_channels", "got -1"},
    {L(R"({"op": "conv2d", "out_channels": 2097152, "kernel": 3})"), "/layers/0/out_channels",
     "up to 1048576"},
    {L(R"({"op": "conv2d", "out_channels": 99999999999999999999, "kernel": 3})"),
     "/layers/0/out_channels", "up to 1048576"},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": 3, "padding": -1})"), "/layers/0/padding",
     "non-negative"},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": 3, "bias": "yes"})"), "/layers/0/bias",
     "expected true or false"},
    {L(R"({"op": "conv2d", "out_channels": 4, "kernel": 11})"), "/layers/0/kernel",
     "does not fit the 8x8 input"},
    {OneLayer(R"({"op": "conv2d", "out_channels": 4, "kernel": 3, "groups": 4})", "[6, 8, 8]"),
     "/layers/0/groups", "must divide both the 6 input channels"},
    {L(R"({"op": "flatten"}, {"op": "conv2d", "out_channels": 4, "kernel": 3})"), "/layers/1",
     "conv2d needs an N×C×H×W input, got N×64"},
    {L(R"({"op": "maxpool2d", "kernel": 3, "padding": 2})"), "/layers/0/padding",
     "more than half the kernel"},
    {R"({"input": {"shape": [1, 7, 7]}, "layers": [{"op": "adaptive_avgpool2d", "output": 3}]})",
     "/layers/0/output", "the 7x7 input does not divide into a 3x3 output"},
    {L(R"({"op": "dropout", "p": 1})"), "/layers/0/p", "expected a number in [0.0, 1.0), got 1"},
    {L(R"({"op": "layernorm", "normalized_dims": 4})"), "/layers/0/normalized_dims", "up to 3"},
    {OneLayer(R"({"op": "groupnorm", "groups": 3})"), "/layers/0/groups",
     "groups 3 must divide the 4 input channels"},
    {OneLayer(R"({"op": "groupnorm"})"), "/layers/0/groups", "missing required field"},
    {L(R"({"op": "leaky_relu", "negative_slope": "a"})"), "/layers/0/negative_slope",
     "expected a number"},
    {L(R"({"op": "batchnorm1d"})"), "/layers/0",
     "batchnorm1d needs an N×C or N×C×L input, got N×1×8×8"},
    {L(R"({"op": "relu"}, {"op": "relu", "from": ["x"]})"), "/layers/1/from/0",
     "unknown id \"x\"; no earlier layer has an id"},
    {L(R"({"op": "relu", "id": "a"}, {"op": "relu", "from": ["b"]})"), "/layers/1/from/0",
     "unknown id \"b\"; earlier ids are \"a\""},
    {L(R"({"op": "relu", "from": ["later"]}, {"op": "relu", "id": "later"})"), "/layers/0/from/0",
     "\"later\" is the id of /layers/1; \"from\" may only name earlier layers"},
    {L(R"({"op": "relu"}, {"op": "relu", "from": ["relu_0"]})"), "/layers/1/from/0",
     "\"relu_0\" is the default name of layer /layers/0; \"from\" reads ids"},
    {L(R"({"op": "relu", "id": "me", "from": ["me"]})"), "/layers/0/from/0",
     "is the id of this layer"},
    {L(R"({"op": "relu", "id": "a"}, {"op": "relu", "id": "a"})"), "/layers/1/id",
     "duplicate id \"a\"; layer /layers/0 already has that name"},
    {L(R"({"op": "relu", "id": "relu_1"}, {"op": "relu"})"), "/layers/1",
     "default name \"relu_1\" is taken by layer /layers/0"},
    {L(R"({"op": "relu", "id": "a.b"})"), "/layers/0/id", "letters, digits"},
    {L(R"({"op": "relu", "id": "input"})"), "/layers/0/id", "names the graph input"},
    {L(R"({"op": "relu", "from": "input"})"), "/layers/0/from",
     "expected an array of exactly one id"},
    {L(R"({"op": "relu", "id": "a"}, {"op": "relu", "from": ["a", "a"]})"), "/layers/1/from",
     "exactly one id"},
    {L(R"({"op": "relu"}, {"op": "add"})"), "/layers/1/from",
     "add joins layers and needs \"from\" with at least 2 ids"},
    {L(R"({"op": "relu", "id": "a"}, {"op": "concat", "from": ["a"]})"), "/layers/1/from",
     "at least 2 ids"},
    {L(R"({"op": "relu", "id": "a"}, {"op": "relu", "from": ["input"]})"), "/layers/0",
     "the output of layer 'a' is never read"},
    {L(R"({"op": "maxpool2d", "kernel": 2, "id": "p"},
       {"op": "concat", "from": ["p", "input"]})"),
     "/layers/1", "node 'concat_1' (concat): inputs differ in dim 2"},
    {OneLayer(R"({"op": "conv2d", "out_channels": 3, "kernel": 1, "id": "c"},
                {"op": "add", "from": ["c", "input"]})",
              "[2, 8, 8]"),
     "/layers/1", "cannot be broadcast"},
    {L(R"()"), "/layers", "expected a non-empty array of layers, got an empty array"},
    {R"({"input": {"shape": [1, 8, 8]}, "layers": {}})", "/layers", "got an empty object"},
    {R"({"input": {"shape": [1, 8, 8]}})", "/layers", "missing required field"},
    {R"({"layers": [{"op": "relu"}]})", "/input", "missing required field"},
    {R"({"input": [1, 8, 8], "layers": [{"op": "relu"}]})", "/input", "expected an object"},
    {R"({"input": {"shape": [1, 0, 8]}, "layers": [{"op": "relu"}]})", "/input/shape/1",
     "expected a positive integer up to 1048576, got 0"},
    {R"({"input": {"shape": [1, 8, 8, 8]}, "layers": [{"op": "relu"}]})", "/input/shape",
     "got an array of 4 values"},
    {R"({"input": {"shape": [1, 8], "dtype": "f"}, "layers": [{"op": "relu"}]})", "/input/dtype",
     "unknown field"},
    {R"({"input": {"shape": [1048576, 1048576, 1048576]}, "layers": [{"op": "relu"}]})",
     "/input/shape", "more than 2^48 elements"},
    {R"({"input": {"shape": [1024, 1024, 1024]}, "layers": [{"op": "flatten"},
       {"op": "linear", "out_features": 1048576}]})",
     "/layers/1", "its weight would have more than 2^48 elements"},
    {R"({"nme": "x", "input": {"shape": [1, 8, 8]}, "layers": [{"op": "relu"}]})", "/nme",
     "unknown field \"nme\" at the top level"},
    {R"({"name": 5, "input": {"shape": [1, 8, 8]}, "layers": [{"op": "relu"}]})", "/name",
     "expected a non-empty string"},
    {L(R"({"op": "relu\n\u0001"})"), "/layers/0/op", "unknown op \"relu\\x0a\\x01\""},
    // Found by fuzz/json_fuzzer.cc: a key with a newline used to end up raw in the pointer.
    {R"({"\\\\\name": "x"})", R"(/\\\x0aame)", R"(unknown field "\\\\\x0aame")"},
    {L(R"({"op": "relu", "a/b~": 1})"), "/layers/0/a~1b~0",
     "unknown field \"a/b~\" for relu; its fields are op, id, from"},
};

TEST(JsonFrontend, EveryErrorNamesTheField) {
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.text);
    Result<Graph> g = ParseJsonArchitecture(c.text, "test.json", {});
    ASSERT_FALSE(g.ok());
    const std::string m = g.status().message();
    EXPECT_NE(m.find(std::string("test.json: ") + c.pointer + ": "), std::string::npos) << m;
    EXPECT_NE(m.find(c.also), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(JsonFrontend, InvalidJsonIsOneLineWithThePosition) {
  for (const char* text : {"{\"layers\": [\n{\"op\": relu}]}", "", "{", "\xff\xfe", "[1, 2,]"}) {
    Result<Graph> g = ParseJsonArchitecture(text, "bad.json", {});
    ASSERT_FALSE(g.ok());
    const std::string m = g.status().message();
    EXPECT_EQ(m.rfind("bad.json: invalid JSON: parse error at line ", 0), 0u) << m;
    EXPECT_NE(m.find("column"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  Result<Graph> g = ParseJsonArchitecture("[1, 2]", "bad.json", {});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(),
            "bad.json: expected a JSON object at the top level, got an array of 2 values");
}

TEST(JsonFrontend, BadOptionsAreErrors) {
  LoadOptions options;
  options.batch = 0;
  Result<Graph> g = ParseJsonArchitecture(kLenet5, "m.json", options);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("m.json: the batch size must be a positive integer"),
            std::string::npos);
  options.batch.reset();
  options.input_chw = std::vector<int64_t>{0, 28, 28};
  g = ParseJsonArchitecture(kLenet5, "m.json", options);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("input shape given to replace input.shape"),
            std::string::npos);
  options.input_chw = std::vector<int64_t>{1, 1, 1};  // the 2x2 pool does not fit 1x1
  g = ParseJsonArchitecture(kLenet5, "m.json", options);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("m.json: /layers/2/kernel: "), std::string::npos)
      << g.status().message();
}

TEST(JsonFrontend, MissingFileIsAnError) {
  Result<Graph> g = LoadJsonFile("/nonexistent/model.json", {});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().rfind("/nonexistent/model.json: cannot open: ", 0), 0u);
}

TEST(JsonFrontend, MalformedInputNeverCrashes) {
  // Every prefix of a valid model, and deep nesting, must come back as a value.
  std::string text = kLenet5;
  for (size_t n = 0; n < text.size(); ++n) {
    Result<Graph> g = ParseJsonArchitecture(text.substr(0, n), "t.json", {});
    EXPECT_FALSE(g.ok());
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseJsonArchitecture(deep + std::string(100000, ']'), "t.json", {}).ok());
  std::string deep_layer =
      OneLayer(R"({"op": "relu", "p": )" + deep + std::string(100000, ']') + "}");
  EXPECT_FALSE(ParseJsonArchitecture(deep_layer, "t.json", {}).ok());
}

}  // namespace
}  // namespace joulecast
