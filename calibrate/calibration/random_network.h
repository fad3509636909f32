// Random small CNNs for calibration's "network" design: whole networks of the kinds people train
// on small images (plain conv-bn-relu stacks, residual stages, depthwise-separable and
// inception-style blocks, a pooled or a dense classifier), so that the fit also sees layers in
// the company they keep in real networks and the calibration can say how well it predicts a
// whole network it has not seen (cross-validated).
//
// A network is drawn from a point of the unit cube (one scrambled Halton point per sample), so
// the same point always gives the same network. Nothing here trains anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace joulecast {

/// Halton dimensions RandomNetwork() reads.
inline constexpr int kRandomNetworkDims = 9;

struct RandomNetworkSpec {
  std::string style;        ///< "plain", "residual", "depthwise" or "inception".
  std::string head;         ///< "pooled" (global average pool, linear) or "dense" (two linears).
  int stages = 2;           ///< Downsampling stages, 1 to 4.
  int64_t width = 16;       ///< Channels of the first stage; each stage doubles them.
  int64_t channels = 1;     ///< Input channels (1: 28x28 grey, 3: 32x32 colour).
  int64_t size = 28;        ///< Input height and width.
  int64_t batch = 32;
  std::string downsample;   ///< "maxpool", "avgpool" or "stride" (a stride-2 convolution).
  std::string json;         ///< The JSON architecture (docs/json-architecture.md).
  std::string config_json;  ///< The fields above but json, as one JSON object.
};

/// The network at `u` (kRandomNetworkDims coordinates in [0, 1)), its batch drawn from
/// [min_batch, max_batch], with its width and batch scaled toward their minimums by `scale` in
/// [0, 1] (1: as drawn), so that a caller can shrink it to a work cap.
RandomNetworkSpec RandomNetwork(const std::vector<double>& u, double scale, int64_t min_batch,
                                int64_t max_batch);

/// The smallest network on the same input: global average pool, flatten, linear to 10 classes.
std::string TrivialNetworkJson(int64_t channels, int64_t size);

}  // namespace joulecast
