#include "analyzer/core/patterns.h"

namespace joulecast {

namespace {

// Consumers of each tensor, built once.
class Uses {
 public:
  explicit Uses(const Graph& g) : g_(g), consumers_(g.tensors.size()) {
    for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
      for (int in : g.nodes[i].inputs) {
        if (in >= 0) consumers_[in].push_back(i);
      }
    }
  }

  /// The only consumer of node n's first output if it has op `op`, else -1.
  int Single(int n, Op op) const {
    if (n < 0 || g_.nodes[n].outputs.empty()) return -1;
    const auto& c = consumers_[g_.nodes[n].outputs[0]];
    return c.size() == 1 && g_.nodes[c[0]].op == op ? c[0] : -1;
  }
  /// The consumer of node n's first output with op `op` (first one found), else -1.
  int Any(int n, Op op) const {
    if (n < 0 || g_.nodes[n].outputs.empty()) return -1;
    for (int c : consumers_[g_.nodes[n].outputs[0]]) {
      if (g_.nodes[c].op == op) return c;
    }
    return -1;
  }
  /// True when node n reads a parameter tensor.
  bool ReadsParameter(int n) const {
    for (int in : g_.nodes[n].inputs) {
      if (in >= 0 && g_.tensors[in].role == Role::parameter) return true;
    }
    return false;
  }
  int Input(int n, size_t i) const {
    return i < g_.nodes[n].inputs.size() ? g_.nodes[n].inputs[i] : -1;
  }
  int Output(int n) const { return g_.nodes[n].outputs.empty() ? -1 : g_.nodes[n].outputs[0]; }

 private:
  const Graph& g_;
  std::vector<std::vector<int>> consumers_;
};

void Mark(std::vector<std::optional<Kind>>& kinds, std::initializer_list<int> nodes, Kind k) {
  for (int n : nodes) kinds[n] = k;
}

void LayerNorm(const Uses& u, int mean, std::vector<std::optional<Kind>>& kinds) {
  int x = u.Input(mean, 0);
  int sub = u.Any(mean, Op::Sub);
  if (sub < 0 || u.Input(sub, 0) != x) return;
  int pow = u.Any(sub, Op::Pow);
  int var = u.Single(pow, Op::ReduceMean);
  int add = u.Single(var, Op::Add);
  int sqrt = u.Single(add, Op::Sqrt);
  int div = u.Single(sqrt, Op::Div);
  if (div < 0 || u.Input(div, 0) != u.Output(sub)) return;
  Mark(kinds, {mean, sub, pow, var, add, sqrt, div}, Kind::norm);
  int mul = u.Single(div, Op::Mul);
  if (mul >= 0 && u.ReadsParameter(mul)) {
    kinds[mul] = Kind::norm;
    int bias = u.Single(mul, Op::Add);
    if (bias >= 0 && u.ReadsParameter(bias)) kinds[bias] = Kind::norm;
  }
}

void Gelu(const Uses& u, int erf, const Graph& g, std::vector<std::optional<Kind>>& kinds) {
  int in = u.Input(erf, 0);
  int div = in >= 0 ? g.tensors[in].producer : -1;
  if (div < 0 || g.nodes[div].op != Op::Div) return;
  int add = u.Single(erf, Op::Add);
  int mul = u.Single(add, Op::Mul);
  int half = u.Single(mul, Op::Mul);
  if (half < 0) return;
  Mark(kinds, {div, erf, add, mul, half}, Kind::activation);
}

void Silu(const Uses& u, int sigmoid, std::vector<std::optional<Kind>>& kinds) {
  int mul = u.Single(sigmoid, Op::Mul);
  if (mul < 0) return;
  int x = u.Input(sigmoid, 0);
  if (u.Input(mul, 0) == x || u.Input(mul, 1) == x) Mark(kinds, {sigmoid, mul}, Kind::activation);
}

// ReduceMean or ReduceMax over only the spatial axes of an NCHW tensor is global pooling
// (ShuffleNetV2 and others write x.mean([2, 3])).
bool SpatialReduction(const Graph& g, const Node& n) {
  if ((n.op != Op::ReduceMean && n.op != Op::ReduceMax) || n.inputs.empty() || n.inputs[0] < 0) {
    return false;
  }
  const Tensor& x = g.tensors[n.inputs[0]];
  std::vector<int64_t> axes = n.Ints("axes");
  if (!x.shape_known || x.dims.size() < 3 || axes.empty()) return false;
  for (int64_t a : axes) {
    if (a < 0) a += static_cast<int64_t>(x.dims.size());
    if (a < 2) return false;
  }
  return true;
}

}  // namespace

std::vector<std::optional<Kind>> RecognizeDecomposedLayers(const Graph& graph) {
  std::vector<std::optional<Kind>> kinds(graph.nodes.size());
  Uses uses(graph);
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    // Each pattern starts at the op that opens it.
    const Op op = graph.nodes[i].op;
    if (op == Op::ReduceMean && !kinds[i]) LayerNorm(uses, i, kinds);
    if (op == Op::Erf) Gelu(uses, i, graph, kinds);
    if (op == Op::Sigmoid) Silu(uses, i, kinds);
    if (!kinds[i] && SpatialReduction(graph, graph.nodes[i])) kinds[i] = Kind::pool;
  }
  return kinds;
}

}  // namespace joulecast
