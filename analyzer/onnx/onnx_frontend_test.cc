#include "analyzer/onnx/onnx_frontend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "analyzer/onnx/onnx_test_parse.h"

namespace joulecast {
namespace {

using namespace onnx_testing;

using Dims = std::vector<int64_t>;

TEST(OnnxFrontend, SmallCnnShapesRolesAndAttributes) {
  Result<Graph> r = Parse(SmallCnn());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Graph& g = *r;
  EXPECT_EQ(g.source, "model.onnx");
  EXPECT_EQ(g.batch, 1);
  EXPECT_TRUE(g.batch_symbolic);
  ASSERT_EQ(g.inputs.size(), 1u);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "y");
  ASSERT_EQ(g.nodes.size(), 5u);

  const Tensor& x = Find(g, "x");
  EXPECT_EQ(x.role, Role::input);
  EXPECT_TRUE(x.batched);
  EXPECT_EQ(x.dims, (Dims{1, 3, 8, 8}));
  EXPECT_EQ(Find(g, "c").dims, (Dims{1, 8, 8, 8}));
  EXPECT_EQ(Find(g, "p").dims, (Dims{1, 8, 4, 4}));
  EXPECT_EQ(Find(g, "f").dims, (Dims{1, 128}));
  const Tensor& y = Find(g, "y");
  EXPECT_TRUE(y.shape_known);
  EXPECT_EQ(y.dims, (Dims{1, 10}));
  EXPECT_EQ(y.dtype, DType::float32);
  EXPECT_TRUE(y.batched);

  for (const char* p : {"conv.weight", "conv.bias", "fc.weight", "fc.bias"}) {
    EXPECT_EQ(Find(g, p).role, Role::parameter) << p;
    EXPECT_TRUE(Find(g, p).shape_known) << p;
    EXPECT_FALSE(Find(g, p).batched) << p;
  }
  EXPECT_EQ(Find(g, "fc.weight").dims, (Dims{10, 128}));

  const Node& conv = FindNode(g, "conv");
  EXPECT_EQ(conv.op, Op::Conv);
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.Ints("pads"), (Dims{1, 1, 1, 1}));
  const Node& fc = FindNode(g, "fc");
  EXPECT_EQ(fc.op, Op::Gemm);
  EXPECT_EQ(fc.Int("transB", 0), 1);
  EXPECT_DOUBLE_EQ(fc.Real("alpha", 0), 1.0);
  EXPECT_EQ(FindNode(g, "flatten").Int("axis", 0), 1);
}

TEST(OnnxFrontend, BatchOptionBindsSymbolicBatch) {
  Result<Graph> r = Parse(SmallCnn(), Batch(16));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->batch, 16);
  EXPECT_TRUE(r->batch_symbolic);
  EXPECT_EQ(Find(*r, "x").dims, (Dims{16, 3, 8, 8}));
  EXPECT_EQ(Find(*r, "p").dims, (Dims{16, 8, 4, 4}));
  EXPECT_EQ(Find(*r, "y").dims, (Dims{16, 10}));
  EXPECT_TRUE(Find(*r, "f").batched);
}

TEST(OnnxFrontend, FixedBatchIsKeptAndMayNotBeContradicted) {
  Result<Graph> fixed = Parse(SmallCnn(2));
  ASSERT_TRUE(fixed.ok()) << fixed.status().message();
  EXPECT_EQ(fixed->batch, 2);
  EXPECT_FALSE(fixed->batch_symbolic);
  EXPECT_EQ(Find(*fixed, "y").dims, (Dims{2, 10}));

  EXPECT_TRUE(Parse(SmallCnn(2), Batch(2)).ok());
  ExpectError(Parse(SmallCnn(2), Batch(4)), "fixed batch of 2");
  ExpectError(Parse(SmallCnn(), Batch(0)), "--batch");
}

TEST(OnnxFrontend, InputsWithDifferentFixedBatchesAreAnError) {
  onnx::ModelProto m = SmallCnn(2);
  Input(&m, "z", {3, 4});
  AddNode(&m, "Relu", {"z"}, {"zr"});
  ExpectError(Parse(m), "has batch 3");
}

TEST(OnnxFrontend, InputOptionBindsSymbolicSampleDims) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 3, kSym, kSym});
  FloatInit(&m, "w", {4, 3, 3, 3});
  AddNode(&m, "Conv", {"x", "w"}, {"y"}, "conv");
  Output(&m, "y");
  ExpectError(Parse(m), "--input");

  LoadOptions o;
  o.input_chw = Dims{3, 16, 12};
  Result<Graph> r = Parse(m, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Find(*r, "x").dims, (Dims{1, 3, 16, 12}));
  EXPECT_EQ(Find(*r, "y").dims, (Dims{1, 4, 14, 10}));

  o.input_chw = Dims{4, 16, 12};
  ExpectError(Parse(m, o), "fixed axis 1 = 3");
  o.input_chw = Dims{16, 12};
  ExpectError(Parse(m, o), "rank 4");
  o.input_chw = Dims{3, 0, 12};
  ExpectError(Parse(m, o), "--input");
}

TEST(OnnxFrontend, InputWithoutShapeTakesInputOption) {
  onnx::ModelProto m = NewModel();
  auto* in = m.mutable_graph()->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  AddNode(&m, "Relu", {"x"}, {"y"});
  Output(&m, "y");
  ExpectError(Parse(m), "has no shape");

  LoadOptions o;
  o.input_chw = Dims{3, 8, 8};
  o.batch = 5;
  Result<Graph> r = Parse(m, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Find(*r, "y").dims, (Dims{5, 3, 8, 8}));
}

// Shape -> Gather -> Div -> Unsqueeze -> Concat -> Reshape, as a channel shuffle exports it.
onnx::ModelProto PlumbingModel() {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 6, 4, 4});
  AddNode(&m, "Shape", {"x"}, {"s"}, "shape");
  Int64Constant(&m, "i0", {}, {0});
  Int64Constant(&m, "i1", {}, {1});
  Int64Constant(&m, "two", {}, {2});
  Int64Constant(&m, "k2", {1}, {2});
  Int64Constant(&m, "km1", {1}, {-1});
  Int64Init(&m, "axes", {1}, {0});
  AttrInt(AddNode(&m, "Gather", {"s", "i0"}, {"b"}, "gather_batch"), "axis", 0);
  AttrInt(AddNode(&m, "Gather", {"s", "i1"}, {"c"}, "gather_channels"), "axis", 0);
  AddNode(&m, "Div", {"c", "two"}, {"h"}, "half");
  AddNode(&m, "Unsqueeze", {"b", "axes"}, {"bu"}, "unsqueeze_batch");
  AddNode(&m, "Unsqueeze", {"h", "axes"}, {"hu"}, "unsqueeze_half");
  AttrInt(AddNode(&m, "Concat", {"bu", "k2", "hu", "km1"}, {"target"}, "concat"), "axis", 0);
  AddNode(&m, "Reshape", {"x", "target"}, {"y"}, "reshape");
  Output(&m, "y");
  return m;
}

TEST(OnnxFrontend, ShapePlumbingFoldsToConstants) {
  Result<Graph> r = Parse(PlumbingModel(), Batch(4));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Graph& g = *r;
  const Tensor& y = Find(g, "y");
  ASSERT_TRUE(y.shape_known);
  EXPECT_EQ(y.dims, (Dims{4, 2, 3, 16}));
  EXPECT_TRUE(y.batched);

  const Tensor& two = Find(g, "two");
  EXPECT_EQ(two.role, Role::constant);
  EXPECT_EQ(two.dtype, DType::int64);
  EXPECT_TRUE(two.shape_known);
  EXPECT_TRUE(two.dims.empty());
  ASSERT_TRUE(two.int_values.has_value());
  EXPECT_EQ(*two.int_values, (Dims{2}));

  const Tensor& axes = Find(g, "axes");
  EXPECT_EQ(axes.role, Role::constant);
  ASSERT_TRUE(axes.int_values.has_value());
  EXPECT_EQ(*axes.int_values, (Dims{0}));

  const Tensor& s = Find(g, "s");
  ASSERT_TRUE(s.int_values.has_value());
  EXPECT_EQ(*s.int_values, (Dims{4, 6, 4, 4}));
  EXPECT_FALSE(s.batched);
  const Tensor& target = Find(g, "target");
  ASSERT_TRUE(target.int_values.has_value());
  EXPECT_EQ(*target.int_values, (Dims{4, 2, 3, -1}));
}

TEST(OnnxFrontend, BatchNormStatisticsAreBuffers) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 3, 4, 4});
  FloatInit(&m, "conv.weight", {4, 3, 1, 1});
  for (const char* name : {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}) {
    FloatInit(&m, name, {4});
  }
  FloatInit(&m, "unused_table", {5});
  Int64Init(&m, "unused_ints", {2}, {7, 8});
  AddNode(&m, "Conv", {"x", "conv.weight"}, {"c"}, "conv");
  auto* bn = AddNode(&m, "BatchNormalization",
                     {"c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
                     {"b", "mean_out", "var_out"}, "bn");
  AttrInt(bn, "training_mode", 1);
  AttrFloat(bn, "epsilon", 1e-5f);
  AddNode(&m, "Relu", {"b"}, {"y"}, "relu");
  Output(&m, "y");

  Result<Graph> r = Parse(m, Batch(2));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Find(*r, "conv.weight").role, Role::parameter);
  EXPECT_EQ(Find(*r, "bn.weight").role, Role::parameter);
  EXPECT_EQ(Find(*r, "bn.bias").role, Role::parameter);
  EXPECT_EQ(Find(*r, "bn.running_mean").role, Role::buffer);
  EXPECT_EQ(Find(*r, "bn.running_var").role, Role::buffer);
  EXPECT_EQ(Find(*r, "unused_table").role, Role::buffer);
  EXPECT_EQ(Find(*r, "unused_ints").role, Role::constant);
  EXPECT_EQ(*Find(*r, "unused_ints").int_values, (Dims{7, 8}));
  EXPECT_EQ(Find(*r, "y").dims, (Dims{2, 4, 4, 4}));
  EXPECT_EQ(FindNode(*r, "bn").outputs.size(), 3u);
  EXPECT_NEAR(FindNode(*r, "bn").Real("epsilon", 0), 1e-5, 1e-9);
}

TEST(OnnxFrontend, LayerScalesAndNormWeightsAreParameters) {
  onnx::ModelProto m = NewModel(17);
  Input(&m, "x", {kSym, 4, 8});
  FloatInit(&m, "ln.weight", {8});
  FloatInit(&m, "ln.bias", {8});
  FloatInit(&m, "gamma", {8});
  FloatInit(&m, "proj", {8, 16});
  FloatInit(&m, "slope", {1});
  FloatInit(&m, "fc.weight", {16, 16});
  AttrInt(AddNode(&m, "LayerNormalization", {"x", "ln.weight", "ln.bias"}, {"n"}), "axis", -1);
  AddNode(&m, "Mul", {"n", "gamma"}, {"s"});
  AddNode(&m, "MatMul", {"s", "proj"}, {"p"});
  AddNode(&m, "PRelu", {"p", "slope"}, {"q"});
  // A Linear on 3-D input without constant folding: MatMul(x, Transpose(W)).
  AttrInts(AddNode(&m, "Transpose", {"fc.weight"}, {"fc.weight_t"}), "perm", {1, 0});
  AddNode(&m, "MatMul", {"q", "fc.weight_t"}, {"y"});
  Output(&m, "y");
  Result<Graph> r = Parse(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const char* p : {"ln.weight", "ln.bias", "gamma", "proj", "slope", "fc.weight"}) {
    EXPECT_EQ(Find(*r, p).role, Role::parameter) << p;
  }
  EXPECT_EQ(Find(*r, "y").dims, (Dims{1, 4, 16}));
}

TEST(OnnxFrontend, InitializersListedAsInputsAreNotInputs) {
  onnx::ModelProto m = SmallCnn();
  SetType(m.mutable_graph()->add_input(), "conv.weight", {8, 3, 3, 3});
  Result<Graph> r = Parse(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(Find(*r, "conv.weight").role, Role::parameter);
}

TEST(OnnxFrontend, NamesAreMadeUpAndOtherDomainsAreUnknown) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 4});
  AddNode(&m, "Relu", {"x"}, {"a"});
  AddNode(&m, "Relu", {"a"}, {"b"}, "dup");
  AddNode(&m, "Sigmoid", {"b"}, {"c"}, "dup");
  auto* custom = AddNode(&m, "MyOp", {"c"}, {"y"}, "custom");
  custom->set_domain("com.example");
  AttrString(custom, "mode", "fast");
  Output(&m, "y");
  Result<Graph> r = Parse(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(FindNode(*r, "Relu_0").op, Op::Relu);
  EXPECT_EQ(FindNode(*r, "dup").op, Op::Relu);
  EXPECT_EQ(FindNode(*r, "dup_2").op, Op::Sigmoid);
  const Node& c = FindNode(*r, "custom");
  EXPECT_EQ(c.op, Op::Unknown);
  EXPECT_EQ(c.op_type, "com.example:MyOp");
  EXPECT_EQ(c.Text("mode", ""), "fast");
}

TEST(OnnxFrontend, ConstantAttributesCarryValues) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 2, 6});
  auto* ints = AddNode(&m, "Constant", {}, {"shape"}, "shape_const");
  AttrInts(ints, "value_ints", {0, 3, 4});
  AddNode(&m, "Reshape", {"x", "shape"}, {"y"}, "reshape");
  auto* one = AddNode(&m, "Constant", {}, {"one"}, "one_const");
  AttrInt(one, "value_int", 1);
  Output(&m, "y");
  Result<Graph> r = Parse(m, Batch(3));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*Find(*r, "shape").int_values, (Dims{0, 3, 4}));
  EXPECT_EQ(Find(*r, "shape").dims, (Dims{3}));
  EXPECT_EQ(*Find(*r, "one").int_values, (Dims{1}));
  EXPECT_EQ(Find(*r, "y").dims, (Dims{3, 3, 4}));
}

TEST(OnnxFrontend, FloatConstantsCarryValues) {
  onnx::ModelProto m = NewModel();
  Input(&m, "x", {kSym, 6});
  auto* lo = AddNode(&m, "Constant", {}, {"lo"}, "lo_const");
  AttrFloat(lo, "value_float", -0.5f);
  auto* hi = AddNode(&m, "Constant", {}, {"hi"}, "hi_const");
  onnx::AttributeProto* a = hi->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  float six = 6.0f;
  a->mutable_t()->set_raw_data(std::string(reinterpret_cast<const char*>(&six), sizeof six));
  AddNode(&m, "Clip", {"x", "lo", "hi"}, {"y"}, "relu6");
  Output(&m, "y");
  Result<Graph> r = Parse(m, Batch(1));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*Find(*r, "lo").real_values, std::vector<double>{-0.5});
  EXPECT_EQ(*Find(*r, "hi").real_values, std::vector<double>{6.0});
  EXPECT_FALSE(Find(*r, "hi").int_values);
}

TEST(OnnxFrontend, EmptyAndRandomBytesAreErrors) {
  ExpectError(ParseOnnx("", "model.onnx", {}), "empty");
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string bytes(rng() % 2000 + 1, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Result<Graph> r = ParseOnnx(bytes, "model.onnx", {});
    ExpectError(r, "");
  }
}

TEST(OnnxFrontend, EveryTruncationIsAnError) {
  const std::string bytes = SmallCnn().SerializeAsString();
  for (size_t n = 1; n < bytes.size(); ++n) {
    Result<Graph> r = ParseOnnx(std::string_view(bytes).substr(0, n), "model.onnx", {});
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
    ASSERT_EQ(r.status().message().rfind("model.onnx: ", 0), 0u) << r.status().message();
  }
}

TEST(OnnxFrontend, CorruptedBytesNeverCrash) {
  const std::string good = PlumbingModel().SerializeAsString();
  std::mt19937 rng(99);
  for (int i = 0; i < 500; ++i) {
    std::string bytes = good;
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    Result<Graph> r = ParseOnnx(bytes, "model.onnx", Batch(2));
    if (!r.ok()) ExpectError(r, "");
  }
}

TEST(OnnxFrontend, CyclesAndDanglingInputsAreErrors) {
  onnx::ModelProto cycle = NewModel();
  Input(&cycle, "x", {kSym, 4});
  AddNode(&cycle, "Add", {"x", "b"}, {"a"}, "add");
  AddNode(&cycle, "Relu", {"a"}, {"b"}, "relu");
  Output(&cycle, "b");
  ExpectError(Parse(cycle), "cycle");

  onnx::ModelProto dangling = NewModel();
  Input(&dangling, "x", {kSym, 4});
  AddNode(&dangling, "Add", {"x", "ghost"}, {"y"}, "add");
  Output(&dangling, "y");
  ExpectError(Parse(dangling), "'ghost' is not produced");

  onnx::ModelProto odd_name = NewModel();
  Input(&odd_name, "x", {kSym, 4});
  AddNode(&odd_name, "Add", {"x", "gh\nost" + std::string(3000, 'o')}, {"y"}, "add");
  Output(&odd_name, "y");
  Result<Graph> r = Parse(odd_name);
  ExpectError(r, "input 'gh\\x0aostooo");
  EXPECT_LE(r.status().message().size(), 1003u);

  onnx::ModelProto no_output = SmallCnn();
  Output(&no_output, "nowhere");
  ExpectError(Parse(no_output), "graph output 'nowhere'");

  onnx::ModelProto twice = SmallCnn();
  AddNode(&twice, "Relu", {"x"}, {"r"}, "second_writer");
  ExpectError(Parse(twice), "already produced");

  onnx::ModelProto overwrite = SmallCnn();
  AddNode(&overwrite, "Relu", {"x"}, {"fc.bias"}, "writer");
  ExpectError(Parse(overwrite), "graph input or initializer");
}

TEST(OnnxFrontend, BadDimensionsAreErrors) {
  onnx::ModelProto absurd = NewModel();
  Input(&absurd, "x", {kSym, 1 << 20, 1 << 20, 1 << 20});
  AddNode(&absurd, "Relu", {"x"}, {"y"});
  Output(&absurd, "y");
  ExpectError(Parse(absurd), "absurd");

  onnx::ModelProto zero = NewModel();
  Input(&zero, "x", {kSym, 0, 4});
  AddNode(&zero, "Relu", {"x"}, {"y"});
  Output(&zero, "y");
  ExpectError(Parse(zero), "dimension 0 at axis 1");

  onnx::ModelProto negative = NewModel();
  Input(&negative, "x", {kSym, -7, 4});
  AddNode(&negative, "Relu", {"x"}, {"y"});
  Output(&negative, "y");
  ExpectError(Parse(negative), "dimension -7");

  onnx::ModelProto big_init = SmallCnn();
  auto* t = big_init.mutable_graph()->add_initializer();
  t->set_name("huge");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(int64_t{1} << 30);
  t->add_dims(int64_t{1} << 30);
  ExpectError(Parse(big_init), "initializer 'huge' has absurd dims");

  onnx::ModelProto neg_init = SmallCnn();
  auto* n = neg_init.mutable_graph()->add_initializer();
  n->set_name("neg");
  n->add_dims(-3);
  ExpectError(Parse(neg_init), "initializer 'neg' has absurd dims");

  // ONNX's inference derives [2^25, 2^25] from the constant: too big to be a real tensor.
  onnx::ModelProto expand = NewModel();
  Input(&expand, "x", {kSym, 1});
  Int64Init(&expand, "to", {2}, {int64_t{1} << 25, int64_t{1} << 25});
  AddNode(&expand, "Expand", {"x", "to"}, {"y"}, "expand");
  Output(&expand, "y");
  ExpectError(Parse(expand), "absurd");
}

TEST(OnnxFrontend, InconsistentInitializersAreErrors) {
  onnx::ModelProto twice = SmallCnn();
  FloatInit(&twice, "conv.bias", {8});
  ExpectError(Parse(twice), "initializer 'conv.bias' is defined twice");

  onnx::ModelProto short_data = SmallCnn();
  Int64Init(&short_data, "shape", {4}, {1, 2, 3});
  ExpectError(Parse(short_data), "initializer 'shape' holds 24 bytes");

  onnx::ModelProto unnamed = SmallCnn();
  unnamed.mutable_graph()->add_initializer()->set_data_type(onnx::TensorProto::FLOAT);
  ExpectError(Parse(unnamed), "has no name");
}

// Inputs the fuzzer (fuzz/onnx_fuzzer.cc) found crashing, rebuilt with the protobuf API.
TEST(OnnxFrontend, FuzzFindings) {
  // A Div with one input crashed the IR's folding: ONNX's schema check now rejects it.
  onnx::ModelProto div = PlumbingModel();
  for (auto& node : *div.mutable_graph()->mutable_node()) {
    if (node.op_type() == "Div") node.mutable_input()->RemoveLast();
  }
  ExpectError(Parse(div), "node 'half' (Div): Node (half) has input size 1 not in range");

  // Pads near 2^62 overflowed the padded dims in the IR's Pad inference.
  onnx::ModelProto pad = NewModel(13);
  Input(&pad, "x", {kSym, 2, 7, 7});
  const int64_t huge = int64_t{1} << 62;
  Int64Init(&pad, "pads", {8}, {0, 0, huge, huge, 0, 0, huge, 1});
  AddNode(&pad, "Pad", {"x", "pads"}, {"y"}, "pad");
  Output(&pad, "y");
  ExpectError(Parse(pad), "node 'pad' (Pad)");

  // ONNX's own Conv inference read past its vectors when the weight's rank differed from the
  // input's, and divided by a zero stride; the guarded registry keeps such nodes from it.
  onnx::ModelProto rank = NewModel();
  Input(&rank, "x", {6, 6});
  FloatInit(&rank, "w", {4, 1, 3});
  AddNode(&rank, "Conv", {"x", "w"}, {"y"}, "conv");
  Output(&rank, "y");
  ExpectError(Parse(rank), "node 'conv' (Conv)");

  onnx::ModelProto stride = SmallCnn();
  for (auto& node : *stride.mutable_graph()->mutable_node()) {
    if (node.op_type() == "Conv") AttrInts(&node, "strides", {0, 0});
  }
  ExpectError(Parse(stride), "node 'conv' (Conv)");

  // LayerNormalization's inference indexed before the shape's start for an axis of -11.
  onnx::ModelProto axis = NewModel(17);
  Input(&axis, "x", {kSym, 4});
  FloatInit(&axis, "scale", {4});
  AttrInt(AddNode(&axis, "LayerNormalization", {"x", "scale"}, {"y"}, "ln"), "axis", -11);
  Output(&axis, "y");
  ExpectError(Parse(axis), "node 'ln' (LayerNormalization)");

  // From opset 15, Shape's data propagation read the type of an input that has none: here the
  // output of an op ONNX does not know.
  onnx::ModelProto custom = NewModel(15);
  Input(&custom, "x", {kSym, 4});
  AddNode(&custom, "Foo", {"x"}, {"f"}, "foo")->set_domain("com.example");
  AddNode(&custom, "Shape", {"f"}, {"y"}, "shape");
  Output(&custom, "y");
  Result<Graph> r = Parse(custom);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(FindNode(*r, "foo").op, Op::Unknown);

  // Two imports of the default domain: ONNX's inference used the last, the schema check the
  // first.
  onnx::ModelProto twice = PlumbingModel();
  auto* again = twice.add_opset_import();
  again->set_domain("");
  again->set_version(36);
  ExpectError(Parse(twice), "imported twice");
}

TEST(OnnxFrontend, OnnxInferenceResolvesFloatResizeScales) {
  onnx::ModelProto m = NewModel(13);
  Input(&m, "x", {kSym, 2, 5, 7});
  auto* scales = AddNode(&m, "Constant", {}, {"scales"}, "scales");
  auto* value = scales->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  value->mutable_t()->add_dims(4);
  for (float f : {1.0f, 1.0f, 2.0f, 3.0f}) value->mutable_t()->add_float_data(f);
  AttrString(AddNode(&m, "Resize", {"x", "", "scales"}, {"y"}, "resize"), "mode", "nearest");
  Output(&m, "y");
  Result<Graph> r = Parse(m, Batch(2));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Find(*r, "y").dims, (Dims{2, 2, 10, 21}));
  EXPECT_TRUE(Find(*r, "y").batched);
}

class OnnxFile : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = ::testing::TempDir() + "joulecast_onnx_test_" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::string> paths_;
};

TEST_F(OnnxFile, LoadsThroughMemoryMap) {
  std::string path = Write("small.onnx", SmallCnn().SerializeAsString());
  Result<Graph> r = LoadOnnxFile(path, Batch(3));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->source, path);
  EXPECT_EQ(Find(*r, "y").dims, (Dims{3, 10}));
}

TEST_F(OnnxFile, UnreadableFilesAreErrors) {
  std::string empty = Write("empty.onnx", "");
  Result<Graph> r = LoadOnnxFile(empty, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), empty + ": empty file, not an ONNX model");

  std::string missing = ::testing::TempDir() + "joulecast_no_such_file.onnx";
  r = LoadOnnxFile(missing, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(missing + ": cannot open", 0), 0u) << r.status().message();

  r = LoadOnnxFile(::testing::TempDir(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace joulecast
