// Operator kinds of the IR and the cost kinds they are summarised under (op_registry.h holds
// what the analyzer knows of each op).
//
// The IR's operators follow ONNX semantics (attribute names, input order, broadcasting), so one
// set of shape and cost functions serves both front ends. Lookups are by exact name through a
// table, never by substring.
#pragma once

#include <optional>
#include <string_view>

namespace joulecast {

/// Every operator the analyzer models. Unknown marks one it does not: such a node is reported
/// as unmodelled by name and op type, never costed as a silent zero.
enum class Op {
  // Convolutions and matrix products.
  Conv, ConvTranspose, Gemm, MatMul,
  // Normalisation.
  BatchNormalization, LayerNormalization, InstanceNormalization, GroupNormalization,
  // Activations.
  Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Clip, Elu, Gelu, Erf, Softplus,
  Softmax, LogSoftmax, PRelu, Selu,
  // Pooling and reductions.
  MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean, ReduceSum, ReduceMax,
  // Elementwise arithmetic (numpy broadcasting).
  Add, Sub, Mul, Div, Pow, Sqrt, Neg, Exp, Log, Reciprocal, Abs, Floor, Ceil, Equal, Where,
  Max, Min,
  // Data movement.
  Concat, Split, Transpose, Pad, Resize, Upsample, Expand, Tile, Dropout,
  // Views and shape plumbing (zero cost).
  Flatten, Reshape, Squeeze, Unsqueeze, Identity, Constant, Shape, Gather, Slice, Cast,
  ConstantOfShape, Range, Size,
  Unknown,
};

/// The summary kinds of the per-kind breakdown. `shape` costs nothing; `other` holds
/// unmodelled ops.
enum class Kind { conv, linear, relu, activation, norm, pool, elementwise, dropout, shape, other };

/// Number of Kind values, for arrays indexed by Kind.
inline constexpr int kNumKinds = 10;

/// Number of Op values, Unknown included.
inline constexpr int kNumOps = static_cast<int>(Op::Unknown) + 1;

/// The ONNX op_type for an Op ("Conv", "Relu", ...). Unknown gives "Unknown".
std::string_view OpName(Op op);
/// The Op for an ONNX op_type in the default domain; Op::Unknown when not modelled.
Op OpFromName(std::string_view onnx_op_type);
/// The lower-case name of a Kind ("conv", "linear", ...).
std::string_view KindName(Kind kind);
/// The Kind for a name produced by KindName; nullopt for anything else.
std::optional<Kind> KindFromName(std::string_view name);
/// The kind an op is summarised under when it computes on activations. (An op whose outputs
/// fold to constants is `shape` whatever its Op; see costs.h.)
Kind KindOf(Op op);
// These read the op registry (op_registry.h), which has everything else about an op.

}  // namespace joulecast
