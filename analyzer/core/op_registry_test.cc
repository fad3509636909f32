#include "analyzer/core/op_registry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "analyzer/core/shape_inference.h"

namespace joulecast {
namespace {

// One row per op, in order, with both functions, is a static_assert in op_registry.cc; these
// are what the compiler does not check.
TEST(OpRegistry, RowsAreConsistent) {
  std::set<std::string_view> names;
  for (const OpSpec& spec : AllOps()) {
    SCOPED_TRACE(std::string(spec.name));
    EXPECT_TRUE(names.insert(spec.name).second) << "name used twice";
    // A weight position is one the op reads, and an op that needs no input reads none.
    for (size_t k = spec.required_inputs + 2; k < 8; ++k) EXPECT_FALSE(spec.weight_at(k));
    // Plumbing computes no data, so it carries no gradient.
    EXPECT_TRUE(!spec.has(kPlumbing) || spec.has(kNoGradient));
    // Ops summarised as `shape` cost nothing, so they have no variant.
    EXPECT_TRUE(spec.kind != Kind::shape || spec.variant.empty());
  }
}

TEST(OpRegistry, EveryOpHasAShapeFunctionThatRuns) {
  // Each op on five inputs of unknown shape (as many as any op reads): its shape function runs
  // and leaves the output unknown, for every row.
  for (const OpSpec& spec : AllOps()) {
    SCOPED_TRACE(std::string(spec.name));
    Graph g;
    std::vector<int> inputs;
    for (int i = 0; i < 5; ++i) {
      Tensor t;
      t.name = "in" + std::to_string(i);
      t.role = i == 0 ? Role::input : Role::parameter;
      inputs.push_back(g.AddTensor(t));
    }
    g.inputs = {inputs[0]};
    Tensor out;
    out.name = "out";
    int y = g.AddTensor(out);
    Node n;
    n.name = "n";
    n.op_type = std::string(spec.name);
    n.op = spec.op;
    n.inputs = inputs;
    n.outputs = {y};
    g.AddNode(n);
    g.outputs = {y};
    ASSERT_TRUE(g.Finalize().ok());
    Status s = InferNode(g, 0);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_FALSE(g.tensors[y].shape_known);
  }
}

TEST(OpRegistry, NamesAndKindsComeFromTheRows) {
  EXPECT_EQ(OpName(Op::GroupNormalization), "GroupNormalization");
  EXPECT_EQ(OpFromName("GroupNormalization"), Op::GroupNormalization);
  EXPECT_EQ(KindOf(Op::GroupNormalization), Kind::norm);
  EXPECT_EQ(OpFromName("Unknown"), Op::Unknown);
  EXPECT_EQ(OpFromName("NoSuchOp"), Op::Unknown);
  EXPECT_TRUE(Spec(Op::Conv).weight_at(1));
  EXPECT_TRUE(Spec(Op::Conv).weight_at(2));
  EXPECT_FALSE(Spec(Op::Conv).weight_at(0));
  EXPECT_TRUE(Spec(Op::Reshape).has(kView));
  EXPECT_TRUE(Spec(Op::Shape).has(kPlumbing));
  EXPECT_TRUE(Spec(Op::MaxPool).has(kGradFirstOutputOnly));
}

}  // namespace
}  // namespace joulecast
