#include "analyzer/core/costs.h"

#include <algorithm>
#include <cctype>

#include "analyzer/core/patterns.h"

namespace joulecast {

Work& Work::operator+=(const Work& o) {
  macs_fwd += o.macs_fwd;
  macs_bwd_input += o.macs_bwd_input;
  macs_bwd_weight += o.macs_bwd_weight;
  elements_fwd += o.elements_fwd;
  elements_bwd += o.elements_bwd;
  saved_bytes += o.saved_bytes;
  im2col_elements += o.im2col_elements;
  elements_in += o.elements_in;
  return *this;
}

bool Work::overflowed() const {
  return macs_fwd.overflowed() || macs_bwd_input.overflowed() || macs_bwd_weight.overflowed() ||
         elements_fwd.overflowed() || elements_bwd.overflowed() || saved_bytes.overflowed() ||
         im2col_elements.overflowed() || elements_in.overflowed();
}

namespace {

Count Elements(const Tensor& t) {
  Count n = 1;
  for (int64_t d : t.dims) n = n * Count(d);
  return n;
}

Count Bytes(const Tensor& t) { return Elements(t) * Count(DTypeBytes(t.dtype)); }

bool IsPlumbingOp(Op op) {
  return op == Op::Shape || op == Op::Size || op == Op::Constant || op == Op::ConstantOfShape ||
         op == Op::Range;
}

// Ops whose output carries no gradient back to its inputs.
bool BlocksGradient(Op op) {
  return IsPlumbingOp(op) || op == Op::Equal || op == Op::Floor || op == Op::Ceil ||
         op == Op::Cast;
}

// Facts about every tensor derived in one forward pass over the graph.
struct Flow {
  std::vector<bool> data;       // Depends on the graph input or a parameter: real work.
  std::vector<bool> needs_grad; // Depends on a trainable parameter through differentiable ops.
  std::vector<bool> from_input; // Depends on the graph input.
};

Flow Propagate(const Graph& g, const CostOptions& options) {
  const size_t nt = g.tensors.size();
  Flow f{std::vector<bool>(nt), std::vector<bool>(nt), std::vector<bool>(nt)};
  for (size_t i = 0; i < nt; ++i) {
    const Tensor& t = g.tensors[i];
    f.data[i] = t.role == Role::input || t.role == Role::parameter;
    f.needs_grad[i] = t.role == Role::parameter || (options.input_needs_grad && t.role == Role::input);
    f.from_input[i] = t.role == Role::input;
  }
  for (const Node& n : g.nodes) {
    bool data = false, grad = false, input = false;
    for (int in : n.inputs) {
      if (in < 0) continue;
      data = data || f.data[in];
      grad = grad || f.needs_grad[in];
      input = input || f.from_input[in];
    }
    for (int out : n.outputs) {
      bool folded = g.tensors[out].int_values.has_value() || IsPlumbingOp(n.op);
      f.data[out] = data && !folded;
      f.needs_grad[out] = grad && !folded && !BlocksGradient(n.op);
      f.from_input[out] = input && !folded;
    }
  }
  // BatchNormalization's running-statistics outputs and MaxPool's indices take no gradient.
  for (const Node& n : g.nodes) {
    for (size_t k = 1; k < n.outputs.size(); ++k) {
      if (n.op == Op::BatchNormalization || n.op == Op::MaxPool || n.op == Op::Dropout) {
        f.needs_grad[n.outputs[k]] = false;
      }
    }
  }
  return f;
}

// Which activations a node's backward needs, following PyTorch's autograd.
enum class Saves { nothing, input, output, inputs };

Saves SavedBy(Op op) {
  switch (op) {
    case Op::Conv: case Op::ConvTranspose: case Op::Gemm: case Op::MatMul: return Saves::inputs;
    case Op::BatchNormalization: case Op::LayerNormalization: case Op::InstanceNormalization:
      return Saves::input;
    case Op::Relu: case Op::Sigmoid: case Op::Tanh: case Op::Softmax: case Op::LogSoftmax:
    case Op::Sqrt: case Op::Exp: case Op::Reciprocal: case Op::Elu:
      return Saves::output;
    case Op::LeakyRelu: case Op::HardSigmoid: case Op::HardSwish: case Op::Clip: case Op::Gelu:
    case Op::Erf: case Op::Softplus: case Op::PRelu: case Op::Selu: case Op::MaxPool:
    case Op::AveragePool: case Op::GlobalMaxPool: case Op::ReduceMax: case Op::Log:
    case Op::Abs: case Op::Max: case Op::Min: case Op::Where:
      return Saves::input;
    case Op::Mul: case Op::Div: case Op::Pow: return Saves::inputs;
    default: return Saves::nothing;
  }
}

class Counter {
 public:
  Counter(const Graph& g, const Flow& f) : g_(g), f_(f), saved_(g.tensors.size(), false),
                                           counted_(g.tensors.size(), false) {}

  LayerCost Layer(int index, Kind kind) {
    const Node& n = g_.nodes[index];
    LayerCost lc;
    lc.node = index;
    lc.kind = kind;
    for (int in : n.inputs) {
      if (in < 0 || counted_[in]) continue;
      const Tensor& t = g_.tensors[in];
      if (t.role == Role::parameter) lc.params += Elements(t);
      if (t.role == Role::buffer) lc.buffers += Elements(t);
      if (t.role == Role::parameter || t.role == Role::buffer) counted_[in] = true;
    }
    if (kind == Kind::shape) return lc;
    if (n.op == Op::Unknown) return Unmodelled(lc, "op not modelled");
    for (int t : n.inputs) {
      if (t >= 0 && !g_.tensors[t].shape_known) return Unmodelled(lc, "input shape unknown");
    }
    for (int t : n.outputs) {
      if (!g_.tensors[t].shape_known) return Unmodelled(lc, "output shape unknown");
    }
    Work& w = lc.work;
    bool any_grad = false;
    for (int in : n.inputs) {
      if (in >= 0 && f_.needs_grad[in]) {
        w.elements_bwd += Elements(g_.tensors[in]);
        any_grad = true;
      }
    }
    for (int out : n.outputs) {
      if (f_.data[out]) w.elements_fwd += Elements(g_.tensors[out]);
    }
    for (int in : n.inputs) {
      if (in < 0) continue;
      const Role r = g_.tensors[in].role;
      if (f_.data[in] && (r == Role::activation || r == Role::input)) {
        w.elements_in += Elements(g_.tensors[in]);
      }
    }
    Macs(n, w, lc);
    if (any_grad) Saved(n, w);
    lc.variant = Variant(n, kind);
    return lc;
  }

  // LayerCost::variant.
  std::string Variant(const Node& n, Kind kind) const {
    auto lower = [](std::string_view s) {
      std::string out(s);
      for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return out;
    };
    if (kind != KindOf(n.op)) return "";  // a decomposed pattern
    switch (n.op) {
      case Op::Conv: {
        const int64_t groups = n.Int("group", 1);
        const Tensor& x = In(n, 0);
        if (groups > 1) return x.dims.size() >= 2 && groups == x.dims[1] ? "depthwise" : "grouped";
        return Grad(n, 0) ? "" : "input";
      }
      case Op::ConvTranspose: return "transpose";
      case Op::Gemm: case Op::MatMul: return Grad(n, 0) ? "" : "input";
      case Op::MaxPool: return "max";
      case Op::AveragePool: return "avg";
      case Op::GlobalAveragePool: case Op::ReduceMean: return "global_avg";
      case Op::GlobalMaxPool: case Op::ReduceMax: return "global_max";
      case Op::LayerNormalization: return "layer";
      case Op::InstanceNormalization: return "instance";
      default: break;
    }
    if (kind == Kind::activation || kind == Kind::elementwise) return lower(OpName(n.op));
    return "";
  }

 private:
  LayerCost Unmodelled(LayerCost lc, const char* why) {
    lc.modelled = false;
    lc.kind = Kind::other;
    lc.why_unmodelled = why;
    return lc;
  }

  const Tensor& In(const Node& n, size_t i) const { return g_.tensors[n.inputs[i]]; }
  bool Grad(const Node& n, size_t i) const {
    return i < n.inputs.size() && n.inputs[i] >= 0 && f_.needs_grad[n.inputs[i]];
  }

  void Macs(const Node& n, Work& w, LayerCost& lc) const {
    Count macs;
    switch (n.op) {
      case Op::Conv: {
        const Tensor& wt = In(n, 1);
        Count per_output = 1;
        for (size_t i = 1; i < wt.dims.size(); ++i) per_output = per_output * Count(wt.dims[i]);
        macs = Elements(g_.tensors[n.outputs[0]]) * per_output;
        // Output positions (all dims but channels) x input channels x kernel area.
        const Tensor& out = g_.tensors[n.outputs[0]];
        Count positions = 1;
        for (size_t i = 0; i < out.dims.size(); ++i) {
          if (i != 1) positions = positions * Count(out.dims[i]);
        }
        w.im2col_elements += positions * Count(n.Int("group", 1)) * per_output;
        Gemm(lc, positions, out.dims.size() >= 2 ? out.dims[1] / std::max<int64_t>(1, n.Int("group", 1)) : 0,
             per_output, n.Int("group", 1));
        break;
      }
      case Op::ConvTranspose: {
        const Tensor& wt = In(n, 1);
        Count per_input = 1;
        for (size_t i = 1; i < wt.dims.size(); ++i) per_input = per_input * Count(wt.dims[i]);
        macs = Elements(In(n, 0)) * per_input;
        break;
      }
      case Op::Gemm: {
        const Tensor& a = In(n, 0);
        int64_t k = n.Int("transA", 0) ? a.dims[0] : a.dims[1];
        macs = Elements(g_.tensors[n.outputs[0]]) * Count(k);
        w.im2col_elements += Elements(a);
        const Tensor& out = g_.tensors[n.outputs[0]];
        if (out.dims.size() == 2) Gemm(lc, Count(out.dims[0]), out.dims[1], Count(k), 1);
        break;
      }
      case Op::MatMul: {
        const Tensor& a = In(n, 0);
        macs = Elements(g_.tensors[n.outputs[0]]) * Count(a.dims.back());
        w.im2col_elements += Elements(a);
        const Tensor& out = g_.tensors[n.outputs[0]];
        if (!out.dims.empty()) {
          Gemm(lc, Count(Elements(out).value() / std::max<int64_t>(1, out.dims.back())), out.dims.back(),
               Count(a.dims.back()), 1);
        }
        break;
      }
      default:
        return;
    }
    w.macs_fwd += macs;
    if (Grad(n, 0)) w.macs_bwd_input += macs;
    if (Grad(n, 1)) {
      // MatMul of two activations: both gradients are input gradients.
      bool weight = n.op != Op::MatMul || !f_.from_input[n.inputs[1]];
      (weight ? w.macs_bwd_weight : w.macs_bwd_input) += macs;
    }
  }

  static void Gemm(LayerCost& lc, Count m, int64_t n, Count k, int64_t groups) {
    lc.gemm_m = m.overflowed() ? 0 : m.value();
    lc.gemm_n = n;
    lc.gemm_k = k.overflowed() ? 0 : k.value();
    lc.groups = groups;
  }

  // Activation bytes kept for backward; a tensor saved by several nodes is counted once.
  void Saved(const Node& n, Work& w) {
    auto keep = [&](int t) {
      if (t < 0 || saved_[t]) return;
      Role r = g_.tensors[t].role;
      if (r != Role::activation && r != Role::input) return;
      saved_[t] = true;
      w.saved_bytes += Bytes(g_.tensors[t]);
    };
    const Tensor& out = g_.tensors[n.outputs[0]];
    switch (SavedBy(n.op)) {
      case Saves::nothing: break;
      case Saves::input: keep(n.inputs[0]); break;
      case Saves::output: keep(n.outputs[0]); break;
      case Saves::inputs:
        // Each operand is needed for the other's gradient.
        for (size_t i = 0; i < n.inputs.size() && i < 2; ++i) {
          if (Grad(n, 1 - i)) keep(n.inputs[i]);
        }
        break;
    }
    // Per-op extras: normalisation statistics, pooling indices, dropout masks.
    switch (n.op) {
      case Op::BatchNormalization: {
        const Tensor& x = In(n, 0);
        if (x.dims.size() >= 2) w.saved_bytes += Count(2 * x.dims[1]) * Count(4);
        break;
      }
      case Op::LayerNormalization: case Op::InstanceNormalization: {
        const Tensor& x = In(n, 0);
        int64_t axis = n.op == Op::InstanceNormalization ? 2 : n.Int("axis", -1);
        if (axis < 0) axis += static_cast<int64_t>(x.dims.size());
        Count rows = 1;
        for (int64_t i = 0; i < axis && i < static_cast<int64_t>(x.dims.size()); ++i) {
          rows = rows * Count(x.dims[i]);
        }
        w.saved_bytes += rows * Count(2 * 4);
        break;
      }
      case Op::MaxPool: case Op::GlobalMaxPool:
        w.saved_bytes += Elements(out) * Count(8);
        break;
      case Op::Dropout:
        w.saved_bytes += Elements(out);
        break;
      default:
        break;
    }
  }

  const Graph& g_;
  const Flow& f_;
  std::vector<bool> saved_;
  std::vector<bool> counted_;
};

}  // namespace

Result<ModelCost> ComputeCosts(const Graph& graph, const CostOptions& options) {
  ModelCost mc;
  mc.batch = graph.batch > 0 ? graph.batch : 1;
  Flow flow = Propagate(graph, options);
  std::vector<std::optional<Kind>> decomposed = RecognizeDecomposedLayers(graph);
  Counter counter(graph, flow);
  mc.layers.reserve(graph.nodes.size());
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    const Node& n = graph.nodes[i];
    bool plumbing = true;
    for (int out : n.outputs) plumbing = plumbing && !flow.data[out];
    Kind kind = plumbing && n.op != Op::Unknown ? Kind::shape
                : decomposed[i] ? *decomposed[i]
                                : KindOf(n.op);
    LayerCost lc = counter.Layer(i, kind);
    if (lc.work.overflowed() || lc.params.overflowed() || lc.buffers.overflowed()) {
      return Status::Error("node '" + n.name + "' (" + n.op_type +
                           "): its cost overflows 64-bit counters; check the model's dimensions");
    }
    KindTotals& kt = mc.by_kind[static_cast<int>(lc.kind)];
    ++kt.layers;
    kt.work += lc.work;
    kt.params += lc.params;
    kt.buffers += lc.buffers;
    mc.total += lc.work;
    mc.params += lc.params;
    mc.buffers += lc.buffers;
    if (!lc.modelled) mc.unmodelled.push_back(i);
    mc.layers.push_back(std::move(lc));
  }
  std::vector<bool> seen(graph.tensors.size(), false);
  for (const Node& n : graph.nodes) {
    for (int in : n.inputs) {
      if (in < 0 || seen[in]) continue;
      seen[in] = true;
      const Tensor& t = graph.tensors[in];
      if (t.role == Role::parameter) {
        mc.param_bytes += Bytes(t);
        ++mc.param_tensors;
      }
      if (t.role == Role::buffer) mc.buffer_bytes += Bytes(t);
    }
  }
  mc.grad_bytes = mc.param_bytes;
  mc.adam_state_bytes = mc.param_bytes * Count(2);
  mc.sgd_momentum_bytes = mc.param_bytes;
  if (mc.total.overflowed() || mc.param_bytes.overflowed() || mc.adam_state_bytes.overflowed()) {
    return Status::Error(graph.source + ": the model's total cost overflows 64-bit counters");
  }
  return mc;
}

std::string ModelClass(const LayerCost& layer) {
  std::string c(KindName(layer.kind));
  return layer.variant.empty() ? c : c + "." + layer.variant;
}

}  // namespace joulecast
