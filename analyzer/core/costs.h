// What each layer costs in one training step: forward and backward multiply-accumulates,
// memory-bound element counts, parameters and buffers, and the bytes training keeps in memory.
//
// Conventions (docs/costs.md has the full table):
// - All counts here are per batch at Graph::batch; per sample is per batch / batch.
// - `macs_fwd` counts the multiply-accumulates of convolutions and matrix products only, bias
//   adds excluded: the convention of torchvision's published GFLOPS.
// - Backward MACs split into the input gradient (computed only when the layer's input depends on
//   a trainable parameter: a layer fed only by the graph input computes none) and the weight
//   gradient (computed only for trainable weights).
// - A node whose outputs fold to constants (shape plumbing) is kind `shape` and costs nothing.
// - An unmodelled op, or a modelled op whose shapes are unknown, is never a silent zero: it is
//   listed with `modelled == false` and the reason.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "analyzer/core/checked_math.h"
#include "analyzer/core/ir.h"

namespace joulecast {

/// Work counted for one layer or summed over many, per batch.
struct Work {
  Count macs_fwd;         ///< Forward multiply-accumulates (conv and matrix products).
  Count macs_bwd_input;   ///< Backward MACs for the gradient w.r.t. the layer's input.
  Count macs_bwd_weight;  ///< Backward MACs for the gradient w.r.t. its weights.
  Count elements_fwd;     ///< Output elements the forward writes (memory-bound work).
  Count elements_bwd;     ///< Gradient elements the backward writes (inputs and weights).
  Count saved_bytes;      ///< Activation bytes kept from forward for backward.
  /// Elements of the unfolded input a convolution or matrix product multiplies: output
  /// positions x input channels x kernel area (im2col), or the left operand's elements. With
  /// macs_fwd and elements_fwd it tells a layer's shape apart: macs / im2col is its output
  /// channels, macs / elements_fwd its reduction length.
  Count im2col_elements;
  /// Elements of the activations the layer reads (its data inputs, not its parameters): with
  /// elements_fwd and the parameters, the memory traffic of a memory-bound layer.
  Count elements_in;

  Work& operator+=(const Work& o);
  /// True if any counter overflowed 64 bits.
  bool overflowed() const;
};

struct LayerCost {
  int node = -1;  ///< Index into Graph::nodes.
  Kind kind = Kind::other;
  bool modelled = true;
  std::string why_unmodelled;  ///< Set when !modelled: "op not modelled", "shape unknown".
  /// What distinguishes this layer's speed within its kind, "" for the kind's plain form:
  /// conv "depthwise" (groups = input channels), "grouped", "input" (reads data that needs no
  /// gradient, so no input gradient: a network's first layer) or "transpose"; linear "input";
  /// activation, elementwise: the op in lower case ("tanh", "add", "concat"); pool "max",
  /// "avg", "global_avg", "global_max"; norm "layer", "instance". Layers recognised from
  /// decomposed patterns (patterns.h) have "".
  std::string variant;
  Work work;                   ///< Per batch.
  Count params;                ///< Trainable parameters first consumed by this node.
  Count buffers;               ///< Non-trained stored values (BatchNorm running stats).
  /// The matrix product a convolution or matrix product is (per group): M rows (output
  /// positions x batch), N columns (output channels per group), K the reduction (input channels
  /// per group x kernel area); groups as in the op. All 0 for other layers.
  int64_t gemm_m = 0, gemm_n = 0, gemm_k = 0, groups = 0;
  /// Input channels per group: K without the kernel area (K itself for a matrix product); a
  /// batch normalisation's channels (its statistics are per channel); 0 for other layers.
  /// Devices process channels in blocks (a CPU's vector width) or one per block of threads.
  int64_t in_channels = 0;
};

struct KindTotals {
  int layers = 0;  ///< Nodes of this kind.
  Work work;
  Count params;
  Count buffers;
};

struct ModelCost {
  int64_t batch = 1;               ///< Batch the per-batch counts are for.
  std::vector<LayerCost> layers;   ///< One per node, in graph order.
  std::array<KindTotals, kNumKinds> by_kind;  ///< Indexed by static_cast<int>(Kind).
  Work total;                      ///< Per batch, all layers.
  Count params;                    ///< Trainable parameters, each counted once.
  int64_t param_tensors = 0;       ///< Trainable parameter tensors (the optimizer's loop).
  Count buffers;                   ///< Buffers, each counted once.
  Count param_bytes;               ///< Storage of the trainable parameters.
  Count buffer_bytes;              ///< Storage of the buffers.
  Count grad_bytes;                ///< Gradients: one per parameter.
  Count adam_state_bytes;          ///< Adam's two moments per parameter.
  Count sgd_momentum_bytes;        ///< SGD with momentum: one buffer per parameter.
  std::vector<int> unmodelled;     ///< Indices into `layers` of unmodelled nodes.

  /// Per-sample value of a per-batch count (exact for layers linear in the batch).
  double PerSample(Count c) const { return static_cast<double>(c.value()) / batch; }
};

struct CostOptions {
  /// Count the graph's data input as if it needed a gradient (it is another layer's output):
  /// calibration times single layers in the context they have inside a network.
  bool input_needs_grad = false;
};

/// Counts the cost of every node of an inferred graph. Fails only on 64-bit overflow, naming the
/// node. REQUIRES: graph finalized and shapes inferred.
Result<ModelCost> ComputeCosts(const Graph& graph, const CostOptions& options = {});

/// The model class a profile predicts `layer` with: "kind.variant", or "kind" when the variant
/// is empty ("conv.depthwise", "relu").
std::string ModelClass(const LayerCost& layer);

}  // namespace joulecast
