// The ONNX front end: an ONNX model file into a finalized, shape-inferred IR graph.
//
// Reads models as exported by torch.onnx.export, opsets 7 to 21. The file is memory-mapped and
// its protobuf walked so that initializers' shapes are read without copying, or even touching,
// their weight payloads: a 553 MB VGG-16 costs a few megabytes of memory. Shapes come from the
// IR's own inference, which also folds shape plumbing to constants. Only where it fails or
// leaves a shape unknown are the nodes checked against ONNX's operator schemas (whose error
// then counts), and only where it left a shape unknown does ONNX's shape inference
// (onnx::shape_inference) run, whose shapes the IR then keeps. protobuf and ONNX
// types stay inside this library. docs/onnx.md says how to export a model and which
// initializers count as parameters.
//
// Ops the IR does not model (and ops of other domains, shown as "domain:OpType") become
// Op::Unknown nodes, reported as unmodelled by the costs, never rejected here.
#pragma once

#include <string>
#include <string_view>

#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"

namespace joulecast {

/// Loads `path`. Errors are one line naming the file and what is wrong (truncated or corrupt
/// protobuf, dangling inputs, cycles, absurd dimensions, a batch that contradicts the model);
/// names from the file are printed with control characters escaped, and the line is cut at
/// about 1,000 characters. A graph named as exporters name every graph ("torch_jit",
/// "main_graph", or nothing) is named after the file instead ("resnet18").
Result<Graph> LoadOnnxFile(const std::string& path, const LoadOptions& options);

/// The same from bytes in memory (tests, fuzzers); `source` names them in messages.
Result<Graph> ParseOnnx(std::string_view bytes, const std::string& source,
                        const LoadOptions& options);

}  // namespace joulecast
