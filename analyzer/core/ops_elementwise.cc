// Activations, elementwise arithmetic (folding the integer values of shape plumbing) and data
// movement: shapes, and Dropout's mask.
#include <algorithm>
#include <cstdlib>

#include "analyzer/core/costs.h"
#include "analyzer/core/op_context.h"

namespace joulecast {

namespace {

// Value of a flat index into a broadcast operand.
int64_t BroadcastAt(const std::vector<int64_t>& v, const Dims& shape, const Dims& out,
                    int64_t flat) {
  if (v.size() == 1) return v[0];
  int64_t index = 0, stride = 1;
  for (size_t i = out.size(); i-- > 0;) {
    int64_t coord = flat % out[i];
    flat /= out[i];
    size_t off = out.size() - shape.size();
    if (i >= off) {
      int64_t d = shape[i - off];
      index += (d == 1 ? 0 : coord) * stride;
      stride *= d;
    }
  }
  return v[index];
}

// One output value from the operands' values at that position; false when it cannot be
// folded (overflow, division by zero).
using Fold = bool (*)(const std::vector<int64_t>& v, int64_t* r);

// Broadcasting arithmetic over all inputs; integer values are folded with `fold` when every
// input's values are known and the result is small.
Status Elementwise(ShapeContext& c, Fold fold, DType dt) {
  Dims out;
  bool any_batched = false;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.in(i)) continue;
    if (!c.known(i)) return Status();
    auto b = Broadcast(out, c.dims(i));
    if (!b) return c.Fail("inputs cannot be broadcast together");
    out = *b;
    any_batched |= c.batched(i);
  }
  Values vals;
  bool all_values = fold && c.num_inputs() > 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) all_values &= c.values(i) != nullptr;
  auto elems = CheckedProduct(out);
  if (all_values && elems && *elems <= 1 << 16 && IsInt(c.dtype(0))) {
    std::vector<int64_t> r(*elems), v(c.num_inputs());
    bool ok = true;
    for (int64_t k = 0; k < *elems && ok; ++k) {
      for (size_t i = 0; i < v.size(); ++i) v[i] = BroadcastAt(*c.values(i), c.dims(i), out, k);
      ok = fold(v, &r[k]);
    }
    if (ok) vals = std::move(r);
  }
  return c.Set(0, out, any_batched, dt, vals);
}

bool FoldAdd(const std::vector<int64_t>& v, int64_t* r) {
  return !__builtin_add_overflow(v[0], v[1], r);
}
bool FoldSub(const std::vector<int64_t>& v, int64_t* r) {
  return !__builtin_sub_overflow(v[0], v[1], r);
}
bool FoldMul(const std::vector<int64_t>& v, int64_t* r) {
  return !__builtin_mul_overflow(v[0], v[1], r);
}
bool FoldDiv(const std::vector<int64_t>& v, int64_t* r) {
  if (v[1] == 0 || (v[0] == INT64_MIN && v[1] == -1)) return false;
  *r = v[0] / v[1];
  return true;
}
bool FoldNeg(const std::vector<int64_t>& v, int64_t* r) {
  if (v[0] == INT64_MIN) return false;
  *r = -v[0];
  return true;
}
bool FoldAbs(const std::vector<int64_t>& v, int64_t* r) {
  if (v[0] == INT64_MIN) return false;
  *r = std::llabs(v[0]);
  return true;
}
bool FoldSame(const std::vector<int64_t>& v, int64_t* r) {
  *r = v[0];
  return true;
}
bool FoldEqual(const std::vector<int64_t>& v, int64_t* r) {
  *r = v[0] == v[1];
  return true;
}
bool FoldWhere(const std::vector<int64_t>& v, int64_t* r) {
  *r = v[0] ? v[1] : v[2];
  return true;
}
bool FoldMax(const std::vector<int64_t>& v, int64_t* r) {
  *r = *std::max_element(v.begin(), v.end());
  return true;
}
bool FoldMin(const std::vector<int64_t>& v, int64_t* r) {
  *r = *std::min_element(v.begin(), v.end());
  return true;
}

}  // namespace

Status SameAsInput(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Values v;
  if (c.values(0)) v = *c.values(0);
  for (size_t k = 0; k < c.num_outputs(); ++k) {
    Status s = c.Set(k, c.dims(0), c.batched(0), c.dtype(0), k == 0 ? v : std::nullopt);
    if (!s.ok()) return s;
  }
  return Status();
}

Status AddShape(ShapeContext& c) { return Elementwise(c, FoldAdd, c.dtype(0)); }
Status SubShape(ShapeContext& c) { return Elementwise(c, FoldSub, c.dtype(0)); }
Status MulShape(ShapeContext& c) { return Elementwise(c, FoldMul, c.dtype(0)); }
Status DivShape(ShapeContext& c) { return Elementwise(c, FoldDiv, c.dtype(0)); }
Status NegShape(ShapeContext& c) { return Elementwise(c, FoldNeg, c.dtype(0)); }
Status AbsShape(ShapeContext& c) { return Elementwise(c, FoldAbs, c.dtype(0)); }
Status RoundShape(ShapeContext& c) { return Elementwise(c, FoldSame, c.dtype(0)); }
Status EqualShape(ShapeContext& c) { return Elementwise(c, FoldEqual, DType::boolean); }
Status WhereShape(ShapeContext& c) { return Elementwise(c, FoldWhere, c.dtype(1)); }
Status MaxShape(ShapeContext& c) { return Elementwise(c, FoldMax, c.dtype(0)); }
Status MinShape(ShapeContext& c) { return Elementwise(c, FoldMin, c.dtype(0)); }
Status ArithmeticShape(ShapeContext& c) { return Elementwise(c, nullptr, c.dtype(0)); }

Status ConcatShape(ShapeContext& c) {
  bool any_batched = false;
  Dims out;
  std::vector<int64_t> vals;
  bool all_values = true;
  int64_t axis = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.known(i)) return Status();
    if (i == 0) {
      out = c.dims(0);
      auto a = ShapeContext::Axis(c.node().Int("axis", 0), c.rank(0));
      if (!a) return c.Fail("axis out of range");
      axis = *a;
    } else {
      if (c.rank(i) != static_cast<int64_t>(out.size())) return c.Fail("inputs differ in rank");
      for (size_t d = 0; d < out.size(); ++d) {
        if (static_cast<int64_t>(d) != axis && c.dims(i)[d] != out[d]) {
          return c.Fail("inputs differ in dim " + std::to_string(d) + " besides the axis");
        }
      }
      auto sum = CheckedAdd(out[axis], c.dims(i)[axis]);
      if (!sum) return c.Fail("concatenated dim overflows");
      out[axis] = *sum;
    }
    any_batched |= c.batched(i);
    if (c.values(i) && c.rank(i) <= 1) vals.insert(vals.end(), c.values(i)->begin(), c.values(i)->end());
    else all_values = false;
  }
  if (out.empty() && c.num_inputs() == 0) return c.Fail("has no inputs");
  return c.Set(0, out, any_batched && axis != 0, c.dtype(0),
               all_values ? Values(std::move(vals)) : std::nullopt);
}

Status SplitShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  auto axis = ShapeContext::Axis(c.node().Int("axis", 0), c.rank(0));
  if (!axis) return c.Fail("axis out of range");
  int64_t total = c.dims(0)[*axis];
  Dims split = c.node().Ints("split");
  if (split.empty() && c.in(1)) {
    if (!c.values(1)) return Status();
    split = *c.values(1);
  }
  size_t n = c.num_outputs();
  if (split.empty()) {
    const auto parts = static_cast<int64_t>(n);
    if (n > 0 && c.node().Has("num_outputs") && total % parts != 0) {
      // Opset 18: equal parts of ceil(total / n), the last one smaller.
      const int64_t part = (total + parts - 1) / parts;
      if (part * (parts - 1) >= total) return c.Fail("dim " + std::to_string(total) +
                                                     " does not split into " +
                                                     std::to_string(parts) + " parts");
      split.assign(n, part);
      split.back() = total - part * (parts - 1);
    } else if (n == 0 || total % parts != 0) {
      return c.Fail("dim " + std::to_string(total) + " does not split evenly");
    } else {
      split.assign(n, total / parts);
    }
  }
  std::optional<int64_t> sum = 0;
  for (int64_t s : split) {
    if (s < 0) return c.Fail("split sizes must not be negative");
    if (sum) sum = CheckedAdd(*sum, s);
  }
  if (split.size() != n || sum != total) return c.Fail("split sizes do not add up to the dim");
  for (size_t k = 0; k < n; ++k) {
    Dims out = c.dims(0);
    out[*axis] = split[k];
    Status s = c.Set(k, out, c.batched(0) && *axis != 0, c.dtype(0));
    if (!s.ok()) return s;
  }
  return Status();
}

Status PadShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Dims pads = c.node().Ints("pads");
  if (pads.empty() && c.in(1)) {
    if (!c.values(1)) return Status();
    pads = *c.values(1);
  }
  int64_t r = c.rank(0);
  if (static_cast<int64_t>(pads.size()) != 2 * r) return c.Fail("pads do not match the rank");
  Dims out = c.dims(0);
  for (int64_t i = 0; i < r; ++i) {
    auto o = CheckedAdd(out[i], pads[i]);
    if (o) o = CheckedAdd(*o, pads[i + r]);
    if (!o) return c.Fail("padded size overflows");
    out[i] = *o;
  }
  return c.Set(0, out, c.batched(0) && pads[0] == 0 && pads[r] == 0, c.dtype(0));
}

Status ResizeShape(ShapeContext& c) {
  // Only the `sizes` form can be computed from integer values; the float `scales` form relies
  // on the front end's shapes (ONNX's inference handles constant scales).
  if (!c.known(0)) return Status();
  if (!c.values(3)) return Status();
  const auto& sizes = *c.values(3);
  if (static_cast<int64_t>(sizes.size()) != c.rank(0)) return c.Fail("sizes do not match the rank");
  return c.Set(0, sizes, c.batched(0), c.dtype(0));
}

// Upsample gives only scales: its shape comes from the front end.
Status UpsampleShape(ShapeContext&) { return Status(); }

Status ExpandShape(ShapeContext& c) {
  if (!c.known(0) || !c.values(1)) return Status();
  auto out = Broadcast(c.dims(0), *c.values(1));
  if (!out) return c.Fail("shape cannot be broadcast to the input");
  return c.Set(0, *out, c.batched(0), c.dtype(0));
}

Status TileShape(ShapeContext& c) {
  if (!c.known(0) || !c.values(1)) return Status();
  const auto& rep = *c.values(1);
  if (static_cast<int64_t>(rep.size()) != c.rank(0)) return c.Fail("repeats do not match the rank");
  Dims out = c.dims(0);
  for (size_t i = 0; i < out.size(); ++i) {
    auto p = CheckedMul(out[i], rep[i]);
    if (!p || rep[i] < 0) return c.Fail("repeats are negative or overflow");
    out[i] = *p;
  }
  return c.Set(0, out, c.batched(0) && rep[0] == 1, c.dtype(0));
}

Status DropoutShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Status s = c.Set(0, c.dims(0), c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  return c.Set(1, c.dims(0), c.batched(0), DType::boolean);
}

void DropoutCost(const CostContext& c, Work& w, LayerCost&) {
  // The mask, one byte per element.
  if (c.any_grad()) w.saved_bytes += Elements(c.out(0));
}

}  // namespace joulecast
