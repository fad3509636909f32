// Training to completion and validating: what a search trial does (calibrate/train/). Where
// measure.h times steady-state steps, this trains for whole epochs on given labelled images,
// measures the energy of all of the training, and then reports the accuracy on held-out images.
//
// The header uses plain types only; libtorch stays inside calibrate/torch/.
#pragma once

#include <cstdint>

#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "calibrate/data/fashion_mnist.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/measure.h"

namespace joulecast {

struct TrainValidateOptions {
  int64_t batch = 64;
  int64_t epochs = 1;
  TrainOptions train;  ///< Optimizer, its settings, threads, device, precision and seed.
};

struct TrainValidation {
  int64_t steps = 0;                     ///< Training steps: epochs x ceil(train images / batch).
  double train_time_s = 0;               ///< Wall time of the training (not the validation).
  double train_energy_j = 0;             ///< Energy of the training, from the meter.
  double accuracy = 0;                   ///< Fraction of the validation images classified right.
  int64_t validated = 0;                 ///< Validation images.
  double loss_first = 0, loss_last = 0;  ///< Training loss of the first and last step.
};

/// Builds `graph` (loaded at options.batch, input 1x28x28 per sample, first output class logits
/// [batch, classes >= 10]) and trains it for options.epochs epochs of ceil(train.count / batch)
/// full batches, in a seeded shuffled order (a batch that would run past the data is drawn from
/// a fresh shuffle), with images standardised as `measure` does. The meter is read just before
/// the first step and just after the last (the device synchronised). Then, with the network in
/// evaluation mode and no gradients, it classifies every validation image (batches of
/// options.batch; the last one padded) and counts the arg-max of the first 10 logits that equal
/// the label.
///
/// Errors (one line): what MeasureTraining rejects (options, graph, device, libtorch failing),
/// images of another size, fewer training images than one batch, no validation images, or a
/// meter that fails to read.
Result<TrainValidation> TrainAndValidate(const Graph& graph, const LabeledImages& train,
                                         const LabeledImages& validation,
                                         const TrainValidateOptions& options, EnergyMeter& meter);

}  // namespace joulecast
