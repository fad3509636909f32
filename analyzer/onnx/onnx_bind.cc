#include "analyzer/onnx/onnx_bind.h"

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "analyzer/core/checked_math.h"

namespace joulecast::onnx_bind {

namespace {

std::string Label(const onnx::ValueInfoProto& input) {
  return "graph input '" + input.name() + "'";
}

std::string DimLabel(const onnx::TensorShapeProto_Dimension& d) {
  if (d.has_dim_value()) return std::to_string(d.dim_value());
  if (d.has_dim_param() && !d.dim_param().empty()) return "'" + d.dim_param() + "'";
  return "?";
}

std::string ChwString(const std::vector<int64_t>& chw) {
  std::string s;
  for (size_t i = 0; i < chw.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(chw[i]);
  }
  return s;
}

Status CheckOptions(const LoadOptions& options) {
  if (options.batch && *options.batch < 1) {
    return Status::Error("--batch must be at least 1, got " + std::to_string(*options.batch));
  }
  if (options.input_chw) {
    if (options.input_chw->empty()) return Status::Error("--input needs at least one dim");
    for (int64_t d : *options.input_chw) {
      if (d < 1)
        return Status::Error("--input dims must be at least 1: " + ChwString(*options.input_chw));
    }
  }
  return Status();
}

// Binds the non-batch axes of one input to --input, or checks that they are fixed.
Status BindSampleDims(onnx::ValueInfoProto* input, const LoadOptions& options) {
  onnx::TensorShapeProto* shape = input->mutable_type()->mutable_tensor_type()->mutable_shape();
  const int rank = shape->dim_size();
  if (options.input_chw) {
    const auto& chw = *options.input_chw;
    if (static_cast<size_t>(rank) != chw.size() + 1) {
      return Status::Error(Label(*input) + " has rank " + std::to_string(rank) + " but --input " +
                           ChwString(chw) + " gives " + std::to_string(chw.size() + 1) +
                           " dims with the batch");
    }
    for (int i = 1; i < rank; ++i) {
      onnx::TensorShapeProto_Dimension* d = shape->mutable_dim(i);
      if (d->has_dim_value() && d->dim_value() != chw[i - 1]) {
        return Status::Error(Label(*input) + " has fixed axis " + std::to_string(i) + " = " +
                             std::to_string(d->dim_value()) + " but --input says " +
                             std::to_string(chw[i - 1]));
      }
      d->set_dim_value(chw[i - 1]);
    }
    return Status();
  }
  for (int i = 1; i < rank; ++i) {
    if (!shape->dim(i).has_dim_value()) {
      return Status::Error(Label(*input) + " axis " + std::to_string(i) + " is symbolic (" +
                           DimLabel(shape->dim(i)) + "); pass --input CxHxW to fix it");
    }
  }
  return Status();
}

Status CheckDims(const onnx::ValueInfoProto& input) {
  const onnx::TensorShapeProto& shape = input.type().tensor_type().shape();
  int64_t elements = 1;
  for (int i = 0; i < shape.dim_size(); ++i) {
    const int64_t d = shape.dim(i).dim_value();
    if (d <= 0) {
      return Status::Error(Label(input) + " has dimension " + std::to_string(d) + " at axis " +
                           std::to_string(i) + "; dims must be positive");
    }
    auto product = CheckedMul(elements, d);
    if (!product || *product > kMaxElements) {
      return Status::Error(Label(input) + " has an absurd shape (more than 2^40 elements)");
    }
    elements = *product;
  }
  return Status();
}

}  // namespace

Result<Batch> BindInputs(onnx::GraphProto* graph, const LoadOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  std::unordered_set<std::string> initializers;
  for (const auto& t : graph->initializer()) initializers.insert(t.name());
  for (const auto& t : graph->sparse_initializer()) initializers.insert(t.values().name());

  std::vector<onnx::ValueInfoProto*> inputs;
  for (auto& input : *graph->mutable_input()) {
    if (initializers.count(input.name()) == 0) inputs.push_back(&input);
  }
  if (inputs.empty()) return Status::Error("the graph has no inputs (only initializers)");

  // The batch comes from the first input with a fixed axis 0, else from --batch.
  std::optional<int64_t> fixed;
  const onnx::ValueInfoProto* fixed_by = nullptr;
  for (onnx::ValueInfoProto* input : inputs) {
    if (input->name().empty()) return Status::Error("a graph input has no name");
    if (!input->type().has_tensor_type()) {
      return Status::Error(Label(*input) + " is not a tensor");
    }
    auto* tensor_type = input->mutable_type()->mutable_tensor_type();
    if (!tensor_type->has_shape()) {
      if (!options.input_chw) {
        return Status::Error(Label(*input) + " has no shape; pass --input CxHxW");
      }
      auto* shape = tensor_type->mutable_shape();
      shape->add_dim();
      for (size_t i = 0; i < options.input_chw->size(); ++i) shape->add_dim();
    }
    const auto& shape = tensor_type->shape();
    if (shape.dim_size() == 0 || !shape.dim(0).has_dim_value()) continue;
    const int64_t b = shape.dim(0).dim_value();
    if (b <= 0) {
      return Status::Error(Label(*input) + " has batch dimension " + std::to_string(b) +
                           "; dims must be positive");
    }
    if (fixed && *fixed != b) {
      return Status::Error(Label(*input) + " has batch " + std::to_string(b) + " but " +
                           Label(*fixed_by) + " has batch " + std::to_string(*fixed));
    }
    if (options.batch && *options.batch != b) {
      return Status::Error(Label(*input) + " has a fixed batch of " + std::to_string(b) +
                           "; --batch " + std::to_string(*options.batch) +
                           " contradicts it (export with a dynamic batch axis)");
    }
    fixed = b;
    fixed_by = input;
  }

  Batch batch;
  batch.size = fixed ? *fixed : options.batch.value_or(1);
  batch.symbolic = !fixed;
  for (onnx::ValueInfoProto* input : inputs) {
    auto* shape = input->mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() > 0 && !shape->dim(0).has_dim_value()) {
      shape->mutable_dim(0)->set_dim_value(batch.size);
    }
    if (Status s = BindSampleDims(input, options); !s.ok()) return s;
    if (Status s = CheckDims(*input); !s.ok()) return s;
  }
  return batch;
}

}  // namespace joulecast::onnx_bind
