// IR -> libtorch: the network, its planner and the public API. Kernels are planned once at build
// time (attributes read, pads resolved, shapes checked), so Forward only calls libtorch. Which
// builder plans a node, and how the parameters it reads start, is its row in the builder table
// (torch_ops.cc); the builders live by family in torch_ops_*.cc. Only ATen is included:
// <torch/torch.h> would double the compile time for nothing used.
#include "calibrate/torch/torch_network.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "calibrate/torch/torch_plan.h"

namespace joulecast {

struct TorchNetwork::Impl {
  using Values = torch_plan::Values;

  std::string device_name;
  at::Device device{at::kCPU};
  Values statics;  // Parameters, buffers and constants by tensor index; undefined elsewhere.
  std::vector<torch_plan::Kernel> kernels;
  std::vector<std::string> kernel_label;  // "node 'x' (Conv)".
  std::vector<at::Tensor> parameters;
  std::vector<std::string> parameter_names;
  std::vector<at::Tensor> buffers;
  int64_t parameter_count = 0;
  int input = -1;
  std::vector<int> outputs;
  torch_plan::Dims input_dims;
  torch_plan::Dims output_dims;
  std::string input_name;
  // Read by the BatchNorm and Dropout kernels at every run (SetTraining).
  std::shared_ptr<bool> training = std::make_shared<bool>(true);

  Values Run(const at::Tensor& input_value) {
    if (input_value.sizes() != at::IntArrayRef(input_dims)) {
      throw std::runtime_error("input '" + input_name + "' must be " +
                               torch_plan::DimsString(input_dims) + ", got " +
                               torch_plan::DimsString(input_value.sizes()));
    }
    Values v = statics;
    v[input] = input_value;
    for (size_t k = 0; k < kernels.size(); ++k) {
      try {
        kernels[k](v);
      } catch (const std::exception& e) {
        throw std::runtime_error(kernel_label[k] + ": " + torch_plan::FirstLine(e));
      }
    }
    Values out;
    for (int o : outputs) out.push_back(v[o]);
    return out;
  }
};

namespace torch_plan {

std::optional<at::ScalarType> ScalarTypeOf(DType t) {
  switch (t) {
    case DType::float32:
      return at::kFloat;
    case DType::float64:
      return at::kDouble;
    case DType::float16:
      return at::kHalf;
    case DType::bfloat16:
      return at::kBFloat16;
    case DType::int64:
      return at::kLong;
    case DType::int32:
      return at::kInt;
    case DType::int8:
      return at::kChar;
    case DType::uint8:
      return at::kByte;
    case DType::boolean:
      return at::kBool;
    case DType::undefined:
      return std::nullopt;
  }
  return std::nullopt;
}

int64_t Product(const Dims& d, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < d.size(); ++i) p *= d[i];
  return p;
}

std::string DimsString(at::IntArrayRef dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s.push_back('x');
    s.append(std::to_string(dims[i]));
  }
  return s;
}

std::string FirstLine(const std::exception& e) {
  const c10::Error* ce = dynamic_cast<const c10::Error*>(&e);
  std::string s = ce ? ce->what_without_backtrace() : e.what();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

Init Uniform(int64_t fan_in) {
  return {Init::Kind::uniform, fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0};
}
Init Fill(double v) { return {Init::Kind::fill, v}; }

// ---- Planner ------------------------------------------------------------------------------------

Planner::Planner(const Graph& g, TorchNetwork::Impl* net)
    : g_(g),
      net_(net),
      run_(g.nodes.size(), false),
      consumed_(g.tensors.size(), false),
      available_(g.tensors.size(), false),
      running_stat_(g.tensors.size(), 0) {}

std::shared_ptr<bool> Planner::training() const { return net_->training; }
at::Device Planner::device() const { return net_->device; }

Init Planner::InitFor(int tensor) const {
  for (const Node& n : g_.nodes) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] == tensor) return TorchOpOf(n.op).init(g_, n, k);
    }
  }
  return Fill(0.0);
}

Status Planner::MakeStatics() {
  net_->statics.assign(g_.tensors.size(), at::Tensor());
  const at::TensorOptions cpu_float = at::TensorOptions().dtype(at::kFloat);
  std::vector<bool> read(g_.tensors.size(), false);
  for (const Node& n : g_.nodes) {
    for (int in : n.inputs) {
      if (in >= 0) read[in] = true;
    }
  }
  for (size_t t = 0; t < g_.tensors.size(); ++t) {
    const Tensor& x = g_.tensors[t];
    if (x.role == Role::parameter && read[t]) {
      if (!x.shape_known) return Status::Error("parameter '" + x.name + "' has an unknown shape");
      at::Tensor p = at::empty(x.dims, cpu_float);
      Init init = InitFor(static_cast<int>(t));
      if (init.kind == Init::Kind::uniform) {
        p.uniform_(-init.value, init.value);
      } else {
        p.fill_(init.value);
      }
      p = p.to(net_->device);
      p.set_requires_grad(true);
      net_->statics[t] = p;
      net_->parameters.push_back(p);
      net_->parameter_names.push_back(x.name);
      net_->parameter_count += p.numel();
      available_[t] = true;
    } else if (x.int_values) {
      auto type = ScalarTypeOf(x.dtype).value_or(at::kLong);
      at::Tensor c = at::tensor(*x.int_values, at::kLong);
      if (x.shape_known) c = c.reshape(x.dims);
      c = c.to(type);
      net_->statics[t] = c.to(net_->device);
      available_[t] = true;
    } else if (x.real_values && x.role != Role::parameter) {
      auto type = ScalarTypeOf(x.dtype).value_or(at::kFloat);
      at::Tensor c = at::tensor(*x.real_values, at::kDouble);
      if (x.shape_known) c = c.reshape(x.dims);
      net_->statics[t] = c.to(type).to(net_->device);
      available_[t] = true;
    } else if (x.role == Role::buffer && running_stat_[t] && x.shape_known) {
      at::Tensor b =
          running_stat_[t] == 3 ? at::zeros(x.dims, cpu_float) : at::ones(x.dims, cpu_float);
      b = b.to(net_->device);
      net_->statics[t] = b;
      net_->buffers.push_back(b);
      available_[t] = true;
    }
  }
  return Status();
}

Status Planner::Run() {
  if (g_.inputs.size() != 1) {
    return Status::Error("the graph has " + std::to_string(g_.inputs.size()) +
                         " data inputs; the network takes exactly one (the images)");
  }
  const Tensor& input = g_.tensors[g_.inputs[0]];
  if (!input.shape_known || input.dims.empty()) {
    return Status::Error("graph input '" + input.name + "' has an unknown shape");
  }
  if (g_.outputs.empty()) return Status::Error("the graph has no outputs");
  net_->input = g_.inputs[0];
  net_->input_name = input.name;
  net_->input_dims = input.dims;
  net_->outputs = g_.outputs;
  const Tensor& out = g_.tensors[g_.outputs[0]];
  if (out.shape_known) net_->output_dims = out.dims;

  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    bool folded = !n.outputs.empty();
    for (int o : n.outputs) folded = folded && g_.tensors[o].int_values.has_value();
    run_[i] = !folded;
    if (!run_[i]) continue;
    for (int in : n.inputs) {
      if (in >= 0) consumed_[in] = true;
    }
    if (TorchOpOf(n.op).running_stats) {
      for (size_t k = 3; k < 5 && k < n.inputs.size(); ++k) {
        if (n.inputs[k] >= 0) running_stat_[n.inputs[k]] = static_cast<int>(k);
      }
    }
  }
  for (int o : g_.outputs) consumed_[o] = true;
  available_[net_->input] = true;
  if (Status s = MakeStatics(); !s.ok()) return s;

  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (!run_[i]) continue;
    if (Status s = PlanNode(static_cast<int>(i)); !s.ok()) return s;
  }
  for (size_t k = 0; k < g_.outputs.size(); ++k) {
    const Tensor& t = g_.tensors[g_.outputs[k]];
    if (!available_[g_.outputs[k]]) {
      return Status::Error("graph output '" + t.name + "' has no value the network computes");
    }
  }
  return Status();
}

Status Planner::PlanNode(int index) {
  const Node& n = g_.nodes[index];
  NodePlan plan(*this, index);
  Kernel kernel;
  size_t produced = 1;
  if (n.outputs.empty()) return plan.Fail("has no outputs");
  if (Status s = plan.Plan(&kernel, &produced); !s.ok()) return s;
  // Unfolded plumbing is not run: whoever reads its outputs reports that.
  if (!kernel) return Status();
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    int o = n.outputs[k];
    if (k < produced) {
      available_[o] = true;
    } else if (consumed_[o] && !g_.tensors[o].int_values) {
      return plan.Fail("output " + std::to_string(k) + " '" + g_.tensors[o].name +
                       "' is read, but libtorch's op does not produce it");
    }
  }
  net_->kernels.push_back(std::move(kernel));
  net_->kernel_label.push_back("node '" + n.name + "' (" + n.op_type + ")");
  return Status();
}

}  // namespace torch_plan

// ---- The public API -----------------------------------------------------------------------------

TorchNetwork::TorchNetwork(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TorchNetwork::~TorchNetwork() = default;

Result<std::unique_ptr<TorchNetwork>> TorchNetwork::Build(const Graph& graph,
                                                          const NetworkOptions& options) {
  if (Status s = CheckDevice(options.device); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->device_name = options.device;
  try {
    impl->device = at::Device(options.device);
    at::manual_seed(options.seed);
    c10::NoGradGuard no_grad;
    torch_plan::Planner planner(graph, impl.get());
    if (Status s = planner.Run(); !s.ok()) return s;
  } catch (const std::exception& e) {
    return Status::Error("building the network: " + torch_plan::FirstLine(e));
  }
  return std::unique_ptr<TorchNetwork>(new TorchNetwork(std::move(impl)));
}

at::Tensor TorchNetwork::Forward(const at::Tensor& input) { return impl_->Run(input)[0]; }
std::vector<at::Tensor> TorchNetwork::ForwardAll(const at::Tensor& input) {
  return impl_->Run(input);
}
const std::vector<at::Tensor>& TorchNetwork::parameters() const { return impl_->parameters; }
const std::vector<std::string>& TorchNetwork::parameter_names() const {
  return impl_->parameter_names;
}
int64_t TorchNetwork::parameter_count() const { return impl_->parameter_count; }
const std::vector<at::Tensor>& TorchNetwork::buffers() const { return impl_->buffers; }
const std::vector<int64_t>& TorchNetwork::input_dims() const { return impl_->input_dims; }
const std::vector<int64_t>& TorchNetwork::output_dims() const { return impl_->output_dims; }
const std::string& TorchNetwork::device() const { return impl_->device_name; }
void TorchNetwork::SetTraining(bool training) { *impl_->training = training; }
bool TorchNetwork::training() const { return *impl_->training; }

int CudaIndex(const std::string& device) {
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) != 0) return -1;
  const std::string n = device.substr(5);
  if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  return std::stoi(n);
}

Status CheckDevice(const std::string& device) {
  if (device == "cpu") return Status();
  int index = CudaIndex(device);
  if (index < 0) {
    return Status::Error("device '" + device + "' is not cpu, cuda or cuda:N");
  }
  if (!torch::cuda::is_available()) {
    return Status::Error("device '" + device + "': this libtorch " + LibtorchVersion() +
                         " has no CUDA support or sees no GPU (build against a CUDA libtorch "
                         "with -DTorch_DIR=..., or use --device cpu)");
  }
  const size_t count = torch::cuda::device_count();
  if (static_cast<size_t>(index) >= count) {
    return Status::Error("device '" + device + "': only " + std::to_string(count) +
                         " CUDA device(s) visible");
  }
  return Status();
}

Status CheckPrecision(const std::string& device, const std::string& precision) {
  if (precision != "fp32" && precision != "bf16" && precision != "fp16") {
    return Status::Error("precision '" + precision + "' is not fp32, bf16 or fp16");
  }
  if (precision == "fp16" && CudaIndex(device) < 0) {
    return Status::Error("precision fp16 needs a CUDA device: autocast on '" + device +
                         "' supports fp32 and bf16 only");
  }
  return Status();
}

std::function<void()> DeviceSynchronizer(const std::string& device) {
  const int index = CudaIndex(device);
  if (index < 0) return [] {};
  return [index] { torch::cuda::synchronize(index); };
}

std::string LibtorchVersion() { return TORCH_VERSION; }

}  // namespace joulecast
