// Shape inference and constant folding over the IR: one pure function per Op, in its row of the
// op registry (op_registry.h).
//
// Tensors that already have a shape (for example from ONNX's own shape inference) keep it: this
// pass fills in only what is missing, and folds the values of small integer tensors (Shape,
// Gather, Concat, Div, ... feeding a Reshape) so shape plumbing resolves even where ONNX's
// inference gives up. Unknown shapes are allowed and simply stop inference along that path.
#pragma once

#include <string>
#include <vector>

#include "analyzer/core/ir.h"

namespace joulecast {

/// A problem found at one node, with the node's name and op type in the message.
struct Diagnostic {
  int node = -1;
  std::string message;  ///< "node 'conv1' (Conv): ..."
};

struct InferenceOptions {
  /// Largest integer tensor (elements) whose values are folded. Bounds memory on bad input.
  int64_t max_folded_elements = 1 << 16;
  /// Largest element count any tensor may have; larger shapes are an error (absurd input).
  int64_t max_tensor_elements = int64_t{1} << 48;
};

/// Infers the shape of every output of `graph.nodes[node]` from its inputs. Returns an error
/// (naming the node) for inconsistent input, such as a conv whose channels do not match its
/// weight. Leaves outputs unknown, without error, when an input shape is unknown.
/// REQUIRES: inputs of the node are inferred already (topological order).
Status InferNode(Graph& graph, int node, const InferenceOptions& options = {});

/// Runs InferNode over all nodes in order. Errors are collected, one per failing node, and
/// inference continues past them (those outputs stay unknown).
/// REQUIRES: graph.Finalize() succeeded.
std::vector<Diagnostic> InferShapes(Graph& graph, const InferenceOptions& options = {});

/// "N×64×56×56" (N for the batch axis when the batch is symbolic), or "?" when unknown.
std::string ShapeString(const Graph& graph, const Tensor& t);

}  // namespace joulecast
