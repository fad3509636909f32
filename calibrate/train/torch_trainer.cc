#include "calibrate/train/torch_trainer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "analyzer/json/json_frontend.h"
#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/train_validate.h"

namespace joulecast {

namespace {

// The images at `indices`, in that order.
LabeledImages Subset(const LabeledImages& data, const std::vector<int64_t>& indices) {
  LabeledImages out;
  out.count = static_cast<int64_t>(indices.size());
  out.rows = data.rows;
  out.cols = data.cols;
  const size_t pixels = static_cast<size_t>(data.rows * data.cols);
  out.images.resize(indices.size() * pixels);
  out.labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(out.images.data() + i * pixels,
                data.images.data() + static_cast<size_t>(indices[i]) * pixels, pixels);
    out.labels[i] = data.labels[static_cast<size_t>(indices[i])];
  }
  return out;
}

search::TrialOutcome Failed(const std::string& why) {
  search::TrialOutcome o;
  o.ok = false;
  o.error = why;
  return o;
}

}  // namespace

TorchTrainer::TorchTrainer(TorchTrainerOptions options, std::unique_ptr<EnergyMeter> meter)
    : options_(std::move(options)), meter_(std::move(meter)) {}

TorchTrainer::~TorchTrainer() = default;

Result<std::unique_ptr<TorchTrainer>> TorchTrainer::Create(const TorchTrainerOptions& options,
                                                           std::string* why) {
  if (Status s = CheckDevice(options.device); !s.ok()) return s;
  MeterOptions meter_options = options.meter;
  const int gpu = CudaIndex(options.device);
  meter_options.gpu = gpu >= 0;
  meter_options.gpu_index = gpu >= 0 ? gpu : 0;
  meter_options.synchronize = DeviceSynchronizer(options.device);
  Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(meter_options, why);
  if (!meter.ok()) return meter.status();
  return std::unique_ptr<TorchTrainer>(new TorchTrainer(options, std::move(*meter)));
}

Result<search::TrialOutcome> TorchTrainer::Train(const search::TrialRequest& request) {
  const auto t0 = std::chrono::steady_clock::now();
  const search::Training& t = request.training;
  if (t.dataset != "fashion-mnist") {
    return Status::Error("training.dataset '" + t.dataset +
                         "': the built-in trainer trains on fashion-mnist only (use --trainer "
                         "for another dataset)");
  }
  if (!data_) {
    Result<LabeledImages> data = ReadFashionMnist(options_.dataset_dir, FashionMnistSplit::train);
    if (!data.ok()) return data.status();
    data_ = std::move(*data);
  }
  if (t.train_samples < 1 || t.validation_samples < 1 ||
      t.train_samples + t.validation_samples > data_->count) {
    return Status::Error("training: train_samples " + std::to_string(t.train_samples) +
                         " and validation_samples " + std::to_string(t.validation_samples) +
                         " must be at least 1 and together at most the " +
                         std::to_string(data_->count) + " images of the training split");
  }
  // The split depends on the search's seed only: every trial validates on the same images.
  std::vector<int64_t> order(static_cast<size_t>(data_->count));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 split_rng(request.seed);
  std::shuffle(order.begin(), order.end(), split_rng);
  const auto v_end = order.begin() + t.validation_samples;
  const LabeledImages validation = Subset(*data_, std::vector<int64_t>(order.begin(), v_end));
  const LabeledImages train = Subset(*data_, std::vector<int64_t>(v_end, v_end + t.train_samples));

  LoadOptions load;
  load.batch = t.batch_size;
  const std::string source = "trial " + std::to_string(request.trial);
  Result<Graph> graph = ParseJsonArchitecture(request.architecture_json, source, load);
  if (!graph.ok()) return Failed(graph.status().message());

  TrainValidateOptions options;
  options.batch = t.batch_size;
  options.epochs = t.epochs;
  options.train.optimizer = t.optimizer;
  options.train.learning_rate = t.learning_rate;
  options.train.beta1 = t.beta1;
  options.train.beta2 = t.beta2;
  options.train.weight_decay = t.weight_decay;
  options.train.threads = options_.threads;
  options.train.device = options_.device;
  options.train.precision = options_.precision;
  options.train.seed =
      request.seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(request.trial) + 1));
  Result<TrainValidation> r = TrainAndValidate(*graph, train, validation, options, *meter_);
  if (!r.ok()) {
    if (r.status().message().rfind("energy meter", 0) == 0) return r.status();
    return Failed(r.status().message());
  }
  search::TrialOutcome o;
  o.ok = true;
  o.accuracy = r->accuracy;
  o.energy_j = r->train_energy_j;
  o.energy_real = meter_->real();
  o.meter = meter_->kind();
  o.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

}  // namespace joulecast
