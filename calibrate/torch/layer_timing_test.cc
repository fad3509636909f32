// TimeLayer on single layers written on the spot, CheckPrecision, and the autocast guard that
// training and TimeLayer share.
#include "calibrate/torch/layer_timing.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>

#include "analyzer/json/json_frontend.h"
#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/training_internal.h"

namespace joulecast {
namespace {

// One layer as the JSON front end reads it, at `batch`.
Graph Layer(const std::string& layer, const std::string& input_shape, int64_t batch) {
  LoadOptions lo;
  lo.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(
      R"({"name": "layer", "input": {"shape": )" + input_shape + R"(}, "layers": [)" + layer + "]}",
      "layer.json", lo);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(*g) : Graph{};
}

// About a millisecond a forward call on one core.
Graph Conv() {
  return Layer(R"({"op": "conv2d", "out_channels": 32, "kernel": 3, "padding": 1})", "[16, 16, 16]",
               4);
}

LayerTimingOptions Quick() {
  LayerTimingOptions o;
  o.threads = 1;  // two threads on two loaded cores make the windows erratic
  o.warmup_calls = 1;
  o.min_calls = 5;
  o.min_window_s = 0.02;
  return o;
}

// Times Conv() with Quick() options changed by `change`.
Result<LayerTiming> TimeConv(const std::function<void(LayerTimingOptions&)>& change) {
  LayerTimingOptions o = Quick();
  change(o);
  return TimeLayer(Conv(), o);
}

// Quick() with other bounds on the calls and the timed window.
LayerTimingOptions Window(int min_calls, int max_calls, double min_window_s) {
  LayerTimingOptions o = Quick();
  o.min_calls = min_calls;
  o.max_calls = max_calls;
  o.min_window_s = min_window_s;
  return o;
}

// Whether forward then backward took longer than the forward alone. Timing on a shared machine is
// noisy (a descheduled time slice can land in either window), so one of three tries must show it.
bool BackwardAddsTime(const Graph& g, const LayerTimingOptions& o) {
  for (int i = 0; i < 3; ++i) {
    Result<LayerTiming> t = TimeLayer(g, o);
    if (t.ok() && t->forward_backward_s > t->forward_s) return true;
  }
  return false;
}

TEST(LayerTiming, TimesAConvForwardAndBackward) {
  Result<LayerTiming> t = TimeLayer(Conv(), Quick());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GT(t->forward_s, 0);
  EXPECT_GT(t->forward_backward_s, 0);
  EXPECT_GE(t->calls, 5);
  EXPECT_LE(t->calls, 1000);
  EXPECT_GE(t->forward_s * t->calls, 0.02);
  EXPECT_TRUE(BackwardAddsTime(Conv(), Quick()));
}

TEST(LayerTiming, KeepsCallingUntilTheWindowIsLongEnough) {
  Result<LayerTiming> t = TimeLayer(Conv(), Window(1, 1000000, 0.05));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GT(t->calls, 1);
  EXPECT_GE(t->forward_s * t->calls, 0.05);
  EXPECT_GE(t->forward_backward_s * t->calls, 0.05);
}

TEST(LayerTiming, StopsAtMaxCalls) {
  Result<LayerTiming> t = TimeLayer(Conv(), Window(2, 3, 100));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->calls, 3);
}

TEST(LayerTiming, FirstLayerWithoutInputGradient) {
  LayerTimingOptions o = Quick();
  o.input_needs_grad = false;
  Result<LayerTiming> t = TimeLayer(Conv(), o);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GT(t->forward_backward_s, 0);
  EXPECT_TRUE(BackwardAddsTime(Conv(), o));
}

TEST(LayerTiming, LayerWithoutParametersNeedsAnInputGradient) {
  Graph relu = Layer(R"({"op": "relu"})", "[8, 16, 16]", 4);
  Result<LayerTiming> t = TimeLayer(relu, Quick());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GT(t->forward_s, 0);

  LayerTimingOptions o = Quick();
  o.input_needs_grad = false;
  t = TimeLayer(relu, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("nothing trainable"), std::string::npos)
      << t.status().message();
}

TEST(LayerTiming, BadOptionsAreOneLineErrors) {
  struct Case {
    std::function<void(LayerTimingOptions&)> change;
    const char* expected;
  };
  const Case cases[] = {
      {[](LayerTimingOptions& o) { o.device = "tpu"; }, "tpu"},
      {[](LayerTimingOptions& o) { o.min_calls = 0; }, "min_calls must be at least 1"},
      {[](LayerTimingOptions& o) { o.max_calls = 2; }, "max_calls must be at least min_calls"},
      {[](LayerTimingOptions& o) { o.precision = "fp8"; }, "'fp8'"},
      // Refused on the CPU: fp16 autocast needs a CUDA device.
      {[](LayerTimingOptions& o) { o.precision = "fp16"; }, "fp16"},
  };
  for (const Case& c : cases) {
    Result<LayerTiming> t = TimeConv(c.change);
    ASSERT_FALSE(t.ok()) << c.expected;
    EXPECT_NE(t.status().message().find(c.expected), std::string::npos) << t.status().message();
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos) << t.status().message();
  }
}

TEST(LayerTiming, Bf16OnTheCpu) {
  Result<LayerTiming> t = TimeConv([](LayerTimingOptions& o) { o.precision = "bf16"; });
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GT(t->forward_s, 0);
  EXPECT_GT(t->forward_backward_s, 0);
}

TEST(LayerTiming, TimesAnAdamStepAndMoreTensorsCostMore) {
  LayerTimingOptions o;
  o.threads = 1;
  o.min_calls = 5;
  Result<double> one = TimeOptimizerStep(4096, 1, o);
  ASSERT_TRUE(one.ok()) << one.status().message();
  Result<double> many = TimeOptimizerStep(4096, 512, o);
  ASSERT_TRUE(many.ok()) << many.status().message();
  EXPECT_GT(*one, 0);
  // Each tensor is a loop of ops of its own: 512 of 8 values cost far more than one of 4096.
  EXPECT_GT(*many, 5 * *one);
  Result<double> bad = TimeOptimizerStep(3, 4, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("3 values in 4 tensors"), std::string::npos);
}

TEST(Precision, CheckPrecisionNamesWhatIsWrong) {
  EXPECT_TRUE(CheckPrecision("cpu", "fp32").ok());
  EXPECT_TRUE(CheckPrecision("cpu", "bf16").ok());
  EXPECT_TRUE(CheckPrecision("cuda", "fp16").ok());
  EXPECT_TRUE(CheckPrecision("cuda:1", "bf16").ok());

  Status s = CheckPrecision("cpu", "fp8");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'fp8'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("fp32, bf16 or fp16"), std::string::npos) << s.message();

  s = CheckPrecision("cpu", "fp16");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("CUDA"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
}

// The guard turns CPU autocast on for its scope only, at the asked dtype, and fp32 leaves it off.
TEST(Precision, AutocastGuardIsScoped) {
  const at::Tensor a = at::randn({4, 4});
  {
    torch_internal::AutocastGuard autocast(at::kCPU, "bf16");
    EXPECT_EQ(at::mm(a, a).scalar_type(), at::kBFloat16);
    {
      torch_internal::AutocastGuard inner(at::kCPU, "fp32");
      EXPECT_EQ(at::mm(a, a).scalar_type(), at::kBFloat16);
    }
    EXPECT_EQ(at::mm(a, a).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(at::mm(a, a).scalar_type(), at::kFloat);
  {
    torch_internal::AutocastGuard autocast(at::kCPU, "fp32");
    EXPECT_EQ(at::mm(a, a).scalar_type(), at::kFloat);
  }
}

// What the network's ops do under CPU bf16 autocast: the layers that carry the work (linear,
// convolution) run in bf16, as they would in PyTorch.
TEST(Precision, NetworkRunsItsHeavyLayersInBf16UnderAutocast) {
  for (const char* layer : {R"({"op": "linear", "out_features": 8})",
                            R"({"op": "conv2d", "out_channels": 8, "kernel": 3})"}) {
    Graph g = Layer(
        layer, std::string(layer).find("linear") != std::string::npos ? "[16]" : "[3, 8, 8]", 2);
    auto net = TorchNetwork::Build(g);
    ASSERT_TRUE(net.ok()) << net.status().message();
    const at::Tensor x = at::randn((*net)->input_dims());
    torch_internal::AutocastGuard autocast(at::kCPU, "bf16");
    EXPECT_EQ((*net)->Forward(x).scalar_type(), at::kBFloat16) << layer;
  }
}

}  // namespace
}  // namespace joulecast
