#include "analyzer/core/ir.h"

#include <gtest/gtest.h>

#include "analyzer/core/test_graph_builder.h"

namespace joulecast {
namespace {

using testing::GraphBuilder;

TEST(Ops, NamesRoundTripInEnumOrder) {
  for (int i = 0; i < static_cast<int>(Op::Unknown); ++i) {
    Op op = static_cast<Op>(i);
    EXPECT_EQ(OpFromName(OpName(op)), op) << OpName(op);
  }
  EXPECT_EQ(OpFromName("Unknown"), Op::Unknown);
  EXPECT_EQ(OpFromName("conv"), Op::Unknown);  // exact names only, no substring matching
  EXPECT_EQ(KindOf(Op::Relu), Kind::relu);
  EXPECT_EQ(KindOf(Op::Gemm), Kind::linear);
  EXPECT_EQ(KindFromName("elementwise"), Kind::elementwise);
  EXPECT_FALSE(KindFromName("conv2d"));
}

TEST(Graph, FinalizeSortsNodesTopologically) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4});
  int r = b.Node(Op::Relu, {x});
  b.Node(Op::Sigmoid, {r});
  std::swap(b.g.nodes[0], b.g.nodes[1]);
  ASSERT_TRUE(b.g.Finalize().ok());
  EXPECT_EQ(b.g.nodes[0].op, Op::Relu);
  EXPECT_EQ(b.g.nodes[1].op, Op::Sigmoid);
  EXPECT_EQ(b.g.tensors[r].producer, 0);
}

TEST(Graph, FinalizeRejectsCycleNamingANode) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4});
  int a = b.Node(Op::Add, {x, x});
  int c = b.Node(Op::Relu, {a});
  b.g.nodes[0].inputs[1] = c;  // Add reads Relu, which reads Add.
  Status s = b.g.Finalize();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("node '"), std::string::npos) << s.message();
}

TEST(Graph, FinalizeRejectsDanglingInput) {
  GraphBuilder b;
  b.Input("x", {1, 4});
  Tensor orphan;
  orphan.name = "nowhere";
  int t = b.g.AddTensor(orphan);
  b.Node(Op::Relu, {t});
  Status s = b.g.Finalize();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'nowhere' is not produced"), std::string::npos) << s.message();
}

TEST(Graph, FinalizeRejectsTensorProducedTwice) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4});
  int r = b.Node(Op::Relu, {x});
  b.Node(Op::Sigmoid, {x});
  b.g.nodes[1].outputs[0] = r;
  Status s = b.g.Finalize();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("already produced"), std::string::npos) << s.message();
}

TEST(Attrs, WrongTypeCountsAsAbsent) {
  Node n;
  n.attrs["group"] = testing::S("two");
  EXPECT_EQ(n.Int("group", 1), 1);
  n.attrs["group"] = testing::I(2);
  EXPECT_EQ(n.Int("group", 1), 2);
  EXPECT_EQ(n.Real("group", 0.5), 2.0);
}

}  // namespace
}  // namespace joulecast
