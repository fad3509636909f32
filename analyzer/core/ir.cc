#include "analyzer/core/ir.h"

#include <functional>
#include <queue>
#include <utility>

namespace joulecast {

int DTypeBytes(DType t) {
  switch (t) {
    case DType::undefined: return 0;
    case DType::uint8: case DType::int8: case DType::boolean: return 1;
    case DType::float16: case DType::bfloat16: return 2;
    case DType::float32: case DType::int32: return 4;
    case DType::int64: case DType::float64: return 8;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::undefined: return "undefined";
    case DType::float32: return "float32";
    case DType::uint8: return "uint8";
    case DType::int8: return "int8";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::boolean: return "bool";
    case DType::float16: return "float16";
    case DType::float64: return "float64";
    case DType::bfloat16: return "bfloat16";
  }
  return "undefined";
}

DType DTypeFromOnnx(int code) {
  switch (code) {
    case 1: case 2: case 3: case 6: case 7: case 9: case 10: case 11: case 16:
      return static_cast<DType>(code);
    default:
      return DType::undefined;
  }
}

int64_t Node::Int(const std::string& key, int64_t dflt) const {
  auto it = attrs.find(key);
  return it != attrs.end() && it->second.type == Attr::Type::integer ? it->second.i : dflt;
}

double Node::Real(const std::string& key, double dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (it->second.type == Attr::Type::real) return it->second.f;
  if (it->second.type == Attr::Type::integer) return static_cast<double>(it->second.i);
  return dflt;
}

std::string Node::Text(const std::string& key, const std::string& dflt) const {
  auto it = attrs.find(key);
  return it != attrs.end() && it->second.type == Attr::Type::text ? it->second.s : dflt;
}

std::vector<int64_t> Node::Ints(const std::string& key, std::vector<int64_t> dflt) const {
  auto it = attrs.find(key);
  return it != attrs.end() && it->second.type == Attr::Type::integers ? it->second.ints : dflt;
}

std::vector<double> Node::Reals(const std::string& key) const {
  auto it = attrs.find(key);
  return it != attrs.end() && it->second.type == Attr::Type::reals ? it->second.floats
                                                                     : std::vector<double>{};
}

int Graph::AddTensor(Tensor t) {
  tensors.push_back(std::move(t));
  return static_cast<int>(tensors.size()) - 1;
}

int Graph::AddNode(Node n) {
  int index = static_cast<int>(nodes.size());
  for (int out : n.outputs) {
    if (out >= 0 && out < static_cast<int>(tensors.size()) && tensors[out].producer < 0) {
      tensors[out].producer = index;
    }
  }
  nodes.push_back(std::move(n));
  return index;
}

int Graph::FindTensor(const std::string& tensor_name) const {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].name == tensor_name) return static_cast<int>(i);
  }
  return -1;
}

namespace {
std::string NodeLabel(const Node& n) { return "node '" + n.name + "' (" + n.op_type + ")"; }
}  // namespace

Status Graph::Finalize() {
  const int num_tensors = static_cast<int>(tensors.size());
  const int num_nodes = static_cast<int>(nodes.size());
  std::vector<int> producer(num_tensors, -1);
  for (int i = 0; i < num_nodes; ++i) {
    for (int out : nodes[i].outputs) {
      if (out < 0 || out >= num_tensors) {
        return Status::Error(NodeLabel(nodes[i]) + ": output refers to no tensor");
      }
      if (producer[out] >= 0) {
        return Status::Error(NodeLabel(nodes[i]) + ": tensor '" + tensors[out].name +
                             "' is already produced by " + NodeLabel(nodes[producer[out]]));
      }
      if (tensors[out].role != Role::activation && tensors[out].role != Role::constant) {
        return Status::Error(NodeLabel(nodes[i]) + ": writes '" + tensors[out].name +
                             "', which is a graph input or initializer");
      }
      producer[out] = i;
    }
  }
  // Kahn's algorithm, always taking the earliest ready node, so a sorted graph keeps its order.
  std::vector<int> pending(num_nodes, 0);
  std::vector<std::vector<int>> consumers(num_tensors);
  for (int i = 0; i < num_nodes; ++i) {
    for (int in : nodes[i].inputs) {
      if (in == -1) continue;
      if (in < -1 || in >= num_tensors) {
        return Status::Error(NodeLabel(nodes[i]) + ": input refers to no tensor");
      }
      const Tensor& t = tensors[in];
      if (producer[in] < 0 && t.role == Role::activation) {
        return Status::Error(NodeLabel(nodes[i]) + ": input '" + t.name +
                             "' is not produced by any node, nor a graph input or initializer");
      }
      if (producer[in] >= 0) {
        ++pending[i];
        consumers[in].push_back(i);
      }
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < num_nodes; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(num_nodes);
  while (!ready.empty()) {
    int n = ready.top();
    ready.pop();
    order.push_back(n);
    for (int out : nodes[n].outputs) {
      for (int c : consumers[out]) {
        if (--pending[c] == 0) ready.push(c);
      }
    }
  }
  if (static_cast<int>(order.size()) != num_nodes) {
    for (int i = 0; i < num_nodes; ++i) {
      if (pending[i] > 0) return Status::Error(NodeLabel(nodes[i]) + ": is part of a cycle");
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(num_nodes);
  for (int n : order) sorted.push_back(std::move(nodes[n]));
  nodes = std::move(sorted);
  for (Tensor& t : tensors) t.producer = -1;
  for (int i = 0; i < num_nodes; ++i) {
    for (int out : nodes[i].outputs) tensors[out].producer = i;
  }
  for (int out : outputs) {
    if (out < 0 || out >= num_tensors) return Status::Error("graph output refers to no tensor");
  }
  return Status();
}

}  // namespace joulecast
