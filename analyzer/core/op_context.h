// What one op's shape and cost functions see of their node (op_registry.h holds the functions).
//
// ShapeContext: the node's inputs (shapes, folded values, types), its attributes, and Set() for
// its outputs. CostContext: the node's tensors in their final shapes and which of them carry a
// gradient, for counting MACs, the GEMM a layer is, and what its backward keeps. Both are thin
// views over a Graph; they own nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/checked_math.h"
#include "analyzer/core/ir.h"

namespace joulecast {

struct InferenceOptions;
struct Work;
struct LayerCost;

using Dims = std::vector<int64_t>;
using Values = std::optional<std::vector<int64_t>>;

class ShapeContext {
 public:
  ShapeContext(Graph& g, int node, const InferenceOptions& o)
      : g_(g), n_(g.nodes[node]), opt_(o) {}

  /// The node being inferred.
  const Node& node() const { return n_; }
  /// Input and output slots, omitted optional ones included.
  size_t num_inputs() const { return n_.inputs.size(); }
  size_t num_outputs() const { return n_.outputs.size(); }
  /// Input i, or nullptr when the node has no such input or it is omitted.
  const Tensor* in(size_t i) const {
    return i < n_.inputs.size() && n_.inputs[i] >= 0 ? &g_.tensors[n_.inputs[i]] : nullptr;
  }
  /// True when input i exists and its shape is known.
  bool known(size_t i) const { return in(i) && in(i)->shape_known; }
  /// REQUIRES: known(i).
  const Dims& dims(size_t i) const { return in(i)->dims; }
  int64_t rank(size_t i) const { return static_cast<int64_t>(dims(i).size()); }
  bool batched(size_t i) const { return in(i) && in(i)->batched; }
  /// Folded values of input i, or nullptr.
  const std::vector<int64_t>* values(size_t i) const {
    const Tensor* t = in(i);
    return t && t->int_values ? &*t->int_values : nullptr;
  }
  DType dtype(size_t i) const { return in(i) ? in(i)->dtype : DType::undefined; }
  bool has_output(size_t k) const { return k < n_.outputs.size() && n_.outputs[k] >= 0; }

  /// An error naming the node: "node 'x' (Conv): what".
  Status Fail(const std::string& what) const;
  /// An error unless the first `count` inputs are present.
  Status Require(size_t count) const;
  /// Sets output k. An output that already has a shape (from the front end) keeps it; folded
  /// values are recorded either way when they are small enough.
  Status Set(size_t k, Dims d, bool is_batched, DType dt, Values vals = std::nullopt);

  /// Axis in [-r, r) normalised to [0, r); nullopt when out of range.
  static std::optional<int64_t> Axis(int64_t axis, int64_t r) {
    if (axis < -r || axis >= r) return std::nullopt;
    return axis < 0 ? axis + r : axis;
  }

 private:
  Graph& g_;
  Node& n_;
  const InferenceOptions& opt_;
};

class CostContext {
 public:
  CostContext(const Graph& g, const Node& n, const std::vector<bool>& needs_grad,
              const std::vector<bool>& from_input)
      : g_(g), n_(n), needs_grad_(needs_grad), from_input_(from_input) {}

  const Node& node() const { return n_; }
  /// Input i. REQUIRES: the node has input i (the registry's required inputs).
  const Tensor& in(size_t i) const { return g_.tensors[n_.inputs[i]]; }
  /// Output k. REQUIRES: the node has output k.
  const Tensor& out(size_t k) const { return g_.tensors[n_.outputs[k]]; }
  /// True when input i exists and a gradient flows to it.
  bool grad(size_t i) const {
    return i < n_.inputs.size() && n_.inputs[i] >= 0 && needs_grad_[n_.inputs[i]];
  }
  /// True when any input takes a gradient: the backward runs and keeps what it saves.
  bool any_grad() const;
  /// True when input i depends on the graph input (an activation, not a weight).
  bool from_input(size_t i) const { return from_input_[n_.inputs[i]]; }

 private:
  const Graph& g_;
  const Node& n_;
  const std::vector<bool>& needs_grad_;
  const std::vector<bool>& from_input_;
};

/// Elements of a tensor of known shape.
Count Elements(const Tensor& t);
/// Bytes of a tensor of known shape and type.
Count Bytes(const Tensor& t);
/// Numpy broadcasting of two shapes; nullopt when they do not broadcast.
std::optional<Dims> Broadcast(const Dims& a, const Dims& b);
/// True for integer and boolean element types (whose values shape plumbing folds).
bool IsInt(DType t);
/// Spatial output dims of a sliding window (convolutions, pools) from kernel, strides, pads
/// and auto_pad, with the node named in errors (ops_pool.cc).
Status SlidingWindow(ShapeContext& c, const Dims& x, const Dims& kernel, Dims* out_spatial,
                     bool ceil_mode);
/// Axes from the attribute (older opsets) or input `input_index` (newer ones); false when
/// they are an input whose values are unknown (ops_pool.cc).
bool AxesOf(const ShapeContext& c, size_t input_index, Dims* axes);

}  // namespace joulecast
