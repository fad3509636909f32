#include "analyzer/core/ops.h"

#include <array>

namespace joulecast {

namespace {

struct OpInfo {
  Op op;
  std::string_view name;
  Kind kind;
};

constexpr OpInfo kOps[] = {
    {Op::Conv, "Conv", Kind::conv},
    {Op::ConvTranspose, "ConvTranspose", Kind::conv},
    {Op::Gemm, "Gemm", Kind::linear},
    {Op::MatMul, "MatMul", Kind::linear},
    {Op::BatchNormalization, "BatchNormalization", Kind::norm},
    {Op::LayerNormalization, "LayerNormalization", Kind::norm},
    {Op::InstanceNormalization, "InstanceNormalization", Kind::norm},
    {Op::Relu, "Relu", Kind::relu},
    {Op::LeakyRelu, "LeakyRelu", Kind::activation},
    {Op::Sigmoid, "Sigmoid", Kind::activation},
    {Op::Tanh, "Tanh", Kind::activation},
    {Op::HardSigmoid, "HardSigmoid", Kind::activation},
    {Op::HardSwish, "HardSwish", Kind::activation},
    {Op::Clip, "Clip", Kind::activation},
    {Op::Elu, "Elu", Kind::activation},
    {Op::Gelu, "Gelu", Kind::activation},
    {Op::Erf, "Erf", Kind::activation},
    {Op::Softplus, "Softplus", Kind::activation},
    {Op::Softmax, "Softmax", Kind::activation},
    {Op::LogSoftmax, "LogSoftmax", Kind::activation},
    {Op::PRelu, "PRelu", Kind::activation},
    {Op::Selu, "Selu", Kind::activation},
    {Op::MaxPool, "MaxPool", Kind::pool},
    {Op::AveragePool, "AveragePool", Kind::pool},
    {Op::GlobalAveragePool, "GlobalAveragePool", Kind::pool},
    {Op::GlobalMaxPool, "GlobalMaxPool", Kind::pool},
    {Op::ReduceMean, "ReduceMean", Kind::elementwise},
    {Op::ReduceSum, "ReduceSum", Kind::elementwise},
    {Op::ReduceMax, "ReduceMax", Kind::elementwise},
    {Op::Add, "Add", Kind::elementwise},
    {Op::Sub, "Sub", Kind::elementwise},
    {Op::Mul, "Mul", Kind::elementwise},
    {Op::Div, "Div", Kind::elementwise},
    {Op::Pow, "Pow", Kind::elementwise},
    {Op::Sqrt, "Sqrt", Kind::elementwise},
    {Op::Neg, "Neg", Kind::elementwise},
    {Op::Exp, "Exp", Kind::elementwise},
    {Op::Log, "Log", Kind::elementwise},
    {Op::Reciprocal, "Reciprocal", Kind::elementwise},
    {Op::Abs, "Abs", Kind::elementwise},
    {Op::Floor, "Floor", Kind::elementwise},
    {Op::Ceil, "Ceil", Kind::elementwise},
    {Op::Equal, "Equal", Kind::elementwise},
    {Op::Where, "Where", Kind::elementwise},
    {Op::Max, "Max", Kind::elementwise},
    {Op::Min, "Min", Kind::elementwise},
    {Op::Concat, "Concat", Kind::elementwise},
    {Op::Split, "Split", Kind::elementwise},
    {Op::Transpose, "Transpose", Kind::elementwise},
    {Op::Pad, "Pad", Kind::elementwise},
    {Op::Resize, "Resize", Kind::elementwise},
    {Op::Upsample, "Upsample", Kind::elementwise},
    {Op::Expand, "Expand", Kind::elementwise},
    {Op::Tile, "Tile", Kind::elementwise},
    {Op::Dropout, "Dropout", Kind::dropout},
    {Op::Flatten, "Flatten", Kind::shape},
    {Op::Reshape, "Reshape", Kind::shape},
    {Op::Squeeze, "Squeeze", Kind::shape},
    {Op::Unsqueeze, "Unsqueeze", Kind::shape},
    {Op::Identity, "Identity", Kind::shape},
    {Op::Constant, "Constant", Kind::shape},
    {Op::Shape, "Shape", Kind::shape},
    {Op::Gather, "Gather", Kind::shape},
    {Op::Slice, "Slice", Kind::shape},
    {Op::Cast, "Cast", Kind::shape},
    {Op::ConstantOfShape, "ConstantOfShape", Kind::shape},
    {Op::Range, "Range", Kind::shape},
    {Op::Size, "Size", Kind::shape},
    {Op::Unknown, "Unknown", Kind::other},
};

constexpr std::array<std::string_view, kNumKinds> kKindNames = {
    "conv", "linear", "relu", "activation", "norm", "pool", "elementwise", "dropout", "shape",
    "other"};

const OpInfo& Info(Op op) {
  // The table is in enum order; checked by ops_test.
  return kOps[static_cast<int>(op)];
}

}  // namespace

std::string_view OpName(Op op) { return Info(op).name; }

Op OpFromName(std::string_view name) {
  for (const OpInfo& info : kOps) {
    if (info.name == name && info.op != Op::Unknown) return info.op;
  }
  return Op::Unknown;
}

std::string_view KindName(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<Kind> KindFromName(std::string_view name) {
  for (int i = 0; i < kNumKinds; ++i) {
    if (kKindNames[i] == name) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

Kind KindOf(Op op) { return Info(op).kind; }

}  // namespace joulecast
