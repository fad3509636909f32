#include "calibrate/calibration/layer_design.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "calibrate/calibration/random_network.h"
#include "common/halton.h"
#include "common/splitmix64.h"

namespace joulecast {

namespace {

using nlohmann::ordered_json;

int64_t LogInt(double u, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const double v = std::exp(std::log(static_cast<double>(lo)) +
                            u * (std::log(static_cast<double>(hi) + 1) - std::log(static_cast<double>(lo))));
  return std::clamp<int64_t>(static_cast<int64_t>(v), lo, hi);
}

// A width as real networks have it: a multiple of 8 from 16 up (16, 24, ... 2048), kept
// within [lo, hi]. Tensor cores and vector units are built for such widths; a random one such as
// 555 sends a GPU's convolution down a slow path that real networks do not take, and timings
// there made the H200's calibration predict real convolutions 1.4x too slow (docs/gpu.md).
int64_t RealWidth(int64_t v, int64_t lo, int64_t hi) {
  if (v < 16) return v;
  const int64_t top = std::max<int64_t>(hi / 8 * 8, 16);
  return std::clamp<int64_t>((v + 4) / 8 * 8, std::min(std::max<int64_t>(lo, 16), top), top);
}

int Pick(double u, int n) { return std::min(n - 1, static_cast<int>(u * n)); }

uint64_t DesignSeed(const std::string& design, uint64_t seed) {
  uint64_t h = seed;
  for (char c : design) h = SplitMix64(h ^ static_cast<uint8_t>(c));
  return h;
}

// Point `index` of a design's scrambled Halton sequence: its digits scrambled by a splitmix64
// chain from the design's seed, and rotated by a shift per coordinate drawn from the seed
// (Cranley-Patterson): digit scrambling leaves base 2 unchanged, so without the shift every seed
// would draw the same batches.
std::vector<double> DesignPoint(const std::string& design, uint64_t seed, int dims, int64_t index) {
  const uint64_t s = DesignSeed(design, seed);
  uint64_t state = SplitMix64(s ^ 0x48616c746f6eULL), dim = 0;
  const ScrambledHalton halton(
      dims,
      [&state](uint64_t n) {
        state = SplitMix64(state);
        return state % n;
      },
      [s, &dim] { return static_cast<double>(SplitMix64(s + ++dim) >> 11) * 0x1.0p-53; });
  return halton.Point(static_cast<uint64_t>(index));
}

std::string Arch(const std::vector<int64_t>& input, const ordered_json& layer) {
  ordered_json a = {{"name", "layer"}, {"input", {{"shape", input}}}, {"layers", {layer}}};
  return a.dump();
}

}  // namespace

LayerDesignLimits GpuLimits() { return LayerDesignLimits{}; }

LayerDesignLimits CpuLimits() {
  LayerDesignLimits l;
  // libtorch runs a 1x1, stride-1 convolution below batch 16 on one thread through its slow
  // path (no oneDNN: 2-3 GMAC/s against 30-70), a regime of its own that timings at batch 8
  // mixed into the convolution family (docs/calibrate.md).
  l.min_batch = 16;
  l.max_batch = 128;
  l.max_channels = 512;
  l.max_spatial = 112;
  l.max_features = 8192;
  l.max_macs = 1e8;
  l.max_elements = 2e6;
  l.network_sizes = {28, 32};
  l.max_network_positions = 32.0 * 32 * 32;
  l.max_optimizer_params = 10'000'000;
  return l;
}

std::pair<int64_t, int64_t> OptimizerConfig(int64_t index, const LayerDesignLimits& limits) {
  // (fraction of the log range of values, tensors)
  static constexpr std::pair<double, int64_t> kPoints[kOptimizerConfigs] = {
      {0.0, 1}, {0.0, 128}, {1.0, 1}, {0.5, 256}, {0.33, 16}, {1.0, 64}, {0.67, 4}, {0.83, 32}};
  const auto& [fraction, tensors] = kPoints[static_cast<size_t>(index) % kOptimizerConfigs];
  const double lo = 1e4, hi = static_cast<double>(std::max<int64_t>(limits.max_optimizer_params, 10'000));
  return {static_cast<int64_t>(std::llround(lo * std::pow(hi / lo, fraction))), tensors};
}

const std::vector<std::string>& LayerDesigns() {
  static const std::vector<std::string> designs = {
      "conv", "conv.input", "conv.depthwise", "linear", "linear.input", "norm", "relu",
      "activation.gelu", "activation.sigmoid", "activation.tanh", "activation.hardswish",
      "pool.max", "pool.avg", "pool.global_avg", "dropout"};
  return designs;
}

double DesignWeight(const std::string& design) {
  if (design == "conv") return 3;
  if (design == "linear") return 2;
  if (design == "conv.depthwise") return 1.5;
  if (design == "conv.input" || design == "linear.input") return 1;
  return 0.75;
}

Result<LayerConfig> MakeLayerConfig(const std::string& design, int64_t index, uint64_t seed,
                                    const LayerDesignLimits& limits) {
  if (std::find(LayerDesigns().begin(), LayerDesigns().end(), design) == LayerDesigns().end()) {
    return Status::Error("unknown layer design '" + design + "'");
  }
  const std::vector<double> u = DesignPoint(design, seed, 6, index);
  LayerConfig c;
  c.design = design;
  c.index = index;
  int64_t batch = LogInt(u[0], limits.min_batch, limits.max_batch);
  const std::string kind = design.substr(0, design.find('.'));
  if (kind == "linear") {
    c.input_needs_grad = design != "linear.input";
    int64_t in = RealWidth(LogInt(u[1], 64, limits.max_features), 64, limits.max_features);
    // Outputs from 10 (a classifier's) up; from 16 on, real widths.
    const int64_t out = RealWidth(LogInt(u[2], 10, 4096), 16, 4096);
    while (static_cast<double>(batch) * static_cast<double>(in) * static_cast<double>(out) > limits.max_macs &&
           (batch > limits.min_batch || in > 64)) {
      if (batch > limits.min_batch) batch = std::max(limits.min_batch, batch / 2);
      else in = RealWidth(std::max<int64_t>(64, in / 2), 64, limits.max_features);
    }
    c.batch = batch;
    c.json = Arch({in}, {{"op", "linear"}, {"out_features", out}});
    return c;
  }
  // Channels and size as real networks pair them: channels x size from 512 (a CIFAR network's
  // first stage, 16 at 32) to 14336 (ResNet-50's last, 2048 at 7), so that wide layers are
  // small and narrow ones large, as in every stage of a CNN.
  int64_t channels = RealWidth(LogInt(u[1], 16, limits.max_channels), 16, limits.max_channels);
  const double product = std::exp(std::log(512.0) + u[2] * (std::log(14336.0) - std::log(512.0)));
  int64_t size = std::clamp<int64_t>(std::llround(product / static_cast<double>(channels)),
                                     limits.min_spatial, limits.max_spatial);
  ordered_json layer;
  int64_t out_channels = channels, stride = 1, kernel = 1;
  if (kind == "conv") {
    static const int kKernels[] = {1, 1, 3, 3, 3, 3, 5, 7};  // as often as networks use them
    kernel = kKernels[Pick(u[3], 8)];
    stride = Pick(u[4], 4) == 3 ? 2 : 1;
    if (design == "conv.input") {
      c.input_needs_grad = false;
      channels = Pick(u[1], 3) == 0 ? 1 : 3;
      out_channels = RealWidth(LogInt(u[5], 16, 128), 16, 128);
      kernel = std::max<int64_t>(kernel, 3);
      size = LogInt(u[2], 28, limits.max_spatial);
    } else if (design == "conv") {
      // Output channels a quarter to four times the input's (bottlenecks, expansions).
      out_channels = RealWidth(std::clamp<int64_t>(std::llround(static_cast<double>(channels) *
                                                                std::exp((u[5] - 0.5) * 2 * std::log(4.0))),
                                                    8, limits.max_channels),
                               16, limits.max_channels);
    } else {
      kernel = Pick(u[3], 3) == 0 ? 5 : 3;
    }
    layer = {{"op", "conv2d"}, {"out_channels", out_channels}, {"kernel", kernel},
             {"stride", stride}, {"padding", kernel / 2}};
    if (design == "conv.depthwise") layer["groups"] = channels;
  } else if (kind == "norm") {
    layer = {{"op", "batchnorm2d"}};
  } else if (kind == "relu") {
    layer = {{"op", "relu"}};
  } else if (kind == "activation") {
    layer = {{"op", design.substr(design.find('.') + 1)}};
  } else if (design == "pool.global_avg") {
    layer = {{"op", "global_avgpool"}};
  } else if (kind == "pool") {
    // 2x2 at stride 2 (VGG's), 3x3 at stride 2 padded (ResNet's stem) and, one time in three, 3x3
    // at stride 1 padded (Inception's branches): a CPU pools at a cost per output, so the
    // outputs per input matter.
    kernel = Pick(u[3], 2) == 0 ? 2 : 3;
    stride = kernel == 3 && Pick(u[4], 3) == 0 ? 1 : 2;
    layer = {{"op", design == "pool.max" ? "maxpool2d" : "avgpool2d"}, {"kernel", kernel},
             {"stride", stride}, {"padding", kernel == 3 ? 1 : 0}};
  } else {
    layer = {{"op", "dropout"}, {"p", 0.1 + 0.4 * u[3]}};
  }
  if (size < kernel) size = kernel;
  auto work = [&](int64_t b, int64_t s) {
    const double positions = static_cast<double>(b) * static_cast<double>(s) * static_cast<double>(s);
    const int64_t pad = kind == "conv" || (kind == "pool" && kernel == 3) ? kernel / 2 : 0;
    const int64_t out_size = (s + 2 * pad - kernel) / stride + 1;
    const double out_positions = static_cast<double>(b) * static_cast<double>(out_size * out_size);
    const double elements = positions * static_cast<double>(channels) +
                            out_positions * static_cast<double>(out_channels);
    double macs = 0;
    if (kind == "conv") {
      macs = out_positions * static_cast<double>(out_channels) * static_cast<double>(kernel * kernel) *
             (design == "conv.depthwise" ? 1.0 : static_cast<double>(channels));
    }
    return std::pair<double, double>(macs, elements);
  };
  // Over a cap: a smaller batch first (the shape stays one real networks have), then a smaller
  // size.
  for (;;) {
    const auto [macs, elements] = work(batch, size);
    if (macs <= limits.max_macs && elements <= limits.max_elements) break;
    if (batch > limits.min_batch) {
      batch = std::max(limits.min_batch, batch / 2);
    } else if (size > std::max<int64_t>(limits.min_spatial, kernel)) {
      size = std::max<int64_t>(std::max<int64_t>(limits.min_spatial, kernel), size * 3 / 4);
    } else if (kind == "conv" && design != "conv.input" && std::max(channels, out_channels) > 8) {
      // Still over at the smallest batch and size: narrower, keeping the ratio of the widths.
      channels = std::max<int64_t>(8, RealWidth(channels * 3 / 4, 16, channels - 8));
      out_channels =
          design == "conv" ? std::max<int64_t>(8, RealWidth(out_channels * 3 / 4, 16, out_channels - 8))
                           : channels;
      layer["out_channels"] = out_channels;
      if (design == "conv.depthwise") layer["groups"] = channels;
    } else {
      break;
    }
  }
  c.batch = batch;
  c.json = Arch({channels, size, size}, layer);
  return c;
}

NetworkConfig MakeNetworkConfig(int64_t index, uint64_t seed, const LayerDesignLimits& limits) {
  const std::vector<double> u = DesignPoint("network", seed, kRandomNetworkDims + 3, index);
  NetworkConfig n;
  n.index = index;
  const int64_t size = limits.network_sizes[Pick(u[kRandomNetworkDims], static_cast<int>(limits.network_sizes.size()))];
  int64_t batch = LogInt(u[kRandomNetworkDims + 1], limits.min_batch, limits.max_batch);
  if (index % 4 == 3) {
    // An MLP on a flattened image.
    const int depth = 2 + Pick(u[0], 3);
    // At most 1e8 weights in the first layer: an MLP people train, not a memory test.
    const int64_t in = 3 * size * size;
    const int64_t width = std::min<int64_t>(LogInt(u[1], 64, limits.max_features / 4),
                                            std::max<int64_t>(64, 100000000 / in));
    ordered_json layers = ordered_json::array({{{"op", "flatten"}}});
    for (int i = 0; i < depth - 1; ++i) {
      layers.push_back({{"op", "linear"}, {"out_features", width}});
      layers.push_back({{"op", "relu"}});
    }
    layers.push_back({{"op", "linear"}, {"out_features", 10}});
    n.input = {3, size, size};
    n.batch = std::max<int64_t>(limits.min_batch, batch);
    n.json = ordered_json({{"name", "mlp" + std::to_string(index)},
                           {"input", {{"shape", n.input}}},
                           {"layers", layers}}).dump();
    return n;
  }
  while (static_cast<double>(batch) * static_cast<double>(size * size) > limits.max_network_positions &&
         batch > limits.min_batch) {
    batch = std::max(limits.min_batch, batch / 2);
  }
  std::vector<double> v(u.begin(), u.begin() + kRandomNetworkDims);
  RandomNetworkSpec spec = RandomNetwork(v, 1.0, batch, batch);
  nlohmann::json j = nlohmann::json::parse(spec.json);
  j["input"]["shape"] = {spec.channels == 1 && size <= 28 ? 1 : 3, size, size};
  j["name"] = "net" + std::to_string(index) + "_" + spec.style;
  n.input = j["input"]["shape"].get<std::vector<int64_t>>();
  n.batch = spec.batch;
  n.json = j.dump();
  return n;
}

}  // namespace joulecast
