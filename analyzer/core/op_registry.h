// The op registry: one row per Op with everything the analyzer knows about it.
//
// A row names the op, its summary kind and model-class variant, which inputs it cannot do
// without and which hold trainable weights, what its backward keeps, and its shape and cost
// functions. The functions live by family in ops_conv.cc, ops_norm.cc, ops_pool.cc,
// ops_elementwise.cc and ops_shape.cc. The front ends, shape inference, the cost pass and the
// predictor read these rows; nothing else switches over ops. The table is checked at compile
// time: a row missing, out of enum order, or without a shape or cost function does not build.
// docs/adding-an-op.md walks through adding one.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "analyzer/core/ops.h"
#include "analyzer/core/status.h"

namespace joulecast {

class ShapeContext;
class CostContext;
struct Work;
struct LayerCost;

/// Which activations an op's backward needs, following PyTorch's autograd.
enum class Saves {
  nothing,  ///< Its gradient needs no activation (Add, Relu's mask aside: see `output`).
  input,    ///< Its first input (normalisations, most activations, pooling).
  output,   ///< Its first output (Relu, Sigmoid, Tanh, Softmax, Exp, ...).
  inputs,   ///< Its first two operands, each for the other's gradient (Conv, MatMul, Mul).
};

/// Behaviour flags of a row; combine with |.
enum OpFlags : uint8_t {
  kNoFlags = 0,
  /// Passes input 0 to output 0 unchanged in value (Reshape, Transpose, Cast, ...): a weight
  /// read through it is still a weight.
  kView = 1,
  /// Computes metadata or constants, never data (Shape, Size, Constant, Range, ...).
  kPlumbing = 2,
  /// Its outputs carry no gradient back to its inputs (comparisons, rounding, casts).
  kNoGradient = 4,
  /// Only output 0 takes a gradient (BatchNorm's running statistics, MaxPool's indices,
  /// Dropout's mask).
  kGradFirstOutputOnly = 8,
};

/// Fills in a node's output shapes (and folded values); see shape_inference.h.
using ShapeFn = Status (*)(ShapeContext&);
/// Adds a layer's op-specific costs: its MACs and GEMM shape, the variant where it depends on
/// the node, and extra bytes its backward keeps (statistics, indices, masks) when any_grad().
using CostFn = void (*)(const CostContext&, Work&, LayerCost&);

struct OpSpec {
  Op op;
  std::string_view name;  ///< The ONNX op_type in the default domain.
  Kind kind;              ///< The kind it is summarised under when it computes on data.
  /// LayerCost::variant for its plain form ("" for the kind's own); the cost function may
  /// refine it from the node (a depthwise convolution).
  std::string_view variant;
  uint8_t required_inputs;  ///< Inputs shape functions may read unchecked.
  uint8_t weight_inputs;    ///< Bit i set: a float initializer at input i is a weight.
  Saves saves;
  uint8_t flags;  ///< OpFlags.
  ShapeFn shape;
  CostFn cost;

  bool has(OpFlags f) const { return (flags & f) != 0; }
  bool weight_at(size_t position) const {
    return position < 8 && ((weight_inputs >> position) & 1) != 0;
  }
};

/// The row of `op`.
const OpSpec& Spec(Op op);
/// Every row, in enum order (Op::Unknown last).
std::span<const OpSpec> AllOps();

}  // namespace joulecast
