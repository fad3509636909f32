#include "analyzer/onnx/onnx_convert.h"

#include <cstring>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "analyzer/core/checked_math.h"
#include "analyzer/core/op_registry.h"
#include "analyzer/onnx/onnx_wire.h"

namespace joulecast::onnx_convert {

namespace {

using onnx::TensorProto;

bool IsFloat(DType t) {
  return t == DType::float32 || t == DType::float16 || t == DType::float64 || t == DType::bfloat16;
}

// How an integer TensorProto type is stored: bytes per element in raw_data, signedness, and the
// typed field that holds it otherwise.
struct IntLayout {
  enum Field { int32_data, int64_data, uint64_data };
  int width;
  bool is_signed;
  Field field;
};

std::optional<IntLayout> LayoutOf(int data_type) {
  switch (data_type) {
    case TensorProto::INT64:
      return IntLayout{8, true, IntLayout::int64_data};
    case TensorProto::INT32:
      return IntLayout{4, true, IntLayout::int32_data};
    case TensorProto::INT16:
      return IntLayout{2, true, IntLayout::int32_data};
    case TensorProto::INT8:
      return IntLayout{1, true, IntLayout::int32_data};
    case TensorProto::UINT16:
      return IntLayout{2, false, IntLayout::int32_data};
    case TensorProto::UINT8:
    case TensorProto::BOOL:
      return IntLayout{1, false, IntLayout::int32_data};
    case TensorProto::UINT32:
      return IntLayout{4, false, IntLayout::uint64_data};
    case TensorProto::UINT64:
      return IntLayout{8, false, IntLayout::uint64_data};
    default:
      return std::nullopt;
  }
}

std::string DimsString(const google::protobuf::RepeatedField<int64_t>& dims) {
  std::string s = "[";
  for (int i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

// Element count of `dims`, or an error naming `what` for a negative dim or more than 2^40.
Result<int64_t> Elements(const google::protobuf::RepeatedField<int64_t>& dims,
                         const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    auto product = d < 0 ? std::nullopt : CheckedMul(n, d);
    if (!product || *product > onnx_bind::kMaxElements) {
      return Status::Error(what + " has absurd dims " + DimsString(dims) +
                           " (negative, or more than 2^40 elements)");
    }
    n = *product;
  }
  return n;
}

// Reads the values of a small integer tensor whose payload StripModel kept.
Status ReadIntValues(const TensorProto& t, const IntLayout& layout, int64_t elements,
                     const std::string& what, std::optional<std::vector<int64_t>>* values) {
  if (t.data_location() == TensorProto::EXTERNAL) return Status();
  std::vector<int64_t> v;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const int width = layout.width;
    if (raw.size() != static_cast<size_t>(elements) * width) {
      return Status::Error(what + " holds " + std::to_string(raw.size()) +
                           " bytes of data but its dims need " + std::to_string(elements * width));
    }
    v.resize(elements);
    for (int64_t i = 0; i < elements; ++i) {
      uint64_t bits = 0;
      std::memcpy(&bits, raw.data() + i * width, width);  // Little-endian hosts only.
      if (layout.is_signed && width < 8 && (bits >> (8 * width - 1)) != 0) {
        bits |= ~uint64_t{0} << (8 * width);
      }
      v[i] = static_cast<int64_t>(bits);
    }
  } else {
    switch (layout.field) {
      case IntLayout::int32_data:
        v.assign(t.int32_data().begin(), t.int32_data().end());
        break;
      case IntLayout::int64_data:
        v.assign(t.int64_data().begin(), t.int64_data().end());
        break;
      case IntLayout::uint64_data:
        v.assign(t.uint64_data().begin(), t.uint64_data().end());
        break;
    }
    if (static_cast<int64_t>(v.size()) != elements) {
      return Status::Error(what + " holds " + std::to_string(v.size()) +
                           " values but its dims need " + std::to_string(elements));
    }
  }
  *values = std::move(v);
  return Status();
}

// Reads the values of a small float32/float64 tensor whose payload StripModel kept (Constant
// values: clip bounds, exponents, epsilons). Other float types are left without values.
void ReadRealValues(const TensorProto& t, int64_t elements,
                    std::optional<std::vector<double>>* values) {
  if (t.data_location() == TensorProto::EXTERNAL) return;
  std::vector<double> v;
  const bool f32 = t.data_type() == TensorProto::FLOAT;
  if (!f32 && t.data_type() != TensorProto::DOUBLE) return;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const size_t width = f32 ? 4 : 8;
    if (raw.size() != static_cast<size_t>(elements) * width) return;
    for (int64_t i = 0; i < elements; ++i) {
      if (f32) {
        float x;
        std::memcpy(&x, raw.data() + i * width, width);  // Little-endian hosts only.
        v.push_back(x);
      } else {
        double x;
        std::memcpy(&x, raw.data() + i * width, width);
        v.push_back(x);
      }
    }
  } else if (f32) {
    v.assign(t.float_data().begin(), t.float_data().end());
  } else {
    v.assign(t.double_data().begin(), t.double_data().end());
  }
  if (static_cast<int64_t>(v.size()) == elements) *values = std::move(v);
}

// A tensor of known shape and type from a TensorProto (initializer or Constant value).
Status FillFromTensorProto(const TensorProto& t, bool in_initializer, const std::string& what,
                           Tensor* out) {
  auto elements = Elements(t.dims(), what);
  if (!elements.ok()) return elements.status();
  out->dtype = DTypeFromOnnx(t.data_type());
  out->dims.assign(t.dims().begin(), t.dims().end());
  out->shape_known = true;
  const std::optional<IntLayout> layout = LayoutOf(t.data_type());
  if (layout && onnx_wire::KeepPayload(t.data_type(), *elements, in_initializer)) {
    return ReadIntValues(t, *layout, *elements, what, &out->int_values);
  }
  if (!layout && onnx_wire::KeepPayload(t.data_type(), *elements, in_initializer)) {
    ReadRealValues(t, *elements, &out->real_values);
  }
  return Status();
}

class Converter {
 public:
  Converter(const onnx::GraphProto& g, const PropagatedData& propagated, Graph* out)
      : g_(g), propagated_(propagated), out_(out) {}

  Status Run() {
    size_t tensors = static_cast<size_t>(g_.initializer_size() + g_.input_size());
    for (const auto& n : g_.node()) tensors += static_cast<size_t>(n.output_size());
    out_->tensors.reserve(tensors);
    out_->nodes.reserve(static_cast<size_t>(g_.node_size()));
    index_.reserve(tensors);
    for (const auto& vi : g_.value_info()) types_[vi.name()] = &vi.type();
    for (const auto& vi : g_.output()) types_[vi.name()] = &vi.type();
    if (Status s = AddInitializers(); !s.ok()) return s;
    if (Status s = AddInputs(); !s.ok()) return s;
    if (Status s = AddNodes(); !s.ok()) return s;
    if (Status s = AddOutputs(); !s.ok()) return s;
    AssignInitializerRoles();
    return Status();
  }

 private:
  // The tensor named `name`, created as an activation when new.
  std::pair<int, bool> Intern(const std::string& name) {
    auto [it, created] = index_.try_emplace(name, -1);
    if (created) {
      Tensor t;
      t.name = name;
      it->second = out_->AddTensor(std::move(t));
    }
    return {it->second, created};
  }

  Status AddInitializers() {
    for (int i = 0; i < g_.initializer_size(); ++i) {
      const TensorProto& t = g_.initializer(i);
      if (Status s = AddInitializer(t.name(), t, i); !s.ok()) return s;
    }
    for (int i = 0; i < g_.sparse_initializer_size(); ++i) {
      const onnx::SparseTensorProto& sparse = g_.sparse_initializer(i);
      TensorProto dense;
      dense.set_name(sparse.values().name());
      dense.set_data_type(sparse.values().data_type());
      *dense.mutable_dims() = sparse.dims();
      if (Status s = AddInitializer(dense.name(), dense, i); !s.ok()) return s;
    }
    return Status();
  }

  Status AddInitializer(const std::string& name, const TensorProto& t, int position) {
    if (name.empty()) {
      return Status::Error("initializer #" + std::to_string(position) + " has no name");
    }
    auto [index, created] = Intern(name);
    if (!created) return Status::Error("initializer '" + name + "' is defined twice");
    Tensor& tensor = out_->tensors[index];
    initializers_.push_back(index);
    return FillFromTensorProto(t, true, "initializer '" + name + "'", &tensor);
  }

  Status AddInputs() {
    for (const auto& vi : g_.input()) {
      auto it = index_.find(vi.name());
      if (it != index_.end()) {
        if (out_->tensors[it->second].role == Role::input) {
          return Status::Error("graph input '" + vi.name() + "' is listed twice");
        }
        continue;  // An initializer also listed as an input (IR version < 4 exports).
      }
      int index = Intern(vi.name()).first;
      Tensor& t = out_->tensors[index];
      t.role = Role::input;
      const auto& tensor_type = vi.type().tensor_type();
      t.dtype = DTypeFromOnnx(tensor_type.elem_type());
      for (const auto& d : tensor_type.shape().dim()) t.dims.push_back(d.dim_value());
      t.shape_known = true;
      t.batched = !t.dims.empty();
      out_->inputs.push_back(index);
    }
    return Status();
  }

  std::string UniqueNodeName(const onnx::NodeProto& n, int position) {
    std::string name = n.name();
    if (name.empty()) name = n.op_type() + "_" + std::to_string(position);
    while (!node_names_.insert(name).second) {
      name += '_';
      name += std::to_string(position);
    }
    return name;
  }

  Status AddNodes() {
    // Outputs first, so that inputs resolve whatever order the nodes are listed in.
    for (int i = 0; i < g_.node_size(); ++i) {
      const onnx::NodeProto& n = g_.node(i);
      Node node;
      node.name = UniqueNodeName(n, i);
      const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
      node.op_type = default_domain ? n.op_type() : n.domain() + ":" + n.op_type();
      node.op = default_domain ? OpFromName(n.op_type()) : Op::Unknown;
      AddAttributes(n, &node);
      int outputs = n.output_size();
      while (outputs > 0 && n.output(outputs - 1).empty()) --outputs;
      for (int k = 0; k < outputs; ++k) {
        std::string name = n.output(k);
        if (name.empty()) name = node.name + ":output" + std::to_string(k);
        auto [index, created] = Intern(name);
        node.outputs.push_back(index);
        if (!created) continue;  // Finalize reports the clash.
        if (Status s = DescribeOutput(n, node, index); !s.ok()) return s;
      }
      out_->AddNode(std::move(node));
    }
    for (int i = 0; i < g_.node_size(); ++i) {
      for (const std::string& name : g_.node(i).input()) {
        out_->nodes[i].inputs.push_back(name.empty() ? -1 : Intern(name).first);
      }
    }
    return Status();
  }

  static void AddAttributes(const onnx::NodeProto& n, Node* node) {
    for (const onnx::AttributeProto& a : n.attribute()) {
      Attr attr;
      switch (a.type()) {
        case onnx::AttributeProto::INT:
          attr.type = Attr::Type::integer;
          attr.i = a.i();
          break;
        case onnx::AttributeProto::FLOAT:
          attr.type = Attr::Type::real;
          attr.f = a.f();
          break;
        case onnx::AttributeProto::STRING:
          attr.type = Attr::Type::text;
          attr.s = a.s();
          break;
        case onnx::AttributeProto::INTS:
          attr.type = Attr::Type::integers;
          attr.ints.assign(a.ints().begin(), a.ints().end());
          break;
        case onnx::AttributeProto::FLOATS:
          attr.type = Attr::Type::reals;
          attr.floats.assign(a.floats().begin(), a.floats().end());
          break;
        default:
          continue;
      }
      node->attrs[a.name()] = std::move(attr);
    }
  }

  // Type and shape of a fresh node output: from a Constant's value, else from ONNX's inference.
  Status DescribeOutput(const onnx::NodeProto& n, const Node& node, int index) {
    Tensor& t = out_->tensors[index];
    if (node.op == Op::Constant) {
      t.role = Role::constant;
      return DescribeConstant(n, node, &t);
    }
    auto it = types_.find(t.name);
    if (it == types_.end() || !it->second->has_tensor_type()) return Status();
    const auto& tensor_type = it->second->tensor_type();
    t.dtype = DTypeFromOnnx(tensor_type.elem_type());
    if (!tensor_type.has_shape()) return Status();
    std::vector<int64_t> dims;
    int64_t elements = 1;
    for (const auto& d : tensor_type.shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() < 0) return Status();
      auto product = CheckedMul(elements, d.dim_value());
      if (!product || *product > onnx_bind::kMaxElements) {
        return Status::Error("tensor '" + t.name + "' of " + node.op_type + " node '" + node.name +
                             "' has an absurd shape (more than 2^40 elements)");
      }
      elements = *product;
      dims.push_back(d.dim_value());
    }
    t.dims = std::move(dims);
    t.shape_known = true;
    AddPropagatedValues(elements, &t);
    return Status();
  }

  void AddPropagatedValues(int64_t elements, Tensor* t) {
    if (t->dtype != DType::int64 && t->dtype != DType::int32) return;
    auto it = propagated_.find(t->name);
    if (it == propagated_.end() || it->second.dim_size() != elements ||
        elements > onnx_wire::kMaxKeptElements) {
      return;
    }
    std::vector<int64_t> values;
    for (const auto& d : it->second.dim()) {
      if (!d.has_dim_value()) return;
      values.push_back(d.dim_value());
    }
    t->int_values = std::move(values);
  }

  static Status DescribeConstant(const onnx::NodeProto& n, const Node& node, Tensor* t) {
    const std::string what = "Constant node '" + node.name + "'";
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.name() == "value" && a.has_t()) return FillFromTensorProto(a.t(), false, what, t);
      if (a.name() == "value_int" || a.name() == "value_ints") {
        t->dtype = DType::int64;
        t->shape_known = true;
        if (a.name() == "value_int") {
          t->int_values = std::vector<int64_t>{a.i()};
        } else {
          t->dims = {a.ints_size()};
          t->int_values = std::vector<int64_t>(a.ints().begin(), a.ints().end());
        }
        return Status();
      }
      if (a.name() == "value_float" || a.name() == "value_floats") {
        t->dtype = DType::float32;
        t->shape_known = true;
        if (a.name() == "value_floats") {
          t->dims = {a.floats_size()};
          t->real_values = std::vector<double>(a.floats().begin(), a.floats().end());
        } else {
          t->real_values = std::vector<double>{a.f()};
        }
        return Status();
      }
    }
    return Status();
  }

  Status AddOutputs() {
    for (const auto& vi : g_.output()) {
      auto it = index_.find(vi.name());
      if (it == index_.end()) {
        return Status::Error("graph output '" + vi.name() +
                             "' is not produced by any node, input or initializer");
      }
      out_->outputs.push_back(it->second);
    }
    return Status();
  }

  void AssignInitializerRoles() {
    std::vector<bool> at_weight(out_->tensors.size(), false);
    std::vector<int> work;
    for (const Node& node : out_->nodes) {
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        const int in = node.inputs[k];
        if (in >= 0 && Spec(node.op).weight_at(k) && !at_weight[in]) {
          at_weight[in] = true;
          work.push_back(in);
        }
      }
    }
    // Without constant folding, torch exports a Linear on 3-D or 4-D input as
    // MatMul(x, Transpose(W)): the weight reaches its weight position through views.
    while (!work.empty()) {
      const int t = work.back();
      work.pop_back();
      const int producer = out_->tensors[t].producer;
      if (producer < 0 || !Spec(out_->nodes[producer].op).has(kView)) continue;
      const std::vector<int>& inputs = out_->nodes[producer].inputs;
      if (!inputs.empty() && inputs[0] >= 0 && !at_weight[inputs[0]]) {
        at_weight[inputs[0]] = true;
        work.push_back(inputs[0]);
      }
    }
    for (int index : initializers_) {
      Tensor& t = out_->tensors[index];
      if (IsFloat(t.dtype)) {
        t.role = at_weight[index] ? Role::parameter : Role::buffer;
      } else {
        t.role = t.dtype == DType::undefined ? Role::buffer : Role::constant;
      }
    }
  }

  const onnx::GraphProto& g_;
  const PropagatedData& propagated_;
  Graph* out_;
  std::unordered_map<std::string, int> index_;
  std::unordered_map<std::string, const onnx::TypeProto*> types_;
  std::unordered_set<std::string> node_names_;
  std::vector<int> initializers_;
};

}  // namespace

Status ConvertGraph(const onnx::GraphProto& graph, const onnx_bind::Batch& batch,
                    const PropagatedData& propagated, Graph* out) {
  out->name = graph.name();
  out->batch = batch.size;
  out->batch_symbolic = batch.symbolic;
  return Converter(graph, propagated, out).Run();
}

void MarkBatched(Graph* graph) {
  for (const Node& node : graph->nodes) {
    bool batched_input = false;
    for (int in : node.inputs) batched_input |= in >= 0 && graph->tensors[in].batched;
    if (!batched_input) continue;
    for (int out : node.outputs) {
      Tensor& t = graph->tensors[out];
      if (t.shape_known && !t.dims.empty() && t.dims[0] == graph->batch && IsFloat(t.dtype)) {
        t.batched = true;
      }
    }
  }
}

}  // namespace joulecast::onnx_convert
