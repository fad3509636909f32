// Timing one layer as training runs it: the forward with autograd recording, and the forward
// then backward, each averaged over enough calls to be resolved by a steady clock. Measured
// per-layer times are what a per-layer time model is checked against.
//
// The header uses plain types only; libtorch stays inside calibrate/torch/.
#pragma once

#include <cstdint>
#include <string>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"

namespace joulecast {

/// How a layer is timed.
struct LayerTimingOptions {
  std::string device = "cpu";      ///< "cpu" or "cuda[:N]".
  int threads = 0;                 ///< Intra-op threads; 0 keeps libtorch's default.
  std::string precision = "fp32";  ///< "fp32", "bf16" or "fp16" (autocast, as torch.autocast).
  bool input_needs_grad = true;    ///< False for a network's first layer: no input gradient.
  int warmup_calls = 3;            ///< Untimed calls first (allocator, cuDNN/oneDNN setup).
  int min_calls = 10;              ///< Timed calls at least.
  double min_window_s = 0.02;      ///< Keep calling until the timed window lasts this long.
  int max_calls = 1000;            ///< Timed calls at most, even if the window is shorter.
  uint64_t seed = 1;               ///< Seeds the weights, the input and the output gradient.
};

/// What TimeLayer measured.
struct LayerTiming {
  double forward_s = 0;           ///< Mean wall time of one forward call.
  double forward_backward_s = 0;  ///< Mean of one forward then backward call.
  int calls = 0;                  ///< Timed forward calls (forward+backward: at least as many).
};

/// Times `graph` (typically one layer, loaded by the JSON front end at its batch) in training
/// mode on options.device: it is built as a TorchNetwork (torch_network.h) and fed one
/// standard-normal input of the graph input's shape, requiring a gradient if
/// options.input_needs_grad. Forward: options.warmup_calls untimed calls, then calls between two
/// device synchronisations until at least options.min_calls have run and options.min_window_s
/// has passed, or options.max_calls have run; `calls` is how many. Forward then backward: as
/// many warm-up calls, then timed ones until at least `calls` have run and options.min_window_s
/// has passed (or options.max_calls), each back-propagating one fixed standard-normal gradient of the first output's shape. Gradients
/// are dropped before each backward (as zero_grad(set_to_none=True) does), so none accumulates.
/// The forward runs under autocast at options.precision, the backward outside it.
/// options.threads > 0 sets libtorch's intra-op threads for the whole process; a CUDA device
/// gets PyTorch's default TF32 settings.
///
/// Errors (one line): bad options, a device or precision this libtorch cannot run
/// (CheckDevice, CheckPrecision), a graph TorchNetwork cannot build (naming the node), a first
/// output that is not floating point or does not depend on anything trainable (a layer without
/// parameters whose input needs no gradient), or libtorch failing while timing.
Result<LayerTiming> TimeLayer(const Graph& graph, const LayerTimingOptions& options);

/// Times one Adam step (measure.h's TrainOptions defaults, as training runs it) over `params`
/// values split as evenly as possible into `tensors` parameter tensors with random gradients, on
/// options.device: options.warmup_calls untimed steps, then steps between two device
/// synchronisations until options.min_calls have run and options.min_window_s has passed (or
/// options.max_calls). Returns seconds per step. Adam keeps its state in fp32 under autocast, so
/// options.precision and input_needs_grad do not apply. Errors: bad options, params < tensors or
/// tensors < 1, or libtorch failing (out of memory, say).
Result<double> TimeOptimizerStep(int64_t params, int64_t tensors, const LayerTimingOptions& options);

}  // namespace joulecast
