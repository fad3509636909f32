// Measured training. Includes only ATen and the two optimizers, not <torch/torch.h>: the same
// ops, half the compile time.
#include "calibrate/torch/measure.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "calibrate/data/fashion_mnist.h"
#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/training_internal.h"

namespace joulecast {

namespace {

using torch_internal::Batches;
using torch_internal::FashionMnistBatches;
using torch_internal::FirstLine;
using torch_internal::SyntheticBatches;

std::string DimsString(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s.push_back('x');
    s.append(std::to_string(dims[i]));
  }
  return s;
}

Status CheckOptions(const MeasureOptions& o) {
  if (o.batch < 1) return Status::Error("batch must be at least 1");
  if (o.steps < 1) return Status::Error("steps must be at least 1");
  if (o.warmup_steps < 0) return Status::Error("warm-up steps must not be negative");
  if (o.dataset != "synthetic" && o.dataset != "fashion-mnist") {
    return Status::Error("dataset '" + o.dataset + "' is not synthetic or fashion-mnist");
  }
  return torch_internal::CheckTrainOptions(o.train);
}

}  // namespace

Result<Measurement> MeasureTraining(const Graph& graph, const MeasureOptions& options,
                                    EnergyMeter& meter) {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  const std::string model = torch_internal::ModelName(graph);
  if (graph.batch != options.batch) {
    return Status::Error(model + ": the graph was loaded at batch " + std::to_string(graph.batch) +
                         " but the measurement is at batch " + std::to_string(options.batch) +
                         " (load it with LoadOptions::batch = " + std::to_string(options.batch) +
                         ")");
  }
  if (graph.inputs.size() != 1 || !graph.tensors[graph.inputs[0]].shape_known) {
    return Status::Error(model + ": measure needs one data input of known shape");
  }
  const std::vector<int64_t>& input_dims = graph.tensors[graph.inputs[0]].dims;
  if (graph.outputs.empty()) return Status::Error(model + ": the graph has no output");
  const Tensor& output = graph.tensors[graph.outputs[0]];
  if (!output.shape_known || output.dims.size() != 2 || output.dims[0] != options.batch) {
    return Status::Error(model + ": output '" + output.name + "' is " +
                         (output.shape_known ? DimsString(output.dims) : std::string("unknown")) +
                         ", not class logits [" + std::to_string(options.batch) + ", classes]");
  }
  const int64_t classes = output.dims[1];

  std::optional<LabeledImages> fashion;
  if (options.dataset == "fashion-mnist") {
    std::vector<int64_t> sample(input_dims.begin() + 1, input_dims.end());
    if (sample != std::vector<int64_t>{1, 28, 28}) {
      return Status::Error(model + ": Fashion-MNIST images are 1x28x28 but the model takes " +
                           DimsString(sample) +
                           " (use --dataset synthetic, or --input 1x28x28 "
                           "for an architecture that accepts it)");
    }
    if (classes < kFashionMnistClasses) {
      return Status::Error(model + ": the model has " + std::to_string(classes) +
                           " outputs but Fashion-MNIST has 10 classes");
    }
    Result<LabeledImages> data = ReadFashionMnist(options.dataset_dir, FashionMnistSplit::train);
    if (!data.ok()) return data.status();
    if (data->count < options.batch) {
      return Status::Error(options.dataset_dir + ": " + std::to_string(data->count) +
                           " training images, fewer than one batch of " +
                           std::to_string(options.batch));
    }
    fashion = std::move(*data);
  }

  Result<std::unique_ptr<TorchNetwork>> built = torch_internal::BuildNetwork(
      graph, options.train.threads, options.train.seed, options.train.device);
  if (!built.ok()) return built.status();
  TorchNetwork& net = **built;
  const std::function<void()> sync = DeviceSynchronizer(options.train.device);

  try {
    const at::Device device(options.train.device);
    torch_internal::UsePyTorchDefaultMath(device);
    std::unique_ptr<Batches> batches;
    if (fashion) {
      batches = std::make_unique<FashionMnistBatches>(std::move(*fashion), options.batch,
                                                      options.train.seed, device);
    } else {
      batches = std::make_unique<SyntheticBatches>(input_dims, classes, device);
    }
    std::unique_ptr<torch::optim::Optimizer> optimizer =
        torch_internal::MakeOptimizer(net.parameters(), options.train);

    // One training step; returns its loss (reading it waits for the device).
    auto step = [&]() {
      return torch_internal::TrainStep(net, *optimizer, batches->Next(), device.type(),
                                       options.train.precision)
          .item<double>();
    };

    for (int64_t i = 0; i < options.warmup_steps; ++i) step();

    // The window must span enough meter updates to be resolved: keep stepping past the asked
    // steps until it does.
    const double min_window_s = 10 * meter.update_period_s();
    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    Result<double> e0 = torch_internal::ReadMeter(meter, sync);
    if (!e0.ok()) return e0.status();
    const Clock::time_point t0 = Clock::now();
    std::vector<double> step_s;
    Measurement m;
    Clock::time_point last = t0;
    while (static_cast<int64_t>(step_s.size()) < options.steps ||
           seconds(last - t0) < min_window_s) {
      double loss = step();
      Clock::time_point now = Clock::now();
      step_s.push_back(seconds(now - last));
      last = now;
      if (step_s.size() == 1) m.loss_first = loss;
      m.loss_last = loss;
    }
    Result<double> e1 = torch_internal::ReadMeter(meter, sync);
    if (!e1.ok()) return e1.status();
    const Clock::time_point t1 = Clock::now();

    m.steps = static_cast<int64_t>(step_s.size());
    m.batch = options.batch;
    m.time_s = seconds(t1 - t0);
    m.energy_j = *e1 - *e0;
    m.time_s_per_step = m.time_s / m.steps;
    m.energy_j_per_step = m.energy_j / m.steps;
    if (m.steps > 1) {
      double mean = std::accumulate(step_s.begin(), step_s.end(), 0.0) / m.steps;
      double ss = 0;
      for (double s : step_s) ss += (s - mean) * (s - mean);
      m.time_s_per_step_stddev = std::sqrt(ss / (m.steps - 1));
    }
    m.threads = at::get_num_threads();
    return m;
  } catch (const std::exception& e) {
    return Status::Error(model + ": training failed: " + FirstLine(e));
  }
}

}  // namespace joulecast
