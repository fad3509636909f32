// What the report tests render: small graphs built on the spot, with their costs.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "analyzer/core/costs.h"
#include "analyzer/core/shape_inference.h"
#include "analyzer/core/test_graph_builder.h"

namespace joulecast::testing {

/// A graph and its costs.
struct CostedGraph {
  Graph g;
  ModelCost c;
};

/// The graph `b` built, finalized, shape-inferred and costed; any failure fails the test.
inline CostedGraph Finish(GraphBuilder& b) {
  CostedGraph m{std::move(b.g), {}};
  EXPECT_TRUE(m.g.Finalize().ok());
  EXPECT_TRUE(InferShapes(m.g).empty());
  auto cost = ComputeCosts(m.g);
  EXPECT_TRUE(cost.ok());
  m.c = *cost;
  return m;
}

/// conv -> relu -> global pool -> flatten (shape) -> gemm -> an unmodelled node of `op_type`;
/// batch 2, symbolic, from "small.onnx". The model is called `name`, the conv `conv_name`
/// (when not empty).
inline CostedGraph SmallModel(const std::string& name, const std::string& op_type,
                              const std::string& conv_name = "") {
  GraphBuilder b;
  int x = b.Input("input", {2, 3, 8, 8});
  int c = b.Node(Op::Conv, {x, b.Param("w", {4, 3, 3, 3})}, {{"pads", Is({1, 1, 1, 1})}});
  if (!conv_name.empty()) b.g.nodes.back().name = conv_name;
  int r = b.Node(Op::Relu, {c});
  int p = b.Node(Op::GlobalAveragePool, {r});
  int f = b.Node(Op::Flatten, {p});
  int y = b.Node(Op::Gemm, {f, b.Param("fc", {5, 4}), b.Param("fcb", {5})}, {{"transB", I(1)}});
  b.Node(Op::Unknown, {y});
  b.g.nodes.back().op_type = op_type;
  b.g.name = name;
  b.g.source = "small.onnx";
  b.g.batch_symbolic = true;
  return Finish(b);
}

}  // namespace joulecast::testing
