// Training to completion and validating. Includes only ATen and the optimizer interface, as
// measure.cc does.
#include "calibrate/torch/train_validate.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "calibrate/torch/torch_network.h"
#include "calibrate/torch/training_internal.h"

namespace joulecast {

Result<TrainValidation> TrainAndValidate(const Graph& graph, const LabeledImages& train,
                                         const LabeledImages& validation,
                                         const TrainValidateOptions& options, EnergyMeter& meter) {
  const std::string model = torch_internal::ModelName(graph);
  if (options.batch < 1) return Status::Error("batch must be at least 1");
  if (options.epochs < 1) return Status::Error("epochs must be at least 1");
  if (Status s = torch_internal::CheckTrainOptions(options.train); !s.ok()) return s;
  if (graph.batch != options.batch) {
    return Status::Error(model + ": the graph was loaded at batch " + std::to_string(graph.batch) +
                         ", not the training's " + std::to_string(options.batch));
  }
  if (graph.inputs.size() != 1 || !graph.tensors[graph.inputs[0]].shape_known ||
      graph.tensors[graph.inputs[0]].dims !=
          std::vector<int64_t>{options.batch, 1, train.rows, train.cols}) {
    return Status::Error(model + ": the network must take one input of " +
                         std::to_string(options.batch) + "x1x" + std::to_string(train.rows) + "x" +
                         std::to_string(train.cols) + " (a batch of the dataset's images)");
  }
  if (graph.outputs.empty()) return Status::Error(model + ": the graph has no output");
  const Tensor& output = graph.tensors[graph.outputs[0]];
  if (!output.shape_known || output.dims.size() != 2 || output.dims[0] != options.batch ||
      output.dims[1] < kFashionMnistClasses) {
    return Status::Error(model + ": output '" + output.name + "' is not class logits [" +
                         std::to_string(options.batch) + ", 10 or more]");
  }
  if (validation.rows != train.rows || validation.cols != train.cols) {
    return Status::Error("validation images are not the size of the training images");
  }
  if (train.count < options.batch) {
    return Status::Error(std::to_string(train.count) +
                         " training images, fewer than one batch of " +
                         std::to_string(options.batch));
  }
  if (validation.count < 1) return Status::Error("no validation images");

  Result<std::unique_ptr<TorchNetwork>> built = torch_internal::BuildNetwork(
      graph, options.train.threads, options.train.seed, options.train.device);
  if (!built.ok()) return built.status();
  TorchNetwork& net = **built;
  const std::function<void()> sync = DeviceSynchronizer(options.train.device);

  TrainValidation r;
  try {
    const at::Device device(options.train.device);
    torch_internal::UsePyTorchDefaultMath(device);
    torch_internal::FashionMnistBatches batches(train, options.batch, options.train.seed, device);
    std::unique_ptr<torch::optim::Optimizer> optimizer =
        torch_internal::MakeOptimizer(net.parameters(), options.train);
    const int64_t steps_per_epoch = (train.count + options.batch - 1) / options.batch;
    r.steps = steps_per_epoch * options.epochs;

    using Clock = std::chrono::steady_clock;
    Result<double> e0 = torch_internal::ReadMeter(meter, sync);
    if (!e0.ok()) return e0.status();
    const Clock::time_point t0 = Clock::now();
    for (int64_t i = 0; i < r.steps; ++i) {
      const at::Tensor loss = torch_internal::TrainStep(net, *optimizer, batches.Next(),
                                                        device.type(), options.train.precision);
      if (i == 0 || i + 1 == r.steps) {
        const double value = loss.item<double>();
        (i == 0 ? r.loss_first : r.loss_last) = value;
        if (i == 0 && r.steps == 1) r.loss_last = value;
      }
    }
    Result<double> e1 = torch_internal::ReadMeter(meter, sync);
    if (!e1.ok()) return e1.status();
    r.train_time_s = std::chrono::duration<double>(Clock::now() - t0).count();
    r.train_energy_j = *e1 - *e0;

    net.SetTraining(false);
    c10::NoGradGuard no_grad;
    torch_internal::AutocastGuard autocast(device.type(), options.train.precision);
    const at::Tensor images =
        at::from_blob(const_cast<uint8_t*>(validation.images.data()),
                      {validation.count, 1, validation.rows, validation.cols}, at::kByte);
    const at::Tensor labels =
        at::from_blob(const_cast<uint8_t*>(validation.labels.data()), {validation.count}, at::kByte)
            .to(at::kLong);
    int64_t correct = 0;
    for (int64_t start = 0; start < validation.count; start += options.batch) {
      const int64_t n = std::min(options.batch, validation.count - start);
      at::Tensor x = at::zeros({options.batch, 1, validation.rows, validation.cols}, at::kFloat);
      x.narrow(0, 0, n).copy_(torch_internal::StandardizedImages(images.narrow(0, start, n)));
      at::Tensor logits = net.Forward(x.to(device)).to(at::kCPU);
      at::Tensor predicted = logits.narrow(0, 0, n).narrow(1, 0, kFashionMnistClasses).argmax(1);
      correct += predicted.eq(labels.narrow(0, start, n)).sum().item<int64_t>();
    }
    net.SetTraining(true);
    r.validated = validation.count;
    r.accuracy = static_cast<double>(correct) / static_cast<double>(validation.count);
    return r;
  } catch (const std::exception& e) {
    return Status::Error(model + ": training failed: " + torch_internal::FirstLine(e));
  }
}

}  // namespace joulecast
