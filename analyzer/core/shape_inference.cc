#include "analyzer/core/shape_inference.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>

#include "analyzer/core/checked_math.h"

namespace joulecast {

namespace {

using Dims = std::vector<int64_t>;
using Values = std::optional<std::vector<int64_t>>;

// What one shape function sees of its node: inputs, attributes, and a way to set outputs.
class Ctx {
 public:
  Ctx(Graph& g, int node, const InferenceOptions& o) : g_(g), n_(g.nodes[node]), opt_(o) {}

  const Node& node() const { return n_; }
  size_t num_inputs() const { return n_.inputs.size(); }
  size_t num_outputs() const { return n_.outputs.size(); }
  const Tensor* in(size_t i) const {
    return i < n_.inputs.size() && n_.inputs[i] >= 0 ? &g_.tensors[n_.inputs[i]] : nullptr;
  }
  bool known(size_t i) const { return in(i) && in(i)->shape_known; }
  const Dims& dims(size_t i) const { return in(i)->dims; }
  int64_t rank(size_t i) const { return static_cast<int64_t>(dims(i).size()); }
  bool batched(size_t i) const { return in(i) && in(i)->batched; }
  /// Folded values of input i, or nullptr.
  const std::vector<int64_t>* values(size_t i) const {
    const Tensor* t = in(i);
    return t && t->int_values ? &*t->int_values : nullptr;
  }
  DType dtype(size_t i) const { return in(i) ? in(i)->dtype : DType::undefined; }
  bool has_output(size_t k) const { return k < n_.outputs.size() && n_.outputs[k] >= 0; }

  Status Fail(const std::string& what) const {
    return Status::Error("node '" + n_.name + "' (" + n_.op_type + "): " + what);
  }

  /// Sets output k. An output that already has a shape (from the front end) keeps it; folded
  /// values are recorded either way when they are small enough.
  Status Set(size_t k, Dims d, bool is_batched, DType dt, Values vals = std::nullopt) {
    if (!has_output(k)) return Status();
    for (int64_t v : d) {
      if (v < 0) return Fail("computes a negative dimension for output " + std::to_string(k));
    }
    auto elems = CheckedProduct(d);
    if (!elems || *elems > opt_.max_tensor_elements) {
      return Fail("output " + std::to_string(k) + " has an absurd number of elements");
    }
    Tensor& t = g_.tensors[n_.outputs[k]];
    if (!t.shape_known) {
      t.dims = std::move(d);
      t.shape_known = true;
    }
    t.batched = is_batched;
    if (t.dtype == DType::undefined || t.dtype == DType::float32) {
      if (dt != DType::undefined) t.dtype = dt;
    }
    if (vals && static_cast<int64_t>(vals->size()) <= opt_.max_folded_elements &&
        static_cast<int64_t>(vals->size()) == *elems) {
      t.int_values = std::move(vals);
    }
    return Status();
  }

  /// Axis in [-r, r) normalised to [0, r); nullopt when out of range.
  static std::optional<int64_t> Axis(int64_t axis, int64_t r) {
    if (axis < -r || axis >= r) return std::nullopt;
    return axis < 0 ? axis + r : axis;
  }

 private:
  Graph& g_;
  Node& n_;
  const InferenceOptions& opt_;
};

bool IsInt(DType t) { return t == DType::int64 || t == DType::int32 || t == DType::int8 ||
                             t == DType::uint8 || t == DType::boolean; }

// Axes given as an attribute (older opsets) or as input `input_index` (newer opsets).
// Returns false when they are given as an input whose values are unknown.
bool AxesOf(const Ctx& c, size_t input_index, Dims* axes) {
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

Status SameAsInput(Ctx& c) {
  if (!c.known(0)) return Status();
  Values v;
  if (c.values(0)) v = *c.values(0);
  for (size_t k = 0; k < c.num_outputs(); ++k) {
    Status s = c.Set(k, c.dims(0), c.batched(0), c.dtype(0), k == 0 ? v : std::nullopt);
    if (!s.ok()) return s;
  }
  return Status();
}

// Numpy broadcasting of two shapes.
std::optional<Dims> Broadcast(const Dims& a, const Dims& b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x != y && x != 1 && y != 1) return std::nullopt;
    out[i] = x == 1 ? y : x;
  }
  return out;
}

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

Status Elementwise(Ctx& c) {
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
  DType dt = c.node().op == Op::Where ? c.dtype(1) : c.dtype(0);
  if (c.node().op == Op::Equal) dt = DType::boolean;
  // Fold integer arithmetic used by shape plumbing.
  Values vals;
  bool all_values = c.num_inputs() > 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) all_values &= c.values(i) != nullptr;
  auto elems = CheckedProduct(out);
  if (all_values && elems && *elems <= 1 << 16 && IsInt(c.dtype(0))) {
    std::vector<int64_t> r(*elems);
    bool ok = true;
    for (int64_t k = 0; k < *elems && ok; ++k) {
      auto at = [&](size_t i) { return BroadcastAt(*c.values(i), c.dims(i), out, k); };
      int64_t a = at(0);
      switch (c.node().op) {
        case Op::Add: ok = !__builtin_add_overflow(a, at(1), &r[k]); break;
        case Op::Sub: ok = !__builtin_sub_overflow(a, at(1), &r[k]); break;
        case Op::Mul: ok = !__builtin_mul_overflow(a, at(1), &r[k]); break;
        case Op::Div: ok = at(1) != 0 && !(a == INT64_MIN && at(1) == -1);
          if (ok) r[k] = a / at(1);
          break;
        case Op::Equal: r[k] = a == at(1); break;
        case Op::Where: r[k] = a ? at(1) : at(2); break;
        case Op::Max: case Op::Min: {
          r[k] = a;
          for (size_t i = 1; i < c.num_inputs(); ++i) {
            r[k] = c.node().op == Op::Max ? std::max(r[k], at(i)) : std::min(r[k], at(i));
          }
          break;
        }
        case Op::Neg: ok = a != INT64_MIN; r[k] = -a; break;
        case Op::Abs: ok = a != INT64_MIN; r[k] = std::llabs(a); break;
        case Op::Floor: case Op::Ceil: r[k] = a; break;
        default: ok = false;
      }
    }
    if (ok) vals = std::move(r);
  }
  return c.Set(0, out, any_batched, dt, vals);
}

// Output size of a sliding window along one axis, PyTorch/ONNX rules.
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

// Shared by Conv and the pools: spatial output dims from kernel, strides, pads, auto_pad.
Status SlidingWindow(Ctx& c, const Dims& x, const Dims& kernel, Dims* out_spatial,
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

Status ConvShape(Ctx& c) {
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

Status ConvTransposeShape(Ctx& c) {
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

Status GemmShape(Ctx& c) {
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

Status MatMulShape(Ctx& c) {
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

Status NormShape(Ctx& c) {
  if (!c.known(0)) return Status();
  const Dims& x = c.dims(0);
  Status s = c.Set(0, x, c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  if (c.node().op == Op::BatchNormalization) {
    if (x.size() < 2) return c.Fail("BatchNormalization needs an input of rank >= 2");
    for (size_t k = 1; k < c.num_outputs(); ++k) {
      s = c.Set(k, {x[1]}, false, c.dtype(0));
      if (!s.ok()) return s;
    }
  } else if (c.node().op == Op::LayerNormalization) {
    auto axis = Ctx::Axis(c.node().Int("axis", -1), c.rank(0));
    if (!axis) return c.Fail("axis out of range");
    Dims stat(x.begin(), x.begin() + *axis);
    stat.resize(x.size(), 1);
    for (size_t k = 1; k < c.num_outputs(); ++k) {
      s = c.Set(k, stat, c.batched(0), DType::float32);
      if (!s.ok()) return s;
    }
  }
  return Status();
}

Status PoolShape(Ctx& c) {
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

Status GlobalPoolShape(Ctx& c) {
  if (!c.known(0)) return Status();
  if (c.rank(0) < 3) return c.Fail("global pooling needs an input of rank >= 3");
  Dims out = c.dims(0);
  std::fill(out.begin() + 2, out.end(), 1);
  return c.Set(0, out, c.batched(0), c.dtype(0));
}

Status ReduceShape(Ctx& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  bool keep = c.node().Int("keepdims", 1) != 0;
  int64_t r = c.rank(0);
  std::vector<bool> reduce(r, axes.empty() && !c.node().Int("noop_with_empty_axes", 0));
  for (int64_t a : axes) {
    auto ax = Ctx::Axis(a, r);
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

Status ConcatShape(Ctx& c) {
  bool any_batched = false;
  Dims out;
  std::vector<int64_t> vals;
  bool all_values = true;
  int64_t axis = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.known(i)) return Status();
    if (i == 0) {
      out = c.dims(0);
      auto a = Ctx::Axis(c.node().Int("axis", 0), c.rank(0));
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

Status SplitShape(Ctx& c) {
  if (!c.known(0)) return Status();
  auto axis = Ctx::Axis(c.node().Int("axis", 0), c.rank(0));
  if (!axis) return c.Fail("axis out of range");
  int64_t total = c.dims(0)[*axis];
  Dims split = c.node().Ints("split");
  if (split.empty() && c.in(1)) {
    if (!c.values(1)) return Status();
    split = *c.values(1);
  }
  size_t n = c.num_outputs();
  if (split.empty()) {
    if (n == 0 || total % static_cast<int64_t>(n) != 0) {
      return c.Fail("dim " + std::to_string(total) + " does not split evenly");
    }
    split.assign(n, total / static_cast<int64_t>(n));
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

Status TransposeShape(Ctx& c) {
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

Status PadShape(Ctx& c) {
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

Status ResizeShape(Ctx& c) {
  // Only the `sizes` form can be computed from integer values; the float `scales` form relies
  // on the front end's shapes (ONNX's inference handles constant scales).
  if (!c.known(0)) return Status();
  size_t sizes_input = c.node().op == Op::Resize ? 3 : 99;
  if (!c.values(sizes_input)) return Status();
  const auto& sizes = *c.values(sizes_input);
  if (static_cast<int64_t>(sizes.size()) != c.rank(0)) return c.Fail("sizes do not match the rank");
  return c.Set(0, sizes, c.batched(0), c.dtype(0));
}

Status ExpandShape(Ctx& c) {
  if (!c.known(0) || !c.values(1)) return Status();
  auto out = Broadcast(c.dims(0), *c.values(1));
  if (!out) return c.Fail("shape cannot be broadcast to the input");
  return c.Set(0, *out, c.batched(0), c.dtype(0));
}

Status TileShape(Ctx& c) {
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

Status DropoutShape(Ctx& c) {
  if (!c.known(0)) return Status();
  Status s = c.Set(0, c.dims(0), c.batched(0), c.dtype(0));
  if (!s.ok()) return s;
  return c.Set(1, c.dims(0), c.batched(0), DType::boolean);
}

Status FlattenShape(Ctx& c) {
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

Status ReshapeShape(Ctx& c) {
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

Status SqueezeShape(Ctx& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  int64_t r = c.rank(0);
  std::vector<bool> drop(r, false);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) drop[i] = c.dims(0)[i] == 1;
  }
  for (int64_t a : axes) {
    auto ax = Ctx::Axis(a, r);
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

Status UnsqueezeShape(Ctx& c) {
  if (!c.known(0)) return Status();
  Dims axes;
  if (!AxesOf(c, 1, &axes)) return Status();
  int64_t r = c.rank(0) + static_cast<int64_t>(axes.size());
  std::vector<bool> add(r, false);
  for (int64_t a : axes) {
    auto ax = Ctx::Axis(a, r);
    if (!ax || add[*ax]) return c.Fail("axes out of range or repeated");
    add[*ax] = true;
  }
  Dims out;
  size_t next = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(add[i] ? 1 : c.dims(0)[next++]);
  return c.Set(0, out, c.batched(0) && !add[0], c.dtype(0),
               c.values(0) ? Values(*c.values(0)) : std::nullopt);
}

Status ConstantShape(Ctx& c) {
  // The front end sets a Constant's output shape and values; nothing to infer.
  (void)c;
  return Status();
}

Status ShapeShape(Ctx& c) {
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

Status SizeShape(Ctx& c) {
  if (!c.known(0)) return Status();
  auto n = CheckedProduct(c.dims(0));
  if (!n) return c.Fail("size overflows");
  return c.Set(0, {}, false, DType::int64, std::vector<int64_t>{*n});
}

Status GatherShape(Ctx& c) {
  if (!c.known(0) || !c.known(1)) return Status();
  int64_t r = c.rank(0);
  auto axis = Ctx::Axis(c.node().Int("axis", 0), r);
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

Status SliceShape(Ctx& c) {
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
    auto ax = Ctx::Axis(axes[i], r);
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

Status CastShape(Ctx& c) {
  if (!c.known(0)) return Status();
  DType to = DTypeFromOnnx(static_cast<int>(c.node().Int("to", 1)));
  bool keep = c.values(0) && IsInt(to);
  return c.Set(0, c.dims(0), c.batched(0), to, keep ? Values(*c.values(0)) : std::nullopt);
}

Status ConstantOfShapeShape(Ctx& c) {
  if (!c.values(0)) return Status();
  const Dims& out = *c.values(0);
  auto n = CheckedProduct(out);
  if (!n) return c.Fail("shape overflows");
  Values vals;
  int64_t fill = c.node().Int("value", 0);
  if (*n <= 1 << 16) vals = std::vector<int64_t>(*n, fill);
  return c.Set(0, out, false, c.node().Has("value") ? DType::int64 : DType::float32, vals);
}

Status RangeShape(Ctx& c) {
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

Status UnknownShape(Ctx&) { return Status(); }

using ShapeFn = Status (*)(Ctx&);

struct Entry {
  Op op;
  ShapeFn fn;
};

constexpr Entry kShapeFns[] = {
    {Op::Conv, ConvShape}, {Op::ConvTranspose, ConvTransposeShape}, {Op::Gemm, GemmShape},
    {Op::MatMul, MatMulShape}, {Op::BatchNormalization, NormShape},
    {Op::LayerNormalization, NormShape}, {Op::InstanceNormalization, NormShape},
    {Op::Relu, SameAsInput}, {Op::LeakyRelu, SameAsInput}, {Op::Sigmoid, SameAsInput},
    {Op::Tanh, SameAsInput}, {Op::HardSigmoid, SameAsInput}, {Op::HardSwish, SameAsInput},
    {Op::Clip, SameAsInput}, {Op::Elu, SameAsInput}, {Op::Gelu, SameAsInput},
    {Op::Erf, SameAsInput}, {Op::Softplus, SameAsInput}, {Op::Softmax, SameAsInput},
    {Op::LogSoftmax, SameAsInput}, {Op::PRelu, SameAsInput}, {Op::Selu, SameAsInput},
    {Op::MaxPool, PoolShape}, {Op::AveragePool, PoolShape},
    {Op::GlobalAveragePool, GlobalPoolShape}, {Op::GlobalMaxPool, GlobalPoolShape},
    {Op::ReduceMean, ReduceShape}, {Op::ReduceSum, ReduceShape}, {Op::ReduceMax, ReduceShape},
    {Op::Add, Elementwise}, {Op::Sub, Elementwise}, {Op::Mul, Elementwise},
    {Op::Div, Elementwise}, {Op::Pow, Elementwise}, {Op::Sqrt, Elementwise},
    {Op::Neg, Elementwise}, {Op::Exp, Elementwise}, {Op::Log, Elementwise},
    {Op::Reciprocal, Elementwise}, {Op::Abs, Elementwise}, {Op::Floor, Elementwise},
    {Op::Ceil, Elementwise}, {Op::Equal, Elementwise}, {Op::Where, Elementwise},
    {Op::Max, Elementwise}, {Op::Min, Elementwise},
    {Op::Concat, ConcatShape}, {Op::Split, SplitShape}, {Op::Transpose, TransposeShape},
    {Op::Pad, PadShape}, {Op::Resize, ResizeShape}, {Op::Upsample, ResizeShape},
    {Op::Expand, ExpandShape}, {Op::Tile, TileShape}, {Op::Dropout, DropoutShape},
    {Op::Flatten, FlattenShape}, {Op::Reshape, ReshapeShape}, {Op::Squeeze, SqueezeShape},
    {Op::Unsqueeze, UnsqueezeShape}, {Op::Identity, SameAsInput},
    {Op::Constant, ConstantShape}, {Op::Shape, ShapeShape}, {Op::Gather, GatherShape},
    {Op::Slice, SliceShape}, {Op::Cast, CastShape}, {Op::ConstantOfShape, ConstantOfShapeShape},
    {Op::Range, RangeShape}, {Op::Size, SizeShape}, {Op::Unknown, UnknownShape},
};

constexpr int kNumOps = static_cast<int>(Op::Unknown) + 1;

// The table indexed by Op, built once; a missing entry is a programmer error caught by tests.
const std::array<ShapeFn, kNumOps>& ShapeFns() {
  static const std::array<ShapeFn, kNumOps> table = [] {
    std::array<ShapeFn, kNumOps> t{};
    for (const Entry& e : kShapeFns) t[static_cast<int>(e.op)] = e.fn;
    return t;
  }();
  return table;
}

// Inputs an op cannot do without; shape functions may then read them unchecked.
size_t RequiredInputs(const Node& n) {
  switch (n.op) {
    case Op::Constant: case Op::Unknown: return 0;
    case Op::Conv: case Op::ConvTranspose: case Op::Gemm: case Op::MatMul: case Op::Add:
    case Op::Sub: case Op::Mul: case Op::Div: case Op::Pow: case Op::Equal: case Op::PRelu:
    case Op::Expand: case Op::Tile: case Op::Gather: case Op::LayerNormalization:
      return 2;
    case Op::Reshape: return n.Has("shape") ? 1 : 2;
    case Op::Slice: return n.Has("starts") ? 1 : 3;
    case Op::Where: case Op::Range: case Op::InstanceNormalization: return 3;
    case Op::BatchNormalization: return 5;
    default: return 1;
  }
}

}  // namespace

Status InferNode(Graph& graph, int node, const InferenceOptions& options) {
  Ctx c(graph, node, options);
  size_t required = RequiredInputs(graph.nodes[node]);
  for (size_t i = 0; i < required; ++i) {
    if (!c.in(i)) {
      return c.Fail("needs at least " + std::to_string(required) + " inputs; input " +
                    std::to_string(i) + " is missing");
    }
  }
  ShapeFn fn = ShapeFns()[static_cast<int>(graph.nodes[node].op)];
  return fn ? fn(c) : Status();
}

std::vector<Diagnostic> InferShapes(Graph& graph, const InferenceOptions& options) {
  std::vector<Diagnostic> diagnostics;
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    Status s = InferNode(graph, i, options);
    if (!s.ok()) diagnostics.push_back({i, s.message()});
  }
  return diagnostics;
}

std::string ShapeString(const Graph& graph, const Tensor& t) {
  if (!t.shape_known) return "?";
  std::string s;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (i) s += "\xC3\x97";  // U+00D7 MULTIPLICATION SIGN
    s += (i == 0 && t.batched && graph.batch_symbolic) ? std::string("N")
                                                       : std::to_string(t.dims[i]);
  }
  return s.empty() ? "scalar" : s;
}

}  // namespace joulecast
