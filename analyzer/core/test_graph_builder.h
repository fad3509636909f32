// A small builder for IR graphs in tests: inputs, parameters, constants and nodes in a line each.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/ir.h"

namespace joulecast::testing {

class GraphBuilder {
 public:
  /// A batched graph input of `dims` (dims[0] is the batch).
  int Input(const std::string& name, std::vector<int64_t> dims) {
    int t = Add(name, std::move(dims), Role::input);
    g.tensors[t].batched = true;
    g.inputs.push_back(t);
    g.batch = g.tensors[t].dims[0];
    return t;
  }
  /// A trainable float parameter.
  int Param(const std::string& name, std::vector<int64_t> dims) {
    return Add(name, std::move(dims), Role::parameter);
  }
  /// A non-trained float buffer.
  int Buffer(const std::string& name, std::vector<int64_t> dims) {
    return Add(name, std::move(dims), Role::buffer);
  }
  /// A 1-D int64 constant with known values.
  int Ints(const std::string& name, std::vector<int64_t> values) {
    int t = Add(name, {static_cast<int64_t>(values.size())}, Role::constant);
    g.tensors[t].dtype = DType::int64;
    g.tensors[t].int_values = std::move(values);
    return t;
  }
  /// A float constant with known values; a scalar when it holds one value.
  int Reals(const std::string& name, std::vector<double> values) {
    std::vector<int64_t> dims;
    if (values.size() != 1) dims.push_back(static_cast<int64_t>(values.size()));
    int t = Add(name, std::move(dims), Role::constant);
    g.tensors[t].real_values = std::move(values);
    return t;
  }
  /// Adds node `op` reading `inputs`; returns the index of its first output (an activation).
  int Node(Op op, std::vector<int> inputs, std::map<std::string, Attr> attrs = {},
           int num_outputs = 1) {
    joulecast::Node n;
    n.name = std::string(OpName(op)) + "_" + std::to_string(g.nodes.size());
    n.op_type = std::string(OpName(op));
    n.op = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    for (int k = 0; k < num_outputs; ++k) {
      Tensor t;
      t.name = n.name + ":" + std::to_string(k);
      n.outputs.push_back(g.AddTensor(std::move(t)));
    }
    int first = n.outputs[0];
    g.AddNode(std::move(n));
    return first;
  }

  Graph g;

 private:
  int Add(const std::string& name, std::vector<int64_t> dims, Role role) {
    Tensor t;
    t.name = name;
    t.role = role;
    t.dims = std::move(dims);
    t.shape_known = true;
    return g.AddTensor(std::move(t));
  }
};

inline Attr I(int64_t v) { Attr a; a.type = Attr::Type::integer; a.i = v; return a; }
inline Attr Is(std::vector<int64_t> v) {
  Attr a; a.type = Attr::Type::integers; a.ints = std::move(v); return a;
}
inline Attr S(std::string v) { Attr a; a.type = Attr::Type::text; a.s = std::move(v); return a; }

/// Flattens `x` to [batch, -1] as exporters write it: Shape -> Gather(0) -> Concat with -1 ->
/// Reshape, plumbing that shape inference folds. Returns the Reshape's output.
inline int FlattenThroughShapePlumbing(GraphBuilder& b, int x) {
  int shape = b.Node(Op::Shape, {x});
  int n = b.Node(Op::Gather, {shape, b.Ints("zero", {0})});
  int target = b.Node(Op::Concat, {n, b.Ints("minus_one", {-1})}, {{"axis", I(0)}});
  return b.Node(Op::Reshape, {x, target});
}

}  // namespace joulecast::testing
