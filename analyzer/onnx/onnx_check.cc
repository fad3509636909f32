#include "analyzer/onnx/onnx_check.h"

#include <onnx/defs/schema.h>

#include <exception>
#include <string>

namespace joulecast::onnx_check {

Status VerifyNodes(const onnx::GraphProto& graph, int64_t opset) {
  const int max_version = static_cast<int>(opset);
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (!node.domain().empty() && node.domain() != "ai.onnx") continue;
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(node.op_type(), max_version, "");
    if (schema == nullptr) continue;
    try {
      schema->Verify(node);
    } catch (const std::exception& e) {
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      const std::string name =
          node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name();
      return Status::Error("node '" + name + "' (" + node.op_type() + "): " + what);
    }
  }
  return Status();
}

int64_t NewestSchemaOpset() {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = ranges.find("");
  return it == ranges.end() ? 0 : it->second.second;
}

}  // namespace joulecast::onnx_check
