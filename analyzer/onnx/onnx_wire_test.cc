#include "analyzer/onnx/onnx_wire.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "analyzer/onnx/onnx_frontend.h"
#include "analyzer/onnx/onnx_test_models.h"

namespace joulecast::onnx_wire {
namespace {

using namespace onnx_testing;

// Hand encoding, for what the protobuf API would not write.
std::string Varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}

std::string Bytes(uint32_t field, const std::string& payload) {
  return Varint(field << 3 | 2) + Varint(payload.size()) + payload;
}

std::string VarintField(uint32_t field, uint64_t v) { return Varint(field << 3) + Varint(v); }

const onnx::TensorProto* Initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

Status Strip(const std::string& bytes, onnx::ModelProto* parsed, StripStats* stats = nullptr) {
  std::string out;
  Status s = StripModel(bytes, &out, stats);
  if (s.ok() && !parsed->ParseFromString(out)) return Status::Error("stripped bytes do not parse");
  return s;
}

TEST(OnnxWire, KeepPayloadKeepsOnlySmallIntegersOfInitializers) {
  EXPECT_TRUE(KeepPayload(onnx::TensorProto::INT64, 4, true));
  EXPECT_TRUE(KeepPayload(onnx::TensorProto::INT32, kMaxKeptElements, true));
  EXPECT_TRUE(KeepPayload(onnx::TensorProto::BOOL, 0, true));
  EXPECT_FALSE(KeepPayload(onnx::TensorProto::INT64, kMaxKeptElements + 1, true));
  EXPECT_FALSE(KeepPayload(onnx::TensorProto::FLOAT, 1, true));
  EXPECT_FALSE(KeepPayload(onnx::TensorProto::INT64, -1, true));
  EXPECT_TRUE(KeepPayload(onnx::TensorProto::FLOAT, 4, false));
  EXPECT_FALSE(KeepPayload(onnx::TensorProto::FLOAT, kMaxKeptElements + 1, false));
}

TEST(OnnxWire, StripsWeightPayloadsAndKeepsShapes) {
  onnx::ModelProto m = SmallCnn();
  FloatInit(&m, "big", {256, 256}, 5);
  Int64Init(&m, "shape", {4}, {1, -1, 2, 3});
  std::vector<int64_t> ids(5000, 9);
  Int64Init(&m, "ids", {5000}, ids);
  auto* typed = m.mutable_graph()->add_initializer();
  typed->set_name("typed");
  typed->set_data_type(onnx::TensorProto::FLOAT);
  typed->add_dims(100);
  for (int i = 0; i < 100; ++i) typed->add_float_data(1.5f);
  const std::string bytes = m.SerializeAsString();

  onnx::ModelProto stripped;
  StripStats stats;
  ASSERT_TRUE(Strip(bytes, &stripped, &stats).ok());
  // conv.weight, conv.bias, fc.weight, fc.bias, big, ids, typed.
  EXPECT_EQ(stats.tensors_stripped, 7);
  const int64_t weights = (8 * 27 + 8 + 10 * 128 + 10 + 256 * 256 + 100) * 4 + 5000 * 8;
  EXPECT_EQ(stats.payload_bytes_skipped, weights);
  EXPECT_LE(stripped.ByteSizeLong() + weights, bytes.size());

  ASSERT_EQ(stripped.graph().initializer_size(), m.graph().initializer_size());
  for (const auto& original : m.graph().initializer()) {
    const onnx::TensorProto* t = Initializer(stripped, original.name());
    ASSERT_NE(t, nullptr) << original.name();
    EXPECT_EQ(t->data_type(), original.data_type()) << original.name();
    EXPECT_EQ(std::vector<int64_t>(t->dims().begin(), t->dims().end()),
              std::vector<int64_t>(original.dims().begin(), original.dims().end()));
  }
  EXPECT_FALSE(Initializer(stripped, "big")->has_raw_data());
  EXPECT_FALSE(Initializer(stripped, "ids")->has_raw_data());
  EXPECT_EQ(Initializer(stripped, "typed")->float_data_size(), 0);
  EXPECT_EQ(Initializer(stripped, "shape")->raw_data(), Initializer(m, "shape")->raw_data());
  EXPECT_EQ(stripped.graph().node_size(), m.graph().node_size());
  EXPECT_EQ(stripped.graph().node(0).attribute(0).ints_size(), 2);
  EXPECT_EQ(stripped.opset_import(0).version(), 14);
}

TEST(OnnxWire, ConstantsKeepSmallPayloadsOfAnyType) {
  onnx::ModelProto m = SmallCnn();
  for (int size : {4, 5000}) {
    auto* n = AddNode(&m, "Constant", {}, {"k" + std::to_string(size)});
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_dims(size);
    a->mutable_t()->set_raw_data(std::string(size * 4, 'x'));
  }
  onnx::ModelProto stripped;
  ASSERT_TRUE(Strip(m.SerializeAsString(), &stripped).ok());
  const int n = stripped.graph().node_size();
  EXPECT_EQ(stripped.graph().node(n - 2).attribute(0).t().raw_data().size(), 16u);
  EXPECT_FALSE(stripped.graph().node(n - 1).attribute(0).t().has_raw_data());
  EXPECT_EQ(stripped.graph().node(n - 1).attribute(0).t().dims(0), 5000);
}

TEST(OnnxWire, StripsSubgraphInitializersAndDropsTrainingInfo) {
  onnx::ModelProto m = SmallCnn();
  auto* n = AddNode(&m, "If", {"cond"}, {"z"});
  auto* a = n->add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* w = a->mutable_g()->add_initializer();
  w->set_name("inner");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(1000);
  w->set_raw_data(std::string(4000, 'w'));
  m.add_training_info()->mutable_initialization()->set_name("init");

  onnx::ModelProto stripped;
  StripStats stats;
  ASSERT_TRUE(Strip(m.SerializeAsString(), &stripped, &stats).ok());
  const auto& inner = stripped.graph().node(5).attribute(0).g().initializer(0);
  EXPECT_EQ(inner.name(), "inner");
  EXPECT_EQ(inner.dims(0), 1000);
  EXPECT_FALSE(inner.has_raw_data());
  EXPECT_EQ(stripped.training_info_size(), 0);
}

TEST(OnnxWire, ReadsPackedDims) {
  // dims packed (as proto3 writers emit them), data_type, name, raw_data.
  auto tensor = [](int type, const std::string& raw) {
    return Bytes(1, Varint(2) + Varint(3)) + VarintField(2, type) + Bytes(8, "t") + Bytes(9, raw);
  };
  for (int type : {onnx::TensorProto::INT64, onnx::TensorProto::FLOAT}) {
    const int width = type == onnx::TensorProto::INT64 ? 8 : 4;
    std::string model = Bytes(7, Bytes(5, tensor(type, std::string(6 * width, '\1'))));
    onnx::ModelProto stripped;
    ASSERT_TRUE(Strip(model, &stripped).ok());
    const auto& t = stripped.graph().initializer(0);
    EXPECT_EQ(t.dims_size(), 2);
    EXPECT_EQ(t.raw_data().size(), type == onnx::TensorProto::INT64 ? 48u : 0u);
  }
}

// Dims can lie: a small tensor with 40,000 unpacked int64_data entries keeps none of them.
TEST(OnnxWire, BoundsKeptPayloadsInBytes) {
  std::string values;
  for (int i = 0; i < 40000; ++i) values += VarintField(7, 1);
  const std::string tensor =
      VarintField(1, 4) + VarintField(2, onnx::TensorProto::INT64) + Bytes(8, "t") + values;
  onnx::ModelProto stripped;
  StripStats stats;
  ASSERT_TRUE(Strip(Bytes(7, Bytes(5, tensor)), &stripped, &stats).ok());
  EXPECT_EQ(stats.tensors_stripped, 1);
  EXPECT_EQ(stats.payload_bytes_skipped, 80000);
  EXPECT_EQ(stripped.graph().initializer(0).int64_data_size(), 0);
  EXPECT_EQ(stripped.graph().initializer(0).dims(0), 4);
}

TEST(OnnxWire, RejectsMalformedWireFormat) {
  struct Case {
    std::string bytes;
    std::string error;
  };
  const Case cases[] = {
      {Bytes(7, "ab").substr(0, 3), "claims 2 bytes but only 1 remain"},
      {"\x3a\x80", "bad length"},
      {"\x08\x80\x80", "bad varint"},
      {"\x08" + std::string(10, '\xff') + "\x01", "bad varint"},
      {"\x0b\x0c", "unsupported wire type 3"},
      {std::string("\x00\x01", 2), "invalid field number"},
      {"\x09\x01\x02", "truncated fixed64"},
      {Bytes(7, Bytes(5, Bytes(1, "\x80"))), "bad packed tensor dims"},
  };
  for (const Case& c : cases) {
    std::string out;
    Status s = StripModel(c.bytes, &out);
    ASSERT_FALSE(s.ok()) << c.error;
    EXPECT_NE(s.message().find(c.error), std::string::npos) << s.message();
  }
}

TEST(OnnxWire, RejectsDeepNesting) {
  std::string graph;
  for (int i = 0; i < 30; ++i) graph = Bytes(1, Bytes(5, Bytes(6, graph)));  // node.attr.g
  std::string out;
  Status s = StripModel(Bytes(7, graph), &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nested deeper than 64"), std::string::npos) << s.message();
}

// The weight payload sits on pages made unreadable: touching any of them kills the test.
TEST(OnnxWire, NeverReadsSkippedPayloads) {
  constexpr size_t kPayload = 256 * 1024;
  onnx::ModelProto m = SmallCnn();
  FloatInit(&m, "big", {static_cast<int64_t>(kPayload / 4)}, '\xab');
  const std::string bytes = m.SerializeAsString();
  const size_t start = bytes.find(std::string(kPayload, '\xab'));
  ASSERT_NE(start, std::string::npos);

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t map_size = (bytes.size() + page - 1) / page * page;
  void* map = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* base = static_cast<char*>(map);
  std::memcpy(base, bytes.data(), bytes.size());
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(base + start) + page - 1) / page * page;
  const uintptr_t hi = reinterpret_cast<uintptr_t>(base + start + kPayload) / page * page;
  ASSERT_GE(hi - lo, kPayload - 2 * page);
  ASSERT_EQ(mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_NONE), 0);

  const std::string_view guarded(base, bytes.size());
  std::string out;
  StripStats stats;
  EXPECT_TRUE(StripModel(guarded, &out, &stats).ok());
  EXPECT_GE(stats.payload_bytes_skipped, static_cast<int64_t>(kPayload));
  Result<Graph> g = ParseOnnx(guarded, "guarded.onnx", {});
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->tensors[g->FindTensor("big")].dims,
            std::vector<int64_t>{static_cast<int64_t>(kPayload / 4)});
  munmap(map, map_size);
}

}  // namespace
}  // namespace joulecast::onnx_wire
