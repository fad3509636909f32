#include "analyzer/core/costs.h"

#include "analyzer/core/op_context.h"
#include "analyzer/core/op_registry.h"
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

Count Elements(const Tensor& t) {
  Count n = 1;
  for (int64_t d : t.dims) n = n * Count(d);
  return n;
}

Count Bytes(const Tensor& t) { return Elements(t) * Count(DTypeBytes(t.dtype)); }

bool CostContext::any_grad() const {
  for (size_t i = 0; i < n_.inputs.size(); ++i) {
    if (grad(i)) return true;
  }
  return false;
}

void NoOpCost(const CostContext&, Work&, LayerCost&) {}

namespace {

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
    const OpSpec& spec = Spec(n.op);
    bool data = false, grad = false, input = false;
    for (int in : n.inputs) {
      if (in < 0) continue;
      data = data || f.data[in];
      grad = grad || f.needs_grad[in];
      input = input || f.from_input[in];
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int out = n.outputs[k];
      bool folded = g.tensors[out].int_values.has_value() || spec.has(kPlumbing);
      f.data[out] = data && !folded;
      f.needs_grad[out] = grad && !folded && !spec.has(kNoGradient) &&
                          (k == 0 || !spec.has(kGradFirstOutputOnly));
      f.from_input[out] = input && !folded;
    }
  }
  return f;
}

class Counter {
 public:
  Counter(const Graph& g, const Flow& f) : g_(g), f_(f), saved_(g.tensors.size(), false),
                                           counted_(g.tensors.size(), false) {}

  LayerCost Layer(int index, Kind kind) {
    const Node& n = g_.nodes[index];
    const OpSpec& spec = Spec(n.op);
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
    const CostContext c(g_, n, f_.needs_grad, f_.from_input);
    for (int in : n.inputs) {
      if (in >= 0 && f_.needs_grad[in]) w.elements_bwd += Elements(g_.tensors[in]);
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
    lc.variant = spec.variant;
    spec.cost(c, w, lc);
    if (c.any_grad()) Saved(n, spec.saves, c, w);
    if (kind != spec.kind) lc.variant.clear();  // a decomposed pattern
    return lc;
  }

 private:
  LayerCost Unmodelled(LayerCost lc, const char* why) {
    lc.modelled = false;
    lc.kind = Kind::other;
    lc.why_unmodelled = why;
    return lc;
  }

  // Activation bytes kept for backward; a tensor saved by several nodes is counted once.
  void Saved(const Node& n, Saves saves, const CostContext& c, Work& w) {
    auto keep = [&](int t) {
      if (t < 0 || saved_[t]) return;
      Role r = g_.tensors[t].role;
      if (r != Role::activation && r != Role::input) return;
      saved_[t] = true;
      w.saved_bytes += Bytes(g_.tensors[t]);
    };
    switch (saves) {
      case Saves::nothing: break;
      case Saves::input: keep(n.inputs[0]); break;
      case Saves::output: keep(n.outputs[0]); break;
      case Saves::inputs:
        // Each operand is needed for the other's gradient.
        for (size_t i = 0; i < n.inputs.size() && i < 2; ++i) {
          if (c.grad(1 - i)) keep(n.inputs[i]);
        }
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
