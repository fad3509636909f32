#include "analyzer/energy/time_model.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "analyzer/energy/energy_internal.h"

namespace joulecast {

namespace {

double D(const Count& c) { return static_cast<double>(c.value()); }

// The share of a channel block's lanes `channels` fill: 33 in blocks of 16 fill 33/48.
double BlockFill(int64_t channels, int block) {
  if (block <= 1 || channels <= 0) return 1;
  const int64_t blocks = (channels + block - 1) / block;
  return static_cast<double>(channels) / static_cast<double>(blocks * block);
}

// A depthwise convolution's channels are its groups.
bool Depthwise(const LayerCost& layer) { return layer.variant == "depthwise" && layer.groups > 1; }

double Efficiency(const FamilyTime& f, const LayerCost& layer) {
  if (Depthwise(layer)) return BlockFill(layer.groups, f.channel_block);
  if (!HasGemm(layer)) return 1;
  auto part = [](double half, int64_t size) {
    return half > 0 ? 1 / (1 + half / static_cast<double>(size)) : 1.0;
  };
  // Input channels fewer than a block are read as they are (oneDNN's kernels for first layers
  // take 3 channels without padding them to 16); more are read in whole blocks.
  const double in_fill =
      layer.in_channels > f.channel_block ? BlockFill(layer.in_channels, f.channel_block) : 1;
  return part(f.m0, layer.gemm_m) * part(f.n0, layer.gemm_n) * part(f.k0, layer.gemm_k) *
         BlockFill(layer.gemm_n, f.channel_block) * in_fill;
}

}  // namespace

bool HasGemm(const LayerCost& layer) {
  return layer.gemm_m > 0 && layer.gemm_n > 0 && layer.gemm_k > 0 && layer.groups <= 1;
}

const char* RegimeName(Regime regime) {
  switch (regime) {
    case Regime::dispatch: return "dispatch";
    case Regime::memory: return "memory";
    case Regime::compute: return "compute";
  }
  return "dispatch";
}

std::pair<double, double> Launches(Kind kind) {
  switch (kind) {
    case Kind::conv: return {2, 3};
    case Kind::linear: return {1, 3};
    case Kind::relu: return {1, 1};
    case Kind::activation: return {1, 1};
    case Kind::norm: return {1, 1};
    case Kind::pool: return {1, 1};
    case Kind::elementwise: return {1, 1};
    case Kind::dropout: return {2, 1};
    case Kind::shape: return {0, 0};
    case Kind::other: return {1, 1};
  }
  return {1, 1};
}

int ElementBytes(const std::string& precision) { return precision == "fp32" ? 4 : 2; }

double TrainingMacs(const Work& w) {
  return D(w.macs_fwd) + D(w.macs_bwd_input) + D(w.macs_bwd_weight);
}

std::pair<double, double> PassOps(const LayerCost& layer) {
  const Work& w = layer.work;
  if (layer.kind == Kind::pool && (layer.variant == "max" || layer.variant == "avg")) {
    const double outputs = D(w.elements_fwd);
    return {outputs, w.elements_bwd.value() > 0 ? outputs : 0};
  }
  return {D(w.macs_fwd), D(w.macs_bwd_input) + D(w.macs_bwd_weight)};
}

std::pair<double, double> PassBytes(const LayerCost& layer, int element_bytes) {
  const Work& w = layer.work;
  const double in = D(w.elements_in), out = D(w.elements_fwd), params = D(layer.params);
  const double forward = in + out + params;
  const double backward = out + in + D(w.elements_bwd) + params;
  return {forward * element_bytes, backward * element_bytes};
}

const FamilyTime* FamilyFor(const TimeModel& model, const std::string& model_class,
                            std::string* used) {
  const std::string kind = model_class.substr(0, model_class.find('.'));
  std::vector<std::string> tries = {model_class, kind};
  if (kind == "conv" || kind == "linear") {
    tries.push_back(kind == "conv" ? "linear" : "conv");
  } else {
    tries.push_back("relu");
  }
  return FirstFound(model.families, tries, used);
}

std::pair<double, double> DeviceTime(const FamilyTime& f, const LayerCost& layer,
                                     int element_bytes) {
  const double eff = Efficiency(f, layer);
  const auto [bytes_fwd, bytes_bwd] = PassBytes(layer, element_bytes);
  // A per-channel reduction streams at the bandwidth its channels can use. Its blocks are
  // bound by the elements each reads, not their width: the stretch is the same at 2 bytes.
  const double stretch = f.c0 > 0 && !HasGemm(layer) && layer.in_channels > 0
                             ? 1 + f.c0 / static_cast<double>(layer.in_channels) *
                                       (4.0 / element_bytes)
                             : 1;
  auto part = [&](double macs, double rate, double bytes, double bandwidth) {
    double t = 0;
    if (macs > 0 && rate > 0) t += macs / (rate * eff);
    if (bandwidth > 0) t += bytes * stretch / bandwidth;
    return t;
  };
  const auto [ops_fwd, ops_bwd] = PassOps(layer);
  return {part(ops_fwd, f.macs_per_s_fwd, bytes_fwd, f.bytes_per_s_fwd),
          part(ops_bwd, f.macs_per_s_bwd, bytes_bwd, f.bytes_per_s_bwd)};
}

std::pair<double, double> AloneTime(const FamilyTime& f, const LayerCost& layer, bool async,
                                    int element_bytes) {
  const auto [dev_fwd, dev_bwd] = DeviceTime(f, layer, element_bytes);
  if (async) return {std::max(f.host_fwd_s, dev_fwd), std::max(f.host_bwd_s, dev_bwd)};
  return {f.host_fwd_s + dev_fwd, f.host_bwd_s + dev_bwd};
}

LayerTime PredictLayerTime(const TimeModel& model, const LayerCost& layer, int element_bytes) {
  LayerTime t;
  if (layer.kind == Kind::shape) return t;
  const FamilyTime* f = FamilyFor(model, ModelClass(layer), &t.family);
  const auto [launch_fwd, launch_bwd] = Launches(layer.kind);
  const bool backward = layer.work.elements_bwd.value() > 0;
  const double host_fwd = launch_fwd * model.launch_s;
  const double host_bwd = backward ? launch_bwd * model.launch_s : 0;
  double dev_fwd = 0, dev_bwd = 0;
  if (f) {
    std::tie(dev_fwd, dev_bwd) = DeviceTime(*f, layer, element_bytes);
    dev_fwd *= model.device_scale.For(layer.kind);
    dev_bwd *= model.device_scale.For(layer.kind);
    const double macs = D(layer.work.macs_fwd);
    const double elements = D(layer.work.elements_in) + D(layer.work.elements_fwd);
    auto outside = [](double v, double lo, double hi) {
      return hi > 0 && (v > 2 * hi || v < lo / 2);
    };
    t.outside_range = outside(elements, f->min_elements, f->max_elements) ||
                      (macs > 0 && outside(macs, f->min_macs, f->max_macs));
  }
  t.host_s = host_fwd + host_bwd;
  t.device_s = dev_fwd + dev_bwd;
  t.time_s = model.async ? std::max(host_fwd, dev_fwd) + std::max(host_bwd, dev_bwd)
                         : t.host_s + t.device_s;
  if (t.host_s >= t.device_s) {
    t.regime = Regime::dispatch;
  } else if (f) {
    const double eff = Efficiency(*f, layer);
    const auto [ops_fwd, ops_bwd] = PassOps(layer);
    const double rate = std::max(f->macs_per_s_fwd, f->macs_per_s_bwd);
    const double compute = rate > 0 ? (ops_fwd + ops_bwd) / (rate * eff) : 0;
    const auto [b1, b2] = PassBytes(layer, element_bytes);
    const double memory = (f->bytes_per_s_fwd > 0 ? b1 / f->bytes_per_s_fwd : 0) +
                          (f->bytes_per_s_bwd > 0 ? b2 / f->bytes_per_s_bwd : 0);
    t.regime = compute >= memory ? Regime::compute : Regime::memory;
  }
  return t;
}

double WorkEnergy(const TimeModel& model, const LayerCost& layer, int element_bytes) {
  if (layer.kind == Kind::shape) return 0;
  const auto [bytes_fwd, bytes_bwd] = PassBytes(layer, element_bytes);
  const double per_mac = layer.kind == Kind::linear && model.joules_per_mac_matmul
                             ? *model.joules_per_mac_matmul
                             : model.joules_per_mac;
  return TrainingMacs(layer.work) * per_mac + (bytes_fwd + bytes_bwd) * model.joules_per_byte;
}

double OptimizerTime(const TimeModel& model, int64_t params, int64_t tensors) {
  const double host =
      model.optimizer_launches_per_tensor * static_cast<double>(tensors) * model.launch_s +
      (model.optimizer_step_s + model.optimizer_tensor_s * static_cast<double>(tensors));
  const double memory = model.optimizer_bytes_per_s > 0
                            ? model.optimizer_bytes_per_param * static_cast<double>(params) /
                                  model.optimizer_bytes_per_s
                            : 0;
  return model.async ? std::max(host, memory) : host + memory;
}

}  // namespace joulecast
