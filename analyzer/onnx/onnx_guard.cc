#include "analyzer/onnx/onnx_guard.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace joulecast::onnx_guard {

namespace {

// Larger dims than these are left to the IR's inference, which checks its arithmetic.
constexpr int64_t kMaxDim = int64_t{1} << 40;
constexpr int64_t kMaxSpatialDim = int64_t{1}
                                   << 24;  // ONNX steps through these one stride at a time.
constexpr int64_t kMaxAttribute = int64_t{1} << 31;

template <typename Context>
bool InputDimsSane(const Context& ctx, int64_t max_dim) {
  for (size_t i = 0; i < ctx.getNumInputs(); ++i) {
    const onnx::TypeProto* type = ctx.getInputType(i);
    if (type == nullptr || !type->has_tensor_type() || !type->tensor_type().has_shape()) continue;
    for (const auto& d : type->tensor_type().shape().dim()) {
      if (d.has_dim_value() && (d.dim_value() < 0 || d.dim_value() > max_dim)) return false;
    }
  }
  return true;
}

// Integer attributes that ONNX divides by, loops over, or uses as sizes.
template <typename Context>
bool AttributesSane(const Context& ctx) {
  static const char* const kPositive[] = {"strides", "dilations", "kernel_shape", "blocksize",
                                          "group"};
  static const char* const kNonNegative[] = {"pads", "output_padding", "output_shape"};
  auto in_range = [&](const char* name, int64_t lo) {
    const onnx::AttributeProto* a = ctx.getAttribute(name);
    if (a == nullptr) return true;
    if (a->has_i() && (a->i() < lo || a->i() > kMaxAttribute)) return false;
    for (int64_t v : a->ints()) {
      if (v < lo || v > kMaxAttribute) return false;
    }
    return true;
  };
  for (const char* name : kPositive) {
    if (!in_range(name, 1)) return false;
  }
  for (const char* name : kNonNegative) {
    if (!in_range(name, 0)) return false;
  }
  return true;
}

// An axis far outside the input's rank makes some functions (LayerNormalization's) index
// before the start of the shape; ONNX rejects the rest itself.
bool AxesInRange(const onnx::InferenceContext& ctx) {
  if (ctx.getNumInputs() == 0) return true;
  const onnx::TypeProto* x = ctx.getInputType(0);
  if (x == nullptr || !x->has_tensor_type() || !x->tensor_type().has_shape()) return true;
  const int64_t rank = x->tensor_type().shape().dim_size();
  const onnx::AttributeProto* axis = ctx.getAttribute("axis");
  if (axis != nullptr && axis->has_i() && (axis->i() < -rank || axis->i() > rank)) return false;
  const onnx::AttributeProto* axes = ctx.getAttribute("axes");
  if (axes == nullptr) return true;
  const int64_t bound = rank + axes->ints_size();  // Unsqueeze's axes index its output.
  for (int64_t a : axes->ints()) {
    if (a < -bound || a >= bound) return false;
  }
  return true;
}

bool IsConvLike(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "ConvInteger" || op == "MaxPool" ||
         op == "AveragePool" || op == "LpPool" || op == "MaxUnpool" || op == "QLinearConv";
}

// Conv's inference takes the kernel rank from the weight and indexes the input with it.
bool RanksAgree(const onnx::InferenceContext& ctx) {
  if (ctx.getNumInputs() < 2) return true;
  const onnx::TypeProto* x = ctx.getInputType(0);
  const onnx::TypeProto* w = ctx.getInputType(1);
  if (x == nullptr || w == nullptr || !x->tensor_type().has_shape() ||
      !w->tensor_type().has_shape()) {
    return true;
  }
  return x->tensor_type().shape().dim_size() == w->tensor_type().shape().dim_size();
}

onnx::InferenceFunction Guard(const std::string& op, onnx::InferenceFunction inner) {
  const bool conv_like = IsConvLike(op);
  const bool has_weight = op == "Conv" || op == "ConvTranspose" || op == "ConvInteger";
  return [conv_like, has_weight, inner = std::move(inner)](onnx::InferenceContext& ctx) {
    if (!InputDimsSane(ctx, conv_like ? kMaxSpatialDim : kMaxDim) || !AttributesSane(ctx) ||
        !AxesInRange(ctx)) {
      return;
    }
    if (has_weight && !RanksAgree(ctx)) return;
    inner(ctx);
  };
}

// Shape's data propagation (opset 15 on) reads its input's type without checking it exists,
// as it does not after an op ONNX cannot infer (a custom op's output).
bool InputTypesKnown(onnx::DataPropagationContext& ctx) {
  for (size_t i = 0; i < ctx.getNumInputs(); ++i) {
    const onnx::TypeProto* type = ctx.getInputType(i);
    if (type == nullptr || !type->has_tensor_type()) return false;
  }
  return true;
}

onnx::DataPropagationFunction Guard(onnx::DataPropagationFunction inner) {
  return [inner = std::move(inner)](onnx::DataPropagationContext& ctx) {
    if (!InputTypesKnown(ctx) || !InputDimsSane(ctx, kMaxDim) || !AttributesSane(ctx)) return;
    inner(ctx);
  };
}

class GuardedRegistry final : public onnx::ISchemaRegistry {
 public:
  const onnx::OpSchema* GetSchema(const std::string& key, const int max_inclusive_version,
                                  const std::string& domain) const override {
    const onnx::OpSchema* original =
        onnx::OpSchemaRegistry::Schema(key, max_inclusive_version, domain);
    if (original == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<onnx::OpSchema>& guarded = guarded_[original];
    if (!guarded) {
      guarded = std::make_unique<onnx::OpSchema>(*original);
      if (original->has_type_and_shape_inference_function()) {
        guarded->TypeAndShapeInferenceFunction(
            Guard(original->Name(), original->GetTypeAndShapeInferenceFunction()));
      }
      if (original->has_data_propagation_function()) {
        guarded->PartialDataPropagationFunction(Guard(original->GetDataPropagationFunction()));
      }
    }
    return guarded.get();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::map<const onnx::OpSchema*, std::unique_ptr<onnx::OpSchema>> guarded_;
};

}  // namespace

const onnx::ISchemaRegistry* GuardedSchemaRegistry() {
  static const GuardedRegistry* registry = new GuardedRegistry();
  return registry;
}

}  // namespace joulecast::onnx_guard
