// What the libtorch tests (torch_network_test.cc, torch_ops_test.cc) share: a GraphBuilder's
// graph built into a TorchNetwork and run, and tensors compared.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>

#include "analyzer/core/ir.h"
#include "analyzer/core/shape_inference.h"
#include "analyzer/core/status.h"
#include "analyzer/core/test_graph_builder.h"
#include "calibrate/torch/torch_network.h"

namespace joulecast::testing {

/// A real attribute.
inline Attr F(double v) {
  Attr a;
  a.type = Attr::Type::real;
  a.f = v;
  return a;
}

/// Finalizes and infers the builder's graph, its output being the last node's first unless one
/// is set, then builds it.
inline Result<std::unique_ptr<TorchNetwork>> Build(GraphBuilder& b) {
  if (b.g.outputs.empty()) b.g.outputs.push_back(b.g.nodes.back().outputs[0]);
  Status s = b.g.Finalize();
  EXPECT_TRUE(s.ok()) << s.message();
  auto d = InferShapes(b.g);
  EXPECT_TRUE(d.empty()) << d[0].message;
  return TorchNetwork::Build(b.g);
}

/// Builds and runs the graph on `x`; returns the first output (undefined on failure).
inline at::Tensor RunGraph(GraphBuilder& b, const at::Tensor& x) {
  auto net = Build(b);
  EXPECT_TRUE(net.ok()) << net.status().message();
  if (!net.ok()) return at::Tensor();
  return (*net)->Forward(x);
}

inline void ExpectClose(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_TRUE(got.defined());
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5))
      << "max difference " << (got - want).abs().max().item<double>();
}

}  // namespace joulecast::testing
