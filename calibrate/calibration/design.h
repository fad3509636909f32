// What calibration measures: for each layer kind, a design (a space of configurations sampled by
// a scrambled Halton sequence) and, for each sampled configuration, a pair of small networks
// written as JSON architectures (docs/json-architecture.md):
//
//   probe = input -> stem -> LAYER (x copies) -> head      base = input -> stem -> head'
//
// The stem is a cheap 1x1 convolution that gives LAYER its input channels and makes LAYER compute
// an input gradient, as every layer but a network's first does; the head (global average pool,
// flatten, linear to 10 classes) turns LAYER's output into logits, and head' does the same on the
// stem's output. Both networks are trained for real, so LAYER is measured in the context of a
// training step: the difference probe - base is LAYER's cost plus the head's change, and the
// analyzer's cost model accounts for that change exactly when the two are fitted (fit.h).
// "first" designs drop the stem: LAYER reads the data and computes no input gradient.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analyzer/core/ops.h"
#include "analyzer/core/status.h"
#include "calibrate/calibration/features.h"

namespace joulecast {

/// The sampling designs; each measures one Kind.
enum class Design {
  conv,          ///< conv2d after the stem: kernel 1/3/5/7, stride 1/2, groups 1, 2-8, depthwise.
  conv_first,    ///< conv2d reading the data (1 or 3 channels): no input gradient.
  linear,        ///< linear on a flattened stem output.
  linear_first,  ///< linear on the flattened data.
  relu,          ///< relu, chained kChainCopies times.
  activation,    ///< sigmoid, tanh, gelu, hardswish or leaky_relu, chained.
  norm,          ///< batchnorm2d, chained.
  pool,          ///< maxpool2d or avgpool2d, kernel (= stride) 2 or 3.
  elementwise,   ///< add of two branches (chained) or concat of two branches.
  dropout,       ///< dropout with p in [0.1, 0.5], chained.
  /// A whole random CNN (random_network.h) against the trivial network on its input: fitted
  /// like every sample, and its held-out error is the profile's whole-network error.
  network,
};

/// Memory-bound layers that keep their input's shape are chained this many times in a probe, so
/// that their difference stands out of the measurement noise of the rest of the step.
inline constexpr int kChainCopies = 3;

/// Every design, in the order calibration interleaves them.
const std::vector<Design>& AllDesigns();
/// "conv", "conv_first", ...
std::string_view DesignName(Design design);
/// The Design named by DesignName; nullopt for anything else.
std::optional<Design> DesignFromName(std::string_view name);
/// The layer kind a design measures; Kind::other for `network`, which measures all.
Kind DesignKind(Design design);

/// The model class a sample of `design` measures, from its probe - base features: kind.input
/// for the designs whose layer reads the data (conv_first, linear_first, whose probe also turns
/// the head's input class around), else the class of the kind the probe adds the most layers of
/// (MeasuredClass()); "network" for the network design. Empty if none.
std::string SampleClass(Design design, const NetworkFeatures& delta);

/// The sizes configurations are drawn from (log-uniformly) and the work cap of one probe.
struct DesignLimits {
  int64_t max_channels = 512;   ///< Channels are drawn from 1..max_channels.
  int64_t min_spatial = 7;      ///< Height = width are drawn from min_spatial..max_spatial.
  int64_t max_spatial = 224;
  int64_t min_features = 8;     ///< linear's in and out features.
  int64_t max_features = 4096;
  int64_t min_batch = 8;
  int64_t max_batch = 128;
  /// Cap on the probe's training step, in seconds as EstimateStepSeconds() puts it. A
  /// configuration over the cap has its size coordinates shrunk toward their minimums, all by the
  /// same factor, until it fits, so that no sample takes long whatever the design draws.
  double max_step_s = 0.1;
  /// The same cap for the network design's whole networks.
  double max_network_step_s = 0.5;
  /// Cap on any activation's batch x height x width, and on its bytes, in either network. Past
  /// about 5e5 positions libtorch 1.13's CPU convolutions page-fault a scratch buffer of hundreds
  /// of megabytes on every call (40-100x slower steps on the development VM): a cliff no linear
  /// model can follow, so calibration stays below it (docs/calibrate.md).
  int64_t max_positions = 300000;
  int64_t max_tensor_bytes = 16 << 20;
};

/// The limits of a full calibration and of --quick.
DesignLimits FullLimits();
DesignLimits QuickLimits();

/// One sampled configuration and its two networks.
struct ProbePair {
  Design design = Design::conv;
  int64_t index = 0;          ///< Point of the design's Halton sequence.
  int64_t batch = 0;          ///< The batch both networks are loaded and trained at.
  std::string config_json;    ///< The configuration, e.g. {"kernel":3,"in_channels":16,...}.
  std::string probe_json;     ///< JSON architecture with the layer.
  std::string base_json;      ///< The same without it.
};

/// A rough training-step time of a network, used only to size probes (never to predict): each
/// layer's MACs (forward and backward) at 2e10 per second, or 3e9 for grouped and depthwise
/// convolutions (libtorch's CPU kernels for them are several times slower per MAC), plus its
/// forward output elements at 2 ns each (5 ns for sigmoid, tanh, gelu, hardswish and leaky
/// relu, 10 ns for normalisation, 30 ns for dropout, which draws a random number per element),
/// plus 30 us per layer. Roughly a 2-core x86 VM with one thread; faster machines only finish
/// sooner. Fails if `json` does not load at `batch`.
Result<double> EstimateStepSeconds(const std::string& json, int64_t batch);

/// The configuration at point `index` of `design`'s sequence for `seed`, shrunk to `limits`, and
/// its networks. Deterministic. Fails only if a network does not load (a bug, named).
Result<ProbePair> MakeProbePair(Design design, int64_t index, uint64_t seed,
                                const DesignLimits& limits);

}  // namespace joulecast
