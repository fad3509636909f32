#include "calibrate/torch/training_internal.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

// libtorch 2.4 replaced the per-device autocast functions (set_enabled for CUDA,
// set_cpu_enabled, set_autocast_gpu_dtype, ...) with ones that take the device type, and
// deprecated the old names.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define JOULECAST_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define JOULECAST_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace joulecast::torch_internal {

std::string FirstLine(const std::exception& e) {
  const c10::Error* ce = dynamic_cast<const c10::Error*>(&e);
  std::string s = ce ? ce->what_without_backtrace() : e.what();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string ModelName(const Graph& graph) {
  return graph.source.empty() ? graph.name : graph.source;
}

Result<std::unique_ptr<TorchNetwork>> BuildNetwork(const Graph& graph, int threads, uint64_t seed,
                                                   const std::string& device) {
  if (threads > 0) at::set_num_threads(threads);
  NetworkOptions options;
  options.seed = seed;
  options.device = device;
  Result<std::unique_ptr<TorchNetwork>> built = TorchNetwork::Build(graph, options);
  if (!built.ok()) return Status::Error(ModelName(graph) + ": " + built.status().message());
  return built;
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
  return CheckPrecision(t.device, t.precision);
}

namespace {

AutocastGuard::State GetAutocast(c10::DeviceType type) {
#if JOULECAST_AUTOCAST_BY_DEVICE_TYPE
  return {at::autocast::is_autocast_enabled(type), at::autocast::get_autocast_dtype(type)};
#else
  if (type == c10::DeviceType::CUDA) {
    return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
  }
  return {at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
#endif
}

void SetAutocast(c10::DeviceType type, const AutocastGuard::State& state) {
#if JOULECAST_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, state.enabled);
  at::autocast::set_autocast_dtype(type, state.dtype);
#else
  if (type == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(state.enabled);
    at::autocast::set_autocast_gpu_dtype(state.dtype);
  } else {
    at::autocast::set_cpu_enabled(state.enabled);
    at::autocast::set_autocast_cpu_dtype(state.dtype);
  }
#endif
}

}  // namespace

// The same steps as torch.autocast's __enter__ and __exit__.
AutocastGuard::AutocastGuard(c10::DeviceType device_type, const std::string& precision) {
  if (precision != "bf16" && precision != "fp16") return;
  active_ = true;
  device_type_ = device_type;
  previous_ = GetAutocast(device_type);
  SetAutocast(device_type, {true, precision == "fp16" ? at::kHalf : at::kBFloat16});
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocast(device_type_, previous_);
}

void UsePyTorchDefaultMath(const c10::Device& device) {
  if (!device.is_cuda()) return;
  at::globalContext().setAllowTF32CuDNN(true);
  at::globalContext().setAllowTF32CuBLAS(false);
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

at::Tensor TrainStep(TorchNetwork& net, torch::optim::Optimizer& optimizer,
                     const std::pair<at::Tensor, at::Tensor>& batch, c10::DeviceType device_type,
                     const std::string& precision) {
  optimizer.zero_grad();
  at::Tensor loss;
  {
    AutocastGuard autocast(device_type, precision);
    loss = at::cross_entropy_loss(net.Forward(batch.first), batch.second);
  }
  loss.backward();
  optimizer.step();
  return loss;
}

Result<double> ReadMeter(EnergyMeter& meter, const std::function<void()>& sync) {
  sync();
  Result<double> e = meter.EnergyJ();
  if (!e.ok()) return Status::Error("energy meter (" + meter.kind() + "): " + e.status().message());
  return e;
}

}  // namespace joulecast::torch_internal
