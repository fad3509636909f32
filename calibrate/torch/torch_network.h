// A trainable libtorch network built from an IR graph: the bridge between what the analyzer reads
// and what calibrate and measure train.
//
// The network interprets the graph's nodes in topological order with libtorch ops that follow
// ONNX semantics (the IR's), for every op the analyzer models. Role::parameter tensors become
// trainable parameters with PyTorch's default initialisation (kaiming-uniform weights and matching
// biases for conv and linear layers, ones and zeros for normalisation scales and biases, 0.25 for
// PReLU), Role::buffer tensors read as BatchNorm running statistics become buffers (zeros and
// ones) that the training-mode forward updates, and tensors whose values shape inference folded
// (Tensor::int_values) are constants; a node whose outputs all folded is not run at all.
//
// Training semantics where ONNX leaves a choice: in training mode (the default, because the
// network exists to be trained) BatchNormalization uses batch statistics and updates its running
// statistics, and Dropout drops (unless its training_mode input is a known false);
// SetTraining(false) evaluates, as PyTorch's eval() does.
//
// Not buildable, each a one-line error naming the node and its op type: Op::Unknown; an input
// whose values matter but are not in the IR (a float constant such as Clip's min, Pow's exponent
// or Dropout's ratio given as a tensor: the IR keeps only integer values); an output shape the
// IR does not know where the op needs it; and the few ONNX variants libtorch has no op for (cubic
// Resize, dilated AveragePool, MaxPool's indices output, ...).
//
// This header names libtorch's tensor type without including libtorch, so that it is cheap to
// include; callers that use the tensors include <ATen/ATen.h> (or <torch/torch.h>) themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"

namespace at {
class Tensor;
}  // namespace at

namespace joulecast {

struct NetworkOptions {
  /// Seeds libtorch's global generator before the parameters are initialised (so also what
  /// is drawn after: dropout masks, synthetic data).
  uint64_t seed = 1;
  /// "cpu", "cuda" or "cuda:N" (needs a CUDA build of libtorch and a visible GPU).
  std::string device = "cpu";
};

/// A network built once from a graph and then run many times. Not thread-safe.
class TorchNetwork {
 public:
  /// Builds `graph`. REQUIRES: graph finalized and shapes inferred (as LoadModel returns it).
  /// The graph must have exactly one data input of known shape; the network runs at exactly that
  /// shape (the batch included: shape plumbing was folded at Graph::batch). Fails, with one line
  /// naming the node and op type, on anything it cannot build (see the top of this file).
  static Result<std::unique_ptr<TorchNetwork>> Build(const Graph& graph,
                                                     const NetworkOptions& options = {});
  ~TorchNetwork();
  TorchNetwork(const TorchNetwork&) = delete;
  TorchNetwork& operator=(const TorchNetwork&) = delete;

  /// Runs the graph on `input` (float, of exactly input_dims(), on device()) with autograd
  /// recording, and returns the graph's first output. Throws std::runtime_error whose message
  /// names the node (and op type) where libtorch failed, or the input on a shape mismatch.
  at::Tensor Forward(const at::Tensor& input);
  /// Like Forward, but returns every graph output, in Graph::outputs order.
  std::vector<at::Tensor> ForwardAll(const at::Tensor& input);

  /// Trainable parameters, one per Role::parameter tensor a node reads, in tensor order.
  const std::vector<at::Tensor>& parameters() const;
  /// Names of the parameters (the IR tensor names), parallel to parameters().
  const std::vector<std::string>& parameter_names() const;
  /// Total number of trainable values; equals ComputeCosts(graph)->params.
  int64_t parameter_count() const;
  /// Buffers (BatchNorm running statistics), in tensor order; Forward updates them in place.
  const std::vector<at::Tensor>& buffers() const;
  /// Shape of the input Forward takes, batch first.
  const std::vector<int64_t>& input_dims() const;
  /// Shape of the first output, as the IR gives it (empty when unknown).
  const std::vector<int64_t>& output_dims() const;
  /// The device the network lives on, as given.
  const std::string& device() const;
  /// Training mode (the default): BatchNormalization uses batch statistics and updates its
  /// running ones, Dropout drops. Off (evaluation): BatchNormalization uses the running
  /// statistics where it has them, and Dropout passes its input through.
  void SetTraining(bool training);
  bool training() const;

  struct Impl;

 private:
  explicit TorchNetwork(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Checks that `device` is "cpu", "cuda" or "cuda:N" and usable with this libtorch: a CUDA
/// device needs a CUDA build and a GPU with that index. The error says which is missing.
Status CheckDevice(const std::string& device);

/// Checks that `precision` is "fp32", "bf16" or "fp16" and that autocast on `device` supports
/// it: fp16 needs a CUDA device (CPU autocast has no fp16 here). Checks only the device's kind,
/// not the device itself (CheckDevice does). The error is one line naming what is wrong.
Status CheckPrecision(const std::string& device, const std::string& precision);

/// The CUDA device index of "cuda" (0) or "cuda:N"; -1 for the CPU.
int CudaIndex(const std::string& device);

/// A function that waits for the work queued on `device` (nothing for the CPU), for
/// MeterOptions::synchronize. REQUIRES: CheckDevice(device).ok().
std::function<void()> DeviceSynchronizer(const std::string& device);

/// The libtorch version this was built with, e.g. "1.13.1".
std::string LibtorchVersion();

}  // namespace joulecast
