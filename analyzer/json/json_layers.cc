#include "analyzer/json/json_layers.h"

#include <array>
#include <map>
#include <utility>

#include "analyzer/core/checked_math.h"
#include "analyzer/core/shape_inference.h"

namespace joulecast::json_internal {

namespace {

using Dims = std::vector<int64_t>;
using Pair = std::array<int64_t, 2>;
using Attrs = std::map<std::string, Attr>;

Attr IntAttr(int64_t v) {
  Attr a;
  a.type = Attr::Type::integer;
  a.i = v;
  return a;
}

Attr IntsAttr(Dims v) {
  Attr a;
  a.type = Attr::Type::integers;
  a.ints = std::move(v);
  return a;
}

Attr RealAttr(double v) {
  Attr a;
  a.type = Attr::Type::real;
  a.f = v;
  return a;
}

std::string PairText(const Pair& p) { return std::to_string(p[0]) + "x" + std::to_string(p[1]); }

// Adds one layer's tensors and nodes, turning every failure into a SpecError at the layer.
class Builder {
 public:
  Builder(Graph& graph, const LayerInput& layer) : g_(graph), l_(layer) {}

  const Fields& fields() const { return l_.fields; }
  int input(size_t i = 0) const { return l_.inputs[i]; }
  const Dims& dims(size_t i = 0) const { return g_.tensors[l_.inputs[i]].dims; }

  void RequireRank(size_t min, size_t max, std::string_view what) const {
    size_t r = dims().size();
    if (r < min || r > max) {
      throw SpecError(fields().pointer(), std::string(l_.op) + " needs " + std::string(what) +
                                              ", got " + ShapeString(g_, g_.tensors[input()]));
    }
  }

  // The sliding window must fit the padded input at least once, as PyTorch and ONNX require.
  void RequireWindowFits(std::string_view field, const Pair& k, const Pair& p,
                         const Pair& d) const {
    for (size_t a = 0; a < 2; ++a) {
      int64_t span = d[a] * (k[a] - 1) + 1;
      if (dims()[2 + a] + 2 * p[a] < span) {
        throw SpecError(fields().At(field), "a " + PairText(k) + " window with dilation " +
                                                PairText(d) + " does not fit the " +
                                                PairText({dims()[2], dims()[3]}) +
                                                " input padded by " + PairText(p));
      }
    }
  }

  int Param(std::string_view suffix, Dims shape, Role role = Role::parameter) {
    auto n = CheckedProduct(shape);
    if (!n || *n > kMaxElements) {
      throw SpecError(fields().pointer(),
                      "its " + std::string(suffix) + " would have more than 2^48 elements");
    }
    Tensor t;
    t.name = l_.name + "." + std::string(suffix);
    t.role = role;
    t.shape_known = true;
    t.dims = std::move(shape);
    return g_.AddTensor(std::move(t));
  }

  // Adds a node named `node_name` whose one output tensor is `out_name`; returns that tensor.
  int Node(Op op, const std::string& node_name, std::vector<int> inputs, Attrs attrs,
           const std::string& out_name) {
    Tensor t;
    t.name = out_name;
    int out = g_.AddTensor(std::move(t));
    joulecast::Node n;
    n.name = node_name;
    n.op_type = std::string(l_.op);
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    int index = g_.AddNode(std::move(n));
    Status s = InferNode(g_, index);
    if (!s.ok()) throw SpecError(fields().pointer(), s.message());
    if (!g_.tensors[out].shape_known) {
      throw SpecError(fields().pointer(), "node '" + node_name + "' (" + std::string(l_.op) +
                                              "): its output shape could not be inferred");
    }
    return out;
  }

  // The layer's main node, named after the layer, as is its output.
  int Node(Op op, std::vector<int> inputs, Attrs attrs = {}) {
    return Node(op, l_.name, std::move(inputs), std::move(attrs), l_.name);
  }

  const std::string& name() const { return l_.name; }

 private:
  Graph& g_;
  const LayerInput& l_;
};

constexpr Pair kOnes = {1, 1};
constexpr Pair kZeros = {0, 0};

int Conv2d(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  const Fields& f = l.fields;
  int64_t out = f.Int("out_channels", 1, kMaxDim);
  Pair k = f.Pair("kernel", 1, kMaxDim, std::nullopt);
  Pair s = f.Pair("stride", 1, kMaxDim, kOnes);
  Pair p = f.Pair("padding", 0, kMaxDim, kZeros);
  Pair d = f.Pair("dilation", 1, kMaxDim, kOnes);
  int64_t groups = f.Int("groups", 1, kMaxDim, 1);
  bool bias = f.Bool("bias", true);
  b.RequireRank(4, 4, "an N×C×H×W input");
  int64_t in = b.dims()[1];
  if (in % groups != 0 || out % groups != 0) {
    throw SpecError(f.At("groups"), "groups " + std::to_string(groups) + " must divide both the " +
                                        std::to_string(in) + " input channels and out_channels " +
                                        std::to_string(out));
  }
  b.RequireWindowFits("kernel", k, p, d);
  std::vector<int> inputs = {b.input(), b.Param("weight", {out, in / groups, k[0], k[1]})};
  if (bias) inputs.push_back(b.Param("bias", {out}));
  return b.Node(Op::Conv, inputs,
                {{"kernel_shape", IntsAttr({k[0], k[1]})},
                 {"strides", IntsAttr({s[0], s[1]})},
                 {"pads", IntsAttr({p[0], p[1], p[0], p[1]})},
                 {"dilations", IntsAttr({d[0], d[1]})},
                 {"group", IntAttr(groups)}});
}

int Linear(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  int64_t out = l.fields.Int("out_features", 1, kMaxDim);
  bool bias = l.fields.Bool("bias", true);
  b.RequireRank(2, SIZE_MAX, "an input of rank 2 or more (N×features)");
  int64_t in = b.dims().back();
  if (b.dims().size() == 2) {
    std::vector<int> inputs = {b.input(), b.Param("weight", {out, in})};
    if (bias) inputs.push_back(b.Param("bias", {out}));
    return b.Node(Op::Gemm, inputs, {{"transB", IntAttr(1)}});
  }
  // PyTorch applies a linear layer to the last axis of a higher-rank input; ONNX exports
  // that as MatMul with the transposed weight followed by Add.
  int w = b.Param("weight", {in, out});
  if (!bias) return b.Node(Op::MatMul, {b.input(), w});
  int product = b.Node(Op::MatMul, b.name(), {b.input(), w}, {}, b.name() + ".matmul");
  return b.Node(Op::Add, b.name() + ".bias_add", {product, b.Param("bias", {out})}, {}, b.name());
}

int BatchNorm(Graph& g, const LayerInput& l, size_t min_rank, size_t max_rank,
              std::string_view what) {
  Builder b(g, l);
  b.RequireRank(min_rank, max_rank, what);
  int64_t c = b.dims()[1];
  // ONNX's momentum weighs the running statistic; PyTorch's default 0.1 weighs the batch's.
  return b.Node(
      Op::BatchNormalization,
      {b.input(), b.Param("weight", {c}), b.Param("bias", {c}),
       b.Param("running_mean", {c}, Role::buffer), b.Param("running_var", {c}, Role::buffer)},
      {{"epsilon", RealAttr(1e-5)}, {"momentum", RealAttr(0.9)}, {"training_mode", IntAttr(1)}});
}

int BatchNorm2d(Graph& g, const LayerInput& l) { return BatchNorm(g, l, 4, 4, "an N×C×H×W input"); }

int BatchNorm1d(Graph& g, const LayerInput& l) {
  return BatchNorm(g, l, 2, 3, "an N×C or N×C×L input");
}

int LayerNorm(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  b.RequireRank(2, SIZE_MAX, "an input of rank 2 or more");
  auto rank = static_cast<int64_t>(b.dims().size());
  int64_t k = l.fields.Int("normalized_dims", 1, rank - 1, rank - 1);
  int64_t axis = rank - k;
  Dims shape(b.dims().begin() + axis, b.dims().end());
  return b.Node(Op::LayerNormalization,
                {b.input(), b.Param("weight", shape), b.Param("bias", shape)},
                {{"axis", IntAttr(axis)}, {"epsilon", RealAttr(1e-5)}});
}

template <Op kOp>
int Unary(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  return b.Node(kOp, {b.input()});
}

int LeakyRelu(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  double slope = l.fields.Number("negative_slope", -1e6, 1e6, false, 0.01);
  return b.Node(Op::LeakyRelu, {b.input()}, {{"alpha", RealAttr(slope)}});
}

template <Op kOp>
int Pool2d(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  const Fields& f = l.fields;
  Pair k = f.Pair("kernel", 1, kMaxDim, std::nullopt);
  Pair s = f.Pair("stride", 1, kMaxDim, k);
  Pair p = f.Pair("padding", 0, kMaxDim, kZeros);
  b.RequireRank(4, 4, "an N×C×H×W input");
  // PyTorch rejects such padding, and every network here must also build in libtorch.
  if (p[0] > k[0] / 2 || p[1] > k[1] / 2) {
    throw SpecError(f.At("padding"),
                    "padding " + PairText(p) + " is more than half the kernel " + PairText(k));
  }
  b.RequireWindowFits("kernel", k, p, kOnes);
  Attrs attrs = {{"kernel_shape", IntsAttr({k[0], k[1]})},
                 {"strides", IntsAttr({s[0], s[1]})},
                 {"pads", IntsAttr({p[0], p[1], p[0], p[1]})}};
  if (kOp == Op::AveragePool) attrs["count_include_pad"] = IntAttr(1);
  return b.Node(kOp, {b.input()}, attrs);
}

int GlobalAvgPool(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  b.RequireRank(3, SIZE_MAX, "an N×C×H×W input");
  return b.Node(Op::GlobalAveragePool, {b.input()});
}

int AdaptiveAvgPool2d(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  Pair out = l.fields.Pair("output", 1, kMaxDim, std::nullopt);
  b.RequireRank(4, 4, "an N×C×H×W input");
  if (out == kOnes) return b.Node(Op::GlobalAveragePool, {b.input()});
  int64_t h = b.dims()[2], w = b.dims()[3];
  if (h % out[0] != 0 || w % out[1] != 0) {
    throw SpecError(l.fields.At("output"),
                    "the " + PairText({h, w}) + " input does not divide into a " + PairText(out) +
                        " output; only even windows have an exact AveragePool equivalent");
  }
  // With the input divisible by the output, PyTorch's windows are all h/oh x w/ow, tiled.
  Pair k = {h / out[0], w / out[1]};
  return b.Node(Op::AveragePool, {b.input()},
                {{"kernel_shape", IntsAttr({k[0], k[1]})},
                 {"strides", IntsAttr({k[0], k[1]})},
                 {"pads", IntsAttr({0, 0, 0, 0})},
                 {"count_include_pad", IntAttr(1)}});
}

int Dropout(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  double p = l.fields.Number("p", 0, 1, true, 0.5);
  return b.Node(Op::Dropout, {b.input()}, {{"ratio", RealAttr(p)}});
}

int Flatten(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  return b.Node(Op::Flatten, {b.input()}, {{"axis", IntAttr(1)}});
}

int AddLayer(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  // ONNX's Add is binary: more inputs become a chain whose last link carries the layer's name.
  int sum = l.inputs[0];
  for (size_t i = 1; i < l.inputs.size(); ++i) {
    bool last = i + 1 == l.inputs.size();
    std::string name = last ? b.name() : b.name() + ".add" + std::to_string(i);
    sum = b.Node(Op::Add, name, {sum, l.inputs[i]}, {}, name);
  }
  return sum;
}

int Concat(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  return b.Node(Op::Concat, l.inputs, {{"axis", IntAttr(1)}});
}

constexpr int kMaxJoin = 1024;

// PyTorch's nn.GroupNorm: one weight and bias per channel (ONNX opset 21's form).
int GroupNorm(Graph& g, const LayerInput& l) {
  Builder b(g, l);
  b.RequireRank(2, SIZE_MAX, "an input of rank 2 or more");
  int64_t c = b.dims()[1];
  int64_t groups = l.fields.Int("groups", 1, kMaxDim);
  if (c % groups != 0) {
    throw SpecError(l.fields.At("groups"), "groups " + std::to_string(groups) +
                                               " must divide the " + std::to_string(c) +
                                               " input channels");
  }
  return b.Node(Op::GroupNormalization,
                {b.input(), b.Param("weight", {c}), b.Param("bias", {c})},
                {{"num_groups", IntAttr(groups)}, {"epsilon", RealAttr(1e-5)}});
}

const std::vector<LayerOp>& LayerOps() {
  static const std::vector<LayerOp> ops = {
      {"conv2d",
       {"op", "id", "from", "out_channels", "kernel", "stride", "padding", "dilation", "groups",
        "bias"},
       1,
       1,
       Conv2d},
      {"linear", {"op", "id", "from", "out_features", "bias"}, 1, 1, Linear},
      {"relu", {"op", "id", "from"}, 1, 1, Unary<Op::Relu>},
      {"leaky_relu", {"op", "id", "from", "negative_slope"}, 1, 1, LeakyRelu},
      {"sigmoid", {"op", "id", "from"}, 1, 1, Unary<Op::Sigmoid>},
      {"tanh", {"op", "id", "from"}, 1, 1, Unary<Op::Tanh>},
      {"gelu", {"op", "id", "from"}, 1, 1, Unary<Op::Gelu>},
      {"hardswish", {"op", "id", "from"}, 1, 1, Unary<Op::HardSwish>},
      {"batchnorm2d", {"op", "id", "from"}, 1, 1, BatchNorm2d},
      {"batchnorm1d", {"op", "id", "from"}, 1, 1, BatchNorm1d},
      {"layernorm", {"op", "id", "from", "normalized_dims"}, 1, 1, LayerNorm},
      {"groupnorm", {"op", "id", "from", "groups"}, 1, 1, GroupNorm},
      {"maxpool2d", {"op", "id", "from", "kernel", "stride", "padding"}, 1, 1, Pool2d<Op::MaxPool>},
      {"avgpool2d",
       {"op", "id", "from", "kernel", "stride", "padding"},
       1,
       1,
       Pool2d<Op::AveragePool>},
      {"global_avgpool", {"op", "id", "from"}, 1, 1, GlobalAvgPool},
      {"adaptive_avgpool2d", {"op", "id", "from", "output"}, 1, 1, AdaptiveAvgPool2d},
      {"dropout", {"op", "id", "from", "p"}, 1, 1, Dropout},
      {"flatten", {"op", "id", "from"}, 1, 1, Flatten},
      {"add", {"op", "id", "from"}, 2, kMaxJoin, AddLayer},
      {"concat", {"op", "id", "from"}, 2, kMaxJoin, Concat},
  };
  return ops;
}

}  // namespace

const LayerOp* FindLayerOp(std::string_view name) {
  for (const LayerOp& op : LayerOps()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

std::string LayerOpList() {
  std::string list;
  for (const LayerOp& op : LayerOps()) {
    list += (list.empty() ? "" : ", ") + std::string(op.name);
  }
  return list;
}

}  // namespace joulecast::json_internal
