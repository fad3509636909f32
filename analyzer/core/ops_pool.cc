// Pooling and reductions: sliding windows (shared with convolutions), global pools, reduce.
#include "analyzer/core/costs.h"
#include "analyzer/core/op_context.h"

namespace joulecast {

// Output size of a sliding window along one axis, PyTorch/ONNX rules.
namespace {

std::optional<int64_t> WindowOut(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb,
                                 int64_t pe, bool ceil_mode) {
  if (k <= 0 || s <= 0 || d <= 0) return std::nullopt;
  auto dk = CheckedMul(d, k - 1);
  auto padded = CheckedAdd(in, pb);
  if (padded) padded = CheckedAdd(*padded, pe);
  if (!dk || !padded) return std::nullopt;
  int64_t span = *dk + 1;
  int64_t avail = *padded - span;
  if (avail < 0) return std::nullopt;
  int64_t out = (ceil_mode ? (avail + s - 1) / s : avail / s) + 1;
  // A window that would start in the end padding is dropped (ceil_mode).
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

}  // namespace

Status SlidingWindow(ShapeContext& c, const Dims& x, const Dims& kernel, Dims* out_spatial,
                     bool ceil_mode) {
  size_t sp = kernel.size();
  Dims strides = c.node().Ints("strides", Dims(sp, 1));
  Dims dil = c.node().Ints("dilations", Dims(sp, 1));
  Dims pads = c.node().Ints("pads", Dims(2 * sp, 0));
  std::string auto_pad = c.node().Text("auto_pad", "NOTSET");
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp) {
    return c.Fail("strides, dilations or pads do not match the " + std::to_string(sp) +
                  " spatial dims");
  }
  out_spatial->clear();
  for (size_t i = 0; i < sp; ++i) {
    int64_t in = x[2 + i];
    if (kernel[i] <= 0 || strides[i] <= 0 || dil[i] <= 0 || pads[i] < 0 || pads[i + sp] < 0) {
      return c.Fail("kernel, strides and dilations must be positive and pads non-negative");
    }
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out_spatial->push_back((in + strides[i] - 1) / strides[i]);
      continue;
    }
    int64_t pb = auto_pad == "VALID" ? 0 : pads[i], pe = auto_pad == "VALID" ? 0 : pads[i + sp];
    auto o = WindowOut(in, kernel[i], strides[i], dil[i], pb, pe, ceil_mode);
    if (!o || *o <= 0) {
      return c.Fail("kernel " + std::to_string(kernel[i]) + " does not fit spatial dim " +
                    std::to_string(in) + " (with padding)");
    }
    out_spatial->push_back(*o);
  }
  return Status();
}

bool AxesOf(const ShapeContext& c, size_t input_index, Dims* axes) {
  if (c.node().Has("axes")) {
    *axes = c.node().Ints("axes");
    return true;
  }
  if (c.in(input_index)) {
    if (!c.values(input_index)) return false;
    *axes = *c.values(input_index);
    return true;
  }
  axes->clear();
  return true;
}

Status PoolShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  const Dims& x = c.dims(0);
  Dims kernel = c.node().Ints("kernel_shape");
  if (x.size() < 3 || kernel.size() != x.size() - 2) {
    return c.Fail("kernel_shape does not match the input's " + std::to_string(x.size()) +
                  " dims");
  }
  Dims spatial;
  Status s = SlidingWindow(c, x, kernel, &spatial, c.node().Int("ceil_mode", 0) != 0);
  if (!s.ok()) return s;
  Dims out = {x[0], x[1]};
  out.insert(out.end(), spatial.begin(), spatial.end());
  s = c.Set(0, out, c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  return c.Set(1, out, c.batched(0), DType::int64);  // MaxPool's optional Indices.
}

Status GlobalPoolShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  if (c.rank(0) < 3) return c.Fail("global pooling needs an input of rank >= 3");
  Dims out = c.dims(0);
  std::fill(out.begin() + 2, out.end(), 1);
  return c.Set(0, out, c.batched(0), c.dtype(0));
}

Status ReduceShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  bool keep = c.node().Int("keepdims", 1) != 0;
  int64_t r = c.rank(0);
  std::vector<bool> reduce(r, axes.empty() && !c.node().Int("noop_with_empty_axes", 0));
  for (int64_t a : axes) {
    auto ax = ShapeContext::Axis(a, r);
    if (!ax) return c.Fail("axis " + std::to_string(a) + " out of range");
    reduce[*ax] = true;
  }
  Dims out;
  for (int64_t i = 0; i < r; ++i) {
    if (!reduce[i]) out.push_back(c.dims(0)[i]);
    else if (keep) out.push_back(1);
  }
  return c.Set(0, out, c.batched(0) && !reduce.empty() && !reduce[0], c.dtype(0));
}

void MaxPoolCost(const CostContext& c, Work& w, LayerCost&) {
  // The argmax indices, int64.
  if (c.any_grad()) w.saved_bytes += Elements(c.out(0)) * Count(8);
}

}  // namespace joulecast
