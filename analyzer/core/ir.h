// The IR: one graph of tensors and nodes that both front ends produce and everything downstream
// (costs, prediction, search, the libtorch builder) reads. Nothing downstream looks at ONNX or
// JSON again.
//
// Ownership: a Graph owns its tensors and nodes by value; they refer to each other by index.
// Nodes are kept in topological order once Graph::Finalize() has succeeded.
//
// Shapes: dims are concrete int64 values with the batch bound to Graph::batch. Tensors whose
// axis 0 is the (possibly symbolic) batch have `batched` set, so reports can print it as "N".
// A shape may be unknown (`shape_known` false): inference stops there instead of failing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/ops.h"
#include "analyzer/core/status.h"
#include "analyzer/core/training_settings.h"

namespace joulecast {

/// Element types the IR tracks (the ONNX TensorProto codes where they exist).
enum class DType { undefined = 0, float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7,
                   boolean = 9, float16 = 10, float64 = 11, bfloat16 = 16 };

/// Bytes per element; 0 for undefined.
int DTypeBytes(DType t);
/// "float32", "int64", ...
const char* DTypeName(DType t);
/// The DType for an ONNX TensorProto data_type code; undefined for others.
DType DTypeFromOnnx(int code);

/// What a tensor is to training.
enum class Role {
  activation,  ///< Computed by a node from the graph input; flows gradients when trainable.
  input,       ///< A graph input fed with data; needs no gradient.
  parameter,   ///< A trainable weight (an initializer consumed at a weight position).
  buffer,      ///< Stored but not trained (BatchNorm running statistics, constant tables).
  constant,    ///< A small constant (shape plumbing); its values may be known.
};

/// One attribute value. Exactly one of the fields is meaningful, as `type` says.
struct Attr {
  enum class Type { integer, real, text, integers, reals } type = Type::integer;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
};

struct Tensor {
  std::string name;
  DType dtype = DType::float32;
  Role role = Role::activation;
  bool shape_known = false;
  std::vector<int64_t> dims;  ///< Valid when shape_known.
  bool batched = false;       ///< Axis 0 is the batch axis.
  /// Known values of a small integer tensor (shape plumbing), folded by inference.
  std::optional<std::vector<int64_t>> int_values;
  /// Known values of a small floating-point constant (Clip bounds, Pow exponents, epsilons,
  /// Dropout ratios), as the front end read them. Never set for parameters.
  std::optional<std::vector<double>> real_values;
  int producer = -1;  ///< Index of the producing node, -1 for inputs and initializers.
};

struct Node {
  std::string name;     ///< Unique within the graph (front ends make one up if missing).
  std::string op_type;  ///< As written in the source ("Conv", "conv2d", "com.x:MyOp").
  Op op = Op::Unknown;
  std::vector<int> inputs;   ///< Tensor indices; -1 marks an omitted optional input.
  std::vector<int> outputs;  ///< Tensor indices.
  std::map<std::string, Attr> attrs;

  /// Attribute accessors with defaults; a wrong type counts as absent.
  int64_t Int(const std::string& key, int64_t dflt) const;
  double Real(const std::string& key, double dflt) const;
  std::string Text(const std::string& key, const std::string& dflt) const;
  std::vector<int64_t> Ints(const std::string& key, std::vector<int64_t> dflt = {}) const;
  std::vector<double> Reals(const std::string& key) const;
  bool Has(const std::string& key) const { return attrs.count(key) != 0; }
};

struct Graph {
  std::string name;
  std::string source;  ///< The file it came from, for messages.
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;
  std::vector<int> inputs;   ///< Graph inputs fed with data (Role::input).
  std::vector<int> outputs;  ///< Graph outputs.
  int64_t batch = 1;         ///< The batch size shapes are evaluated at.
  bool batch_symbolic = false;  ///< True when the source left the batch open.
  /// The file's "training" object (JSON architectures); all unset for ONNX models.
  TrainingSettings training;

  /// Adds a tensor and returns its index.
  int AddTensor(Tensor t);
  /// Adds a node, records it as producer of its outputs, and returns its index.
  int AddNode(Node n);
  /// Index of the tensor named `name`, or -1. Linear scan: front ends keep their own maps.
  int FindTensor(const std::string& name) const;

  /// Checks references and sorts nodes topologically. Fails, naming the node, on a dangling
  /// input, a tensor produced twice, or a cycle. Must be called before inference or costs.
  Status Finalize();
};

}  // namespace joulecast
