// Convolutions and matrix products: Conv, ConvTranspose, Gemm, MatMul, their windows and pads,
// and PyTorch's fan-in rules for their weights.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

namespace {

// Convolutions through the ops PyTorch's ConvNd and ConvTransposeNd modules call (conv2d,
// conv_transpose2d, ...) rather than at::convolution, which they lower to: autocast on the CPU
// casts those ops but has no entry for at::convolution.
at::Tensor ConvNd(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Dims& s,
                  const Dims& p, const Dims& d, int64_t groups) {
  switch (w.dim()) {
    case 3:
      return at::conv1d(x, w, b, s, p, d, groups);
    case 4:
      return at::conv2d(x, w, b, s, p, d, groups);
    case 5:
      return at::conv3d(x, w, b, s, p, d, groups);
    default:
      return at::convolution(x, w, b, s, p, d, false, Dims(s.size(), 0), groups);
  }
}

at::Tensor ConvTransposeNd(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                           const Dims& s, const Dims& p, const Dims& out_pad, const Dims& d,
                           int64_t groups) {
  switch (w.dim()) {
    case 3:
      return at::conv_transpose1d(x, w, b, s, p, out_pad, groups, d);
    case 4:
      return at::conv_transpose2d(x, w, b, s, p, out_pad, groups, d);
    case 5:
      return at::conv_transpose3d(x, w, b, s, p, out_pad, groups, d);
    default:
      return at::convolution(x, w, b, s, p, d, true, out_pad, groups);
  }
}

// The known, non-empty dims of input `position` of `n`; nullptr otherwise.
const Dims* WeightDims(const Graph& g, const Node& n, size_t position) {
  if (position >= n.inputs.size() || n.inputs[position] < 0) return nullptr;
  const Tensor& w = g.tensors[n.inputs[position]];
  if (!w.shape_known || w.dims.empty()) return nullptr;
  return &w.dims;
}

// X, W and B of a layer: inputs 0 and 1 as values, input 2 where given (-1 when absent), and
// the known dims of X and W where asked for (left empty otherwise).
struct LayerInputs {
  int x, w, b;
  Dims x_dims, w_dims;
};

Result<LayerInputs> ReadLayer(const NodePlan& p, bool with_dims) {
  auto x = p.Data(0), w = p.Data(1), b = p.OptionalData(2);
  if (!x.ok()) return x.status();
  if (!w.ok()) return w.status();
  if (!b.ok()) return b.status();
  LayerInputs in{*x, *w, *b, {}, {}};
  if (with_dims) {
    auto xd = p.InDims(0), wd = p.InDims(1);
    if (!xd.ok()) return xd.status();
    if (!wd.ok()) return wd.status();
    in.x_dims = *xd;
    in.w_dims = *wd;
  }
  return in;
}

}  // namespace

// ---- Pads and windows ---------------------------------------------------------------------------

Dims TorchPads(const Dims& onnx_pads, size_t spatial) {
  Dims out;
  for (size_t i = spatial; i-- > 0;) {
    out.push_back(onnx_pads[i]);
    out.push_back(onnx_pads[i + spatial]);
  }
  return out;
}

bool Symmetric(const Dims& pads) {
  size_t sp = pads.size() / 2;
  for (size_t i = 0; i < sp; ++i) {
    if (pads[i] != pads[i + sp]) return false;
  }
  return true;
}

Dims Begins(const Dims& pads) { return Dims(pads.begin(), pads.begin() + pads.size() / 2); }

Result<Window> NodePlan::ReadWindow(const Dims& x, const Dims& kernel) const {
  const size_t sp = kernel.size();
  Window w;
  w.kernel = kernel;
  w.strides = n_.Ints("strides", Dims(sp, 1));
  w.dilations = n_.Ints("dilations", Dims(sp, 1));
  w.pads = n_.Ints("pads", Dims(2 * sp, 0));
  if (w.strides.size() != sp || w.dilations.size() != sp || w.pads.size() != 2 * sp ||
      x.size() != sp + 2) {
    return Fail("strides, dilations or pads do not match the " + std::to_string(sp) +
                " spatial dims");
  }
  const std::string auto_pad = n_.Text("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    w.pads.assign(2 * sp, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < sp; ++i) {
      int64_t in = x[2 + i], s = w.strides[i];
      int64_t out = (in + s - 1) / s;
      int64_t span = (kernel[i] - 1) * w.dilations[i] + 1;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
      int64_t small = total / 2, big = total - small;
      w.pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + sp] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else if (auto_pad != "NOTSET") {
    return Fail("unknown auto_pad '" + auto_pad + "'");
  }
  for (size_t i = 0; i < sp; ++i) {
    if (w.kernel[i] <= 0 || w.strides[i] <= 0 || w.dilations[i] <= 0 || w.pads[i] < 0 ||
        w.pads[i + sp] < 0) {
      return Fail("kernel, strides and dilations must be positive and pads non-negative");
    }
  }
  return w;
}

// ---- Builders -----------------------------------------------------------------------------------

Status BuildConv(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto in = ReadLayer(p, /*with_dims=*/true);
  if (!in.ok()) return in.status();
  const Dims& xd = in->x_dims;
  const Dims& wd = in->w_dims;
  if (wd.size() < 3 || wd.size() != xd.size()) return p.Fail("input and weight ranks differ");
  auto win = p.ReadWindow(xd, Dims(wd.begin() + 2, wd.end()));
  if (!win.ok()) return win.status();
  const int64_t groups = n.Int("group", 1);
  const size_t sp = wd.size() - 2;
  Dims padding(sp, 0), pre_pad;
  if (Symmetric(win->pads)) {
    padding = Begins(win->pads);
  } else {
    pre_pad = TorchPads(win->pads, sp);  // libtorch pads symmetrically only: pad first.
  }
  *k = [x = in->x, w = in->w, b = in->b, y = n.outputs[0], s = win->strides, d = win->dilations,
        padding, pre_pad, groups](Values& v) {
    at::Tensor in = pre_pad.empty() ? v[x] : at::constant_pad_nd(v[x], pre_pad, 0);
    v[y] = ConvNd(in, v[w], b >= 0 ? v[b] : at::Tensor(), s, padding, d, groups);
  };
  return Status();
}

Status BuildConvTranspose(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto in = ReadLayer(p, /*with_dims=*/true);
  if (!in.ok()) return in.status();
  auto yd = p.OutDims(0);
  if (!yd.ok()) return yd.status();
  const Dims& xd = in->x_dims;
  const Dims& wd = in->w_dims;
  if (wd.size() < 3 || wd.size() != xd.size() || yd->size() != xd.size()) {
    return p.Fail("input, weight and output ranks differ");
  }
  const size_t sp = wd.size() - 2;
  Dims strides = n.Ints("strides", Dims(sp, 1));
  Dims dil = n.Ints("dilations", Dims(sp, 1));
  Dims pads = n.Ints("pads", Dims(2 * sp, 0));
  Dims outpad = n.Ints("output_padding", Dims(sp, 0));
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp || outpad.size() != sp) {
    return p.Fail("strides, dilations, pads or output_padding do not match the spatial dims");
  }
  const std::string auto_pad = n.Text("auto_pad", "NOTSET");
  const int64_t groups = n.Int("group", 1);
  // Where the output window starts inside the unpadded result (ONNX's rule for output_shape and
  // SAME: the odd pixel of padding goes to the end for SAME_UPPER).
  Dims begin(sp), full(sp);
  bool plain = !n.Has("output_shape") && (auto_pad == "NOTSET" || auto_pad == "VALID");
  for (size_t i = 0; i < sp; ++i) {
    full[i] = strides[i] * (xd[2 + i] - 1) + (wd[2 + i] - 1) * dil[i] + 1;
    if (plain) {
      begin[i] = auto_pad == "VALID" ? 0 : pads[i];
    } else {
      int64_t total = full[i] + outpad[i] - (*yd)[2 + i];
      if (total < 0) return p.Fail("output_shape is larger than the transposed convolution gives");
      begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    }
  }
  bool fast = plain && auto_pad == "NOTSET" && Symmetric(pads);
  for (size_t i = 0; i < sp && fast; ++i) {
    fast = outpad[i] < std::max(strides[i], dil[i]);  // libtorch's limit on output_padding.
  }
  if (fast) {
    *k = [x = in->x, w = in->w, b = in->b, y = n.outputs[0], strides, dil, pad = Begins(pads),
          outpad, groups](Values& v) {
      v[y] = ConvTransposeNd(v[x], v[w], b >= 0 ? v[b] : at::Tensor(), strides, pad, outpad, dil,
                             groups);
    };
    return Status();
  }
  // General case: the unpadded result, then one constant_pad_nd that crops (negative pads) or
  // extends with zeros to the output window, then the bias.
  Dims window;
  for (size_t i = sp; i-- > 0;) {
    window.push_back(-begin[i]);
    window.push_back((*yd)[2 + i] - (full[i] - begin[i]));
  }
  *k = [x = in->x, w = in->w, b = in->b, y = n.outputs[0], strides, dil, window, groups,
        sp](Values& v) {
    at::Tensor out =
        ConvTransposeNd(v[x], v[w], at::Tensor(), strides, Dims(sp, 0), Dims(sp, 0), dil, groups);
    out = at::constant_pad_nd(out, window, 0);
    if (b >= 0) {
      Dims shape(sp + 2, 1);
      shape[1] = -1;
      out = out + v[b].reshape(shape);
    }
    v[y] = out;
  };
  return Status();
}

Status BuildGemm(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto in = ReadLayer(p, /*with_dims=*/false);
  if (!in.ok()) return in.status();
  const bool ta = n.Int("transA", 0) != 0, tb = n.Int("transB", 0) != 0;
  const double alpha = n.Real("alpha", 1.0), beta = n.Real("beta", 1.0);
  const int y = n.outputs[0];
  bool bias_1d = in->b < 0 || (p.In(2).shape_known && p.In(2).dims.size() == 1);
  if (!ta && tb && alpha == 1.0 && beta == 1.0 && bias_1d) {
    // nn.Linear's own op, so that timings match what PyTorch runs.
    *k = [a = in->x, b = in->w, c = in->b, y](Values& v) {
      v[y] = at::linear(v[a], v[b], c >= 0 ? v[c] : at::Tensor());
    };
    return Status();
  }
  *k = [a = in->x, b = in->w, c = in->b, y, ta, tb, alpha, beta](Values& v) {
    at::Tensor A = ta ? v[a].t() : v[a];
    at::Tensor B = tb ? v[b].t() : v[b];
    if (c >= 0) {
      v[y] = at::addmm(v[c], A, B, beta, alpha);
    } else {
      v[y] = alpha == 1.0 ? at::mm(A, B) : at::mm(A, B) * alpha;
    }
  };
  return Status();
}

Status BuildMatMul(NodePlan& p, Kernel* k, size_t*) {
  auto a = p.Data(0), b = p.Data(1);
  if (!a.ok()) return a.status();
  if (!b.ok()) return b.status();
  *k = [a = *a, b = *b, y = p.node().outputs[0]](Values& v) { v[y] = at::matmul(v[a], v[b]); };
  return Status();
}

// ---- Fan-ins and inits --------------------------------------------------------------------------
// As PyTorch computes them for the module the op comes from (for ConvTranspose that is
// weight.size(1) x kernel, PyTorch's own quirk).

int64_t ConvFanIn(const Graph& g, const Node& n, size_t position) {
  const Dims* d = WeightDims(g, n, position);
  if (!d) return 0;
  return d->size() >= 2 ? Product(*d, 1) : 0;
}

int64_t GemmFanIn(const Graph& g, const Node& n, size_t position) {
  const Dims* d = WeightDims(g, n, position);
  if (!d || d->size() != 2) return 0;
  if (position == 1) return n.Int("transB", 0) ? (*d)[1] : (*d)[0];
  return n.Int("transA", 0) ? (*d)[0] : (*d)[1];
}

int64_t MatMulFanIn(const Graph& g, const Node& n, size_t position) {
  const Dims* d = WeightDims(g, n, position);
  if (!d) return 0;
  if (position == 1) return d->size() >= 2 ? (*d)[d->size() - 2] : (*d)[0];
  return d->back();
}

// The bias (input 2) shares the weight's bound.
Init ConvInit(const Graph& g, const Node& n, size_t position) {
  return Uniform(ConvFanIn(g, n, position == 2 ? 1 : position));
}

Init GemmInit(const Graph& g, const Node& n, size_t position) {
  return Uniform(GemmFanIn(g, n, position == 2 ? 1 : position));
}

Init MatMulInit(const Graph& g, const Node& n, size_t position) {
  return Uniform(MatMulFanIn(g, n, position));
}

}  // namespace joulecast::torch_plan
