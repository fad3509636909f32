// The pieces of a libtorch training loop that measure.cc, train_validate.cc and layer_timing.cc
// share: building the network, where a step's batch comes from, the optimizer, one training
// step, the checks of TrainOptions, autocast, the device's math settings, and reading the meter.
//
// Internal to calibrate/torch: it includes libtorch, so only the .cc files in this folder may
// include it.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Device.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "calibrate/data/fashion_mnist.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/measure.h"
#include "calibrate/torch/torch_network.h"

namespace joulecast::torch_internal {

/// Fashion-MNIST's training-set pixel statistics after scaling to [0, 1].
inline constexpr double kFashionMean = 0.2860;
inline constexpr double kFashionStd = 0.3530;

/// The first line of an exception's message (libtorch's without its backtrace).
std::string FirstLine(const std::exception& e);

/// How errors name the graph: its source file, or its name when it has none.
std::string ModelName(const Graph& graph);

/// Sets libtorch's intra-op threads for the process (when `threads` > 0), then builds `graph`
/// (TorchNetwork::Build) with parameters seeded by `seed` on `device`. The error starts with
/// ModelName(graph).
Result<std::unique_ptr<TorchNetwork>> BuildNetwork(const Graph& graph, int threads, uint64_t seed,
                                                   const std::string& device);

/// Pixels (bytes, any shape) as the network's input: scaled to [0, 1] and standardised with
/// Fashion-MNIST's mean and standard deviation.
at::Tensor StandardizedImages(const at::Tensor& bytes);

/// Where each step's batch comes from.
class Batches {
 public:
  virtual ~Batches() = default;
  /// Images [batch, ...] and class labels [batch], on the training device.
  virtual std::pair<at::Tensor, at::Tensor> Next() = 0;
};

/// One random batch, drawn once and reused, so that steps differ only in the weights.
class SyntheticBatches : public Batches {
 public:
  SyntheticBatches(const std::vector<int64_t>& input_dims, int64_t classes, at::Device device);
  std::pair<at::Tensor, at::Tensor> Next() override;

 private:
  at::Tensor images_, labels_;
};

/// Labelled images in a seeded shuffled order: a batch that would run past the end is drawn
/// from a fresh shuffle instead (so every batch is full). Converting and standardising the
/// batch is part of the step, as it would be in a data loader. REQUIRES: data.count >= batch.
class FashionMnistBatches : public Batches {
 public:
  FashionMnistBatches(LabeledImages data, int64_t batch, uint64_t seed, at::Device device);
  std::pair<at::Tensor, at::Tensor> Next() override;

 private:
  void Shuffle();

  LabeledImages data_;  // Owns the bytes images_ and labels_ view.
  int64_t batch_;
  at::Device device_;
  std::vector<int64_t> order_;
  std::mt19937_64 rng_;
  int64_t next_ = 0;
  at::Tensor images_, labels_;
};

/// Checks the optimizer, learning rate, betas, weight decay, threads and precision (against the
/// device, CheckPrecision); one line naming the bad value.
Status CheckTrainOptions(const TrainOptions& t);

/// While alive, ops on `device_type` run under autocast at `precision` ("bf16" or "fp16"), as
/// inside `with torch.autocast(device_type, dtype)`; "fp32" does nothing. The previous autocast
/// state is restored on destruction, and the cast cache cleared when the outermost guard ends.
/// Autocast state is per thread. Scope it around the forward (and loss) only: PyTorch runs
/// backward and the optimizer step outside autocast.
/// REQUIRES: CheckPrecision(device, precision).ok() for a device of this type.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, const std::string& precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  /// Autocast's settings for one device type.
  struct State {
    bool enabled = false;
    c10::ScalarType dtype = c10::ScalarType::Undefined;
  };

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  State previous_;
};

/// Sets PyTorch's default float32 math explicitly for a CUDA device, so that a run does not
/// depend on what the process set before: cuDNN convolutions may use TF32, cuBLAS matmuls may
/// not (torch.backends.cudnn.allow_tf32 = True, torch.backends.cuda.matmul.allow_tf32 = False).
/// Process-wide; does nothing for the CPU.
void UsePyTorchDefaultMath(const c10::Device& device);

/// Adam with betas (beta1, beta2), or SGD with momentum beta1; both with weight decay.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::vector<at::Tensor>& params,
                                                       const TrainOptions& t);

/// One training step on `batch` (images, labels): zeroes the gradients, runs the forward and the
/// cross-entropy loss under autocast at `precision` on `device_type`, then backward and the
/// optimizer's step. Returns the loss, not yet read (reading it waits for the device).
at::Tensor TrainStep(TorchNetwork& net, torch::optim::Optimizer& optimizer,
                     const std::pair<at::Tensor, at::Tensor>& batch, c10::DeviceType device_type,
                     const std::string& precision);

/// Waits for the device (`sync`), then reads `meter`; the error names the meter.
Result<double> ReadMeter(EnergyMeter& meter, const std::function<void()>& sync);

}  // namespace joulecast::torch_internal
