// Views and shape plumbing: Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile, Transpose,
// Identity and Cast (the output shape is what shape inference computed: the network runs at the
// graph's own shapes), Gather and Slice; plumbing that is not run; and Unknown.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

Result<ShapedData> NodePlan::DataWithDims(size_t i) const {
  auto x = Data(i);
  if (!x.ok()) return x.status();
  auto d = InDims(i);
  if (!d.ok()) return d.status();
  return ShapedData{*x, *d};
}

namespace {

// y = f(input 0, the output's dims as shape inference gave them).
template <class F>
Status ToOutputDims(NodePlan& p, Kernel* k, F f) {
  if (auto x = p.Data(0); !x.ok()) return x.status();
  auto yd = p.OutDims(0);
  if (!yd.ok()) return yd.status();
  return Unary(p, k, [f, out = *yd](const at::Tensor& t) { return f(t, out); });
}

}  // namespace

Status BuildIdentity(NodePlan& p, Kernel* k, size_t*) {
  return Unary(p, k, [](const at::Tensor& t) { return t; });
}

Status BuildTranspose(NodePlan& p, Kernel* k, size_t*) {
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  Dims perm = p.node().Ints("perm");
  if (perm.empty()) {
    for (int64_t i = static_cast<int64_t>(x->dims.size()) - 1; i >= 0; --i) perm.push_back(i);
  }
  return Unary(p, k, [perm](const at::Tensor& t) { return t.permute(perm); });
}

Status BuildCast(NodePlan& p, Kernel* k, size_t*) {
  if (auto x = p.Data(0); !x.ok()) return x.status();
  auto to = ScalarTypeOf(DTypeFromOnnx(static_cast<int>(p.node().Int("to", 1))));
  if (!to) return p.Fail("cast to an unsupported type");
  return Unary(p, k, [to = *to](const at::Tensor& t) { return t.to(to); });
}

Status BuildTile(NodePlan& p, Kernel* k, size_t*) {
  if (auto x = p.Data(0); !x.ok()) return x.status();
  auto rep = p.IntValues(1, "repeats");
  if (!rep.ok()) return rep.status();
  return Unary(p, k, [rep = *rep](const at::Tensor& t) { return t.repeat(rep); });
}

Status BuildExpand(NodePlan& p, Kernel* k, size_t*) {
  return ToOutputDims(p, k, [](const at::Tensor& t, const Dims& out) { return t.expand(out); });
}

Status BuildReshapeToOutput(NodePlan& p, Kernel* k, size_t*) {
  return ToOutputDims(p, k, [](const at::Tensor& t, const Dims& out) { return t.reshape(out); });
}

Status BuildGather(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto x = p.Data(0), idx = p.Data(1);
  if (!x.ok()) return x.status();
  if (!idx.ok()) return idx.status();
  auto xd = p.InDims(0), yd = p.OutDims(0);
  if (!xd.ok()) return xd.status();
  if (!yd.ok()) return yd.status();
  int64_t r = static_cast<int64_t>(xd->size()), axis = n.Int("axis", 0);
  if (axis < -r || axis >= r) return p.Fail("axis out of range");
  if (axis < 0) axis += r;
  const int64_t dim = (*xd)[axis];
  *k = [x = *x, i = *idx, y = n.outputs[0], axis, dim, out = *yd](Values& v) {
    at::Tensor index = v[i].to(at::kLong).reshape({-1});
    index = at::where(index < 0, index + dim, index);
    v[y] = at::index_select(v[x], axis, index).reshape(out);
  };
  return Status();
}

Status BuildSlice(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  Dims starts, ends, axes, steps;
  if (n.Has("starts")) {
    starts = n.Ints("starts");
    ends = n.Ints("ends");
    axes = n.Ints("axes");
  } else {
    auto s = p.IntValues(1, "starts"), e = p.IntValues(2, "ends");
    if (!s.ok()) return s.status();
    if (!e.ok()) return e.status();
    starts = *s;
    ends = *e;
    if (p.Has(3)) {
      auto a = p.IntValues(3, "axes");
      if (!a.ok()) return a.status();
      axes = *a;
    }
    if (p.Has(4)) {
      auto st = p.IntValues(4, "steps");
      if (!st.ok()) return st.status();
      steps = *st;
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return p.Fail("starts, ends, axes and steps differ in length");
  }
  // Per axis: a positive-step slice, or an explicit index list for negative steps.
  struct Cut {
    int64_t axis, begin, end, step;
    at::Tensor index;
  };
  std::vector<Cut> cuts;
  const int64_t r = static_cast<int64_t>(x->dims.size());
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
    if (ax < 0 || ax >= r) return p.Fail("axis out of range");
    int64_t d = x->dims[ax], s = steps[i], b = starts[i], e = ends[i];
    if (s == 0) return p.Fail("step is zero");
    if (b < 0) b += d;
    if (e < 0) e += d;
    Cut c{ax, 0, 0, s, at::Tensor()};
    if (s > 0) {
      c.begin = std::clamp<int64_t>(b, 0, d);
      c.end = std::max(c.begin, std::clamp<int64_t>(e, 0, d));
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      Dims idx;
      for (int64_t j = b; j > e; j += s) idx.push_back(j);
      c.index = at::tensor(idx, at::kLong).to(p.device());
    }
    cuts.push_back(std::move(c));
  }
  *k = [x = x->tensor, y = n.outputs[0], cuts](Values& v) {
    at::Tensor t = v[x];
    for (const Cut& c : cuts) {
      t = c.step > 0 ? t.slice(c.axis, c.begin, c.end, c.step)
                     : at::index_select(t, c.axis, c.index);
    }
    v[y] = t;
  };
  return Status();
}

Status BuildNotRun(NodePlan&, Kernel*, size_t* produced) {
  *produced = 0;
  return Status();
}

Status BuildUnknown(NodePlan& p, Kernel*, size_t*) {
  return p.Fail("op not modelled by the analyzer, so joulecast cannot build it in libtorch");
}

}  // namespace joulecast::torch_plan
