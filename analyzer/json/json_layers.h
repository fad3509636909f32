// Internal to the JSON front end: the table of layer ops and how each becomes IR nodes with ONNX
// semantics (Conv, Gemm, BatchNormalization, ...), shape-inferred as they are added.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "analyzer/core/ir.h"
#include "common/json_fields.h"

namespace joulecast::json_internal {

using json_fields::Fields;
/// A user error in the architecture, at a JSON pointer (common/json_fields.h).
using SpecError = json_fields::FieldError;

/// Largest size accepted for any one dimension, channel count, kernel, stride or padding.
inline constexpr int64_t kMaxDim = int64_t{1} << 20;
/// Largest element count of any tensor the front end creates (the core's default bound).
inline constexpr int64_t kMaxElements = int64_t{1} << 48;

/// One layer being turned into nodes.
struct LayerInput {
  std::string_view op;      ///< The op as written: "conv2d"; becomes the nodes' op_type.
  const Fields& fields;     ///< The layer's JSON object.
  std::string name;         ///< Node name; parameters are named "<name>.weight" and so on.
  std::vector<int> inputs;  ///< Tensor indices the layer reads, shapes known.
};

/// A layer op of the format.
struct LayerOp {
  std::string_view name;                 ///< As written in "op": "conv2d".
  std::vector<std::string_view> fields;  ///< All fields it accepts, "op", "id", "from" included.
  int min_inputs = 1;                    ///< add and concat join 2 or more; the rest read one.
  int max_inputs = 1;
  /// Adds the layer's parameter tensors and nodes to the graph, inferring each node's shape,
  /// and returns the index of its output tensor. Throws SpecError naming the field at fault.
  int (*build)(Graph& graph, const LayerInput& layer) = nullptr;
};

/// The op named `name`, or nullptr.
const LayerOp* FindLayerOp(std::string_view name);
/// "conv2d, linear, ..." in documentation order, for messages.
std::string LayerOpList();

}  // namespace joulecast::json_internal
