// Parsing helpers for the ONNX front end's tests: a model parsed as "model.onnx", lookups that
// fail the test when a name is missing, and the one-line error check.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "analyzer/onnx/onnx_frontend.h"
#include "analyzer/onnx/onnx_test_models.h"

namespace joulecast::onnx_testing {

inline Result<Graph> Parse(const onnx::ModelProto& m, const LoadOptions& options = {}) {
  return ParseOnnx(m.SerializeAsString(), "model.onnx", options);
}

inline LoadOptions Batch(int64_t b) {
  LoadOptions o;
  o.batch = b;
  return o;
}

inline const Tensor& Find(const Graph& g, const std::string& name) {
  int i = g.FindTensor(name);
  EXPECT_GE(i, 0) << name;
  return g.tensors.at(static_cast<size_t>(i));
}

inline const Node& FindNode(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes) {
    if (n.name == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  return g.nodes.at(g.nodes.size());
}

// The error is one line that starts with the source name and contains `fragment`.
inline void ExpectError(const Result<Graph>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << fragment;
  const std::string msg = r.status().message();
  EXPECT_EQ(msg.rfind("model.onnx: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

}  // namespace joulecast::onnx_testing
