// Helpers shared by the JSON front end's tests.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "analyzer/core/ir.h"

namespace joulecast::json_test {

/// The repository root (ctest sets JOULECAST_SOURCE_DIR); "." when unset.
inline std::string SourceDir() {
  const char* dir = std::getenv("JOULECAST_SOURCE_DIR");
  return dir ? dir : ".";
}

/// Dims joined by "x" ("1x6x28x28"), "missing" when no tensor has that name, "?" if unknown.
inline std::string DimsOf(const Graph& g, const std::string& tensor) {
  int i = g.FindTensor(tensor);
  if (i < 0) return "missing";
  if (!g.tensors[i].shape_known) return "?";
  std::string s;
  for (int64_t d : g.tensors[i].dims) {
    if (!s.empty()) s += 'x';
    s += std::to_string(d);
  }
  return s;
}

/// Sum of the element counts of the tensors with `role`.
inline int64_t CountElements(const Graph& g, Role role) {
  int64_t total = 0;
  for (const Tensor& t : g.tensors) {
    if (t.role != role) continue;
    int64_t n = 1;
    for (int64_t d : t.dims) n *= d;
    total += n;
  }
  return total;
}

/// The index of the node named `name`, or -1.
inline int NodeNamed(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

/// The ONNX op names of the graph's nodes, in order.
inline std::vector<std::string> OpSequence(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.emplace_back(OpName(n.op));
  return ops;
}

}  // namespace joulecast::json_test
