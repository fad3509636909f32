// Internal to the libtorch side: what the planner (torch_network.cc), the builder table
// (torch_ops.cc) and the family files (torch_ops_*.cc) share. Includes ATen; only those files
// include it. Nothing here is specific to one op.
//
// Build plans every executed node once: a builder reads the node's attributes and inputs through
// NodePlan, checks what libtorch needs, and returns a Kernel that Forward then only runs. Which
// builder plans a node, and how the parameters it reads start, is the node's row in the builder
// table, one row per Op in enum order (TorchOpOf); the builders are free functions in the family
// files, declared only above the table, and nothing else dispatches over ops.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/ir.h"
#include "analyzer/core/ops.h"
#include "analyzer/core/status.h"
#include "calibrate/torch/torch_network.h"

namespace joulecast::torch_plan {

using Dims = std::vector<int64_t>;
/// Every tensor of the graph by IR tensor index while the network runs.
using Values = std::vector<at::Tensor>;
/// One planned node: reads its inputs from the values and writes its outputs there.
using Kernel = std::function<void(Values&)>;

/// libtorch's scalar type of an IR dtype; nullopt for undefined.
std::optional<at::ScalarType> ScalarTypeOf(DType t);
/// The product of d[from], d[from + 1], ...
int64_t Product(const Dims& d, size_t from = 0);
/// "64x1x28x28".
std::string DimsString(at::IntArrayRef dims);
/// The first line of an exception's message; libtorch's carry a C++ backtrace after it.
std::string FirstLine(const std::exception& e);

// Pads (torch_ops_conv.cc).
/// libtorch's pad list (last dim first, begin then end) for ONNX pads (begins, then ends) over
/// the trailing `spatial` dims of a tensor.
Dims TorchPads(const Dims& onnx_pads, size_t spatial);
/// Whether ONNX pads have equal begins and ends.
bool Symmetric(const Dims& pads);
/// The begins of ONNX pads.
Dims Begins(const Dims& pads);

/// How a parameter starts, following PyTorch's defaults for the module it came from.
struct Init {
  enum class Kind { uniform, fill } kind = Kind::fill;
  double value = 0;  ///< The bound of a uniform, or the fill value.
};
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): kaiming_uniform_(a=sqrt(5)) and the bias init of
/// nn.Conv*/nn.Linear both give it. Zero bound for a fan-in of 0.
Init Uniform(int64_t fan_in);
Init Fill(double v);

class NodePlan;

/// Everything Build needs to know about the graph before planning kernels.
class Planner {
 public:
  /// Plans `g` into `net`. REQUIRES: both outlive the planner.
  Planner(const Graph& g, TorchNetwork::Impl* net);
  /// Makes the parameters, buffers and constants, then one kernel per executed node.
  Status Run();

  /// The training flag the BatchNorm and Dropout kernels read at every run.
  std::shared_ptr<bool> training() const;
  /// The device the network lives on.
  at::Device device() const;

 private:
  friend class NodePlan;
  Status PlanNode(int index);
  Status MakeStatics();
  Init InitFor(int tensor) const;

  const Graph& g_;
  TorchNetwork::Impl* net_;
  std::vector<bool> run_;          // Node is executed (not all of its outputs folded).
  std::vector<bool> consumed_;     // Tensor is read by an executed node or is a graph output.
  std::vector<bool> available_;    // Tensor has a value at run time.
  std::vector<int> running_stat_;  // For buffers read as BatchNorm statistics: 3 mean, 4 var.
};

/// Window attributes shared by Conv and the pools, with auto_pad resolved to explicit pads.
struct Window {
  Dims kernel, strides, dilations, pads;  ///< pads: begins then ends, ONNX order.
};

/// An input as a value at run time (its tensor index) with its known dims.
struct ShapedData {
  int tensor;
  Dims dims;
};

/// Plans one node: the readers every builder uses. Errors name the node and its op type.
class NodePlan {
 public:
  NodePlan(Planner& p, int index) : p_(p), g_(p.g_), n_(p.g_.nodes[index]) {}

  /// Sets *kernel to the node's kernel (left empty for unfolded plumbing, which is not run) and
  /// *produced to how many of its outputs, from the first, the kernel writes.
  Status Plan(Kernel* kernel, size_t* produced);

  /// The node being planned: its attributes, and the tensor indices of its inputs and outputs.
  const Node& node() const { return n_; }
  /// "node 'x' (Conv): what".
  Status Fail(const std::string& what) const;
  /// The network's training flag, for kernels that read it at every run.
  std::shared_ptr<bool> training() const { return p_.training(); }
  /// The device the network lives on.
  at::Device device() const { return p_.device(); }

  /// Whether input i is given.
  bool Has(size_t i) const { return i < n_.inputs.size() && n_.inputs[i] >= 0; }
  /// Input i's tensor. REQUIRES: Has(i).
  const Tensor& In(size_t i) const { return g_.tensors[n_.inputs[i]]; }
  /// Input i as a value at run time; fails when it has none.
  Result<int> Data(size_t i) const;
  /// Optional input: -1 when absent.
  Result<int> OptionalData(size_t i) const { return Has(i) ? Data(i) : Result<int>(-1); }
  /// Known dims of input i / output k.
  Result<Dims> InDims(size_t i) const;
  Result<Dims> OutDims(size_t k) const;
  /// Data(i) with InDims(i); fails as Data(i) does, then as InDims(i) does (torch_ops_shape.cc).
  Result<ShapedData> DataWithDims(size_t i) const;
  /// Integer values of input i (folded constants), or an error naming what is missing.
  Result<Dims> IntValues(size_t i, const std::string& what) const;
  /// A scalar from an attribute (older opsets) or from input i; nullopt when neither is given.
  Result<std::optional<double>> Scalar(const std::string& attr, size_t i,
                                       const std::string& what) const;
  /// The window of a `kernel` over the spatial dims of input dims `x` from the strides,
  /// dilations, pads and auto_pad attributes; fails when they do not fit (torch_ops_conv.cc).
  Result<Window> ReadWindow(const Dims& x, const Dims& kernel) const;

 private:
  const Tensor& Out(size_t k) const { return g_.tensors[n_.outputs[k]]; }
  /// Why input i has no value at run time.
  std::string Unavailable(size_t i) const;

  Planner& p_;
  const Graph& g_;
  const Node& n_;
};

/// Sets *k to write output 0 as f(input 0's value); fails as Data(0) does. A builder that reads
/// more than input 0 checks Data(0) first itself, so that its errors come in input order.
template <class F>
Status Unary(NodePlan& p, Kernel* k, F f) {
  auto x = p.Data(0);
  if (!x.ok()) return x.status();
  *k = [in = *x, y = p.node().outputs[0], f](Values& v) { v[y] = f(v[in]); };
  return Status();
}

/// A builder: plans the node into *k and says how many outputs it writes. One per op, or one
/// for ops that differ only in what shape inference already worked out. Each sets *k; those that
/// write more or fewer outputs than the first set *produced, which starts at 1.
using Builder = Status (*)(NodePlan& p, Kernel* k, size_t* produced);
/// How the parameter at input `position` of `n` starts.
using InitFn = Init (*)(const Graph& g, const Node& n, size_t position);
/// PyTorch's fan-in of the weight at input `position` of `n` (0 when its shape is unknown).
using FanInFn = int64_t (*)(const Graph& g, const Node& n, size_t position);

/// One row of the builder table: how one op becomes libtorch.
struct TorchOpSpec {
  Op op;
  Builder build;
  /// How a parameter the op reads starts (the first reader in node order decides).
  InitFn init;
  /// For ops whose bias PyTorch's export may add separately (Linear on a >2-D input exports as
  /// MatMul + Add): the weight's fan-in, whose bound a parameter added to the op's output takes.
  /// nullptr: such a parameter starts at zero.
  FanInFn bias_fan_in;
  /// Inputs 3 and 4, where they are buffers, are running mean and variance (BatchNorm): they
  /// start at zeros and ones and the training forward updates them.
  bool running_stats;
};

/// The row of `op` (torch_ops.cc).
const TorchOpSpec& TorchOpOf(Op op);

}  // namespace joulecast::torch_plan
