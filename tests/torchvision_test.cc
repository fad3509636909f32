// The analyzer on real models: torchvision's classification networks, exported at test time as
// training graphs by scripts/export_torchvision.py (the ctest fixtures `torchvision_export` at
// 224 px into $JOULECAST_TORCHVISION_DIR and `torchvision_export_64` at 64 px into its `64/`).
// Their parameters, buffers and forward MACs must match what PyTorch itself counts, recorded in
// reference.json by the same script, and every node must be modelled with every shape known.
// The 64 px set exercises pooling and padding arithmetic on sizes that do not divide evenly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/load_model.h"

namespace joulecast {
namespace {

// Keep in step with ALL_MODELS in scripts/export_torchvision.py (AllExportedModelsAreTested
// fails when the script exports one that is not here).
const char* const kModels[] = {
    "resnet18",      "resnet50",           "vgg16",          "alexnet",
    "mobilenet_v2",  "mobilenet_v3_small", "mobilenet_v3_large", "squeezenet1_0",
    "densenet121",   "googlenet",          "efficientnet_b0", "shufflenet_v2_x1_0",
    "regnet_y_400mf", "convnext_tiny",
};

// Exported at 64 px too: all but VGG-16 and AlexNet, whose AdaptiveAvgPool2d to 7x7 / 6x6 has
// no ONNX export when the feature map is smaller than its output (torch 1.13).
const char* const kModels64[] = {
    "resnet18",      "resnet50",           "mobilenet_v2",   "mobilenet_v3_small",
    "mobilenet_v3_large", "squeezenet1_0", "densenet121",    "googlenet",
    "efficientnet_b0", "shufflenet_v2_x1_0", "regnet_y_400mf", "convnext_tiny",
};

// Each export set's directory under $JOULECAST_TORCHVISION_DIR (set by tests/CMakeLists.txt).
constexpr const char* kSet224 = ".";
constexpr const char* kSet64 = "64";

// Forward MACs must be within this fraction of the hook count.
constexpr double kMacsTolerance = 0.005;

// The directory of export set `set`, or "" when the environment does not say.
std::string FixtureDir(const char* set) {
  const char* dir = std::getenv("JOULECAST_TORCHVISION_DIR");
  return dir && *dir ? std::string(dir) + "/" + set : "";
}

// The reference.json of export set `set`, read once per process; null when it cannot be read,
// with the reason in `error`.
const nlohmann::json* Reference(const char* set, std::string* error) {
  static std::map<std::string, std::pair<nlohmann::json, std::string>> cache;
  auto [it, inserted] = cache.try_emplace(set);
  auto& [reference, load_error] = it->second;
  if (inserted) {
    const std::string dir = FixtureDir(set);
    std::ifstream in(dir + "/reference.json");
    if (dir.empty()) {
      load_error = "JOULECAST_TORCHVISION_DIR is not set: run through ctest, or set it to the "
                   "output directory of scripts/export_torchvision.py";
    } else if (!in) {
      load_error = "cannot read " + dir + "/reference.json";
    } else {
      reference = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (reference.is_discarded() || !reference.contains("models")) {
        load_error = dir + "/reference.json is not the exporter's output";
      }
    }
  }
  *error = load_error;
  return load_error.empty() ? &reference : nullptr;
}

struct Expected {
  std::string path;
  std::vector<int64_t> input_chw;
  int64_t params = 0;
  int64_t buffers = 0;
  int64_t macs = 0;
};

// "'name' (OpType)" of a node, for messages.
std::string Describe(const Graph& g, int node) {
  return "'" + g.nodes[node].name + "' (" + g.nodes[node].op_type + ")";
}

std::string DescribeUnmodelled(const Graph& g, const ModelCost& cost) {
  std::ostringstream out;
  for (int i : cost.unmodelled) {
    const LayerCost& layer = cost.layers[i];
    out << "\n  " << Describe(g, layer.node) << ": " << layer.why_unmodelled;
  }
  return out.str();
}

std::string DescribeByKind(const ModelCost& cost) {
  std::ostringstream out;
  for (int k = 0; k < kNumKinds; ++k) {
    const KindTotals& t = cost.by_kind[k];
    if (t.layers == 0) continue;
    out << "\n  " << KindName(static_cast<Kind>(k)) << ": " << t.layers
        << " layers, params " << t.params.value() << ", buffers " << t.buffers.value()
        << ", macs_fwd " << t.work.macs_fwd.value();
  }
  return out.str();
}

// One model of one export set.
struct Case {
  const char* set;
  const char* model;
  // Names the test in gtest's and ctest's listings.
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.model; }
};

class TorchvisionModel : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const auto [set, model] = GetParam();
    std::string error;
    const nlohmann::json* reference = Reference(set, &error);
    ASSERT_NE(reference, nullptr) << error;
    const auto& models = (*reference)["models"];
    ASSERT_TRUE(models.contains(model))
        << model << " is missing from " << FixtureDir(set)
        << "/reference.json: did its export fail?";
    const auto& entry = models[model];
    expected_.path = FixtureDir(set) + "/" + entry.at("file").get<std::string>();
    expected_.input_chw = entry.at("input").get<std::vector<int64_t>>();
    expected_.params = entry.at("params").get<int64_t>();
    expected_.buffers = entry.at("buffers").get<int64_t>();
    expected_.macs = entry.at("macs").get<int64_t>();
  }

  // Loads the model with `options`, failing the test (fatally) when it does not load or cost.
  void Load(const LoadOptions& options, Graph* graph, ModelCost* cost) {
    Result<Graph> g = LoadModel(expected_.path, options);
    ASSERT_TRUE(g.ok()) << g.status().message();
    Result<ModelCost> c = ComputeCosts(*g);
    ASSERT_TRUE(c.ok()) << c.status().message();
    *graph = std::move(*g);
    *cost = std::move(*c);
  }

  Expected expected_;
};

TEST_P(TorchvisionModel, ParamsBuffersAndMacsMatchPyTorch) {
  Graph graph;
  ModelCost cost;
  ASSERT_NO_FATAL_FAILURE(Load(LoadOptions{}, &graph, &cost));
  ASSERT_FALSE(cost.total.overflowed());
  // torch.onnx.export names every graph "torch_jit": the model is named after its file.
  const std::string file = expected_.path.substr(expected_.path.rfind('/') + 1);
  EXPECT_EQ(graph.name, file.substr(0, file.rfind('.')));

  EXPECT_EQ(cost.params.value(), expected_.params)
      << "trainable parameters differ from sum(p.numel() for p in model.parameters())"
      << DescribeByKind(cost);
  EXPECT_EQ(cost.buffers.value(), expected_.buffers)
      << "buffers differ from BatchNorm running_mean + running_var" << DescribeByKind(cost);

  const double macs = cost.PerSample(cost.total.macs_fwd);
  const double off = (macs - expected_.macs) / static_cast<double>(expected_.macs);
  EXPECT_LE(std::abs(off), kMacsTolerance)
      << "forward MACs per sample: analyzer " << static_cast<int64_t>(macs) << ", hooks "
      << expected_.macs << " (" << off * 100 << "%)" << DescribeByKind(cost);
}

TEST_P(TorchvisionModel, EveryNodeModelledWithShapesKnown) {
  Graph graph;
  ModelCost cost;
  ASSERT_NO_FATAL_FAILURE(Load(LoadOptions{}, &graph, &cost));

  EXPECT_TRUE(cost.unmodelled.empty())
      << cost.unmodelled.size() << " unmodelled nodes:" << DescribeUnmodelled(graph, cost);

  std::ostringstream unknown;
  int num_unknown = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (int t : graph.nodes[n].outputs) {
      if (t < 0 || graph.tensors[t].shape_known) continue;
      if (++num_unknown <= 20) {
        unknown << "\n  " << Describe(graph, static_cast<int>(n)) << " output '"
                << graph.tensors[t].name << "'";
      }
    }
  }
  EXPECT_EQ(num_unknown, 0) << "outputs with unknown shape:" << unknown.str();

  ASSERT_EQ(graph.inputs.size(), 1u);
  const Tensor& input = graph.tensors[graph.inputs[0]];
  ASSERT_TRUE(input.shape_known);
  std::vector<int64_t> want = {1};
  want.insert(want.end(), expected_.input_chw.begin(), expected_.input_chw.end());
  EXPECT_EQ(input.dims, want);
  EXPECT_TRUE(graph.batch_symbolic) << "the export has a dynamic batch axis";
}

TEST_P(TorchvisionModel, BatchEightCostsEightSamples) {
  Graph one_graph, eight_graph;
  ModelCost one, eight;
  ASSERT_NO_FATAL_FAILURE(Load(LoadOptions{}, &one_graph, &one));
  LoadOptions options;
  options.batch = 8;
  ASSERT_NO_FATAL_FAILURE(Load(options, &eight_graph, &eight));

  EXPECT_EQ(eight_graph.batch, 8);
  EXPECT_EQ(eight.batch, 8);
  EXPECT_EQ(one.batch, 1);
  EXPECT_EQ(eight.total.macs_fwd.value(), 8 * one.total.macs_fwd.value());
  EXPECT_EQ(eight.PerSample(eight.total.macs_fwd), one.PerSample(one.total.macs_fwd));
  EXPECT_EQ(eight.params.value(), one.params.value());
  EXPECT_EQ(eight.buffers.value(), one.buffers.value());
  EXPECT_TRUE(eight.unmodelled.empty())
      << eight.unmodelled.size() << " unmodelled nodes at batch 8:"
      << DescribeUnmodelled(eight_graph, eight);
}

std::string CaseName(const testing::TestParamInfo<Case>& info) {
  return info.param.model;
}

std::vector<Case> Cases(const char* set, const std::vector<const char*>& models) {
  std::vector<Case> cases;
  for (const char* model : models) cases.push_back({set, model});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionModel,
                         testing::ValuesIn(Cases(kSet224, {std::begin(kModels),
                                                           std::end(kModels)})),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Torchvision64, TorchvisionModel,
                         testing::ValuesIn(Cases(kSet64, {std::begin(kModels64),
                                                          std::end(kModels64)})),
                         CaseName);

TEST(Torchvision, AllExportedModelsAreTested) {
  for (const auto& [set, list] :
       {std::pair(kSet224, std::set<std::string>(std::begin(kModels), std::end(kModels))),
        std::pair(kSet64, std::set<std::string>(std::begin(kModels64), std::end(kModels64)))}) {
    std::string error;
    const nlohmann::json* reference = Reference(set, &error);
    ASSERT_NE(reference, nullptr) << error;
    for (const auto& [name, entry] : (*reference)["models"].items()) {
      EXPECT_TRUE(list.count(name)) << name << " is exported in " << FixtureDir(set) << " but not tested";
    }
  }
}

// ShuffleNetV2's channel shuffle is x.view(N, 2, C/2, H, W).transpose(1, 2).view(N, C, H, W),
// exported with Shape -> Gather -> Div -> Unsqueeze -> Concat feeding each Reshape. With the
// batch fixed those must fold to constants so every Reshape's output is known.
TEST(Torchvision, ShuffleNetChannelShuffleReshapesResolve) {
  std::string error;
  ASSERT_NE(Reference(kSet224, &error), nullptr) << error;
  LoadOptions options;
  options.batch = 8;
  Result<Graph> graph = LoadModel(FixtureDir(kSet224) + "/shufflenet_v2_x1_0.onnx", options);
  ASSERT_TRUE(graph.ok()) << graph.status().message();

  int reshapes = 0;
  int shuffles = 0;
  for (const Node& node : graph->nodes) {
    if (node.op != Op::Reshape) continue;
    ++reshapes;
    ASSERT_GE(node.outputs.size(), 1u);
    ASSERT_GE(node.inputs.size(), 1u);
    const Tensor& in = graph->tensors[node.inputs[0]];
    const Tensor& out = graph->tensors[node.outputs[0]];
    ASSERT_TRUE(in.shape_known) << "input of '" << node.name << "'";
    ASSERT_TRUE(out.shape_known) << "output of '" << node.name << "'";
    int64_t in_elements = 1, out_elements = 1;
    for (int64_t d : in.dims) in_elements *= d;
    for (int64_t d : out.dims) out_elements *= d;
    EXPECT_EQ(in_elements, out_elements) << node.name;
    ASSERT_FALSE(out.dims.empty());
    EXPECT_EQ(out.dims[0], 8) << node.name << ": batch not carried through the shape plumbing";
    if (out.dims.size() == 5) {
      ++shuffles;
      EXPECT_EQ(out.dims[1], 2) << node.name << ": two groups";
      EXPECT_EQ(out.dims[2] * 2, in.dims[1]) << node.name;
    }
  }
  // 16 shuffle blocks, each a view into five dims and one back.
  EXPECT_EQ(reshapes, 32);
  EXPECT_EQ(shuffles, 16);
}

}  // namespace
}  // namespace joulecast
