// Normalisations: shapes, and the statistics their backward keeps.
#include "analyzer/core/costs.h"
#include "analyzer/core/op_context.h"

namespace joulecast {

namespace {

// Mean and inverse deviation kept for backward, in float32: two per row of the axes before
// `axis`.
void KeepRowStatistics(const Tensor& x, int64_t axis, Work& w) {
  if (axis < 0) axis += static_cast<int64_t>(x.dims.size());
  Count rows = 1;
  for (int64_t i = 0; i < axis && i < static_cast<int64_t>(x.dims.size()); ++i) {
    rows = rows * Count(x.dims[i]);
  }
  w.saved_bytes += rows * Count(2 * 4);
}

}  // namespace

Status BatchNormShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  const Dims& x = c.dims(0);
  Status s = c.Set(0, x, c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  if (x.size() < 2) return c.Fail("BatchNormalization needs an input of rank >= 2");
  for (size_t k = 1; k < c.num_outputs(); ++k) {
    s = c.Set(k, {x[1]}, false, c.dtype(0));
    if (!s.ok()) return s;
  }
  return Status();
}

Status LayerNormShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  const Dims& x = c.dims(0);
  Status s = c.Set(0, x, c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  auto axis = ShapeContext::Axis(c.node().Int("axis", -1), c.rank(0));
  if (!axis) return c.Fail("axis out of range");
  Dims stat(x.begin(), x.begin() + *axis);
  stat.resize(x.size(), 1);
  for (size_t k = 1; k < c.num_outputs(); ++k) {
    s = c.Set(k, stat, c.batched(0), DType::float32);
    if (!s.ok()) return s;
  }
  return Status();
}

Status InstanceNormShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  return c.Set(0, c.dims(0), c.batched(0), c.dtype(0));
}

// GroupNormalization: scale and bias per group (opset 18) or per channel (opset 21).
Status GroupNormShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  const Dims& x = c.dims(0);
  if (x.size() < 2) return c.Fail("GroupNormalization needs an input of rank >= 2");
  const int64_t groups = c.node().Int("num_groups", 0);
  if (groups <= 0 || x[1] % groups != 0) {
    return c.Fail("num_groups " + std::to_string(groups) + " does not divide the input's " +
                  std::to_string(x[1]) + " channels");
  }
  for (size_t i = 1; i <= 2; ++i) {
    if (!c.known(i)) continue;
    auto n = CheckedProduct(c.dims(i));
    if (!n || (*n != groups && *n != x[1])) {
      return c.Fail(std::string(i == 1 ? "scale" : "bias") + " has " +
                    (n ? std::to_string(*n) : std::string("too many")) +
                    " values; it needs one per group (" + std::to_string(groups) +
                    ") or per channel (" + std::to_string(x[1]) + ")");
    }
  }
  return c.Set(0, x, c.batched(0), c.dtype(0));
}

void BatchNormCost(const CostContext& c, Work& w, LayerCost& lc) {
  const Tensor& x = c.in(0);
  if (x.dims.size() >= 2) lc.in_channels = x.dims[1];
  if (!c.any_grad()) return;
  if (x.dims.size() >= 2) w.saved_bytes += Count(2 * x.dims[1]) * Count(4);
}

void LayerNormCost(const CostContext& c, Work& w, LayerCost&) {
  if (c.any_grad()) KeepRowStatistics(c.in(0), c.node().Int("axis", -1), w);
}

void InstanceNormCost(const CostContext& c, Work& w, LayerCost&) {
  if (c.any_grad()) KeepRowStatistics(c.in(0), 2, w);
}

void GroupNormCost(const CostContext& c, Work& w, LayerCost&) {
  if (!c.any_grad()) return;
  const Tensor& x = c.in(0);
  // Statistics per sample and group.
  w.saved_bytes += Count(x.dims[0]) * Count(c.node().Int("num_groups", 1)) * Count(2 * 4);
}

}  // namespace joulecast
