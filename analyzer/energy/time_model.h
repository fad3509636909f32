// The time x power model of a training step (profile schema joulecast.profile/3).
//
// Time. Each layer runs a forward and a backward pass. A pass costs the host a dispatch floor
// (launching its kernels on a GPU; per-op overhead on a CPU) and costs the device a throughput
// part bounded by a roofline:
//   device = ops / (rate x efficiency) + bytes x stretch / bandwidth   (rate, bandwidth per pass)
//   efficiency = 1 / ((1 + m0/M) (1 + n0/N) (1 + k0/K)) x N/N' x C/C'   (conv and matrix products)
//   stretch = 1 + c0/C x 4/element bytes   (a batch normalisation over C channels; else 1)
// where ops are MACs (a windowed pool's: its outputs, PassOps()), M x N x K is the layer's matrix
// product (LayerCost::gemm_*): few rows, columns or a
// short reduction leave a GPU's tiles and waves part empty or a CPU's vector units idle; N' and
// C' are the output and input channels rounded up to whole channel blocks (33 channels cost a
// CPU with 16-float vectors what 48 do; fewer input channels than a block are not padded). bytes
// is what the pass reads and writes (activations in, out, parameters and their gradients, at
// the precision's element size). On a GPU the host runs ahead of the device ("async"): a pass
// takes max(host, device). On a CPU the same thread does both ("serial"): host + device.
// Inside a network a pass's host time is launches x launch_s (Launches()); device times are
// scaled by device_scale, per group of kinds (convolutions, matrix products, the memory-bound
// rest), fitted on whole networks: what a layer costs alone and what it costs among others
// differ (caches, allocator reuse, clocks), and not alike for every kind. A step adds the optimizer (per-tensor
// launches, or its memory traffic over the parameters, whichever is longer) and a per-step
// overhead (loss, zeroing gradients).
//
// Power. Between the idle floor and the board or package limit: while a step runs the device
// draws active_w, plus dynamic_w while its units are busy, plus what its arithmetic and memory
// draw for the work they do (per precision):
//   energy = time x active_w + busy x dynamic_w + MACs x joules_per_mac + bytes x joules_per_byte
// (busy = min(sum of device times, time)), capped at time x limit_w. The work terms make power
// follow utilisation: the same busy time draws more when it does more work. A GPU's fp32 matrix
// products have their own energy per MAC: they run on other units than its TF32 convolutions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "analyzer/core/costs.h"

namespace joulecast {

/// The throughput model of one family of layers (a model class: "conv", "conv.depthwise",
/// "linear.input", "relu", "pool.max", ...), fitted on layer timings.
struct FamilyTime {
  double host_fwd_s = 0;       ///< Dispatch floor of a forward pass timed alone.
  double host_bwd_s = 0;       ///< Same for the backward pass (includes starting autograd).
  /// Attainable multiply-accumulates per second, forward (a windowed pool's: outputs, PassOps()).
  double macs_per_s_fwd = 0;
  double macs_per_s_bwd = 0;   ///< Same, backward.
  /// Attainable bytes per second, forward and backward: the memory bandwidth where the layer
  /// streams its tensors; lower where a pass does more per element (a CPU's transcendental
  /// functions, dropout's random numbers).
  double bytes_per_s_fwd = 0, bytes_per_s_bwd = 0;
  double m0 = 0, n0 = 0, k0 = 0;  ///< Half-efficiency sizes of M, N, K (0: no penalty).
  /// Half-efficiency channel count of a per-channel reduction (batch normalisation, whose
  /// statistics a GPU gathers with one block of threads per channel: 16 channels leave most of
  /// its multiprocessors idle); scales the memory term (0: no penalty).
  double c0 = 0;
  /// Channels run in blocks of this many (a CPU's vector width: 16 floats with AVX-512): a
  /// layer pays for its output channels (a depthwise convolution: its channels), and for input
  /// channels beyond one block, rounded up to whole blocks (0, 1: no blocks).
  int channel_block = 0;
  int samples = 0;             ///< Timings it was fitted on.
  double cv_mape = 0;          ///< Cross-validated error of a pass (forward and backward).
  /// The range of MACs and of activation elements (in + out) per pass it was fitted on.
  double min_macs = 0, max_macs = 0, min_elements = 0, max_elements = 0;
};

/// The time model of one device at one precision.
struct TimeModel {
  bool async = false;          ///< True on a GPU: the host runs ahead of the device.
  double launch_s = 0;         ///< Host time per launch (Launches()) inside a network.
  /// Device time inside a network / device time alone, by group of kinds.
  struct Scales {
    double conv = 1, linear = 1, memory = 1;
    double For(Kind kind) const {
      return kind == Kind::conv ? conv : kind == Kind::linear ? linear : memory;
    }
  } device_scale;
  double step_overhead_s = 0;  ///< Per step: loss, zeroing gradients, the loop.
  /// Launches per parameter tensor and step, fitted on networks: the optimizer's when it was
  /// not timed; otherwise those beyond it (autocast casts every weight, every step).
  double optimizer_launches_per_tensor = 0;
  /// A timed optimizer step's host time apart from its tensors (0: not timed; then it is part
  /// of step_overhead_s).
  double optimizer_step_s = 0;
  double optimizer_tensor_s = 0;  ///< A timed optimizer step's host time per tensor (0: not timed).
  double optimizer_bytes_per_param = 0;      ///< Memory traffic of the update per parameter.
  double optimizer_bytes_per_s = 0;          ///< Bandwidth of the update.
  /// Power added while the device is busy at this precision (tensor cores at bf16 draw other
  /// power than at fp32); 0: the profile's PowerModel::dynamic_w.
  double dynamic_w = 0;
  /// Energy of each multiply-accumulate and of each byte a pass or the optimizer moves, at this
  /// precision: power that follows the work done, not the time taken, so that a layer leaving
  /// most of the device idle (a batch normalisation over 16 channels) draws less than one that
  /// fills it. 0: none (profiles before it).
  double joules_per_mac = 0, joules_per_byte = 0;
  /// Energy of a matrix product's (a linear layer's) multiply-accumulate where matrix products
  /// run on other units than convolutions: fp32 on a GPU under PyTorch's defaults, where cuDNN
  /// convolutions use TF32 tensor cores and cuBLAS matmuls full-precision FP32 cores, which
  /// spend about three times the energy a MAC (docs/validation.md). Empty: joules_per_mac.
  std::optional<double> joules_per_mac_matmul = std::nullopt;
  std::map<std::string, FamilyTime> families;  ///< By model class.
};

/// The power model of one device.
struct PowerModel {
  double idle_w = 0;     ///< Measured with nothing running (0: not measured).
  double active_w = 0;   ///< Drawn all through a training step.
  double dynamic_w = 0;  ///< Added while the device's units are busy.
  double limit_w = 0;    ///< Board or package limit (0: unknown, no cap).
};

/// What bounds a layer's time.
enum class Regime { dispatch, memory, compute };
/// "dispatch", "memory", "compute".
const char* RegimeName(Regime regime);

/// One layer's predicted time in a training step, both passes.
struct LayerTime {
  double time_s = 0;    ///< What the layer adds to the step.
  double device_s = 0;  ///< Device busy time (within time_s).
  double host_s = 0;    ///< Host dispatch time.
  Regime regime = Regime::dispatch;
  bool outside_range = false;  ///< The layer's work lies outside the family's calibrated range.
  std::string family;          ///< The family used (FamilyFor()); empty: none.
};

/// Kernel launches (or dispatched ops) of a layer's forward and backward passes, by kind.
std::pair<double, double> Launches(Kind kind);

/// True for a dense (one-group) convolution or matrix product with a known M x N x K: the
/// layers whose efficiency falls with their matrix sizes.
bool HasGemm(const LayerCost& layer);

/// Bytes per element at a precision: 4 for fp32, 2 for bf16 and fp16.
int ElementBytes(const std::string& precision);

/// The work a layer's forward and backward passes compute, {forward, backward}: its MACs, and a
/// windowed pool's outputs (a CPU pools at a cost per output, whatever the window and stride:
/// bench/cpu_kernels.py, part 4); 0 for the other layers.
std::pair<double, double> PassOps(const LayerCost& layer);

/// Multiply-accumulates of a training step's passes: forward, input and weight gradients.
double TrainingMacs(const Work& work);

/// Bytes a layer's forward and backward passes move (see the top of this file).
std::pair<double, double> PassBytes(const LayerCost& layer, int element_bytes);

/// The family a layer of `model_class` is predicted with: its own; else its kind's plain
/// family; else the reference family of its kind (memory-bound kinds: "relu"; "conv", "linear");
/// else null. `used` (optional) gets the family's name.
const FamilyTime* FamilyFor(const TimeModel& model, const std::string& model_class,
                            std::string* used = nullptr);

/// Dynamic energy of a layer's work, both passes: MACs x joules_per_mac (a linear layer's:
/// joules_per_mac_matmul where set) + bytes x joules_per_byte.
double WorkEnergy(const TimeModel& model, const LayerCost& layer, int element_bytes);

/// A pass of `layer` alone, as calibration times it: {forward, backward} seconds.
std::pair<double, double> AloneTime(const FamilyTime& f, const LayerCost& layer, bool async,
                                    int element_bytes);
/// Device seconds of each pass, before device_scale.
std::pair<double, double> DeviceTime(const FamilyTime& f, const LayerCost& layer,
                                     int element_bytes);

/// The layer inside a network.
LayerTime PredictLayerTime(const TimeModel& model, const LayerCost& layer, int element_bytes);

/// The optimizer's time per step for `params` values in `tensors` tensors: its host part
/// (optimizer_step_s, and per tensor optimizer_tensor_s plus its launches) and its memory
/// traffic, the longer of the two on a GPU, their sum on a CPU.
double OptimizerTime(const TimeModel& model, int64_t params, int64_t tensors);

}  // namespace joulecast
