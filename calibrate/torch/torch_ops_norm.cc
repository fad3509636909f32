// Normalisations: BatchNormalization, LayerNormalization, InstanceNormalization and
// GroupNormalization, each through the op PyTorch's module calls.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "calibrate/torch/torch_plan.h"

namespace joulecast::torch_plan {

namespace {

// X, scale and bias of a normalisation (scale and bias -1 when absent), its epsilon, and the
// known dims of X where asked for (left empty otherwise).
struct NormInputs {
  int x, scale, bias;
  double eps;
  Dims x_dims;
};

Result<NormInputs> ReadNorm(const NodePlan& p, bool with_dims) {
  auto x = p.Data(0), scale = p.OptionalData(1), bias = p.OptionalData(2);
  if (!x.ok()) return x.status();
  if (!scale.ok()) return scale.status();
  if (!bias.ok()) return bias.status();
  NormInputs in{*x, *scale, *bias, p.node().Real("epsilon", 1e-5), {}};
  if (with_dims) {
    auto xd = p.InDims(0);
    if (!xd.ok()) return xd.status();
    in.x_dims = *xd;
  }
  return in;
}

}  // namespace

Status BuildBatchNorm(NodePlan& p, Kernel* k, size_t* produced) {
  const Node& n = p.node();
  auto in = ReadNorm(p, /*with_dims=*/false);
  if (!in.ok()) return in.status();
  auto mean = p.OptionalData(3), var = p.OptionalData(4);
  if (!mean.ok()) return mean.status();
  if (!var.ok()) return var.status();
  // ONNX's momentum weighs the running statistic, PyTorch's the batch statistic.
  const double momentum = 1.0 - n.Real("momentum", 0.9);
  // Outputs 1 and 2 (opset 14's updated running statistics) are the buffers after the update.
  std::vector<std::pair<int, int>> stats;
  if (n.outputs.size() > 1 && *mean >= 0) stats.push_back({n.outputs[1], *mean});
  if (n.outputs.size() > 2 && *var >= 0) stats.push_back({n.outputs[2], *var});
  *produced = 1 + stats.size();
  *k = [x = in->x, s = in->scale, b = in->bias, m = *mean, r = *var, y = n.outputs[0], momentum,
        eps = in->eps, stats, training = p.training()](Values& v) {
    // Evaluation uses the running statistics, where there are any.
    const bool batch_stats = *training || m < 0 || r < 0;
    v[y] = at::batch_norm(v[x], s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                          m >= 0 ? v[m] : at::Tensor(), r >= 0 ? v[r] : at::Tensor(), batch_stats,
                          momentum, eps, true);
    for (auto [out, buffer] : stats) v[out] = v[buffer].detach();
  };
  return Status();
}

Status BuildLayerNorm(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto in = ReadNorm(p, /*with_dims=*/true);
  if (!in.ok()) return in.status();
  const Dims& xd = in->x_dims;
  int64_t r = static_cast<int64_t>(xd.size());
  int64_t axis = n.Int("axis", -1);
  if (axis < -r || axis >= r) return p.Fail("axis out of range");
  if (axis < 0) axis += r;
  Dims shape(xd.begin() + axis, xd.end());
  *k = [x = in->x, s = in->scale, b = in->bias, y = n.outputs[0], shape, eps = in->eps](Values& v) {
    v[y] = at::layer_norm(v[x], shape, s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                          eps);
  };
  return Status();
}

Status BuildInstanceNorm(NodePlan& p, Kernel* k, size_t*) {
  auto in = ReadNorm(p, /*with_dims=*/false);
  if (!in.ok()) return in.status();
  *k = [x = in->x, s = in->scale, b = in->bias, y = p.node().outputs[0], eps = in->eps](Values& v) {
    v[y] = at::instance_norm(v[x], s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                             at::Tensor(), at::Tensor(), true, 0.1, eps, true);
  };
  return Status();
}

// nn.GroupNorm's op, whose weight and bias are per channel. Opset 18's scale and bias are per
// group: they are repeated to the group's channels inside the kernel, so that the gradient sums
// back onto the per-group parameters.
Status BuildGroupNorm(NodePlan& p, Kernel* k, size_t*) {
  const Node& n = p.node();
  auto in = ReadNorm(p, /*with_dims=*/true);
  if (!in.ok()) return in.status();
  if (in->x_dims.size() < 2) return p.Fail("GroupNormalization needs an input of rank >= 2");
  const int64_t channels = in->x_dims[1];
  const int64_t groups = n.Int("num_groups", 0);
  if (groups <= 0 || channels % groups != 0) {
    return p.Fail("num_groups " + std::to_string(groups) + " does not divide the input's " +
                  std::to_string(channels) + " channels");
  }
  // How often each value of scale (input 1) and bias (input 2) repeats: 1 per channel, C / G
  // per group.
  int64_t repeats[3] = {0, 1, 1};
  for (size_t i = 1; i <= 2; ++i) {
    if (!p.Has(i)) continue;
    auto d = p.InDims(i);
    if (!d.ok()) return d.status();
    const int64_t values = Product(*d);
    if (values == channels) continue;
    if (values != groups) {
      return p.Fail(std::string(i == 1 ? "scale" : "bias") + " has " + std::to_string(values) +
                    " values; it needs one per group (" + std::to_string(groups) +
                    ") or per channel (" + std::to_string(channels) + ")");
    }
    repeats[i] = channels / groups;
  }
  *k = [x = in->x, s = in->scale, b = in->bias, y = n.outputs[0], eps = in->eps, groups,
        rs = repeats[1], rb = repeats[2]](Values& v) {
    auto per_channel = [&v](int t, int64_t r) {
      if (t < 0) return at::Tensor();
      at::Tensor flat = v[t].reshape({-1});
      return r > 1 ? flat.repeat_interleave(r) : flat;
    };
    v[y] = at::group_norm(v[x], groups, per_channel(s, rs), per_channel(b, rb), eps, true);
  };
  return Status();
}

Init NormInit(const Graph&, const Node&, size_t position) {
  return Fill(position == 1 ? 1.0 : 0.0);
}

}  // namespace joulecast::torch_plan
