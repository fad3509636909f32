// Measured training: builds a trainable libtorch network from any IR graph the analyzer reads,
// trains it, and measures time and energy per step with an EnergyMeter. This is the ground
// truth predictions are validated against.
//
// The header uses plain types only; libtorch stays inside calibrate/torch/.
#pragma once

#include <cstdint>
#include <string>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

/// How a network is trained.
struct TrainOptions {
  std::string optimizer = "adam";  ///< "adam" (as in the paper) or "sgd".
  double learning_rate = 1e-3;
  double beta1 = 0.9;              ///< Adam's beta1, or SGD's momentum.
  double beta2 = 0.999;            ///< Adam's beta2.
  double weight_decay = 0;
  int threads = 0;                 ///< Intra-op threads; 0 keeps libtorch's default.
  std::string device = "cpu";      ///< "cpu" or "cuda[:N]" (a CUDA build of libtorch).
  std::string precision = "fp32";  ///< "fp32", "bf16" or, on CUDA, "fp16" (autocast).
  uint64_t seed = 1;               ///< Seeds weights, data (and its order) and dropout.
};

struct MeasureOptions {
  int64_t batch = 64;
  int64_t steps = 20;              ///< Measured steps, after warm-up (at least; see below).
  int64_t warmup_steps = 3;        ///< Steps run before measuring (allocator, caches).
  std::string dataset = "synthetic";  ///< "synthetic" or "fashion-mnist".
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  TrainOptions train;
};

struct Measurement {
  int64_t steps = 0;               ///< Steps measured.
  int64_t batch = 0;
  double time_s = 0;               ///< Wall time of all measured steps.
  double energy_j = 0;             ///< Energy of all measured steps, from the meter.
  double time_s_per_step = 0;
  double energy_j_per_step = 0;
  double time_s_per_step_stddev = 0;  ///< Sample stddev of the steps' wall times (the noise).
  double loss_first = 0;           ///< Loss of the first measured step.
  double loss_last = 0;            ///< Loss of the last measured step.
  int threads = 0;                 ///< Intra-op threads libtorch actually used.
};

/// Builds `graph` as a trainable network (calibrate/torch/torch_network.h) and trains it for
/// options.warmup_steps + options.steps steps (forward, cross-entropy loss, backward, optimizer
/// step; forward and loss under autocast at options.train.precision, as torch.autocast runs
/// them, backward and step outside it, no gradient scaling), reading `meter` and a steady clock
/// around the measured steps. If those steps take less than 10 x meter.update_period_s(), it
/// keeps stepping until they do, and Measurement::steps says how many were measured.
///
/// The graph's first output must be class logits [batch, classes], and the graph must have been
/// loaded at options.batch (LoadOptions::batch): shape plumbing is folded at Graph::batch.
/// Data: "synthetic" is one batch of standard-normal images of the graph input's shape and
/// uniform random labels, drawn once (seeded) and reused every step; "fashion-mnist" reads the
/// training split from options.dataset_dir, needs a 1x28x28 input and at least 10 classes, and
/// takes batches in a seeded shuffled order, scaled to [0, 1] and standardised with the split's
/// mean 0.2860 and std 0.3530 (this conversion is part of each timed step, as in a data loader).
/// options.train.threads > 0 sets libtorch's intra-op threads for the whole process; a CUDA
/// device gets PyTorch's default TF32 settings (cuDNN convolutions yes, cuBLAS matmuls no).
///
/// Errors (one line): an op libtorch cannot build (naming the node), a dataset whose files are
/// missing or corrupt, an input shape the dataset cannot feed, a graph loaded at another batch,
/// an output that is not [batch, classes], a CUDA device without a CUDA build, a precision that
/// is not fp32, bf16 or fp16 or that the device cannot autocast to, a meter that fails to read,
/// or libtorch failing during training (naming the node where it can).
Result<Measurement> MeasureTraining(const Graph& graph, const MeasureOptions& options,
                                    EnergyMeter& meter);

}  // namespace joulecast
