#include "analyzer/onnx/onnx_frontend.h"

#include <climits>
#include <utility>

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "analyzer/core/shape_inference.h"
#include "analyzer/onnx/mapped_file.h"
#include "analyzer/onnx/onnx_bind.h"
#include "analyzer/onnx/onnx_convert.h"
#include "analyzer/onnx/onnx_wire.h"

namespace joulecast {

namespace {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;

Status Prefixed(const std::string& source, const Status& s) {
  return Status::Error(source + ": " + s.message());
}

Status CheckOpset(const onnx::ModelProto& model) {
  for (const auto& opset : model.opset_import()) {
    if (!opset.domain().empty() && opset.domain() != "ai.onnx") continue;
    if (opset.version() < kMinOpset || opset.version() > kMaxOpset) {
      return Status::Error("opset " + std::to_string(opset.version()) +
                           " is not supported (opsets 7 to 17 are); re-export with "
                           "opset_version=14");
    }
    return Status();
  }
  return Status::Error("no opset import for the default ONNX domain (ir_version " +
                       std::to_string(model.ir_version()) + ")");
}

// ONNX's own inference fills in value_info; where it fails, the IR's inference takes over.
void RunOnnxInference(onnx::ModelProto* model, onnx_convert::PropagatedData* propagated) {
  onnx::ShapeInferenceOptions options(/*check_type_val=*/false, /*strict_mode_val=*/0,
                                      /*data_prop_val=*/true);
  try {
    onnx::shape_inference::InferShapes(*model, onnx::OpSchemaRegistry::Instance(), options,
                                       propagated);
  } catch (...) {
    propagated->clear();
  }
}

}  // namespace

Result<Graph> ParseOnnx(std::string_view bytes, const std::string& source,
                        const LoadOptions& options) {
  if (bytes.empty()) return Status::Error(source + ": empty file, not an ONNX model");
  std::string stripped;
  if (Status s = onnx_wire::StripModel(bytes, &stripped); !s.ok()) return Prefixed(source, s);
  if (stripped.size() > static_cast<size_t>(INT_MAX)) {
    return Status::Error(source + ": graph too large (over 2 GB without weights)");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(stripped.data(), static_cast<int>(stripped.size()))) {
    return Status::Error(source + ": not a valid ONNX model (protobuf parse failed)");
  }
  std::string().swap(stripped);
  if (!model.has_graph()) return Status::Error(source + ": no graph in the model");
  if (Status s = CheckOpset(model); !s.ok()) return Prefixed(source, s);

  auto batch = onnx_bind::BindInputs(model.mutable_graph(), options);
  if (!batch.ok()) return Prefixed(source, batch.status());
  onnx_convert::PropagatedData propagated;
  RunOnnxInference(&model, &propagated);

  Graph graph;
  graph.source = source;
  if (Status s = onnx_convert::ConvertGraph(model.graph(), *batch, propagated, &graph); !s.ok()) {
    return Prefixed(source, s);
  }
  if (Status s = graph.Finalize(); !s.ok()) return Prefixed(source, s);
  onnx_convert::MarkBatched(&graph);
  std::vector<Diagnostic> diagnostics = InferShapes(graph);
  if (!diagnostics.empty()) return Status::Error(source + ": " + diagnostics.front().message);
  return graph;
}

Result<Graph> LoadOnnxFile(const std::string& path, const LoadOptions& options) {
  MappedFile file;
  if (Status s = file.Open(path); !s.ok()) return s;
  return ParseOnnx(file.bytes(), path, options);
}

}  // namespace joulecast
