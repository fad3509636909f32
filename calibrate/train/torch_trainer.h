// The built-in trainer of `joulecast search`: trains each trial with libtorch on the real
// Fashion-MNIST (Debian's dataset-fashion-mnist) and measures its training energy with the
// calibrate meters, as `joulecast measure` does.
//
// The data: the training split (60,000 images) is shuffled once with the search's seed; its
// first validation_samples images validate every trial and the next train_samples train it, so
// the two never overlap and every trial of a study sees the same split. Weights and batch order
// are seeded by the search's seed and the trial's number. Accuracy is on the validation images
// (evaluation mode, no gradients); the energy is the training's only, from the meter.
//
// Plain C++: it trains through calibrate/torch/train_validate.h and includes no libtorch.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "analyzer/search/trainer.h"
#include "calibrate/data/fashion_mnist.h"
#include "calibrate/meters/meter.h"

namespace joulecast {

struct TorchTrainerOptions {
  std::string dataset_dir = kFashionMnistDir;
  std::string device = "cpu";  ///< "cpu" or "cuda[:N]".
  int threads = 0;             ///< libtorch intra-op threads; 0 keeps libtorch's default.
  std::string precision = "fp32";  ///< fp32, bf16 or fp16 (autocast).
  MeterOptions meter;          ///< Which meter (`--meter`, `--cpu-watts`); gpu fields are set here.
};

class TorchTrainer : public search::Trainer {
 public:
  /// Checks the device and opens the meter (`why`, if given, says which meter and why). Errors:
  /// a device this libtorch cannot use, a meter that cannot open. The dataset is read at the
  /// first trial.
  static Result<std::unique_ptr<TorchTrainer>> Create(const TorchTrainerOptions& options,
                                                      std::string* why = nullptr);
  ~TorchTrainer() override;

  /// Trains one trial. Errors (the search stops): a dataset other than "fashion-mnist", files
  /// missing or corrupt, more train + validation samples than the split holds, or a meter that
  /// fails to read. A network that does not load, build or train is a failed trial.
  Result<search::TrialOutcome> Train(const search::TrialRequest& request) override;

  /// The meter, for messages: its kind and description.
  const EnergyMeter& meter() const { return *meter_; }

 private:
  TorchTrainer(TorchTrainerOptions options, std::unique_ptr<EnergyMeter> meter);
  TorchTrainerOptions options_;
  std::unique_ptr<EnergyMeter> meter_;
  std::optional<LabeledImages> data_;  // The training split, read once.
};

}  // namespace joulecast
