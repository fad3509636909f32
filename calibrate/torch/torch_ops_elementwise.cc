// Elementwise arithmetic (numpy broadcasting) and data movement: Concat, Split, Pad, Resize,
// Upsample, Dropout; and how a parameter they read starts.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

namespace {

using Operand = std::vector<int>;

// All inputs as values; fails unless there are `arity` of them (at least one for 0).
Result<std::vector<int>> Operands(const NodePlan& p, size_t arity) {
  std::vector<int> ins;
  for (size_t i = 0; i < p.node().inputs.size(); ++i) {
    auto t = p.Data(i);
    if (!t.ok()) return t.status();
    ins.push_back(*t);
  }
  if ((arity && ins.size() != arity) || ins.empty()) {
    return p.Fail("has " + std::to_string(ins.size()) + " inputs");
  }
  return ins;
}

// f(values, operand indices).
template <class F>
Status Elementwise(NodePlan& p, Kernel* k, size_t arity, F f) {
  auto ins = Operands(p, arity);
  if (!ins.ok()) return ins.status();
  *k = [ins = *ins, y = p.node().outputs[0], f](Values& v) { v[y] = f(v, ins); };
  return Status();
}

// y = F(the one input), for libtorch's functions of a tensor alone.
template <at::Tensor (*F)(const at::Tensor&)>
Status Pointwise(NodePlan& p, Kernel* k) {
  return Elementwise(p, k, 1, [](const Values& v, const Operand& i) { return F(v[i[0]]); });
}

// y = F(... F(F(x0, x1), x2) ..., xn), over any number of inputs (at least one).
template <at::Tensor (*F)(const at::Tensor&, const at::Tensor&)>
Status Fold(NodePlan& p, Kernel* k) {
  return Elementwise(p, k, 0, [](const Values& v, const Operand& ins) {
    at::Tensor r = v[ins[0]];
    for (size_t i = 1; i < ins.size(); ++i) r = F(r, v[ins[i]]);
    return r;
  });
}

}  // namespace

// ---- Arithmetic ---------------------------------------------------------------------------------

Status BuildAdd(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2, [](const Values& v, const Operand& i) { return v[i[0]] + v[i[1]]; });
}

Status BuildSub(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2, [](const Values& v, const Operand& i) { return v[i[0]] - v[i[1]]; });
}

Status BuildMul(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2, [](const Values& v, const Operand& i) { return v[i[0]] * v[i[1]]; });
}

Status BuildDiv(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2, [](const Values& v, const Operand& i) {
    const at::Tensor& a = v[i[0]];
    const at::Tensor& b = v[i[1]];
    // ONNX divides integers with truncation; libtorch's '/' would promote to float.
    return at::isIntegralType(a.scalar_type(), true) && at::isIntegralType(b.scalar_type(), true)
               ? at::div(a, b, "trunc")
               : a / b;
  });
}

Status BuildPow(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2,
                     [](const Values& v, const Operand& i) { return at::pow(v[i[0]], v[i[1]]); });
}

Status BuildEqual(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 2,
                     [](const Values& v, const Operand& i) { return at::eq(v[i[0]], v[i[1]]); });
}

Status BuildWhere(NodePlan& p, Kernel* k, size_t*) {
  return Elementwise(p, k, 3, [](const Values& v, const Operand& i) {
    return at::where(v[i[0]].to(at::kBool), v[i[1]], v[i[2]]);
  });
}

Status BuildMax(NodePlan& p, Kernel* k, size_t*) { return Fold<at::maximum>(p, k); }

Status BuildMin(NodePlan& p, Kernel* k, size_t*) { return Fold<at::minimum>(p, k); }

Status BuildSqrt(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::sqrt>(p, k); }

Status BuildNeg(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::neg>(p, k); }

Status BuildExp(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::exp>(p, k); }

Status BuildLog(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::log>(p, k); }

Status BuildReciprocal(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::reciprocal>(p, k); }

Status BuildAbs(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::abs>(p, k); }

Status BuildFloor(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::floor>(p, k); }

Status BuildCeil(NodePlan& p, Kernel* k, size_t*) { return Pointwise<at::ceil>(p, k); }

// ---- Data movement ------------------------------------------------------------------------------

Status BuildConcat(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  std::vector<int> ins;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    auto t = p.Data(i);
    if (!t.ok()) return t.status();
    ins.push_back(*t);
  }
  if (ins.empty()) return p.Fail("has no inputs");
  const int64_t axis = n.Int("axis", 0);
  *k = [ins, y = n.outputs[0], axis](Values& v) {
    std::vector<at::Tensor> parts;
    for (int i : ins) parts.push_back(v[i]);
    v[y] = at::cat(parts, axis);
  };
  return Status();
}

Status BuildSplit(NodePlan& p, Kernel* k, size_t* produced) {
  const Node& n = p.node();
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  int64_t r = static_cast<int64_t>(x->dims.size()), axis = n.Int("axis", 0);
  if (axis < -r || axis >= r) return p.Fail("axis out of range");
  if (axis < 0) axis += r;
  // The sizes shape inference worked out (from the split attribute or input, or even parts).
  Dims sizes;
  for (size_t o = 0; o < n.outputs.size(); ++o) {
    auto od = p.OutDims(o);
    if (!od.ok()) return od.status();
    sizes.push_back((*od)[axis]);
  }
  *produced = n.outputs.size();
  *k = [x = x->tensor, outs = n.outputs, sizes, axis](Values& v) {
    std::vector<at::Tensor> parts = at::split_with_sizes(v[x], sizes, axis);
    for (size_t o = 0; o < outs.size(); ++o) v[outs[o]] = parts[o];
  };
  return Status();
}

Status BuildPad(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  const size_t r = x->dims.size();
  Dims pads;
  if (n.Has("pads")) {
    pads = n.Ints("pads");
  } else {
    auto given = p.IntValues(1, "pads");
    if (!given.ok()) return given.status();
    pads = *given;
  }
  if (p.Has(3)) {  // Opset 18: pads for the listed axes only.
    auto a = p.IntValues(3, "axes");
    if (!a.ok()) return a.status();
    if (pads.size() != 2 * a->size()) return p.Fail("pads do not match axes");
    Dims all(2 * r, 0);
    for (size_t i = 0; i < a->size(); ++i) {
      int64_t ax = (*a)[i] < 0 ? (*a)[i] + static_cast<int64_t>(r) : (*a)[i];
      if (ax < 0 || ax >= static_cast<int64_t>(r)) return p.Fail("axis out of range");
      all[ax] = pads[i];
      all[ax + r] = pads[i + a->size()];
    }
    pads = all;
  }
  if (pads.size() != 2 * r) return p.Fail("pads do not match the input's rank");
  auto value = p.Scalar("value", 2, "the pad value");
  if (!value.ok()) return value.status();
  const std::string mode = n.Text("mode", "constant");
  // libtorch's list runs from the last dim; dims up front without padding are left out.
  Dims torch_pads = TorchPads(pads, r);
  while (torch_pads.size() >= 2 && torch_pads[torch_pads.size() - 1] == 0 &&
         torch_pads[torch_pads.size() - 2] == 0) {
    torch_pads.resize(torch_pads.size() - 2);
  }
  std::string torch_mode = "constant";
  if (mode == "reflect" || mode == "edge" || mode == "wrap") {
    torch_mode = mode == "reflect" ? "reflect" : mode == "edge" ? "replicate" : "circular";
    // libtorch pads these modes over exactly the 1 to 3 dims after N and C.
    if (r < 3 || r > 5 || torch_pads.size() > 2 * (r - 2)) {
      return p.Fail("libtorch pads in " + mode + " mode only the 1 to 3 dims after N and C");
    }
    torch_pads.resize(2 * (r - 2), 0);
  } else if (mode != "constant") {
    return p.Fail("unknown mode '" + mode + "'");
  }
  const double fill = value->value_or(0.0);
  *k = [x = x->tensor, y = n.outputs[0], torch_pads, torch_mode, fill](Values& v) {
    v[y] = torch_mode == "constant" ? at::constant_pad_nd(v[x], torch_pads, fill)
                                    : at::pad(v[x], torch_pads, torch_mode);
  };
  return Status();
}

namespace {

// Resize and Upsample, which differ in the default coordinate transformation.
Status Rescale(NodePlan& p, Kernel* k, const std::string& default_transform) {
  auto x = p.DataWithDims(0);
  if (!x.ok()) return x.status();
  auto yd = p.OutDims(0);
  if (!yd.ok()) return yd.status();
  const Dims& xd = x->dims;
  const size_t r = xd.size();
  if (r < 3 || r > 5 || yd->size() != r || (*yd)[0] != xd[0] || (*yd)[1] != xd[1]) {
    return p.Fail("libtorch resizes the 1 to 3 spatial dims of an N x C x ... tensor only");
  }
  const Dims size(yd->begin() + 2, yd->end());
  const Node& n = p.node();
  const std::string mode = n.Text("mode", "nearest");
  const std::string transform = n.Text("coordinate_transformation_mode", default_transform);
  const int in = x->tensor, y = n.outputs[0];
  if (mode == "nearest") {
    // PyTorch exports its 'nearest' as asymmetric + floor; ONNX's default half_pixel is
    // libtorch's 'nearest-exact'. Both agree on integer scale factors.
    const bool exact = transform != "asymmetric";
    *k = [in, y, size, exact](Values& v) {
      const at::Tensor& t = v[in];
      switch (size.size()) {
        case 1:
          v[y] = exact ? at::_upsample_nearest_exact1d(t, size) : at::upsample_nearest1d(t, size);
          break;
        case 2:
          v[y] = exact ? at::_upsample_nearest_exact2d(t, size) : at::upsample_nearest2d(t, size);
          break;
        default:
          v[y] = exact ? at::_upsample_nearest_exact3d(t, size) : at::upsample_nearest3d(t, size);
      }
    };
    return Status();
  }
  if (mode == "linear" || mode == "bilinear" || mode == "trilinear") {
    if (transform != "half_pixel" && transform != "pytorch_half_pixel" &&
        transform != "align_corners") {
      return p.Fail("linear resize with coordinate_transformation_mode '" + transform +
                    "' has no libtorch op");
    }
    const bool corners = transform == "align_corners";
    *k = [in, y, size, corners](Values& v) {
      const at::Tensor& t = v[in];
      switch (size.size()) {
        case 1:
          v[y] = at::upsample_linear1d(t, size, corners);
          break;
        case 2:
          v[y] = at::upsample_bilinear2d(t, size, corners);
          break;
        default:
          v[y] = at::upsample_trilinear3d(t, size, corners);
      }
    };
    return Status();
  }
  return p.Fail("resize mode '" + mode + "' is not supported (nearest and linear are)");
}

}  // namespace

Status BuildResize(NodePlan& p, Kernel* k, size_t*) { return Rescale(p, k, "half_pixel"); }

Status BuildUpsample(NodePlan& p, Kernel* k, size_t*) { return Rescale(p, k, "asymmetric"); }

Status BuildDropout(NodePlan& p, Kernel* k, size_t*) {
  auto x = p.Data(0);
  if (!x.ok()) return x.status();
  auto ratio = p.Scalar("ratio", 1, "Dropout's ratio");
  if (!ratio.ok()) return ratio.status();
  const double drop = ratio->value_or(0.5);
  if (drop < 0 || drop >= 1) return p.Fail("ratio must be in [0, 1)");
  bool train = true;
  if (p.Has(2)) {
    auto mode = p.IntValues(2, "training_mode");
    if (!mode.ok()) return mode.status();
    train = !mode->empty() && mode->front() != 0;
  }
  *k = [x = *x, y = p.node().outputs[0], drop, train, training = p.training()](Values& v) {
    v[y] = at::dropout(v[x], drop, train && *training);
  };
  return Status();
}

// ---- Parameter inits ----------------------------------------------------------------------------

Init ScaleInit(const Graph&, const Node&, size_t) { return Fill(1.0); }

// The bias of a layer applied to a higher-rank input (MatMul, then Add) shares that layer's
// bound.
Init AddedBiasInit(const Graph& g, const Node& n, size_t position) {
  int other = n.inputs.size() == 2 ? n.inputs[1 - position] : -1;
  int producer = other >= 0 ? g.tensors[other].producer : -1;
  if (producer >= 0) {
    const Node& p = g.nodes[producer];
    if (FanInFn fan_in = TorchOpOf(p.op).bias_fan_in) {
      for (size_t j = 0; j < p.inputs.size() && j < 2; ++j) {
        if (p.inputs[j] >= 0 && g.tensors[p.inputs[j]].role == Role::parameter) {
          return Uniform(fan_in(g, p, j));
        }
      }
    }
  }
  return Fill(0.0);
}

}  // namespace joulecast::torch_plan
