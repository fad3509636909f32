// Builders for small ONNX models in tests, made with the onnx protobuf API.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace joulecast::onnx_testing {

/// Marks a symbolic dim in Input(): it gets dim_param "N" (axis 0) or "d<axis>".
inline constexpr int64_t kSym = -1;

/// An empty model: IR version 8, one default-domain opset import at `opset`.
inline onnx::ModelProto NewModel(int64_t opset = 14) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("joulecast-test");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

/// Fills a ValueInfoProto with a tensor type; kSym dims become dim_params.
inline void SetType(onnx::ValueInfoProto* vi, const std::string& name,
                    const std::vector<int64_t>& dims, int elem_type = onnx::TensorProto::FLOAT) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] == kSym) {
      d->set_dim_param(i == 0 ? std::string("N") : std::string("d").append(std::to_string(i)));
    } else {
      d->set_dim_value(dims[i]);
    }
  }
}

/// A graph input of `dims` (kSym for symbolic dims).
inline void Input(onnx::ModelProto* m, const std::string& name, const std::vector<int64_t>& dims,
                  int elem_type = onnx::TensorProto::FLOAT) {
  SetType(m->mutable_graph()->add_input(), name, dims, elem_type);
}

/// A graph output with a known element type and no shape.
inline void Output(onnx::ModelProto* m, const std::string& name) {
  auto* vi = m->mutable_graph()->add_output();
  vi->set_name(name);
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
}

/// A float initializer whose raw_data holds `fill` bytes for every element.
inline onnx::TensorProto* FloatInit(onnx::ModelProto* m, const std::string& name,
                                    const std::vector<int64_t>& dims, char fill = 0) {
  auto* t = m->mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    n *= d;
  }
  t->set_raw_data(std::string(static_cast<size_t>(n) * 4, fill));
  return t;
}

/// An int64 initializer with `values` as little-endian raw_data.
inline onnx::TensorProto* Int64Init(onnx::ModelProto* m, const std::string& name,
                                    const std::vector<int64_t>& dims,
                                    const std::vector<int64_t>& values) {
  auto* t = m->mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  std::string raw(values.size() * 8, '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  t->set_raw_data(raw);
  return t;
}

/// A node of the default domain; `name` may be empty.
inline onnx::NodeProto* AddNode(onnx::ModelProto* m, const std::string& op,
                                const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs,
                                const std::string& name = "") {
  auto* n = m->mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

/// Adds an INT attribute.
inline void AttrInt(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

/// Adds an INTS attribute.
inline void AttrInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

/// Adds a FLOAT attribute.
inline void AttrFloat(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

/// Adds a STRING attribute.
inline void AttrString(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

/// A Constant node holding an int64 tensor of `dims` with `values` in int64_data.
inline onnx::NodeProto* Int64Constant(onnx::ModelProto* m, const std::string& output,
                                      const std::vector<int64_t>& dims,
                                      const std::vector<int64_t>& values) {
  auto* n = AddNode(m, "Constant", {}, {output}, output + "_node");
  auto* a = n->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  auto* t = a->mutable_t();
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return n;
}

/// Conv(3->8, 3x3, pad 1) -> Relu -> MaxPool(2) -> Flatten -> Gemm(->10) on an input of
/// [N, 3, 8, 8] with `batch` as its axis 0 (kSym for symbolic).
inline onnx::ModelProto SmallCnn(int64_t batch = kSym) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {batch, 3, 8, 8});
  FloatInit(&m, "conv.weight", {8, 3, 3, 3}, 1);
  FloatInit(&m, "conv.bias", {8}, 2);
  FloatInit(&m, "fc.weight", {10, 128}, 3);
  FloatInit(&m, "fc.bias", {10}, 4);
  auto* conv = AddNode(&m, "Conv", {"x", "conv.weight", "conv.bias"}, {"c"}, "conv");
  AttrInts(conv, "kernel_shape", {3, 3});
  AttrInts(conv, "pads", {1, 1, 1, 1});
  AddNode(&m, "Relu", {"c"}, {"r"}, "relu");
  auto* pool = AddNode(&m, "MaxPool", {"r"}, {"p"}, "pool");
  AttrInts(pool, "kernel_shape", {2, 2});
  AttrInts(pool, "strides", {2, 2});
  auto* flat = AddNode(&m, "Flatten", {"p"}, {"f"}, "flatten");
  AttrInt(flat, "axis", 1);
  auto* gemm = AddNode(&m, "Gemm", {"f", "fc.weight", "fc.bias"}, {"y"}, "fc");
  AttrInt(gemm, "transB", 1);
  AttrFloat(gemm, "alpha", 1.0f);
  Output(&m, "y");
  return m;
}

}  // namespace joulecast::onnx_testing
