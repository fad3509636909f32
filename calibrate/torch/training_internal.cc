#include "calibrate/torch/training_internal.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace joulecast::torch_internal {

std::string FirstLine(const std::exception& e) {
  const c10::Error* ce = dynamic_cast<const c10::Error*>(&e);
  std::string s = ce ? ce->what_without_backtrace() : e.what();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

at::Tensor StandardizedImages(const at::Tensor& bytes) {
  at::Tensor x = bytes.to(at::kFloat).div_(255.0);
  return x.sub_(kFashionMean).div_(kFashionStd);
}

SyntheticBatches::SyntheticBatches(const std::vector<int64_t>& input_dims, int64_t classes,
                                   at::Device device)
    : images_(at::randn(input_dims, at::kFloat).to(device)),
      labels_(at::randint(classes, {input_dims[0]}, at::kLong).to(device)) {}

std::pair<at::Tensor, at::Tensor> SyntheticBatches::Next() { return {images_, labels_}; }

FashionMnistBatches::FashionMnistBatches(LabeledImages data, int64_t batch, uint64_t seed,
                                         at::Device device)
    : data_(std::move(data)), batch_(batch), device_(device), order_(data_.count), rng_(seed) {
  images_ = at::from_blob(data_.images.data(), {data_.count, 1, data_.rows, data_.cols}, at::kByte);
  labels_ = at::from_blob(data_.labels.data(), {data_.count}, at::kByte);
  std::iota(order_.begin(), order_.end(), 0);
  Shuffle();
}

std::pair<at::Tensor, at::Tensor> FashionMnistBatches::Next() {
  if (next_ + batch_ > data_.count) Shuffle();
  at::Tensor index = at::from_blob(order_.data() + next_, {batch_}, at::kLong);
  next_ += batch_;
  at::Tensor x = StandardizedImages(images_.index_select(0, index));
  at::Tensor y = labels_.index_select(0, index).to(at::kLong);
  return {x.to(device_), y.to(device_)};
}

void FashionMnistBatches::Shuffle() {
  std::shuffle(order_.begin(), order_.end(), rng_);
  next_ = 0;
}

Status CheckTrainOptions(const TrainOptions& t) {
  if (t.optimizer != "adam" && t.optimizer != "sgd") {
    return Status::Error("optimizer '" + t.optimizer + "' is not adam or sgd");
  }
  if (!(t.learning_rate > 0) || !std::isfinite(t.learning_rate)) {
    return Status::Error("learning rate must be a positive number");
  }
  if (!(t.beta1 >= 0 && t.beta1 < 1) || !(t.beta2 >= 0 && t.beta2 < 1)) {
    return Status::Error("beta1 and beta2 must be in [0, 1)");
  }
  if (!(t.weight_decay >= 0) || !std::isfinite(t.weight_decay)) {
    return Status::Error("weight decay must be a non-negative number");
  }
  if (t.threads < 0) return Status::Error("threads must not be negative");
  return Status();
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::vector<at::Tensor>& params,
                                                       const TrainOptions& t) {
  if (t.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        params,
        torch::optim::SGDOptions(t.learning_rate).momentum(t.beta1).weight_decay(t.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(t.learning_rate)
                                                          .betas(std::make_tuple(t.beta1, t.beta2))
                                                          .weight_decay(t.weight_decay));
}

Result<double> ReadMeter(EnergyMeter& meter, const std::function<void()>& sync) {
  sync();
  Result<double> e = meter.EnergyJ();
  if (!e.ok()) return Status::Error("energy meter (" + meter.kind() + "): " + e.status().message());
  return e;
}

}  // namespace joulecast::torch_internal
