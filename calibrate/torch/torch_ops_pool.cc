// Pooling and reductions: MaxPool, AveragePool, the global pools and ReduceMean/Sum/Max.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

namespace {

// Narrows the trailing spatial dims of `y` to `out` (which is never larger).
at::Tensor CropTo(at::Tensor y, const Dims& out) {
  for (size_t d = 2; d < out.size(); ++d) {
    if (y.size(static_cast<int64_t>(d)) != out[d]) y = y.narrow(static_cast<int64_t>(d), 0, out[d]);
  }
  return y;
}

// What MaxPool and AveragePool share.
struct PoolPlan {
  int in = -1, y = -1;
  Dims xd, kernel;
  size_t sp = 0;
  Window win;
  bool ceil_mode = false;
  bool native = false;  // libtorch pads itself (padding); else pre_pad is applied first.
  Dims padding, pre_pad;
  Dims out;
};

Result<PoolPlan> ReadPool(const NodePlan& p) {
  const Node& n = p.node();
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  auto yd = p.OutDims(0);
  if (!yd.ok()) return yd.status();
  const Dims kernel = n.Ints("kernel_shape");
  const size_t sp = kernel.size();
  if (sp < 1 || sp > 3 || x->dims.size() != sp + 2) {
    return p.Fail("libtorch pools 1 to 3 spatial dims of an N x C x ... input");
  }
  auto win = p.ReadWindow(x->dims, kernel);
  if (!win.ok()) return win.status();
  // libtorch takes symmetric pads of at most half the kernel; anything else is padded first.
  bool native = Symmetric(win->pads);
  for (size_t i = 0; i < sp && native; ++i) native = win->pads[i] <= kernel[i] / 2;
  return PoolPlan{.in = x->tensor,
                  .y = n.outputs[0],
                  .xd = x->dims,
                  .kernel = kernel,
                  .sp = sp,
                  .win = *win,
                  .ceil_mode = n.Int("ceil_mode", 0) != 0,
                  .native = native,
                  .padding = native ? Begins(win->pads) : Dims(sp, 0),
                  .pre_pad = native ? Dims() : TorchPads(win->pads, sp),
                  .out = *yd};
}

// f(x, spatial axes).
template <class F>
Status GlobalPool(NodePlan& p, Kernel* k, F f) {
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  const size_t r = x->dims.size();
  if (r < 3) return p.Fail("global pooling needs an input of rank >= 3");
  Dims axes;
  for (int64_t d = 2; d < static_cast<int64_t>(r); ++d) axes.push_back(d);
  *k = [x = x->tensor, y = p.node().outputs[0], axes, f](Values& v) { v[y] = f(v[x], axes); };
  return Status();
}

// f(x, axes, keepdims).
template <class F>
Status Reduce(NodePlan& p, Kernel* k, F f) {
  const Node& n = p.node();
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  Dims axes;
  if (n.Has("axes")) {
    axes = n.Ints("axes");
  } else if (p.Has(1)) {
    auto a = p.IntValues(1, "axes");
    if (!a.ok()) return a.status();
    axes = *a;
  }
  const bool keep = n.Int("keepdims", 1) != 0;
  const int y = n.outputs[0];
  if (axes.empty()) {
    if (n.Int("noop_with_empty_axes", 0) != 0) {
      *k = [x = x->tensor, y](Values& v) { v[y] = v[x]; };
      return Status();
    }
    for (int64_t d = 0; d < static_cast<int64_t>(x->dims.size()); ++d) axes.push_back(d);
  }
  *k = [x = x->tensor, y, axes, keep, f](Values& v) { v[y] = f(v[x], axes, keep); };
  return Status();
}

}  // namespace

Status BuildMaxPool(NodePlan& p, Kernel* k, size_t*) {
  auto pool = ReadPool(p);
  if (!pool.ok()) return pool.status();
  if (p.node().Int("storage_order", 0) != 0) return p.Fail("storage_order 1 is not supported");
  *k = [in = pool->in, y = pool->y, w = pool->win, padding = pool->padding, pre_pad = pool->pre_pad,
        ceil_mode = pool->ceil_mode, out = pool->out, sp = pool->sp](Values& v) {
    at::Tensor t = v[in];
    if (!pre_pad.empty()) {
      t = at::constant_pad_nd(t, pre_pad, -std::numeric_limits<double>::infinity());
    }
    switch (sp) {
      case 1:
        t = at::max_pool1d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
        break;
      case 2:
        t = at::max_pool2d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
        break;
      default:
        t = at::max_pool3d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
    }
    v[y] = CropTo(t, out);
  };
  return Status();
}

Status BuildAveragePool(NodePlan& p, Kernel* k, size_t*) {
  auto pool = ReadPool(p);
  if (!pool.ok()) return pool.status();
  const Dims& dilations = pool->win.dilations;
  if (std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; })) {
    return p.Fail("dilated AveragePool has no libtorch op");
  }
  const bool include_pad = p.node().Int("count_include_pad", 0) != 0;
  auto avg = [sp = pool->sp](const at::Tensor& t, const Dims& kr, const Dims& st, const Dims& pd,
                             bool ceil, bool include) {
    switch (sp) {
      case 1:
        return at::avg_pool1d(t, kr, st, pd, ceil, include);
      case 2:
        return at::avg_pool2d(t, kr, st, pd, ceil, include);
      default:
        return at::avg_pool3d(t, kr, st, pd, ceil, include);
    }
  };
  if (pool->native) {
    *k = [in = pool->in, y = pool->y, w = pool->win, padding = pool->padding,
          ceil_mode = pool->ceil_mode, include_pad, out = pool->out, avg](Values& v) {
      v[y] = CropTo(avg(v[in], w.kernel, w.strides, padding, ceil_mode, include_pad), out);
    };
    return Status();
  }
  // Pre-padded: the zeros count by construction; without count_include_pad divide by the
  // pooled mask of real pixels instead, which cancels the kernel-size divisor.
  const size_t sp = pool->sp;
  Dims mask_shape(sp + 2, 1);
  for (size_t i = 0; i < sp; ++i) mask_shape[2 + i] = pool->xd[2 + i];
  *k = [in = pool->in, y = pool->y, w = pool->win, pre_pad = pool->pre_pad,
        ceil_mode = pool->ceil_mode, include_pad, out = pool->out, avg, mask_shape, sp](Values& v) {
    at::Tensor t = at::constant_pad_nd(v[in], pre_pad, 0);
    at::Tensor sum = avg(t, w.kernel, w.strides, Dims(sp, 0), ceil_mode, true);
    if (!include_pad) {
      at::Tensor mask = at::constant_pad_nd(at::ones(mask_shape, v[in].options()), pre_pad, 0);
      sum = sum / avg(mask, w.kernel, w.strides, Dims(sp, 0), ceil_mode, true);
    }
    v[y] = CropTo(sum, out);
  };
  return Status();
}

// ---- Global pools -------------------------------------------------------------------------------

Status BuildGlobalAveragePool(NodePlan& p, Kernel* k, size_t*) {
  return GlobalPool(p, k,
                    [](const at::Tensor& t, const Dims& axes) { return at::mean(t, axes, true); });
}

Status BuildGlobalMaxPool(NodePlan& p, Kernel* k, size_t*) {
  return GlobalPool(p, k,
                    [](const at::Tensor& t, const Dims& axes) { return at::amax(t, axes, true); });
}

// ---- Reductions ---------------------------------------------------------------------------------

Status BuildReduceMean(NodePlan& p, Kernel* k, size_t*) {
  return Reduce(p, k, [](const at::Tensor& t, const Dims& axes, bool keep) {
    return at::mean(t, axes, keep);
  });
}

Status BuildReduceSum(NodePlan& p, Kernel* k, size_t*) {
  return Reduce(p, k, [](const at::Tensor& t, const Dims& axes, bool keep) {
    return at::sum(t, axes, keep);
  });
}

Status BuildReduceMax(NodePlan& p, Kernel* k, size_t*) {
  return Reduce(p, k, [](const at::Tensor& t, const Dims& axes, bool keep) {
    return at::amax(t, axes, keep);
  });
}

}  // namespace joulecast::torch_plan
