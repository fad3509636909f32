#include "analyzer/core/shape_inference.h"

#include <algorithm>

#include "analyzer/core/op_context.h"
#include "analyzer/core/op_registry.h"

namespace joulecast {

Status ShapeContext::Fail(const std::string& what) const {
  return Status::Error("node '" + n_.name + "' (" + n_.op_type + "): " + what);
}

Status ShapeContext::Require(size_t count) const {
  for (size_t i = 0; i < count; ++i) {
    if (!in(i)) {
      return Fail("needs at least " + std::to_string(count) + " inputs; input " +
                  std::to_string(i) + " is missing");
    }
  }
  return Status();
}

Status ShapeContext::Set(size_t k, Dims d, bool is_batched, DType dt, Values vals) {
  if (!has_output(k)) return Status();
  for (int64_t v : d) {
    if (v < 0) return Fail("computes a negative dimension for output " + std::to_string(k));
  }
  auto elems = CheckedProduct(d);
  if (!elems || *elems > opt_.max_tensor_elements) {
    return Fail("output " + std::to_string(k) + " has an absurd number of elements");
  }
  Tensor& t = g_.tensors[n_.outputs[k]];
  if (!t.shape_known) {
    t.dims = std::move(d);
    t.shape_known = true;
  }
  t.batched = is_batched;
  if (t.dtype == DType::undefined || t.dtype == DType::float32) {
    if (dt != DType::undefined) t.dtype = dt;
  }
  if (vals && static_cast<int64_t>(vals->size()) <= opt_.max_folded_elements &&
      static_cast<int64_t>(vals->size()) == *elems) {
    t.int_values = std::move(vals);
  }
  return Status();
}

std::optional<Dims> Broadcast(const Dims& a, const Dims& b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x != y && x != 1 && y != 1) return std::nullopt;
    out[i] = x == 1 ? y : x;
  }
  return out;
}

bool IsInt(DType t) {
  return t == DType::int64 || t == DType::int32 || t == DType::int8 || t == DType::uint8 ||
         t == DType::boolean;
}

Status InferNode(Graph& graph, int node, const InferenceOptions& options) {
  ShapeContext c(graph, node, options);
  const OpSpec& spec = Spec(graph.nodes[node].op);
  if (Status s = c.Require(spec.required_inputs); !s.ok()) return s;
  return spec.shape(c);
}

std::vector<Diagnostic> InferShapes(Graph& graph, const InferenceOptions& options) {
  std::vector<Diagnostic> diagnostics;
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    Status s = InferNode(graph, i, options);
    if (!s.ok()) diagnostics.push_back({i, s.message()});
  }
  return diagnostics;
}

std::string ShapeString(const Graph& graph, const Tensor& t) {
  if (!t.shape_known) return "?";
  std::string s;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (i) s += "\xC3\x97";  // U+00D7 MULTIPLICATION SIGN
    s += (i == 0 && t.batched && graph.batch_symbolic) ? std::string("N")
                                                       : std::to_string(t.dims[i]);
  }
  return s.empty() ? "scalar" : s;
}

}  // namespace joulecast
