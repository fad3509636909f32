// Views and shape plumbing: shapes, and the folded values of small integer tensors.
#include <algorithm>
#include <cmath>
#include <span>

#include "analyzer/core/op_context.h"

namespace joulecast {

Status TransposeShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  int64_t r = c.rank(0);
  Dims perm = c.node().Ints("perm");
  if (perm.empty()) {
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != r) return c.Fail("perm does not match the rank");
  std::vector<bool> seen(r, false);
  Dims out;
  for (int64_t p : perm) {
    if (p < 0 || p >= r || seen[p]) return c.Fail("perm is not a permutation");
    seen[p] = true;
    out.push_back(c.dims(0)[p]);
  }
  return c.Set(0, out, c.batched(0) && perm[0] == 0, c.dtype(0));
}

Status FlattenShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  int64_t r = c.rank(0);
  int64_t axis = c.node().Int("axis", 1);
  if (axis < -r || axis > r) return c.Fail("axis out of range");
  if (axis < 0) axis += r;
  auto a = CheckedProduct(std::span(c.dims(0)).first(axis));
  auto b = CheckedProduct(std::span(c.dims(0)).subspan(axis));
  if (!a || !b) return c.Fail("flattened size overflows");
  return c.Set(0, {*a, *b}, c.batched(0) && axis >= 1 && c.dims(0)[0] == *a, c.dtype(0),
               c.values(0) ? Values(*c.values(0)) : std::nullopt);
}

Status ReshapeShape(ShapeContext& c) {
  if (Status s = c.Require(c.node().Has("shape") ? 1 : 2); !s.ok()) return s;
  if (!c.known(0)) return Status();
  Dims target;
  if (c.node().Has("shape")) {
    target = c.node().Ints("shape");  // opset < 5
  } else {
    if (!c.values(1)) return Status();
    target = *c.values(1);
  }
  bool allowzero = c.node().Int("allowzero", 0) != 0;
  auto total = CheckedProduct(c.dims(0));
  if (!total) return c.Fail("input size overflows");
  int64_t known = 1;
  int infer_at = -1;
  Dims out = target;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      if (i >= c.dims(0).size()) return c.Fail("shape copies a dim the input does not have");
      out[i] = c.dims(0)[i];
    }
    if (out[i] == -1) {
      if (infer_at >= 0) return c.Fail("shape has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return c.Fail("shape has a negative dim");
    auto p = CheckedMul(known, out[i]);
    if (!p) return c.Fail("shape overflows");
    known = *p;
  }
  if (infer_at >= 0) {
    if (known == 0 || *total % known != 0) {
      return c.Fail("cannot reshape " + std::to_string(*total) + " elements");
    }
    out[infer_at] = *total / known;
  } else if (known != *total) {
    return c.Fail("shape holds " + std::to_string(known) + " elements but the input has " +
                  std::to_string(*total));
  }
  bool b = c.batched(0) && !out.empty() && out[0] == c.dims(0)[0];
  return c.Set(0, out, b, c.dtype(0), c.values(0) ? Values(*c.values(0)) : std::nullopt);
}

Status SqueezeShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  int64_t r = c.rank(0);
  std::vector<bool> drop(r, false);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) drop[i] = c.dims(0)[i] == 1;
  }
  for (int64_t a : axes) {
    auto ax = ShapeContext::Axis(a, r);
    if (!ax || c.dims(0)[*ax] != 1) return c.Fail("squeezes an axis that is not of size 1");
    drop[*ax] = true;
  }
  Dims out;
  for (int64_t i = 0; i < r; ++i) {
    if (!drop[i]) out.push_back(c.dims(0)[i]);
  }
  return c.Set(0, out, c.batched(0) && r > 0 && !drop[0], c.dtype(0),
               c.values(0) ? Values(*c.values(0)) : std::nullopt);
}

Status UnsqueezeShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  int64_t r = c.rank(0) + static_cast<int64_t>(axes.size());
  std::vector<bool> add(r, false);
  for (int64_t a : axes) {
    auto ax = ShapeContext::Axis(a, r);
    if (!ax || add[*ax]) return c.Fail("axes out of range or repeated");
    add[*ax] = true;
  }
  Dims out;
  size_t next = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(add[i] ? 1 : c.dims(0)[next++]);
  return c.Set(0, out, c.batched(0) && !add[0], c.dtype(0),
               c.values(0) ? Values(*c.values(0)) : std::nullopt);
}

Status ConstantShape(ShapeContext& c) {
  // The front end sets a Constant's output shape and values; nothing to infer.
  (void)c;
  return Status();
}

Status ShapeShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  int64_t r = c.rank(0);
  int64_t start = c.node().Int("start", 0), end = c.node().Int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  std::vector<int64_t> v(c.dims(0).begin() + start, c.dims(0).begin() + end);
  return c.Set(0, {static_cast<int64_t>(v.size())}, false, DType::int64, v);
}

Status SizeShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  auto n = CheckedProduct(c.dims(0));
  if (!n) return c.Fail("size overflows");
  return c.Set(0, {}, false, DType::int64, std::vector<int64_t>{*n});
}

Status GatherShape(ShapeContext& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  int64_t r = c.rank(0);
  auto axis = ShapeContext::Axis(c.node().Int("axis", 0), r);
  if (!axis) return c.Fail("axis out of range");
  Dims out(c.dims(0).begin(), c.dims(0).begin() + *axis);
  out.insert(out.end(), c.dims(1).begin(), c.dims(1).end());
  out.insert(out.end(), c.dims(0).begin() + *axis + 1, c.dims(0).end());
  Values vals;
  if (c.values(0) && c.values(1) && r == 1) {
    std::vector<int64_t> v;
    for (int64_t idx : *c.values(1)) {
      int64_t n = c.dims(0)[0];
      if (idx < -n || idx >= n) return c.Fail("index " + std::to_string(idx) + " out of range");
      v.push_back((*c.values(0))[idx < 0 ? idx + n : idx]);
    }
    vals = std::move(v);
  }
  return c.Set(0, out, c.batched(0) && *axis != 0, c.dtype(0), vals);
}

Status SliceShape(ShapeContext& c) {
  if (Status s = c.Require(c.node().Has("starts") ? 1 : 3); !s.ok()) return s;
  if (!c.known(0)) return Status();
  int64_t r = c.rank(0);
  Dims starts, ends, axes, steps;
  if (c.node().Has("starts")) {  // opset < 10
    starts = c.node().Ints("starts");
    ends = c.node().Ints("ends");
    axes = c.node().Ints("axes");
  } else {
    if (!c.values(1) || !c.values(2)) return Status();
    starts = *c.values(1);
    ends = *c.values(2);
    if (c.in(3)) {
      if (!c.values(3)) return Status();
      axes = *c.values(3);
    }
    if (c.in(4)) {
      if (!c.values(4)) return Status();
      steps = *c.values(4);
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return c.Fail("starts, ends, axes and steps differ in length");
  }
  Dims out = c.dims(0);
  Dims first(r, 0), step(r, 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto ax = ShapeContext::Axis(axes[i], r);
    if (!ax) return c.Fail("axis out of range");
    int64_t d = c.dims(0)[*ax], s = steps[i];
    if (s == 0 || s == INT64_MIN) return c.Fail("step is zero or out of range");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    int64_t n;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      n = e > b ? (e - b - 1) / s + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      n = b > e ? (b - e - 1) / -s + 1 : 0;
    }
    out[*ax] = n;
    first[*ax] = b;
    step[*ax] = s;
  }
  Values vals;
  if (c.values(0) && r == 1) {
    std::vector<int64_t> v;
    for (int64_t k = 0; k < out[0]; ++k) v.push_back((*c.values(0))[first[0] + k * step[0]]);
    vals = std::move(v);
  }
  return c.Set(0, out, c.batched(0) && out[0] == c.dims(0)[0], c.dtype(0), vals);
}

Status CastShape(ShapeContext& c) {
  if (!c.known(0)) return Status();
  DType to = DTypeFromOnnx(static_cast<int>(c.node().Int("to", 1)));
  bool keep = c.values(0) && IsInt(to);
  return c.Set(0, c.dims(0), c.batched(0), to, keep ? Values(*c.values(0)) : std::nullopt);
}

Status ConstantOfShapeShape(ShapeContext& c) {
  if (!c.values(0)) return Status();
  const Dims& out = *c.values(0);
  auto n = CheckedProduct(out);
  if (!n) return c.Fail("shape overflows");
  Values vals;
  int64_t fill = c.node().Int("value", 0);
  if (*n <= 1 << 16) vals = std::vector<int64_t>(*n, fill);
  return c.Set(0, out, false, c.node().Has("value") ? DType::int64 : DType::float32, vals);
}

Status RangeShape(ShapeContext& c) {
  if (!c.values(0) || !c.values(1) || !c.values(2)) return Status();
  int64_t start = c.values(0)->at(0), limit = c.values(1)->at(0), delta = c.values(2)->at(0);
  if (delta == 0) return c.Fail("delta is zero");
  // ceil((limit - start) / delta) in floating point avoids overflow of the difference.
  double steps = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                           static_cast<double>(delta));
  if (steps > static_cast<double>(1 << 30)) return c.Fail("range is absurdly long");
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(steps));
  if (n > 1 << 16) return c.Set(0, {n}, false, c.dtype(0));
  std::vector<int64_t> v;
  for (int64_t k = 0; k < n; ++k) v.push_back(start + k * delta);
  return c.Set(0, {n}, false, c.dtype(0), v);
}

Status UnknownShape(ShapeContext&) { return Status(); }

}  // namespace joulecast
