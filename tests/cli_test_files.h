// Files the command-line tests of analyze and gate share: a profile with round numbers, and an
// ONNX model (written with the onnx protobuf API) with an op that no front end models.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace joulecast::testing {

/// A profile with round numbers: conv costs 1 µJ per forward MAC (cv 10%), a step 0.5 J, and no
/// other kind has a model. LeNet-5's one conv does 117,600 MACs per sample, so at batch 1 a step
/// is 0.6176 J (upper bound 0.62936 J); 100 samples x 2 epochs are 200 steps: 123.52 J
/// (upper bound 125.872 J). Written to dir/profile.json, the path returned.
inline std::filesystem::path WriteTestProfile(const std::filesystem::path& dir) {
  std::filesystem::path p = dir / "profile.json";
  std::ofstream(p) << R"({"schema": "joulecast.profile/1", "created": "2026-11-23T00:00:00Z",
    "device": "cpu", "hardware": {"cpu_model": "test"},
    "meter": {"kind": "estimate", "real": false, "description": "test meter"},
    "kinds": {"conv": {"features": ["macs_fwd"], "energy_j": [1e-6], "time_s": [1e-9],
                       "cv_mape": 0.1, "samples": 3}},
    "step": {"features": ["one"], "energy_j": [0.5], "time_s": [0.01], "cv_mape": 0, "samples": 3}})";
  return p;
}

/// x (batch x 8) -> Relu -> com.example:Mystery -> Sigmoid, written to dir/custom.onnx (the
/// path returned): Mystery is not modelled, and Sigmoid, whose input shape is then unknown,
/// neither.
inline std::filesystem::path WriteModelWithCustomOp(const std::filesystem::path& dir) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(14);
  auto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(1);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("custom");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(8);
  auto node = [&](const char* op, const char* domain, const char* a, const char* b) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_domain(domain);
    n->set_name(std::string(op) + "_node");
    n->add_input(a);
    n->add_output(b);
  };
  node("Relu", "", "x", "r");
  node("Mystery", "com.example", "r", "m");
  node("Sigmoid", "", "m", "y");
  g->add_output()->set_name("y");
  std::filesystem::path p = dir / "custom.onnx";
  std::ofstream f(p, std::ios::binary);
  m.SerializeToOstream(&f);
  return p;
}

}  // namespace joulecast::testing
