#include "analyzer/core/op_registry.h"

#include <array>


namespace joulecast {

// The shape and cost functions of each family, defined in its file (ops_conv.cc, ...) and used
// only here: an op's row and its declarations are the registry's part of adding it.
// ops_conv.cc: convolutions and matrix products.
Status ConvShape(ShapeContext& c);
Status ConvTransposeShape(ShapeContext& c);
Status GemmShape(ShapeContext& c);
Status MatMulShape(ShapeContext& c);
void ConvCost(const CostContext& c, Work& w, LayerCost& lc);
void ConvTransposeCost(const CostContext& c, Work& w, LayerCost& lc);
void GemmCost(const CostContext& c, Work& w, LayerCost& lc);
void MatMulCost(const CostContext& c, Work& w, LayerCost& lc);

// ops_norm.cc: normalisations.
Status BatchNormShape(ShapeContext& c);
Status LayerNormShape(ShapeContext& c);
Status InstanceNormShape(ShapeContext& c);
Status GroupNormShape(ShapeContext& c);
void BatchNormCost(const CostContext& c, Work& w, LayerCost& lc);
void LayerNormCost(const CostContext& c, Work& w, LayerCost& lc);
void InstanceNormCost(const CostContext& c, Work& w, LayerCost& lc);
void GroupNormCost(const CostContext& c, Work& w, LayerCost& lc);

// ops_pool.cc: pooling and reductions.
Status PoolShape(ShapeContext& c);
Status GlobalPoolShape(ShapeContext& c);
Status ReduceShape(ShapeContext& c);
void MaxPoolCost(const CostContext& c, Work& w, LayerCost& lc);

// ops_elementwise.cc: activations, arithmetic (folding integer values) and data movement.
Status SameAsInput(ShapeContext& c);
Status AddShape(ShapeContext& c);
Status SubShape(ShapeContext& c);
Status MulShape(ShapeContext& c);
Status DivShape(ShapeContext& c);
Status NegShape(ShapeContext& c);
Status AbsShape(ShapeContext& c);
Status RoundShape(ShapeContext& c);
Status EqualShape(ShapeContext& c);
Status WhereShape(ShapeContext& c);
Status MaxShape(ShapeContext& c);
Status MinShape(ShapeContext& c);
/// Broadcasting arithmetic whose values are never folded (Pow, Exp, Sqrt, ...).
Status ArithmeticShape(ShapeContext& c);
Status ConcatShape(ShapeContext& c);
Status SplitShape(ShapeContext& c);
Status PadShape(ShapeContext& c);
Status ResizeShape(ShapeContext& c);
Status UpsampleShape(ShapeContext& c);
Status ExpandShape(ShapeContext& c);
Status TileShape(ShapeContext& c);
Status DropoutShape(ShapeContext& c);
void DropoutCost(const CostContext& c, Work& w, LayerCost& lc);

// ops_shape.cc: views and shape plumbing.
Status TransposeShape(ShapeContext& c);
Status FlattenShape(ShapeContext& c);
Status ReshapeShape(ShapeContext& c);
Status SqueezeShape(ShapeContext& c);
Status UnsqueezeShape(ShapeContext& c);
Status ConstantShape(ShapeContext& c);
Status ShapeShape(ShapeContext& c);
Status SizeShape(ShapeContext& c);
Status GatherShape(ShapeContext& c);
Status SliceShape(ShapeContext& c);
Status CastShape(ShapeContext& c);
Status ConstantOfShapeShape(ShapeContext& c);
Status RangeShape(ShapeContext& c);
/// Op::Unknown: nothing to infer.
Status UnknownShape(ShapeContext& c);

// costs.cc: for ops whose whole cost is the generic part (elements moved, activations saved).
void NoOpCost(const CostContext& c, Work& w, LayerCost& lc);

namespace {

// Weight positions as bit sets.
constexpr uint8_t kNone = 0, kW1 = 0b10, kW12 = 0b110, kW01 = 0b11;
// Flags.
constexpr uint8_t kPlumb = kPlumbing | kNoGradient;

using S = Saves;
using K = Kind;

// One row per Op, in enum order.
// op, name, kind, variant, required inputs, weights, saves, flags, shape, cost
constexpr OpSpec kOps[] = {
    // Convolutions and matrix products (ops_conv.cc).
    {Op::Conv, "Conv", K::conv, "", 2, kW12, S::inputs, kNoFlags, ConvShape, ConvCost},
    {Op::ConvTranspose, "ConvTranspose", K::conv, "transpose", 2, kW12, S::inputs, kNoFlags,
     ConvTransposeShape, ConvTransposeCost},
    {Op::Gemm, "Gemm", K::linear, "", 2, kW12, S::inputs, kNoFlags, GemmShape, GemmCost},
    {Op::MatMul, "MatMul", K::linear, "", 2, kW01, S::inputs, kNoFlags, MatMulShape, MatMulCost},
    // Normalisation (ops_norm.cc).
    {Op::BatchNormalization, "BatchNormalization", K::norm, "", 5, kW12, S::input,
     kGradFirstOutputOnly, BatchNormShape, BatchNormCost},
    {Op::LayerNormalization, "LayerNormalization", K::norm, "layer", 2, kW12, S::input, kNoFlags,
     LayerNormShape, LayerNormCost},
    {Op::InstanceNormalization, "InstanceNormalization", K::norm, "instance", 3, kW12, S::input,
     kNoFlags, InstanceNormShape, InstanceNormCost},
    {Op::GroupNormalization, "GroupNormalization", K::norm, "group", 3, kW12, S::input, kNoFlags,
     GroupNormShape, GroupNormCost},
    // Activations (ops_elementwise.cc).
    {Op::Relu, "Relu", K::relu, "", 1, kNone, S::output, kNoFlags, SameAsInput, NoOpCost},
    {Op::LeakyRelu, "LeakyRelu", K::activation, "leakyrelu", 1, kNone, S::input, kNoFlags,
     SameAsInput, NoOpCost},
    {Op::Sigmoid, "Sigmoid", K::activation, "sigmoid", 1, kNone, S::output, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::Tanh, "Tanh", K::activation, "tanh", 1, kNone, S::output, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::HardSigmoid, "HardSigmoid", K::activation, "hardsigmoid", 1, kNone, S::input, kNoFlags,
     SameAsInput, NoOpCost},
    {Op::HardSwish, "HardSwish", K::activation, "hardswish", 1, kNone, S::input, kNoFlags,
     SameAsInput, NoOpCost},
    {Op::Clip, "Clip", K::activation, "clip", 1, kNone, S::input, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::Elu, "Elu", K::activation, "elu", 1, kNone, S::output, kNoFlags, SameAsInput, NoOpCost},
    {Op::Gelu, "Gelu", K::activation, "gelu", 1, kNone, S::input, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::Erf, "Erf", K::activation, "erf", 1, kNone, S::input, kNoFlags, SameAsInput, NoOpCost},
    {Op::Softplus, "Softplus", K::activation, "softplus", 1, kNone, S::input, kNoFlags,
     SameAsInput, NoOpCost},
    {Op::Softmax, "Softmax", K::activation, "softmax", 1, kNone, S::output, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::LogSoftmax, "LogSoftmax", K::activation, "logsoftmax", 1, kNone, S::output, kNoFlags,
     SameAsInput, NoOpCost},
    {Op::PRelu, "PRelu", K::activation, "prelu", 2, kW1, S::input, kNoFlags, SameAsInput,
     NoOpCost},
    {Op::Selu, "Selu", K::activation, "selu", 1, kNone, S::input, kNoFlags, SameAsInput,
     NoOpCost},
    // Pooling and reductions (ops_pool.cc).
    {Op::MaxPool, "MaxPool", K::pool, "max", 1, kNone, S::input, kGradFirstOutputOnly, PoolShape,
     MaxPoolCost},
    {Op::AveragePool, "AveragePool", K::pool, "avg", 1, kNone, S::input, kNoFlags, PoolShape,
     NoOpCost},
    {Op::GlobalAveragePool, "GlobalAveragePool", K::pool, "global_avg", 1, kNone, S::nothing,
     kNoFlags, GlobalPoolShape, NoOpCost},
    {Op::GlobalMaxPool, "GlobalMaxPool", K::pool, "global_max", 1, kNone, S::input, kNoFlags,
     GlobalPoolShape, MaxPoolCost},
    {Op::ReduceMean, "ReduceMean", K::elementwise, "global_avg", 1, kNone, S::nothing, kNoFlags,
     ReduceShape, NoOpCost},
    {Op::ReduceSum, "ReduceSum", K::elementwise, "reducesum", 1, kNone, S::nothing, kNoFlags,
     ReduceShape, NoOpCost},
    {Op::ReduceMax, "ReduceMax", K::elementwise, "global_max", 1, kNone, S::input, kNoFlags,
     ReduceShape, NoOpCost},
    // Elementwise arithmetic (ops_elementwise.cc).
    {Op::Add, "Add", K::elementwise, "add", 2, kW01, S::nothing, kNoFlags, AddShape, NoOpCost},
    {Op::Sub, "Sub", K::elementwise, "sub", 2, kW01, S::nothing, kNoFlags, SubShape, NoOpCost},
    {Op::Mul, "Mul", K::elementwise, "mul", 2, kW01, S::inputs, kNoFlags, MulShape, NoOpCost},
    {Op::Div, "Div", K::elementwise, "div", 2, kW01, S::inputs, kNoFlags, DivShape, NoOpCost},
    {Op::Pow, "Pow", K::elementwise, "pow", 2, kNone, S::inputs, kNoFlags, ArithmeticShape,
     NoOpCost},
    {Op::Sqrt, "Sqrt", K::elementwise, "sqrt", 1, kNone, S::output, kNoFlags, ArithmeticShape,
     NoOpCost},
    {Op::Neg, "Neg", K::elementwise, "neg", 1, kNone, S::nothing, kNoFlags, NegShape, NoOpCost},
    {Op::Exp, "Exp", K::elementwise, "exp", 1, kNone, S::output, kNoFlags, ArithmeticShape,
     NoOpCost},
    {Op::Log, "Log", K::elementwise, "log", 1, kNone, S::input, kNoFlags, ArithmeticShape,
     NoOpCost},
    {Op::Reciprocal, "Reciprocal", K::elementwise, "reciprocal", 1, kNone, S::output, kNoFlags,
     ArithmeticShape, NoOpCost},
    {Op::Abs, "Abs", K::elementwise, "abs", 1, kNone, S::input, kNoFlags, AbsShape, NoOpCost},
    {Op::Floor, "Floor", K::elementwise, "floor", 1, kNone, S::nothing, kNoGradient, RoundShape,
     NoOpCost},
    {Op::Ceil, "Ceil", K::elementwise, "ceil", 1, kNone, S::nothing, kNoGradient, RoundShape,
     NoOpCost},
    {Op::Equal, "Equal", K::elementwise, "equal", 2, kNone, S::nothing, kNoGradient, EqualShape,
     NoOpCost},
    {Op::Where, "Where", K::elementwise, "where", 3, kNone, S::input, kNoFlags, WhereShape,
     NoOpCost},
    {Op::Max, "Max", K::elementwise, "max", 1, kNone, S::input, kNoFlags, MaxShape, NoOpCost},
    {Op::Min, "Min", K::elementwise, "min", 1, kNone, S::input, kNoFlags, MinShape, NoOpCost},
    // Data movement (ops_elementwise.cc).
    {Op::Concat, "Concat", K::elementwise, "concat", 1, kNone, S::nothing, kNoFlags, ConcatShape,
     NoOpCost},
    {Op::Split, "Split", K::elementwise, "split", 1, kNone, S::nothing, kNoFlags, SplitShape,
     NoOpCost},
    {Op::Transpose, "Transpose", K::elementwise, "transpose", 1, kNone, S::nothing, kView,
     TransposeShape, NoOpCost},
    {Op::Pad, "Pad", K::elementwise, "pad", 1, kNone, S::nothing, kNoFlags, PadShape, NoOpCost},
    {Op::Resize, "Resize", K::elementwise, "resize", 1, kNone, S::nothing, kNoFlags, ResizeShape,
     NoOpCost},
    {Op::Upsample, "Upsample", K::elementwise, "upsample", 1, kNone, S::nothing, kNoFlags,
     UpsampleShape, NoOpCost},
    {Op::Expand, "Expand", K::elementwise, "expand", 2, kNone, S::nothing, kNoFlags, ExpandShape,
     NoOpCost},
    {Op::Tile, "Tile", K::elementwise, "tile", 2, kNone, S::nothing, kNoFlags, TileShape,
     NoOpCost},
    {Op::Dropout, "Dropout", K::dropout, "", 1, kNone, S::nothing, kGradFirstOutputOnly,
     DropoutShape, DropoutCost},
    // Views and shape plumbing (ops_shape.cc).
    {Op::Flatten, "Flatten", K::shape, "", 1, kNone, S::nothing, kView, FlattenShape, NoOpCost},
    {Op::Reshape, "Reshape", K::shape, "", 1, kNone, S::nothing, kView, ReshapeShape, NoOpCost},
    {Op::Squeeze, "Squeeze", K::shape, "", 1, kNone, S::nothing, kView, SqueezeShape, NoOpCost},
    {Op::Unsqueeze, "Unsqueeze", K::shape, "", 1, kNone, S::nothing, kView, UnsqueezeShape,
     NoOpCost},
    {Op::Identity, "Identity", K::shape, "", 1, kNone, S::nothing, kView, SameAsInput, NoOpCost},
    {Op::Constant, "Constant", K::shape, "", 0, kNone, S::nothing, kPlumb, ConstantShape,
     NoOpCost},
    {Op::Shape, "Shape", K::shape, "", 1, kNone, S::nothing, kPlumb, ShapeShape, NoOpCost},
    {Op::Gather, "Gather", K::shape, "", 2, kNone, S::nothing, kNoFlags, GatherShape, NoOpCost},
    {Op::Slice, "Slice", K::shape, "", 1, kNone, S::nothing, kNoFlags, SliceShape, NoOpCost},
    {Op::Cast, "Cast", K::shape, "", 1, kNone, S::nothing, kView | kNoGradient, CastShape,
     NoOpCost},
    {Op::ConstantOfShape, "ConstantOfShape", K::shape, "", 1, kNone, S::nothing, kPlumb,
     ConstantOfShapeShape, NoOpCost},
    {Op::Range, "Range", K::shape, "", 3, kNone, S::nothing, kPlumb, RangeShape, NoOpCost},
    {Op::Size, "Size", K::shape, "", 1, kNone, S::nothing, kPlumb, SizeShape, NoOpCost},
    {Op::Unknown, "Unknown", K::other, "", 0, kNone, S::nothing, kNoFlags, UnknownShape,
     NoOpCost},
};

// A row missing, out of order, or without its functions does not compile.
constexpr bool Complete() {
  if (std::size(kOps) != static_cast<size_t>(kNumOps)) return false;
  for (int i = 0; i < kNumOps; ++i) {
    if (static_cast<int>(kOps[i].op) != i || kOps[i].name.empty() || !kOps[i].shape ||
        !kOps[i].cost) {
      return false;
    }
  }
  return true;
}
static_assert(Complete(), "kOps needs one row per Op, in enum order, each with its functions");

constexpr std::array<std::string_view, kNumKinds> kKindNames = {
    "conv", "linear", "relu", "activation", "norm", "pool", "elementwise", "dropout", "shape",
    "other"};

}  // namespace

const OpSpec& Spec(Op op) { return kOps[static_cast<int>(op)]; }

std::span<const OpSpec> AllOps() { return kOps; }

std::string_view OpName(Op op) { return Spec(op).name; }

Op OpFromName(std::string_view name) {
  for (const OpSpec& spec : kOps) {
    if (spec.name == name && spec.op != Op::Unknown) return spec.op;
  }
  return Op::Unknown;
}

Kind KindOf(Op op) { return Spec(op).kind; }

std::string_view KindName(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<Kind> KindFromName(std::string_view name) {
  for (int i = 0; i < kNumKinds; ++i) {
    if (kKindNames[i] == name) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

}  // namespace joulecast
