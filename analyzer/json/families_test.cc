#include "analyzer/json/families.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analyzer/json/json_frontend.h"
#include "analyzer/json/json_test_util.h"

namespace joulecast {
namespace {

using json_test::CountElements;
using json_test::DimsOf;
using json_test::OpSequence;

Graph Load(const std::string& text, const LoadOptions& options = {}) {
  Result<Graph> g = ParseJsonArchitecture(text, "family.json", options);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g.value()) : Graph{};
}

// Output widths of the linear layers (Gemm weights are [out, in]), in order.
std::vector<int64_t> LinearWidths(const Graph& g) {
  std::vector<int64_t> widths;
  for (const Node& n : g.nodes) {
    if (n.op == Op::Gemm) widths.push_back(g.tensors[n.inputs[1]].dims[0]);
  }
  return widths;
}

std::vector<int64_t> ConvChannels(const Graph& g) {
  std::vector<int64_t> channels;
  for (const Node& n : g.nodes) {
    if (n.op == Op::Conv) channels.push_back(g.tensors[n.inputs[1]].dims[0]);
  }
  return channels;
}

std::string Family(const std::string& name, const std::string& extra = "") {
  return R"({"family": ")" + name + R"(", "input": {"shape": [1, 28, 28]})" + extra + "}";
}

TEST(Families, Names) {
  EXPECT_EQ(FamilyNames(),
            (std::vector<std::string>{"DensePolyNN", "DenseLinearNN", "SimpleCNN", "SimpleCNN2"}));
}

TEST(Families, DensePolyNNHalvesTheInputFeatures) {
  Graph g = Load(Family("DensePolyNN"));
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{392, 196, 10}));  // 784/2, 784/4, classes
  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"Flatten", "Gemm", "Gemm", "Gemm"}));
  EXPECT_EQ(g.name, "DensePolyNN");
}

TEST(Families, DenseLinearNNStepsDownLinearly) {
  Graph g = Load(Family("DenseLinearNN"));
  // floor(784 - 784/3) = 522, floor(784 - 2*784/3) = 261.
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{522, 261, 10}));
}

TEST(Families, SimpleCNNExpandsAsThePaperBuiltIt) {
  Graph g = Load(Family("SimpleCNN", R"(, "nr_conv_layers": 2, "nr_linear_layers": 3,
                                       "classes": 10, "name": "paper")"));
  EXPECT_EQ(g.name, "paper");
  EXPECT_EQ(ConvChannels(g), (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{392, 196, 10}));
  // No activation between the linear layers.
  EXPECT_EQ(OpSequence(g),
            (std::vector<std::string>{"Conv", "BatchNormalization", "Relu", "MaxPool", "Conv",
                                      "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm",
                                      "Gemm", "Gemm"}));
  EXPECT_EQ(DimsOf(g, "conv2d_4.weight"), "9x3x3x3");
  EXPECT_EQ(DimsOf(g, "linear_9.weight"), "392x441");  // 9 channels x 7 x 7
  EXPECT_EQ(g.nodes[0].Ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(g.nodes[3].Ints("strides"), (std::vector<int64_t>{2, 2}));
}

TEST(Families, SimpleCNN2HasNoRelu) {
  Graph g = Load(Family("SimpleCNN2"));
  EXPECT_EQ(OpSequence(g), (std::vector<std::string>{"Conv", "BatchNormalization", "MaxPool",
                                                     "Conv", "BatchNormalization", "MaxPool",
                                                     "Flatten", "Gemm", "Gemm", "Gemm"}));
}

TEST(Families, OneLinearLayerIsTheClassifier) {
  Graph g = Load(Family("DensePolyNN", R"(, "nr_linear_layers": 1, "classes": 7)"));
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{7}));
}

struct PaperRun {
  const char* family;
  const char* shape;
  int64_t params;
  std::vector<int64_t> conv_channels;
  std::vector<int64_t> linear_widths;
};

TEST(Families, ThePapersRunsMatchPyTorch) {
  // The paper ran 4 conv and 7 linear layers on Fashion-MNIST and CIFAR-10. Reference numbers
  // from scripts/json_models_reference.py (PyTorch 1.13, the families written out by hand).
  const PaperRun runs[] = {
      {"DensePolyNN", "[1, 28, 28]", 410535, {}, {392, 196, 98, 49, 24, 12, 10}},
      {"DensePolyNN", "[3, 32, 32]", 6293434, {}, {1536, 768, 384, 192, 96, 48, 10}},
      {"DenseLinearNN", "[1, 28, 28]", 1408410, {}, {672, 560, 448, 336, 224, 112, 10}},
      {"DenseLinearNN", "[3, 32, 32]", 21577289, {}, {2633, 2194, 1755, 1316, 877, 438, 10}},
      {"SimpleCNN", "[1, 28, 28]", 157459, {3, 9, 27, 81}, {392, 196, 98, 49, 24, 12, 10}},
      {"SimpleCNN", "[3, 32, 32]", 3268174, {9, 27, 81, 243}, {1536, 768, 384, 192, 96, 48, 10}},
      {"SimpleCNN2", "[3, 32, 32]", 3268174, {9, 27, 81, 243}, {1536, 768, 384, 192, 96, 48, 10}},
  };
  for (const PaperRun& run : runs) {
    SCOPED_TRACE(std::string(run.family) + " " + run.shape);
    Graph g = Load(std::string(R"({"family": ")") + run.family +
                   R"(", "nr_conv_layers": 4, "nr_linear_layers": 7, "input": {"shape": )" +
                   run.shape + "}}");
    EXPECT_EQ(CountElements(g, Role::parameter), run.params);
    EXPECT_EQ(ConvChannels(g), run.conv_channels);
    EXPECT_EQ(LinearWidths(g), run.linear_widths);
  }
}

TEST(Families, InputOptionReplacesTheFamilysInput) {
  LoadOptions options;
  options.input_chw = std::vector<int64_t>{3, 32, 32};
  options.batch = 4;
  Graph g = Load(Family("SimpleCNN"), options);
  EXPECT_EQ(DimsOf(g, "input"), "4x3x32x32");
  EXPECT_EQ(ConvChannels(g), (std::vector<int64_t>{9, 27}));
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{1536, 768, 10}));  // 3072/2, 3072/4
}

TEST(Families, ExpandFamilyGivesThePlainLayerList) {
  FamilySpec spec;
  spec.family = "SimpleCNN";
  spec.nr_conv_layers = 1;
  spec.nr_linear_layers = 2;
  spec.input_chw = {1, 28, 28};
  Result<std::string> text = ExpandFamily(spec, "x.json");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(text->find("family"), std::string::npos);
  EXPECT_NE(text->find("\"op\": \"conv2d\""), std::string::npos) << *text;
  Graph g = Load(*text);
  EXPECT_EQ(g.name, "SimpleCNN");
  EXPECT_EQ(ConvChannels(g), (std::vector<int64_t>{3}));
  EXPECT_EQ(LinearWidths(g), (std::vector<int64_t>{392, 10}));
  // The same network as the family document itself.
  Graph direct = Load(Family("SimpleCNN", R"(, "nr_conv_layers": 1, "nr_linear_layers": 2)"));
  EXPECT_EQ(OpSequence(direct), OpSequence(g));
  EXPECT_EQ(CountElements(direct, Role::parameter), CountElements(g, Role::parameter));
}

struct BadFamily {
  const char* text;
  const char* message_part;
};

TEST(Families, ErrorsNameTheField) {
  const BadFamily cases[] = {
      {R"({"family": "SimpleCNN3", "input": {"shape": [1, 28, 28]}})",
       "family.json: /family: unknown family \"SimpleCNN3\"; the families are DensePolyNN, "
       "DenseLinearNN, SimpleCNN, SimpleCNN2"},
      {R"({"family": 3, "input": {"shape": [1, 28, 28]}})", "family.json: /family: expected"},
      {R"({"family": "SimpleCNN", "nr_conv_layers": 0, "input": {"shape": [1, 28, 28]}})",
       "family.json: /nr_conv_layers: expected a positive integer up to 1000, got 0"},
      {R"({"family": "DensePolyNN", "nr_linear_layers": 0, "input": {"shape": [1, 28, 28]}})",
       "family.json: /nr_linear_layers: expected a positive integer up to 1000, got 0"},
      {R"({"family": "SimpleCNN", "nr_conv_layers": 5, "input": {"shape": [1, 28, 28]}})",
       "family.json: /nr_conv_layers: 5 conv blocks each halve the 28x28 input, leaving 0 "
       "pixels; at most 4 fit"},
      {R"({"family": "SimpleCNN", "nr_conv_layers": 13, "input": {"shape": [1, 1048576, 8192]}})",
       "family.json: /nr_conv_layers: 13 conv blocks widen the 1 input channels past 1048576"},
      {R"({"family": "SimpleCNN", "classes": "ten", "input": {"shape": [1, 28, 28]}})",
       "family.json: /classes: expected a positive integer"},
      {R"({"family": "SimpleCNN", "input": {"shape": [784]}})",
       "family.json: /input/shape: a family needs [C, H, W]"},
      {R"({"family": "SimpleCNN"})", "family.json: /input: missing required field"},
      {R"({"family": "SimpleCNN", "input": {"shape": [1, 28, 28]}, "layers": []})",
       "family.json: /layers: unknown field \"layers\" in a family architecture"},
      {R"({"family": "SimpleCNN", "nr_conv_layer": 2, "input": {"shape": [1, 28, 28]}})",
       "family.json: /nr_conv_layer: unknown field"},
      {R"({"family": "DensePolyNN", "input": {"shape": [3, 1024, 1024]}})",
       "family.json: /input/shape: linear layer 0 would have 1572864 features"},
      {R"({"family": "DensePolyNN", "input": {"shape": [1024, 1024, 1024]}, "nr_linear_layers": 1,
          "classes": 1048576})",
       "family.json: in its expansion as DensePolyNN: /layers/1: its weight would have more"},
  };
  for (const BadFamily& c : cases) {
    Result<Graph> g = ParseJsonArchitecture(c.text, "family.json", {});
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(g.status().message().find(c.message_part), std::string::npos) << g.status().message();
    EXPECT_EQ(g.status().message().find('\n'), std::string::npos);
  }
}

TEST(Families, ExpandFamilyValidatesItsSpec) {
  FamilySpec spec;
  spec.family = "DenseLinearNN";
  spec.input_chw = {1, 28, 28};
  spec.nr_linear_layers = 0;
  Result<std::string> text = ExpandFamily(spec, "api");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message(),
            "api: /nr_linear_layers: expected a positive integer up to 1000, got 0");
  spec.nr_linear_layers = 3;
  spec.classes = 0;
  EXPECT_FALSE(ExpandFamily(spec, "api").ok());
  spec.classes = 10;
  spec.input_chw = {1, 0, 28};
  EXPECT_FALSE(ExpandFamily(spec, "api").ok());
}

}  // namespace
}  // namespace joulecast
