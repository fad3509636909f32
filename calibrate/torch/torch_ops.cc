// The builder table: one row per Op, in enum order, saying which builder turns the op into
// libtorch and how the parameters it reads start. The only op-specific dispatch of the libtorch
// side; the table is checked at compile time, so a forgotten op does not build. Also NodePlan's
// dispatch through the table and the input readers every builder uses.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

// The builders and parameter inits of each family, defined in its file (torch_ops_conv.cc, ...)
// and used only here: an op's row and its declarations are the table's part of adding it. See
// Builder (torch_plan.h) for what a builder does.
// torch_ops_conv.cc: convolutions and matrix products, and PyTorch's fan-ins and uniform inits
// of their weights (biases share them).
Status BuildConv(NodePlan& p, Kernel* k, size_t* produced);
Status BuildConvTranspose(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGemm(NodePlan& p, Kernel* k, size_t* produced);
Status BuildMatMul(NodePlan& p, Kernel* k, size_t* produced);
int64_t ConvFanIn(const Graph& g, const Node& n, size_t position);
int64_t GemmFanIn(const Graph& g, const Node& n, size_t position);
int64_t MatMulFanIn(const Graph& g, const Node& n, size_t position);
Init ConvInit(const Graph& g, const Node& n, size_t position);
Init GemmInit(const Graph& g, const Node& n, size_t position);
Init MatMulInit(const Graph& g, const Node& n, size_t position);

// torch_ops_norm.cc: normalisations; scale ones, bias zeros.
Status BuildBatchNorm(NodePlan& p, Kernel* k, size_t* produced);
Status BuildLayerNorm(NodePlan& p, Kernel* k, size_t* produced);
Status BuildInstanceNorm(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGroupNorm(NodePlan& p, Kernel* k, size_t* produced);
Init NormInit(const Graph& g, const Node& n, size_t position);

// torch_ops_activation.cc: activations; PReLU's slope starts at 0.25.
Status BuildRelu(NodePlan& p, Kernel* k, size_t* produced);
Status BuildLeakyRelu(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSigmoid(NodePlan& p, Kernel* k, size_t* produced);
Status BuildTanh(NodePlan& p, Kernel* k, size_t* produced);
Status BuildHardSigmoid(NodePlan& p, Kernel* k, size_t* produced);
Status BuildHardSwish(NodePlan& p, Kernel* k, size_t* produced);
Status BuildClip(NodePlan& p, Kernel* k, size_t* produced);
Status BuildElu(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGelu(NodePlan& p, Kernel* k, size_t* produced);
Status BuildErf(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSoftplus(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSoftmax(NodePlan& p, Kernel* k, size_t* produced);
Status BuildLogSoftmax(NodePlan& p, Kernel* k, size_t* produced);
Status BuildPRelu(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSelu(NodePlan& p, Kernel* k, size_t* produced);
Init PReluInit(const Graph& g, const Node& n, size_t position);

// torch_ops_pool.cc: pooling and reductions.
Status BuildMaxPool(NodePlan& p, Kernel* k, size_t* produced);
Status BuildAveragePool(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGlobalAveragePool(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGlobalMaxPool(NodePlan& p, Kernel* k, size_t* produced);
Status BuildReduceMean(NodePlan& p, Kernel* k, size_t* produced);
Status BuildReduceSum(NodePlan& p, Kernel* k, size_t* produced);
Status BuildReduceMax(NodePlan& p, Kernel* k, size_t* produced);

// torch_ops_elementwise.cc: arithmetic and data movement. A multiplier starts at one; an added
// parameter is the bias of the layer before it where that layer's row has a bias_fan_in, else
// zero.
Status BuildAdd(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSub(NodePlan& p, Kernel* k, size_t* produced);
Status BuildMul(NodePlan& p, Kernel* k, size_t* produced);
Status BuildDiv(NodePlan& p, Kernel* k, size_t* produced);
Status BuildPow(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSqrt(NodePlan& p, Kernel* k, size_t* produced);
Status BuildNeg(NodePlan& p, Kernel* k, size_t* produced);
Status BuildExp(NodePlan& p, Kernel* k, size_t* produced);
Status BuildLog(NodePlan& p, Kernel* k, size_t* produced);
Status BuildReciprocal(NodePlan& p, Kernel* k, size_t* produced);
Status BuildAbs(NodePlan& p, Kernel* k, size_t* produced);
Status BuildFloor(NodePlan& p, Kernel* k, size_t* produced);
Status BuildCeil(NodePlan& p, Kernel* k, size_t* produced);
Status BuildEqual(NodePlan& p, Kernel* k, size_t* produced);
Status BuildWhere(NodePlan& p, Kernel* k, size_t* produced);
Status BuildMax(NodePlan& p, Kernel* k, size_t* produced);
Status BuildMin(NodePlan& p, Kernel* k, size_t* produced);
Status BuildConcat(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSplit(NodePlan& p, Kernel* k, size_t* produced);
Status BuildPad(NodePlan& p, Kernel* k, size_t* produced);
Status BuildResize(NodePlan& p, Kernel* k, size_t* produced);
Status BuildUpsample(NodePlan& p, Kernel* k, size_t* produced);
Status BuildDropout(NodePlan& p, Kernel* k, size_t* produced);
Init ScaleInit(const Graph& g, const Node& n, size_t position);
Init AddedBiasInit(const Graph& g, const Node& n, size_t position);

// torch_ops_shape.cc: views and shape plumbing.
Status BuildTranspose(NodePlan& p, Kernel* k, size_t* produced);
Status BuildExpand(NodePlan& p, Kernel* k, size_t* produced);
Status BuildTile(NodePlan& p, Kernel* k, size_t* produced);
/// Flatten, Reshape, Squeeze and Unsqueeze: a reshape to the output shape inference gave.
Status BuildReshapeToOutput(NodePlan& p, Kernel* k, size_t* produced);
Status BuildIdentity(NodePlan& p, Kernel* k, size_t* produced);
Status BuildCast(NodePlan& p, Kernel* k, size_t* produced);
Status BuildGather(NodePlan& p, Kernel* k, size_t* produced);
Status BuildSlice(NodePlan& p, Kernel* k, size_t* produced);
/// Shape plumbing (Constant, Shape, ...): not run; its outputs have values only where shape
/// inference folded them.
Status BuildNotRun(NodePlan& p, Kernel* k, size_t* produced);
/// Op::Unknown: always an error.
Status BuildUnknown(NodePlan& p, Kernel* k, size_t* produced);

namespace {

// Any other reader: uniform over the trailing dims' fan-in for a tensor of rank >= 2, else zero.
Init DefaultInit(const Graph& g, const Node& n, size_t position) {
  const Tensor& t = g.tensors[n.inputs[position]];
  if (t.shape_known && t.dims.size() >= 2) return Uniform(Product(t.dims, 1));
  return Fill(0.0);
}

// op, builder, init of the parameters it reads, bias_fan_in, running statistics
constexpr TorchOpSpec kTorchOps[] = {
    // Convolutions and matrix products (torch_ops_conv.cc). A bias shares its weight's bound.
    {Op::Conv, BuildConv, ConvInit, ConvFanIn, false},
    // No bias_fan_in: ConvTranspose's bias is its own input.
    {Op::ConvTranspose, BuildConvTranspose, ConvInit, nullptr, false},
    {Op::Gemm, BuildGemm, GemmInit, GemmFanIn, false},
    {Op::MatMul, BuildMatMul, MatMulInit, MatMulFanIn, false},
    // Normalisation (torch_ops_norm.cc): scale ones, bias zeros.
    {Op::BatchNormalization, BuildBatchNorm, NormInit, nullptr, true},
    {Op::LayerNormalization, BuildLayerNorm, NormInit, nullptr, false},
    {Op::InstanceNormalization, BuildInstanceNorm, NormInit, nullptr, false},
    {Op::GroupNormalization, BuildGroupNorm, NormInit, nullptr, false},
    // Activations (torch_ops_activation.cc).
    {Op::Relu, BuildRelu, DefaultInit, nullptr, false},
    {Op::LeakyRelu, BuildLeakyRelu, DefaultInit, nullptr, false},
    {Op::Sigmoid, BuildSigmoid, DefaultInit, nullptr, false},
    {Op::Tanh, BuildTanh, DefaultInit, nullptr, false},
    {Op::HardSigmoid, BuildHardSigmoid, DefaultInit, nullptr, false},
    {Op::HardSwish, BuildHardSwish, DefaultInit, nullptr, false},
    {Op::Clip, BuildClip, DefaultInit, nullptr, false},
    {Op::Elu, BuildElu, DefaultInit, nullptr, false},
    {Op::Gelu, BuildGelu, DefaultInit, nullptr, false},
    {Op::Erf, BuildErf, DefaultInit, nullptr, false},
    {Op::Softplus, BuildSoftplus, DefaultInit, nullptr, false},
    {Op::Softmax, BuildSoftmax, DefaultInit, nullptr, false},
    {Op::LogSoftmax, BuildLogSoftmax, DefaultInit, nullptr, false},
    {Op::PRelu, BuildPRelu, PReluInit, nullptr, false},
    {Op::Selu, BuildSelu, DefaultInit, nullptr, false},
    // Pooling and reductions (torch_ops_pool.cc).
    {Op::MaxPool, BuildMaxPool, DefaultInit, nullptr, false},
    {Op::AveragePool, BuildAveragePool, DefaultInit, nullptr, false},
    {Op::GlobalAveragePool, BuildGlobalAveragePool, DefaultInit, nullptr, false},
    {Op::GlobalMaxPool, BuildGlobalMaxPool, DefaultInit, nullptr, false},
    {Op::ReduceMean, BuildReduceMean, DefaultInit, nullptr, false},
    {Op::ReduceSum, BuildReduceSum, DefaultInit, nullptr, false},
    {Op::ReduceMax, BuildReduceMax, DefaultInit, nullptr, false},
    // Elementwise arithmetic (torch_ops_elementwise.cc).
    {Op::Add, BuildAdd, AddedBiasInit, nullptr, false},
    {Op::Sub, BuildSub, AddedBiasInit, nullptr, false},
    {Op::Mul, BuildMul, ScaleInit, nullptr, false},
    {Op::Div, BuildDiv, ScaleInit, nullptr, false},
    {Op::Pow, BuildPow, DefaultInit, nullptr, false},
    {Op::Sqrt, BuildSqrt, DefaultInit, nullptr, false},
    {Op::Neg, BuildNeg, DefaultInit, nullptr, false},
    {Op::Exp, BuildExp, DefaultInit, nullptr, false},
    {Op::Log, BuildLog, DefaultInit, nullptr, false},
    {Op::Reciprocal, BuildReciprocal, DefaultInit, nullptr, false},
    {Op::Abs, BuildAbs, DefaultInit, nullptr, false},
    {Op::Floor, BuildFloor, DefaultInit, nullptr, false},
    {Op::Ceil, BuildCeil, DefaultInit, nullptr, false},
    {Op::Equal, BuildEqual, DefaultInit, nullptr, false},
    {Op::Where, BuildWhere, DefaultInit, nullptr, false},
    {Op::Max, BuildMax, DefaultInit, nullptr, false},
    {Op::Min, BuildMin, DefaultInit, nullptr, false},
    // Data movement (torch_ops_elementwise.cc; Transpose, Expand and Tile torch_ops_shape.cc).
    {Op::Concat, BuildConcat, DefaultInit, nullptr, false},
    {Op::Split, BuildSplit, DefaultInit, nullptr, false},
    {Op::Transpose, BuildTranspose, DefaultInit, nullptr, false},
    {Op::Pad, BuildPad, DefaultInit, nullptr, false},
    {Op::Resize, BuildResize, DefaultInit, nullptr, false},
    {Op::Upsample, BuildUpsample, DefaultInit, nullptr, false},
    {Op::Expand, BuildExpand, DefaultInit, nullptr, false},
    {Op::Tile, BuildTile, DefaultInit, nullptr, false},
    {Op::Dropout, BuildDropout, DefaultInit, nullptr, false},
    // Views and shape plumbing (torch_ops_shape.cc).
    {Op::Flatten, BuildReshapeToOutput, DefaultInit, nullptr, false},
    {Op::Reshape, BuildReshapeToOutput, DefaultInit, nullptr, false},
    {Op::Squeeze, BuildReshapeToOutput, DefaultInit, nullptr, false},
    {Op::Unsqueeze, BuildReshapeToOutput, DefaultInit, nullptr, false},
    {Op::Identity, BuildIdentity, DefaultInit, nullptr, false},
    {Op::Constant, BuildNotRun, DefaultInit, nullptr, false},
    {Op::Shape, BuildNotRun, DefaultInit, nullptr, false},
    {Op::Gather, BuildGather, DefaultInit, nullptr, false},
    {Op::Slice, BuildSlice, DefaultInit, nullptr, false},
    {Op::Cast, BuildCast, DefaultInit, nullptr, false},
    {Op::ConstantOfShape, BuildNotRun, DefaultInit, nullptr, false},
    {Op::Range, BuildNotRun, DefaultInit, nullptr, false},
    {Op::Size, BuildNotRun, DefaultInit, nullptr, false},
    {Op::Unknown, BuildUnknown, DefaultInit, nullptr, false},
};

// A row missing, out of order, or without a builder or an init does not compile.
constexpr bool Complete() {
  if (std::size(kTorchOps) != static_cast<size_t>(kNumOps)) return false;
  for (int i = 0; i < kNumOps; ++i) {
    if (static_cast<int>(kTorchOps[i].op) != i || kTorchOps[i].build == nullptr ||
        kTorchOps[i].init == nullptr) {
      return false;
    }
  }
  return true;
}
static_assert(Complete(), "kTorchOps needs one row per Op, in enum order, each with a builder");

}  // namespace

const TorchOpSpec& TorchOpOf(Op op) { return kTorchOps[static_cast<int>(op)]; }

// ---- NodePlan: dispatch and readers -------------------------------------------------------------

Status NodePlan::Plan(Kernel* k, size_t* produced) {
  *produced = 1;
  return TorchOpOf(n_.op).build(*this, k, produced);
}

Status NodePlan::Fail(const std::string& what) const {
  return Status::Error("node '" + n_.name + "' (" + n_.op_type + "): " + what);
}

Result<int> NodePlan::Data(size_t i) const {
  if (!Has(i)) return Fail("input " + std::to_string(i) + " is missing");
  int t = n_.inputs[i];
  if (!p_.available_[t]) return Fail(Unavailable(i));
  return t;
}

std::string NodePlan::Unavailable(size_t i) const {
  const Tensor& x = In(i);
  const std::string what = "input " + std::to_string(i) + " '" + x.name + "'";
  if (x.role == Role::input) {
    return "reads a second graph input, " + what + ": the network takes one data input";
  }
  if (x.producer >= 0 && g_.nodes[x.producer].op != Op::Constant) {
    return what + " comes from shape plumbing whose values shape inference did not fold";
  }
  return what +
         " is a float constant whose values the IR does not keep (it keeps integer "
         "values only)";
}

Result<Dims> NodePlan::InDims(size_t i) const {
  if (!Has(i) || !In(i).shape_known) {
    return Fail("the shape of input " + std::to_string(i) + " is unknown");
  }
  return In(i).dims;
}

Result<Dims> NodePlan::OutDims(size_t k) const {
  if (k >= n_.outputs.size() || !Out(k).shape_known) {
    return Fail("the shape of output " + std::to_string(k) + " is unknown");
  }
  return Out(k).dims;
}

Result<Dims> NodePlan::IntValues(size_t i, const std::string& what) const {
  if (!Has(i) || !In(i).int_values) {
    return Fail(what + " (input " + std::to_string(i) + ") is not a constant the IR knows");
  }
  return *In(i).int_values;
}

Result<std::optional<double>> NodePlan::Scalar(const std::string& attr, size_t i,
                                               const std::string& what) const {
  if (n_.Has(attr)) {
    const Attr& a = n_.attrs.at(attr);
    return std::optional<double>(a.type == Attr::Type::integer ? static_cast<double>(a.i) : a.f);
  }
  if (!Has(i)) return std::optional<double>();
  if (In(i).real_values && In(i).real_values->size() == 1) {
    return std::optional<double>(In(i).real_values->front());
  }
  if (!In(i).int_values || In(i).int_values->size() != 1) {
    return Fail(what + ": " + Unavailable(i));
  }
  return std::optional<double>(static_cast<double>(In(i).int_values->front()));
}

}  // namespace joulecast::torch_plan
