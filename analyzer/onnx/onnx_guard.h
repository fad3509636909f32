// ONNX's operator schemas with their shape inference shielded from malformed models (internal
// to the ONNX front end).
//
// ONNX 1.12's shape inference functions trust their inputs: a Conv whose weight rank differs
// from its input's indexes past the end of a vector, a stride of 0 divides by zero, and a huge
// spatial dim under auto_pad loops for minutes. The registry here serves copies of ONNX's
// schemas whose inference first checks what those functions assume and, when a check fails,
// leaves the node's outputs unknown (the IR's inference then reports the problem by name).
#pragma once

#include <onnx/defs/schema.h>

namespace joulecast::onnx_guard {

/// The guarded registry: ONNX's own schemas (same lookup as OpSchemaRegistry), each with its
/// inference and data propagation wrapped. Process-wide, thread-safe, never freed.
const onnx::ISchemaRegistry* GuardedSchemaRegistry();

}  // namespace joulecast::onnx_guard
