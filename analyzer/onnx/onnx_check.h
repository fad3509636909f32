// Checks nodes against ONNX's operator schemas before anything reads them (internal to the ONNX
// front end).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>

#include "analyzer/core/status.h"

namespace joulecast::onnx_check {

/// Verifies every default-domain node whose op_type ONNX defines at `opset` with ONNX's own
/// OpSchema::Verify: input and output counts, required inputs present, attribute names and
/// types. Nodes of other domains, and op types ONNX does not define, pass (they are reported as
/// unmodelled later). Fails with "node 'NAME' (OP): " and the first line of ONNX's message.
Status VerifyNodes(const onnx::GraphProto& graph, int64_t opset);

/// The newest default-domain opset the linked ONNX library has schemas for (17 for Debian 12's
/// libonnx 1.12). Newer models are read without ONNX's schema check and shape inference: an
/// older schema would misread ops whose inputs moved (ReduceMean's axes from opset 18).
int64_t NewestSchemaOpset();

}  // namespace joulecast::onnx_check
