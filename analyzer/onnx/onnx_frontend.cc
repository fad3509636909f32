#include "analyzer/onnx/onnx_frontend.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/shape_inference.h"
#include "analyzer/onnx/mapped_file.h"
#include "analyzer/onnx/onnx_bind.h"
#include "analyzer/onnx/onnx_check.h"
#include "analyzer/onnx/onnx_convert.h"
#include "analyzer/onnx/onnx_guard.h"
#include "analyzer/onnx/onnx_wire.h"
#include "common/read_file.h"

namespace joulecast {

namespace {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 21;

// Names in a file may hold any bytes: the error stays one printable line of bounded length.
Status OneLine(const std::string& message) {
  constexpr size_t kMaxLength = 1000;
  std::string line;
  for (unsigned char c : message) {
    if (line.size() >= kMaxLength) {
      line += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 15];
    } else {
      line += static_cast<char>(c);
    }
  }
  return Status::Error(line);
}

// The default-domain opset, checked to be one joulecast reads.
Result<int64_t> DefaultOpset(const onnx::ModelProto& model) {
  std::optional<int64_t> version;
  for (const auto& opset : model.opset_import()) {
    if (!opset.domain().empty() && opset.domain() != "ai.onnx") continue;
    // ONNX's inference would use the last import and the schema check the first.
    if (version) return Status::Error("the default ONNX domain's opset is imported twice");
    version = opset.version();
  }
  if (!version) {
    return Status::Error("no opset import for the default ONNX domain (ir_version " +
                         std::to_string(model.ir_version()) + ")");
  }
  if (*version < kMinOpset || *version > kMaxOpset) {
    return Status::Error("opset " + std::to_string(*version) +
                         " is not supported (opsets 7 to 21 are); re-export with "
                         "opset_version=14");
  }
  return *version;
}

// ONNX's own inference fills in value_info; where it fails, the IR's inference takes over.
void RunOnnxInference(onnx::ModelProto* model, onnx_convert::PropagatedData* propagated) {
  onnx::ShapeInferenceOptions options(/*check_type_val=*/false, /*strict_mode_val=*/0,
                                      /*data_prop_val=*/true);
  try {
    onnx::shape_inference::InferShapes(*model, onnx_guard::GuardedSchemaRegistry(), options,
                                       propagated);
  } catch (...) {
    propagated->clear();
  }
}

// The IR of the model, finalized and inferred, with ONNX's propagated shapes where given.
Result<Graph> Convert(const onnx::ModelProto& model, const onnx_bind::Batch& batch,
                      const onnx_convert::PropagatedData& propagated, const std::string& source) {
  Graph graph;
  graph.source = source;
  if (Status s = onnx_convert::ConvertGraph(model.graph(), batch, propagated, &graph); !s.ok()) {
    return s;
  }
  if (Status s = graph.Finalize(); !s.ok()) return s;
  onnx_convert::MarkBatched(&graph);
  std::vector<Diagnostic> diagnostics = InferShapes(graph);
  if (!diagnostics.empty()) return Status::Error(diagnostics.front().message);
  return graph;
}

bool AllShapesKnown(const Graph& graph) {
  for (const Tensor& t : graph.tensors) {
    if (!t.shape_known) return false;
  }
  return true;
}

// Parses without naming the source; ParseOnnx adds it.
Result<Graph> Parse(std::string_view bytes, const std::string& source, const LoadOptions& options) {
  if (bytes.empty()) return Status::Error("empty file, not an ONNX model");
  std::string stripped;
  if (Status s = onnx_wire::StripModel(bytes, &stripped); !s.ok()) return s;
  if (stripped.size() > static_cast<size_t>(INT_MAX)) {
    return Status::Error("graph too large (over 2 GB without weights)");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(stripped.data(), static_cast<int>(stripped.size()))) {
    return Status::Error("not a valid ONNX model (protobuf parse failed)");
  }
  std::string().swap(stripped);
  if (!model.has_graph()) return Status::Error("no graph in the model");
  Result<int64_t> opset = DefaultOpset(model);
  if (!opset.ok()) return opset.status();
  auto batch = onnx_bind::BindInputs(model.mutable_graph(), options);
  if (!batch.ok()) return batch.status();

  // The IR's own inference first: it resolves every exported CNN by itself, and ONNX's schema
  // registry costs more than the whole analysis (docs/benchmarks.md). Where it fails or leaves
  // a shape unknown, ONNX's schema check runs, and its error names what the model breaks; where
  // it left a shape unknown, ONNX's shape inference then reaches past unmodelled ops.
  Result<Graph> graph = Convert(model, *batch, {}, source);
  if (graph.ok() && AllShapesKnown(*graph)) return graph;
  // Opsets newer than the ONNX library's have only the IR's checks and inference.
  if (*opset > onnx_check::NewestSchemaOpset()) return graph;
  if (Status s = onnx_check::VerifyNodes(model.graph(), *opset); !s.ok()) return s;
  // A model the IR cannot read gets the IR's error: ONNX's inference would add nothing to it,
  // and its data propagation crashes on payloads the converter refuses (an int64 constant of
  // 4 bytes).
  if (!graph.ok()) return graph;
  onnx_convert::PropagatedData propagated;
  RunOnnxInference(&model, &propagated);
  return Convert(model, *batch, propagated, source);
}

}  // namespace

Result<Graph> ParseOnnx(std::string_view bytes, const std::string& source,
                        const LoadOptions& options) {
  Result<Graph> graph = Parse(bytes, source, options);
  if (!graph.ok()) return OneLine(source + ": " + graph.status().message());
  // An exporter's default graph name says nothing about the model: its file's name does.
  for (const char* placeholder : {"", "torch_jit", "torch-jit-export", "main_graph"}) {
    if (graph->name == placeholder) graph->name = FileStem(source);
  }
  return graph;
}

Result<Graph> LoadOnnxFile(const std::string& path, const LoadOptions& options) {
  MappedFile file;
  if (Status s = file.Open(path); !s.ok()) return OneLine(s.message());
  return ParseOnnx(file.bytes(), path, options);
}

}  // namespace joulecast
