#include "calibrate/calibration/design.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "analyzer/json/json_frontend.h"
#include "calibrate/calibration/halton.h"
#include "calibrate/calibration/random_network.h"

namespace joulecast {

namespace {

using nlohmann::ordered_json;

struct DesignInfo {
  Design design;
  const char* name;
  Kind kind;
  int dims;  // Halton dimensions of the design's space.
};

const DesignInfo kDesigns[] = {
    {Design::conv, "conv", Kind::conv, 8},
    {Design::conv_first, "conv_first", Kind::conv, 6},
    {Design::linear, "linear", Kind::linear, 3},
    {Design::linear_first, "linear_first", Kind::linear, 3},
    {Design::relu, "relu", Kind::relu, 3},
    {Design::activation, "activation", Kind::activation, 4},
    {Design::norm, "norm", Kind::norm, 3},
    {Design::pool, "pool", Kind::pool, 5},
    {Design::elementwise, "elementwise", Kind::elementwise, 4},
    {Design::dropout, "dropout", Kind::dropout, 4},
    {Design::network, "network", Kind::other, kRandomNetworkDims},
};

const DesignInfo& Info(Design d) {
  for (const DesignInfo& i : kDesigns) {
    if (i.design == d) return i;
  }
  return kDesigns[0];
}

constexpr int kDataChannels = 3;  // The stem's input: an RGB-like image.
constexpr int kClasses = 10;

// A choice among n by u in [0, 1).
int Pick(double u, int n) { return std::min(static_cast<int>(u * n), n - 1); }

// An integer in [lo, hi], log-uniform in u.
int64_t LogInt(double u, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  double v = std::exp(std::log(static_cast<double>(lo)) +
                      u * (std::log(static_cast<double>(hi) + 1) - std::log(static_cast<double>(lo))));
  return std::clamp(static_cast<int64_t>(v), lo, hi);
}

// The drawn configuration: every field a design may use.
struct Config {
  std::string op;
  int kernel = 1, stride = 1, groups = 1, copies = 1;
  int64_t in_channels = 1, out_channels = 1, spatial = 1, batch = 1;
  int64_t in_features = 0, out_features = 0;
  double p = 0;
  double shrink = 1;  // The factor the size coordinates were scaled by to fit the caps.
};

// `u` is the Halton point; the coordinates listed in `sizes` are scaled by t (toward their
// minimum) before decoding.
Config Decode(Design d, std::vector<double> u, const DesignLimits& l, double t) {
  Config c;
  c.shrink = t;
  auto size = [&](int i) { return u[i] * t; };
  auto channels = [&](int i) { return LogInt(size(i), 1, l.max_channels); };
  auto spatial = [&](int i) { return LogInt(size(i), l.min_spatial, l.max_spatial); };
  auto batch = [&](int i) { return LogInt(size(i), l.min_batch, l.max_batch); };
  auto features = [&](int i) { return LogInt(size(i), l.min_features, l.max_features); };
  static const int kKernels[] = {1, 3, 5, 7};
  switch (d) {
    case Design::conv: {
      c.op = "conv2d";
      c.kernel = kKernels[Pick(u[0], 4)];
      c.stride = 1 + Pick(u[1], 2);
      const int mode = Pick(u[2], 3);  // 0: dense, 1: grouped, 2: depthwise.
      c.in_channels = channels(4);
      c.out_channels = channels(5);
      c.spatial = spatial(6);
      c.batch = batch(7);
      if (mode == 1) {
        const int64_t g = std::min<int64_t>(2 + Pick(u[3], 7), std::max<int64_t>(1, l.max_channels));
        auto multiple = [&](int64_t ch) {
          int64_t m = std::max<int64_t>(g, (ch + g - 1) / g * g);
          return m > l.max_channels ? l.max_channels / g * g : m;
        };
        c.in_channels = multiple(c.in_channels);
        c.out_channels = multiple(c.out_channels);
        c.groups = static_cast<int>(g);
      } else if (mode == 2) {
        c.out_channels = c.in_channels;
        c.groups = static_cast<int>(c.in_channels);
      }
      break;
    }
    case Design::conv_first:
      c.op = "conv2d";
      c.kernel = kKernels[Pick(u[0], 4)];
      c.stride = 1 + Pick(u[1], 2);
      c.in_channels = Pick(u[2], 2) == 0 ? 1 : 3;
      c.out_channels = channels(3);
      c.spatial = spatial(4);
      c.batch = batch(5);
      break;
    case Design::linear:
    case Design::linear_first:
      c.op = "linear";
      c.in_features = features(0);
      c.out_features = features(1);
      c.batch = batch(2);
      break;
    case Design::relu:
    case Design::norm:
      c.op = d == Design::relu ? "relu" : "batchnorm2d";
      c.copies = kChainCopies;
      c.in_channels = c.out_channels = channels(0);
      c.spatial = spatial(1);
      c.batch = batch(2);
      break;
    case Design::activation: {
      static const char* kOps[] = {"sigmoid", "tanh", "gelu", "hardswish", "leaky_relu"};
      c.op = kOps[Pick(u[0], 5)];
      c.copies = kChainCopies;
      c.in_channels = c.out_channels = channels(1);
      c.spatial = spatial(2);
      c.batch = batch(3);
      break;
    }
    case Design::pool:
      c.op = Pick(u[0], 2) == 0 ? "maxpool2d" : "avgpool2d";
      c.kernel = 2 + Pick(u[1], 2);
      c.in_channels = c.out_channels = channels(2);
      c.spatial = std::max<int64_t>(spatial(3), c.kernel);
      c.batch = batch(4);
      break;
    case Design::elementwise:
      c.op = Pick(u[0], 2) == 0 ? "add" : "concat";
      c.copies = c.op == "add" ? kChainCopies : 1;
      c.in_channels = channels(1);
      c.out_channels = c.op == "add" ? c.in_channels : 2 * c.in_channels;
      c.spatial = spatial(2);
      c.batch = batch(3);
      break;
    case Design::dropout:
      c.op = "dropout";
      c.p = std::round((0.1 + 0.4 * u[0]) * 100) / 100;
      c.copies = kChainCopies;
      c.in_channels = c.out_channels = channels(1);
      c.spatial = spatial(2);
      c.batch = batch(3);
      break;
    case Design::network:  // drawn by RandomNetwork(), never decoded here
      break;
  }
  return c;
}

ordered_json ConfigJson(Design d, const Config& c) {
  ordered_json j;
  j["design"] = std::string(DesignName(d));
  j["op"] = c.op;
  switch (d) {
    case Design::conv:
    case Design::conv_first:
      j["kernel"] = c.kernel;
      j["stride"] = c.stride;
      j["groups"] = c.groups;
      j["in_channels"] = c.in_channels;
      j["out_channels"] = c.out_channels;
      j["spatial"] = c.spatial;
      break;
    case Design::linear:
    case Design::linear_first:
      j["in_features"] = c.in_features;
      j["out_features"] = c.out_features;
      break;
    case Design::pool:
      j["kernel"] = c.kernel;
      [[fallthrough]];
    default:
      j["channels"] = c.in_channels;
      j["spatial"] = c.spatial;
      if (d == Design::dropout) j["p"] = c.p;
      j["copies"] = c.copies;
      break;
  }
  j["batch"] = c.batch;
  j["shrink"] = std::round(c.shrink * 1e4) / 1e4;
  return j;
}

ordered_json Head(const std::string& from) {
  return ordered_json::array({{{"op", "global_avgpool"}, {"from", {from}}},
                              {{"op", "flatten"}},
                              {{"op", "linear"}, {"out_features", kClasses}}});
}

// The layers the design measures, reading `from`; returns the id of the last one.
std::string AddLayers(Design d, const Config& c, const std::string& from, ordered_json& layers) {
  std::string prev = from;
  for (int i = 0; i < c.copies; ++i) {
    ordered_json l = {{"op", c.op}};
    const std::string id = "layer" + std::to_string(i);
    l["id"] = id;
    if (c.op == "add" || c.op == "concat") {
      l["from"] = {prev, prev};
    } else {
      l["from"] = {prev};
    }
    if (d == Design::conv || d == Design::conv_first) {
      l["out_channels"] = c.out_channels;
      l["kernel"] = c.kernel;
      l["stride"] = c.stride;
      l["padding"] = c.kernel / 2;
      if (c.groups != 1) l["groups"] = c.groups;
    } else if (c.op == "linear") {
      l["out_features"] = c.out_features;
    } else if (d == Design::pool) {
      l["kernel"] = c.kernel;
    } else if (d == Design::dropout) {
      l["p"] = c.p;
    }
    layers.push_back(l);
    prev = id;
  }
  return prev;
}

struct Networks {
  std::string probe, base;
};

Networks Build(Design d, const Config& c) {
  const bool first = d == Design::conv_first || d == Design::linear_first;
  const bool linear = d == Design::linear || d == Design::linear_first;
  ordered_json input;
  if (linear) {
    input["shape"] = {first ? c.in_features : int64_t{kDataChannels}, 1, 1};
  } else {
    input["shape"] = {first ? c.in_channels : int64_t{kDataChannels}, c.spatial, c.spatial};
  }
  auto make = [&](bool with_layer) {
    ordered_json layers = ordered_json::array();
    std::string from = "input";
    if (!first) {
      layers.push_back({{"op", "conv2d"}, {"id", "stem"},
                        {"out_channels", linear ? c.in_features : c.in_channels}, {"kernel", 1}});
      from = "stem";
    }
    if (linear) {
      layers.push_back({{"op", "flatten"}, {"id", "flat"}, {"from", {from}}});
      if (with_layer) from = AddLayers(d, c, "flat", layers);
      else from = "flat";
      layers.push_back({{"op", "linear"}, {"id", "head"}, {"from", {from}},
                        {"out_features", kClasses}});
    } else {
      if (with_layer) from = AddLayers(d, c, from, layers);
      for (auto& l : Head(from)) layers.push_back(l);
    }
    ordered_json net = {{"name", std::string(DesignName(d)) + (with_layer ? "_probe" : "_base")},
                        {"input", input},
                        {"layers", layers}};
    return net.dump();
  };
  return {make(true), make(false)};
}

}  // namespace

const std::vector<Design>& AllDesigns() {
  static const std::vector<Design> all = [] {
    std::vector<Design> v;
    for (const DesignInfo& i : kDesigns) v.push_back(i.design);
    return v;
  }();
  return all;
}

std::string_view DesignName(Design design) { return Info(design).name; }

std::optional<Design> DesignFromName(std::string_view name) {
  for (const DesignInfo& i : kDesigns) {
    if (name == i.name) return i.design;
  }
  return std::nullopt;
}

Kind DesignKind(Design design) { return Info(design).kind; }

std::string SampleClass(Design design, const NetworkFeatures& delta) {
  if (design == Design::network) return "network";
  if (design == Design::conv_first || design == Design::linear_first) {
    return std::string(KindName(DesignKind(design))) + ".input";
  }
  return MeasuredClass(delta, DesignKind(design));
}

DesignLimits FullLimits() { return DesignLimits{}; }

DesignLimits QuickLimits() {
  DesignLimits l;
  l.max_channels = 128;
  l.max_spatial = 56;
  l.max_features = 1024;
  l.max_batch = 32;
  l.max_step_s = 0.012;
  l.max_network_step_s = 0.04;
  return l;
}

namespace {

// The largest activation of a network: positions (batch x height x width) and bytes.
struct Largest {
  int64_t positions = 0;
  int64_t bytes = 0;
};

Result<Largest> LargestActivation(const std::string& json, int64_t batch) {
  LoadOptions options;
  options.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(json, "calibration network", options);
  if (!g.ok()) return g.status();
  Largest l;
  for (const Tensor& t : g->tensors) {
    if (!t.shape_known || (t.role != Role::activation && t.role != Role::input)) continue;
    int64_t elements = 1;
    for (int64_t d : t.dims) elements *= d;
    l.bytes = std::max(l.bytes, elements * DTypeBytes(t.dtype));
    if (t.dims.size() == 4) l.positions = std::max(l.positions, t.dims[0] * t.dims[2] * t.dims[3]);
  }
  return l;
}

}  // namespace

Result<double> EstimateStepSeconds(const std::string& json, int64_t batch) {
  LoadOptions options;
  options.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(json, "calibration probe", options);
  if (!g.ok()) return g.status();
  Result<ModelCost> cost = ComputeCosts(*g);
  if (!cost.ok()) return cost.status();
  double s = 0;
  for (const LayerCost& lc : cost->layers) {
    if (lc.kind == Kind::shape) continue;
    const Node& n = g->nodes[lc.node];
    const Work& w = lc.work;
    const double macs = static_cast<double>(w.macs_fwd.value()) +
                        static_cast<double>(w.macs_bwd_input.value()) +
                        static_cast<double>(w.macs_bwd_weight.value());
    const bool grouped = n.op == Op::Conv && n.Int("group", 1) > 1;
    double per_element = 2e-9;
    switch (n.op) {
      case Op::Sigmoid: case Op::Tanh: case Op::Gelu: case Op::HardSwish: case Op::LeakyRelu:
        per_element = 5e-9;
        break;
      case Op::BatchNormalization:
        per_element = 1e-8;
        break;
      case Op::Dropout:
        per_element = 3e-8;
        break;
      default:
        break;
    }
    s += macs / (grouped ? 3e9 : 2e10) + static_cast<double>(w.elements_fwd.value()) * per_element +
         3e-5;
  }
  return s;
}

namespace {

// The network design: the random network at `u`, shrunk (width and batch) to the caps.
Result<ProbePair> MakeNetworkPair(int64_t index, const std::vector<double>& u,
                                  const DesignLimits& limits) {
  auto fits = [&](const RandomNetworkSpec& n) -> Result<bool> {
    Result<double> s = EstimateStepSeconds(n.json, n.batch);
    if (!s.ok()) return s.status();
    if (*s > limits.max_network_step_s) return false;
    Result<Largest> l = LargestActivation(n.json, n.batch);
    if (!l.ok()) return l.status();
    return l->positions <= limits.max_positions && l->bytes <= limits.max_tensor_bytes;
  };
  double scale = 1;
  RandomNetworkSpec n = RandomNetwork(u, scale, limits.min_batch, limits.max_batch);
  Result<bool> ok = fits(n);
  if (!ok.ok()) return Status::Error("calibration design network point " + std::to_string(index) +
                                     ": " + ok.status().message());
  if (!*ok) {
    double lo = 0, hi = 1;
    for (int i = 0; i < 20; ++i) {
      const double mid = (lo + hi) / 2;
      Result<bool> f = fits(RandomNetwork(u, mid, limits.min_batch, limits.max_batch));
      if (!f.ok()) return f.status();
      (*f ? lo : hi) = mid;
    }
    n = RandomNetwork(u, lo, limits.min_batch, limits.max_batch);
  }
  ProbePair pair;
  pair.design = Design::network;
  pair.index = index;
  pair.batch = n.batch;
  pair.config_json = n.config_json;
  pair.probe_json = std::move(n.json);
  pair.base_json = TrivialNetworkJson(n.channels, n.size);
  return pair;
}

}  // namespace

Result<ProbePair> MakeProbePair(Design design, int64_t index, uint64_t seed,
                                const DesignLimits& limits) {
  const ScrambledHalton halton(Info(design).dims,
                               SplitMix64(seed) ^ (static_cast<uint64_t>(design) + 1) * 0x9e37ULL);
  const std::vector<double> u = halton.Point(static_cast<uint64_t>(index));
  auto fits = [&](const Config& c, const Networks& n) -> Result<bool> {
    Result<double> s = EstimateStepSeconds(n.probe, c.batch);
    if (!s.ok()) return s.status();
    if (*s > limits.max_step_s) return false;
    for (const std::string* net : {&n.probe, &n.base}) {
      Result<Largest> l = LargestActivation(*net, c.batch);
      if (!l.ok()) return l.status();
      if (l->positions > limits.max_positions || l->bytes > limits.max_tensor_bytes) return false;
    }
    return true;
  };
  if (design == Design::network) return MakeNetworkPair(index, u, limits);
  Config c = Decode(design, u, limits, 1.0);
  Networks n = Build(design, c);
  Result<bool> ok = fits(c, n);
  if (!ok.ok()) {
    return Status::Error("calibration design " + std::string(DesignName(design)) + " point " +
                         std::to_string(index) + ": " + ok.status().message());
  }
  if (!*ok) {
    // Bisect the largest scale of the size coordinates that fits; at scale 0 every size is at
    // its minimum, which is taken whether it fits or not.
    double lo = 0, hi = 1;
    for (int i = 0; i < 20; ++i) {
      const double mid = (lo + hi) / 2;
      const Config cm = Decode(design, u, limits, mid);
      Result<bool> f = fits(cm, Build(design, cm));
      if (!f.ok()) return f.status();
      (*f ? lo : hi) = mid;
    }
    c = Decode(design, u, limits, lo);
    n = Build(design, c);
  }
  ProbePair pair;
  pair.design = design;
  pair.index = index;
  pair.batch = c.batch;
  pair.config_json = ConfigJson(design, c).dump();
  pair.probe_json = std::move(n.probe);
  pair.base_json = std::move(n.base);
  return pair;
}

}  // namespace joulecast
