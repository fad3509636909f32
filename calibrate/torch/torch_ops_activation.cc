// Activations: one libtorch op on input 0 each, with ONNX's attribute defaults.
#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <string>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

namespace {

// y = F(input 0), for libtorch's functions of a tensor alone.
template <at::Tensor (*F)(const at::Tensor&)>
Status UnaryFn(NodePlan& p, Kernel* k) {
  return Unary(p, k, F);
}

}  // namespace

Status BuildRelu(NodePlan& p, Kernel* k, size_t*) { return UnaryFn<at::relu>(p, k); }

Status BuildSigmoid(NodePlan& p, Kernel* k, size_t*) { return UnaryFn<at::sigmoid>(p, k); }

Status BuildTanh(NodePlan& p, Kernel* k, size_t*) { return UnaryFn<at::tanh>(p, k); }

Status BuildHardSwish(NodePlan& p, Kernel* k, size_t*) { return UnaryFn<at::hardswish>(p, k); }

Status BuildErf(NodePlan& p, Kernel* k, size_t*) { return UnaryFn<at::erf>(p, k); }

Status BuildSoftplus(NodePlan& p, Kernel* k, size_t*) {
  return Unary(p, k, [](const at::Tensor& t) { return at::softplus(t); });
}

Status BuildLeakyRelu(NodePlan& p, Kernel* k, size_t*) {
  const double alpha = p.node().Real("alpha", 0.01);
  return Unary(p, k, [alpha](const at::Tensor& t) { return at::leaky_relu(t, alpha); });
}

Status BuildElu(NodePlan& p, Kernel* k, size_t*) {
  const double alpha = p.node().Real("alpha", 1.0);
  return Unary(p, k, [alpha](const at::Tensor& t) { return at::elu(t, alpha); });
}

Status BuildSelu(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  const double alpha = n.Real("alpha", 1.67326319217681884765625);
  const double gamma = n.Real("gamma", 1.05070102214813232421875);
  return Unary(p, k, [alpha, gamma](const at::Tensor& t) { return at::elu(t, alpha, gamma); });
}

Status BuildHardSigmoid(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  const double alpha = n.Real("alpha", 0.2), beta = n.Real("beta", 0.5);
  if (std::abs(alpha - 1.0 / 6) < 1e-6 && beta == 0.5) {
    return Unary(p, k, [](const at::Tensor& t) { return at::hardsigmoid(t); });
  }
  return Unary(p, k,
               [alpha, beta](const at::Tensor& t) { return at::clamp(t * alpha + beta, 0, 1); });
}

Status BuildGelu(NodePlan& p, Kernel* k, size_t*) {
  if (auto x = p.Data(0); !x.ok()) return x.status();
  const std::string approximate = p.node().Text("approximate", "none");
  if (approximate != "none" && approximate != "tanh") {
    return p.Fail("unknown approximate '" + approximate + "'");
  }
  return Unary(p, k, [approximate](const at::Tensor& t) { return at::gelu(t, approximate); });
}

// Opset 13's semantics (one axis, default -1); for the usual [N, classes] logits they agree
// with the older flatten-to-2-D ones.
Status BuildSoftmax(NodePlan& p, Kernel* k, size_t*) {
  const int64_t axis = p.node().Int("axis", -1);
  return Unary(p, k, [axis](const at::Tensor& t) { return at::softmax(t, axis); });
}

Status BuildLogSoftmax(NodePlan& p, Kernel* k, size_t*) {
  const int64_t axis = p.node().Int("axis", -1);
  return Unary(p, k, [axis](const at::Tensor& t) { return at::log_softmax(t, axis); });
}

Status BuildClip(NodePlan& p, Kernel* k, size_t*) {
  if (auto x = p.Data(0); !x.ok()) return x.status();
  auto lo = p.Scalar("min", 1, "Clip's min");
  if (!lo.ok()) return lo.status();
  auto hi = p.Scalar("max", 2, "Clip's max");
  if (!hi.ok()) return hi.status();
  std::optional<double> l = *lo, h = *hi;
  return Unary(p, k, [l, h](const at::Tensor& t) {
    return at::clamp(t, l ? c10::optional<at::Scalar>(*l) : c10::nullopt,
                     h ? c10::optional<at::Scalar>(*h) : c10::nullopt);
  });
}

Status BuildPRelu(NodePlan& p, Kernel* k, size_t*) {
  auto x = p.Data(0);
  if (!x.ok()) return x.status();
  auto slope = p.Data(1);
  if (!slope.ok()) return slope.status();
  auto xd = p.InDims(0), sd = p.InDims(1);
  if (!xd.ok()) return xd.status();
  if (!sd.ok()) return sd.status();
  // libtorch's prelu takes one slope per channel (axis 1); ONNX's broadcasts any shape.
  bool per_channel = Product(*sd) == 1 || (xd->size() >= 2 && sd->size() == xd->size() - 1 &&
                                           (*sd)[0] == (*xd)[1] && Product(*sd, 1) == 1);
  *k = [in = *x, s = *slope, y = p.node().outputs[0], per_channel](Values& v) {
    v[y] = per_channel ? at::prelu(v[in], v[s].reshape({-1}))
                       : at::where(v[in] >= 0, v[in], v[in] * v[s]);
  };
  return Status();
}

Init PReluInit(const Graph&, const Node&, size_t) { return Fill(0.25); }

}  // namespace joulecast::torch_plan
