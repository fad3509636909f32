// Per-layer and optimizer-step timing. Includes ATen and the optimizers, as measure.cc does.
#include "calibrate/torch/layer_timing.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>

#include "calibrate/torch/measure.h"
#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/training_internal.h"

namespace joulecast {

namespace {

Status CheckOptions(const LayerTimingOptions& o) {
  if (o.threads < 0) return Status::Error("threads must not be negative");
  if (o.warmup_calls < 0) return Status::Error("warm-up calls must not be negative");
  if (o.min_calls < 1) return Status::Error("min_calls must be at least 1");
  if (o.max_calls < o.min_calls) return Status::Error("max_calls must be at least min_calls");
  if (!(o.min_window_s >= 0) || !std::isfinite(o.min_window_s)) {
    return Status::Error("min_window_s must be a non-negative number of seconds");
  }
  if (Status s = CheckDevice(o.device); !s.ok()) return s;
  return CheckPrecision(o.device, o.precision);
}

}  // namespace

Result<LayerTiming> TimeLayer(const Graph& graph, const LayerTimingOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  const std::string model = torch_internal::ModelName(graph);

  Result<std::unique_ptr<TorchNetwork>> built =
      torch_internal::BuildNetwork(graph, options.threads, options.seed, options.device);
  if (!built.ok()) return built.status();
  TorchNetwork& net = **built;
  net.SetTraining(true);
  const std::function<void()> sync = DeviceSynchronizer(options.device);

  try {
    const at::Device device(options.device);
    torch_internal::UsePyTorchDefaultMath(device);
    // Drawn on the CPU and moved, as measure.cc's synthetic batch is: the same values on
    // every device for a seed.
    at::Tensor x = at::randn(net.input_dims(), at::kFloat).to(device);
    x.requires_grad_(options.input_needs_grad);

    auto forward = [&] {
      torch_internal::AutocastGuard autocast(device.type(), options.precision);
      return net.Forward(x);
    };
    const at::Tensor first = forward();
    if (!first.is_floating_point()) {
      return Status::Error(model + ": the output is not floating point, so it has no gradient");
    }
    if (!first.requires_grad()) {
      return Status::Error(model +
                           ": the output depends on nothing trainable (no parameters, and the "
                           "input needs no gradient), so there is no backward to time");
    }
    const at::Tensor grad = at::randn(first.sizes(), at::kFloat).to(device).to(first.scalar_type());

    // Dropping the gradients lets each backward hand its result over instead of adding to the
    // last call's, as a training step after zero_grad(set_to_none=True) does.
    auto forward_backward = [&] {
      for (const at::Tensor& p : net.parameters()) p.mutable_grad().reset();
      if (options.input_needs_grad) x.mutable_grad().reset();
      forward().backward(grad);
    };

    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    LayerTiming t;

    for (int i = 0; i < options.warmup_calls; ++i) forward();
    sync();
    Clock::time_point t0 = Clock::now();
    // Without a sync per call the loop sees only the time to queue the calls, never more than
    // the time to run them: a window that looks long enough is.
    while (t.calls < options.max_calls &&
           (t.calls < options.min_calls || seconds(Clock::now() - t0) < options.min_window_s)) {
      forward();
      ++t.calls;
    }
    sync();
    t.forward_s = seconds(Clock::now() - t0) / t.calls;

    for (int i = 0; i < options.warmup_calls; ++i) forward_backward();
    sync();
    t0 = Clock::now();
    int calls = 0;
    while (calls < options.max_calls &&
           (calls < t.calls || seconds(Clock::now() - t0) < options.min_window_s)) {
      forward_backward();
      ++calls;
    }
    sync();
    t.forward_backward_s = seconds(Clock::now() - t0) / calls;
    return t;
  } catch (const std::exception& e) {
    return Status::Error(model + ": timing failed: " + torch_internal::FirstLine(e));
  }
}

Result<double> TimeOptimizerStep(int64_t params, int64_t tensors, const LayerTimingOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  if (tensors < 1 || params < tensors) {
    return Status::Error("an optimizer step needs at least one tensor and one value per tensor, have " +
                         std::to_string(params) + " values in " + std::to_string(tensors) + " tensors");
  }
  if (options.threads > 0) at::set_num_threads(options.threads);
  const std::function<void()> sync = DeviceSynchronizer(options.device);
  try {
    const at::Device device(options.device);
    at::manual_seed(options.seed);
    std::vector<at::Tensor> weights;
    for (int64_t i = 0; i < tensors; ++i) {
      const int64_t n = params / tensors + (i < params % tensors ? 1 : 0);
      at::Tensor w = at::randn({n}, at::kFloat).to(device).requires_grad_(true);
      w.mutable_grad() = at::randn({n}, at::kFloat).to(device);
      weights.push_back(w);
    }
    std::unique_ptr<torch::optim::Optimizer> adam = torch_internal::MakeOptimizer(weights, TrainOptions{});
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < options.warmup_calls; ++i) adam->step();
    sync();
    const Clock::time_point t0 = Clock::now();
    int calls = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    while (calls < options.max_calls && (calls < options.min_calls || elapsed() < options.min_window_s)) {
      adam->step();
      ++calls;
    }
    sync();
    return elapsed() / calls;
  } catch (const std::exception& e) {
    return Status::Error("timing an Adam step over " + std::to_string(params) + " values in " +
                         std::to_string(tensors) + " tensors failed: " + torch_internal::FirstLine(e));
  }
}

}  // namespace joulecast
