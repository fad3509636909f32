// Binds LoadOptions (--batch, --input) into an ONNX graph's input shapes (internal to the ONNX
// front end), so that ONNX's shape inference sees concrete dims.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>

#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"

namespace joulecast::onnx_bind {

/// Largest element count accepted for any tensor of a model (2^40): more is an absurd dim.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

/// The batch the graph is evaluated at.
struct Batch {
  int64_t size = 1;       ///< Bound or fixed batch size.
  bool symbolic = false;  ///< True when the model left axis 0 of its inputs open.
};

/// Rewrites the shapes of the graph inputs that are not initializers: a symbolic (dim_param or
/// missing) axis 0 becomes options.batch (1 when unset), symbolic other axes take
/// options.input_chw; an input without a shape gets [batch, C, H, W...] from input_chw.
/// Fails, naming the input, when there is no such input, a fixed batch contradicts
/// options.batch or another input's batch, input_chw contradicts a fixed dim or the rank, a dim
/// stays symbolic with no --input to bind it, a dim is zero or negative, or the element count
/// exceeds kMaxElements.
Result<Batch> BindInputs(onnx::GraphProto* graph, const LoadOptions& options);

}  // namespace joulecast::onnx_bind
