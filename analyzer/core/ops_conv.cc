// Convolutions and matrix products: shapes, MACs and the GEMM each layer is.
#include <algorithm>

#include "analyzer/core/costs.h"
#include "analyzer/core/op_context.h"

namespace joulecast {

namespace {

// LayerCost::gemm_m/n/k/groups and in_channels.
void SetGemm(LayerCost& lc, Count m, int64_t n, Count k, int64_t groups, int64_t in_channels) {
  lc.gemm_m = m.overflowed() ? 0 : m.value();
  lc.gemm_n = n;
  lc.gemm_k = k.overflowed() ? 0 : k.value();
  lc.groups = groups;
  lc.in_channels = in_channels;
}

// Forward MACs, and the backward's for each operand that takes a gradient. `second_is_weight`
// is false for a product of two activations, whose gradients are both input gradients.
void AddMacs(const CostContext& c, Work& w, Count macs, bool second_is_weight = true) {
  w.macs_fwd += macs;
  if (c.grad(0)) w.macs_bwd_input += macs;
  if (c.grad(1)) (second_is_weight ? w.macs_bwd_weight : w.macs_bwd_input) += macs;
}

}  // namespace

Status ConvShape(ShapeContext& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  if (x.size() < 3 || w.size() != x.size()) {
    return c.Fail("input rank " + std::to_string(x.size()) + " and weight rank " +
                  std::to_string(w.size()) + " do not make a convolution");
  }
  int64_t group = c.node().Int("group", 1);
  auto expected = CheckedMul(w[1], group);
  if (group <= 0 || w[0] % group != 0 || !expected || x[1] != *expected) {
    return c.Fail("input has " + std::to_string(x[1]) + " channels but weight expects " +
                  std::to_string(w[1]) + " x group " + std::to_string(group));
  }
  Dims kernel(w.begin() + 2, w.end());
  Dims spatial;
  Status s = SlidingWindow(c, x, kernel, &spatial, false);
  if (!s.ok()) return s;
  Dims out = {x[0], w[0]};
  out.insert(out.end(), spatial.begin(), spatial.end());
  return c.Set(0, out, c.batched(0), c.dtype(0));
}

Status ConvTransposeShape(ShapeContext& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  if (x.size() < 3 || w.size() != x.size()) return c.Fail("input and weight ranks differ");
  int64_t group = c.node().Int("group", 1);
  if (group <= 0 || x[1] != w[0]) {
    return c.Fail("input has " + std::to_string(x[1]) + " channels but weight expects " +
                  std::to_string(w[0]));
  }
  size_t sp = x.size() - 2;
  Dims strides = c.node().Ints("strides", Dims(sp, 1));
  Dims dil = c.node().Ints("dilations", Dims(sp, 1));
  Dims pads = c.node().Ints("pads", Dims(2 * sp, 0));
  Dims outpad = c.node().Ints("output_padding", Dims(sp, 0));
  Dims out_shape = c.node().Ints("output_shape");
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp || outpad.size() != sp) {
    return c.Fail("strides, dilations, pads or output_padding do not match the spatial dims");
  }
  for (size_t i = 0; i < 2 * sp; ++i) {
    if (pads[i] < 0 || (i < sp && (strides[i] <= 0 || dil[i] <= 0 || outpad[i] < 0))) {
      return c.Fail("strides and dilations must be positive, pads and output_padding not negative");
    }
  }
  auto channels = CheckedMul(w[1], group);
  if (!channels) return c.Fail("output channels overflow");
  std::string auto_pad = c.node().Text("auto_pad", "NOTSET");
  Dims out = {x[0], *channels};
  for (size_t i = 0; i < sp; ++i) {
    if (!out_shape.empty()) {
      if (out_shape.size() < sp) return c.Fail("output_shape has fewer dims than the input");
      out.push_back(out_shape[out_shape.size() - sp + i]);
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      auto o = CheckedMul(x[2 + i], strides[i]);
      if (!o) return c.Fail("output size overflows");
      out.push_back(*o);
    } else {
      // stride * (in - 1) + output_padding + dilation * (kernel - 1) + 1 - pads, checked.
      auto a = CheckedMul(strides[i], x[2 + i] - 1);
      auto b = CheckedMul(w[2 + i] - 1, dil[i]);
      std::optional<int64_t> o;
      if (a && b) o = CheckedAdd(*a, *b);
      if (o) o = CheckedAdd(*o, outpad[i]);
      if (o) o = CheckedAdd(*o, 1 - pads[i]);
      if (o) o = CheckedAdd(*o, -pads[i + sp]);
      if (!o) return c.Fail("output size overflows");
      out.push_back(*o);
    }
  }
  return c.Set(0, out, c.batched(0), c.dtype(0));
}

Status GemmShape(ShapeContext& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  if (c.rank(0) != 2 || c.rank(1) != 2) return c.Fail("Gemm needs rank-2 inputs");
  Dims a = c.dims(0), b = c.dims(1);
  if (c.node().Int("transA", 0)) std::swap(a[0], a[1]);
  if (c.node().Int("transB", 0)) std::swap(b[0], b[1]);
  if (a[1] != b[0]) {
    return c.Fail("inner dimensions differ: " + std::to_string(a[1]) + " vs " +
                  std::to_string(b[0]));
  }
  return c.Set(0, {a[0], b[1]}, c.batched(0) && !c.node().Int("transA", 0), c.dtype(0));
}

Status MatMulShape(ShapeContext& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  Dims a = c.dims(0), b = c.dims(1);
  if (a.empty() || b.empty()) return c.Fail("MatMul needs inputs of rank >= 1");
  bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a[a.size() - 1] != b[b.size() - 2]) {
    return c.Fail("inner dimensions differ: " + std::to_string(a.back()) + " vs " +
                  std::to_string(b[b.size() - 2]));
  }
  auto batch = Broadcast(Dims(a.begin(), a.end() - 2), Dims(b.begin(), b.end() - 2));
  if (!batch) return c.Fail("batch dimensions cannot be broadcast");
  Dims out = *batch;
  if (!a1) out.push_back(a[a.size() - 2]);
  if (!b1) out.push_back(b.back());
  return c.Set(0, out, c.batched(0) && c.rank(0) > 1, c.dtype(0));
}

void ConvCost(const CostContext& c, Work& w, LayerCost& lc) {
  const int64_t groups = c.node().Int("group", 1);
  const Tensor& x = c.in(0);
  if (groups > 1) lc.variant = x.dims.size() >= 2 && groups == x.dims[1] ? "depthwise" : "grouped";
  else if (!c.grad(0)) lc.variant = "input";
  const Tensor& wt = c.in(1);
  Count per_output = 1;
  for (size_t i = 1; i < wt.dims.size(); ++i) per_output = per_output * Count(wt.dims[i]);
  const Tensor& out = c.out(0);
  // Output positions (all dims but channels) x input channels x kernel area.
  Count positions = 1;
  for (size_t i = 0; i < out.dims.size(); ++i) {
    if (i != 1) positions = positions * Count(out.dims[i]);
  }
  w.im2col_elements += positions * Count(groups) * per_output;
  SetGemm(lc, positions, out.dims.size() >= 2 ? out.dims[1] / std::max<int64_t>(1, groups) : 0,
          per_output, groups, wt.dims.size() >= 2 ? wt.dims[1] : 0);
  AddMacs(c, w, Elements(out) * per_output);
}

void ConvTransposeCost(const CostContext& c, Work& w, LayerCost&) {
  const Tensor& wt = c.in(1);
  Count per_input = 1;
  for (size_t i = 1; i < wt.dims.size(); ++i) per_input = per_input * Count(wt.dims[i]);
  AddMacs(c, w, Elements(c.in(0)) * per_input);
}

void GemmCost(const CostContext& c, Work& w, LayerCost& lc) {
  if (!c.grad(0)) lc.variant = "input";
  const Tensor& a = c.in(0);
  int64_t k = c.node().Int("transA", 0) ? a.dims[0] : a.dims[1];
  w.im2col_elements += Elements(a);
  const Tensor& out = c.out(0);
  if (out.dims.size() == 2) SetGemm(lc, Count(out.dims[0]), out.dims[1], Count(k), 1, k);
  AddMacs(c, w, Elements(out) * Count(k));
}

void MatMulCost(const CostContext& c, Work& w, LayerCost& lc) {
  if (!c.grad(0)) lc.variant = "input";
  const Tensor& a = c.in(0);
  w.im2col_elements += Elements(a);
  const Tensor& out = c.out(0);
  if (!out.dims.empty()) {
    SetGemm(lc, Count(Elements(out).value() / std::max<int64_t>(1, out.dims.back())),
            out.dims.back(), Count(a.dims.back()), 1, a.dims.back());
  }
  AddMacs(c, w, Elements(out) * Count(a.dims.back()), !c.from_input(1));
}

}  // namespace joulecast
