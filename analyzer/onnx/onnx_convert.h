// Converts a (stripped, shape-inferred) onnx::ModelProto graph into the IR (internal to the ONNX
// front end).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <unordered_map>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "analyzer/onnx/onnx_bind.h"

namespace joulecast::onnx_convert {

/// Values ONNX's data propagation computed, by tensor name (shape plumbing such as Shape ->
/// Gather -> Concat), as InferShapes returns them.
using PropagatedData = std::unordered_map<std::string, onnx::TensorShapeProto>;

/// Builds the IR of `graph`, not yet finalized:
/// - graph inputs that are not initializers become Role::input tensors, batched;
/// - initializers become Role::parameter when of a float type and consumed at a weight position
///   (Conv/ConvTranspose W and B, Gemm B and C, MatMul either operand, BatchNormalization scale
///   and B, Layer/InstanceNormalization scale and bias, PRelu slope, an operand of Add, Sub, Mul,
///   Div; also when reaching such a position through views such as Transpose, as torch exports
///   a Linear on 4-D input), Role::buffer for other float ones (BatchNormalization mean and var
///   among them), and
///   Role::constant for integer ones, with int_values when small;
/// - Constant nodes' outputs are Role::constant with dims, and int_values when small integers;
/// - node outputs take dtype and, when every dim is known, dims from ONNX's value_info;
/// - names are made up for unnamed nodes ("<op_type>_<index>") and omitted middle outputs.
/// Fails, naming the tensor or node, on an unnamed or duplicated initializer or input, absurd
/// initializer dims (negative, or more than 2^40 elements), values that disagree with their dims,
/// or a graph output nothing produces.
Status ConvertGraph(const onnx::GraphProto& graph, const onnx_bind::Batch& batch,
                    const PropagatedData& propagated, Graph* out);

/// Sets `batched` on tensors whose shape came from ONNX: float tensors produced by a node with a
/// batched input whose axis 0 equals the batch. A heuristic (at batch 1 a reshape that moves
/// another axis of size 1 to the front is mislabelled); the IR's inference handles the rest.
/// REQUIRES: graph finalized (nodes in topological order).
void MarkBatched(Graph* graph);

}  // namespace joulecast::onnx_convert
