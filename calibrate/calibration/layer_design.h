// What calibration times: single layers at the sizes real networks use, one design per family
// (a model class the profile fits), each a scrambled Halton sequence over its configuration
// space, optimizer steps over a range of sizes, and random whole networks (random_network.h)
// for the network context and power.
//
// Each layer is written as a one-layer JSON architecture (docs/json-architecture.md) with its
// batch and whether its input needs a gradient ("first" designs read the data, as a network's
// first layer does). A configuration whose work exceeds the device's caps has its batch and
// spatial size shrunk until it fits, so that no timing takes long whatever the design draws.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast {

/// Size ranges and work caps of one device.
struct LayerDesignLimits {
  int64_t min_batch = 16, max_batch = 512;
  int64_t max_channels = 2048;
  int64_t min_spatial = 7, max_spatial = 224;
  int64_t max_features = 25088;
  double max_macs = 5e11;       ///< Forward MACs of one layer call.
  double max_elements = 2e8;    ///< Input + output elements of one layer call.
  /// Whole networks: input sizes drawn from these; batch x size x size capped.
  std::vector<int64_t> network_sizes = {28, 32, 64, 96, 128, 224};
  double max_network_positions = 64.0 * 224 * 224;
  int64_t max_optimizer_params = 300'000'000;  ///< Optimizer steps: 1e4 values up to this.
};

/// A GPU's limits (sizes people train at) and a small CPU's (steps of at most a fraction of a
/// second on one thread of a 2-core VM).
LayerDesignLimits GpuLimits();
LayerDesignLimits CpuLimits();

/// The layer designs, in the order calibration interleaves them: "conv", "conv.input",
/// "conv.depthwise", "linear", "linear.input", "norm", "relu", "activation.gelu",
/// "activation.sigmoid", "activation.tanh", "activation.hardswish", "pool.max", "pool.avg",
/// "pool.global_avg", "dropout". (Adds and concatenations are predicted with relu's family: one
/// memory-bound pass over their elements.)
const std::vector<std::string>& LayerDesigns();

/// How many timings a design gets, relative to the others: conv 3, linear 2, conv.depthwise
/// 1.5, conv.input and linear.input 1, the memory-bound designs 0.75 (convolutions and matrix
/// products carry most of a network's time and have the largest spaces).
double DesignWeight(const std::string& design);

/// One layer to time.
struct LayerConfig {
  std::string design;
  int64_t index = 0;
  int64_t batch = 0;
  bool input_needs_grad = true;
  std::string json;  ///< One-layer JSON architecture.
};

/// The configuration at point `index` of `design`'s sequence for `seed`, within `limits`.
/// Fails only on an unknown design.
Result<LayerConfig> MakeLayerConfig(const std::string& design, int64_t index, uint64_t seed,
                                    const LayerDesignLimits& limits);

/// One whole network to measure over a long window.
struct NetworkConfig {
  int64_t index = 0;
  int64_t batch = 0;
  std::vector<int64_t> input;  ///< C, H, W (or features, for an MLP).
  std::string json;
};

/// Point `index` of the network design: random CNNs (random_network.h) at the limits' input
/// sizes, and every fourth an MLP, from light to heavy load.
NetworkConfig MakeNetworkConfig(int64_t index, uint64_t seed, const LayerDesignLimits& limits);

/// Point `index` (0-7) of the optimizer design: {values, tensors} of one timed Adam step,
/// values log-spaced from 1e4 to limits.max_optimizer_params and 1 to 256 tensors, ordered so
/// that the first six already span both.
std::pair<int64_t, int64_t> OptimizerConfig(int64_t index, const LayerDesignLimits& limits);
constexpr int kOptimizerConfigs = 8;

}  // namespace joulecast
