#include "calibrate/torch/torch_network.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/test_graph_builder.h"
#include "analyzer/load_model.h"
#include "calibrate/torch/torch_test_util.h"

namespace joulecast {
namespace {

using testing::Build;
using testing::ExpectClose;
using testing::GraphBuilder;
using testing::Is;
using testing::RunGraph;

std::string ModelPath(const std::string& name) {
  return std::string(JOULECAST_SOURCE_DIR) + "/models/" + name + ".json";
}

// The model file at `path`, loaded at `batch`.
Result<Graph> LoadAt(const std::string& path, int64_t batch) {
  LoadOptions lo;
  lo.batch = batch;
  return LoadModel(path, lo);
}

// A model file loaded, costed by the analyzer and built into a network.
struct BuiltModel {
  Graph graph;
  ModelCost cost;
  std::unique_ptr<TorchNetwork> net;
};

// Fills `m` from the model file at `path` at `batch`; the network must have the analyzer's
// parameter count. Call under ASSERT_NO_FATAL_FAILURE.
void LoadCostAndBuild(const std::string& path, int64_t batch, BuiltModel& m) {
  Result<Graph> g = LoadAt(path, batch);
  ASSERT_TRUE(g.ok()) << g.status().message();
  m.graph = std::move(*g);
  Result<ModelCost> cost = ComputeCosts(m.graph);
  ASSERT_TRUE(cost.ok()) << cost.status().message();
  m.cost = std::move(*cost);
  Result<std::unique_ptr<TorchNetwork>> net = TorchNetwork::Build(m.graph);
  ASSERT_TRUE(net.ok()) << net.status().message();
  m.net = std::move(*net);
  EXPECT_EQ(m.net->parameter_count(), m.cost.params.value());
}

// Gradients reach every parameter of `net`.
void ExpectEveryParameterHasAGradient(const TorchNetwork& net) {
  for (size_t i = 0; i < net.parameters().size(); ++i) {
    EXPECT_TRUE(net.parameters()[i].grad().defined()) << net.parameter_names()[i];
  }
}

// ---- Whole models from models/*.json ------------------------------------------------------

class JsonModel : public ::testing::TestWithParam<const char*> {};

TEST_P(JsonModel, BuildsRunsAndHasTheAnalyzersParameterCount) {
  BuiltModel m;
  ASSERT_NO_FATAL_FAILURE(LoadCostAndBuild(ModelPath(GetParam()), 4, m));
  TorchNetwork& net = *m.net;
  int64_t counted = 0;
  for (const at::Tensor& p : net.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
    counted += p.numel();
  }
  EXPECT_EQ(counted, m.cost.params.value());

  std::vector<int64_t> in = net.input_dims();
  ASSERT_EQ(in[0], 4);
  at::Tensor y = net.Forward(at::randn(in));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 10}));
  EXPECT_TRUE(at::isfinite(y).all().item<bool>());
  y.sum().backward();
  ExpectEveryParameterHasAGradient(net);
}

INSTANTIATE_TEST_SUITE_P(Models, JsonModel,
                         ::testing::Values("lenet5", "simplecnn", "simplecnn2", "densepolynn",
                                           "denselinearnn", "resnet_small", "mobilenet_small",
                                           "inception_small", "vgg_small"));

TEST(TorchNetwork, InitialisationFollowsPyTorchDefaults) {
  Result<Graph> g = LoadAt(ModelPath("resnet_small"), 2);
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
  Result<Graph> g = LoadAt(ModelPath("lenet5"), 2);
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
  Result<Graph> g = LoadAt(ModelPath("lenet5"), 2);
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

// ---- Real ONNX exports (the torchvision fixture of tests/, at 64 px) ---------------------------

std::string TorchvisionModel(const char* name) {
  const char* dir = std::getenv("JOULECAST_TORCHVISION_DIR");
  return dir ? std::string(dir) + "/64/" + name + ".onnx" : std::string();
}

class TorchvisionModel64 : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionModel64, BuildsWithTorchvisionsParametersAndTrains) {
  const std::string path = TorchvisionModel(GetParam());
  ASSERT_FALSE(path.empty()) << "set JOULECAST_TORCHVISION_DIR (ctest does) to the export folder";
  BuiltModel m;
  ASSERT_NO_FATAL_FAILURE(LoadCostAndBuild(path, 2, m));
  TorchNetwork& net = *m.net;
  int64_t buffer_elements = 0;
  for (const at::Tensor& b : net.buffers()) buffer_elements += b.numel();
  EXPECT_EQ(buffer_elements, m.cost.buffers.value());
  at::Tensor y = net.Forward(at::randn({2, 3, 64, 64}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 1000}));
  y.logsumexp(1).sum().backward();
  ExpectEveryParameterHasAGradient(net);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionModel64,
                         ::testing::Values("resnet18", "resnet50", "densenet121", "regnet_y_400mf",
                                           "shufflenet_v2_x1_0", "mobilenet_v2",
                                           "mobilenet_v3_small", "mobilenet_v3_large",
                                           "squeezenet1_0", "googlenet", "efficientnet_b0",
                                           "convnext_tiny"));

}  // namespace
}  // namespace joulecast
