// IR -> libtorch. Kernels are planned once at build time (attributes read, pads resolved, shapes
// checked), so Forward only calls libtorch. Only ATen is included: <torch/torch.h> would double
// this file's compile time for nothing it uses.
#include "calibrate/torch/torch_network.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

namespace joulecast {

namespace {

using Dims = std::vector<int64_t>;
using Values = std::vector<at::Tensor>;
using Kernel = std::function<void(Values&)>;

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

int64_t Product(const Dims& d, size_t from = 0) {
  int64_t p = 1;
  for (size_t i = from; i < d.size(); ++i) p *= d[i];
  return p;
}

// "64x1x28x28".
std::string DimsString(at::IntArrayRef dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s.push_back('x');
    s.append(std::to_string(dims[i]));
  }
  return s;
}

// The first line of an exception's message; libtorch's carry a C++ backtrace after it.
std::string FirstLine(const std::exception& e) {
  const c10::Error* ce = dynamic_cast<const c10::Error*>(&e);
  std::string s = ce ? ce->what_without_backtrace() : e.what();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// How a parameter starts, following PyTorch's defaults for the module it came from.
struct Init {
  enum class Kind { uniform, fill } kind = Kind::fill;
  double value = 0;  // The bound of a uniform, or the fill value.
};

Init Uniform(int64_t fan_in) {
  // kaiming_uniform_(a=sqrt(5)) and the bias init of nn.Conv*/nn.Linear both give
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  return {Init::Kind::uniform, fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0};
}
Init Fill(double v) { return {Init::Kind::fill, v}; }

// Everything Build needs to know about the graph before planning kernels.
class Planner {
 public:
  Planner(const Graph& g, TorchNetwork::Impl* net);
  Status Run();

 private:
  friend class NodePlan;
  Status PlanNode(int index);
  Status MakeStatics();
  Init InitFor(int tensor) const;
  int64_t WeightFanIn(const Node& n, size_t position) const;

  const Graph& g_;
  TorchNetwork::Impl* net_;
  std::vector<bool> run_;          // Node is executed (not all of its outputs folded).
  std::vector<bool> consumed_;     // Tensor is read by an executed node or is a graph output.
  std::vector<bool> available_;    // Tensor has a value at run time.
  std::vector<int> running_stat_;  // For buffers read as BatchNorm statistics: 3 mean, 4 var.
};

}  // namespace

struct TorchNetwork::Impl {
  std::string device_name;
  at::Device device{at::kCPU};
  Values statics;  // Parameters, buffers and constants by tensor index; undefined elsewhere.
  std::vector<Kernel> kernels;
  std::vector<std::string> kernel_label;  // "node 'x' (Conv)".
  std::vector<at::Tensor> parameters;
  std::vector<std::string> parameter_names;
  std::vector<at::Tensor> buffers;
  int64_t parameter_count = 0;
  int input = -1;
  std::vector<int> outputs;
  Dims input_dims;
  Dims output_dims;
  std::string input_name;
  // Read by the BatchNorm and Dropout kernels at every run (SetTraining).
  std::shared_ptr<bool> training = std::make_shared<bool>(true);

  Values Run(const at::Tensor& input_value) {
    if (input_value.sizes() != at::IntArrayRef(input_dims)) {
      throw std::runtime_error("input '" + input_name + "' must be " + DimsString(input_dims) +
                               ", got " + DimsString(input_value.sizes()));
    }
    Values v = statics;
    v[input] = input_value;
    for (size_t k = 0; k < kernels.size(); ++k) {
      try {
        kernels[k](v);
      } catch (const std::exception& e) {
        throw std::runtime_error(kernel_label[k] + ": " + FirstLine(e));
      }
    }
    Values out;
    for (int o : outputs) out.push_back(v[o]);
    return out;
  }
};

namespace {

// Plans one node: reads its attributes and inputs, checks what libtorch needs, and produces the
// kernel. Errors name the node.
class NodePlan {
 public:
  NodePlan(Planner& p, int index) : p_(p), g_(p.g_), n_(p.g_.nodes[index]) {}

  Status Fail(const std::string& what) const {
    return Status::Error("node '" + n_.name + "' (" + n_.op_type + "): " + what);
  }

  bool Has(size_t i) const { return i < n_.inputs.size() && n_.inputs[i] >= 0; }
  const Tensor& In(size_t i) const { return g_.tensors[n_.inputs[i]]; }
  const Tensor& Out(size_t k) const { return g_.tensors[n_.outputs[k]]; }

  // Input i as a value at run time; fails when it has none.
  Result<int> Data(size_t i) const {
    if (!Has(i)) return Fail("input " + std::to_string(i) + " is missing");
    int t = n_.inputs[i];
    if (!p_.available_[t]) return Fail(Unavailable(i));
    return t;
  }
  // Why input i has no value at run time.
  std::string Unavailable(size_t i) const {
    const Tensor& x = In(i);
    const std::string what = "input " + std::to_string(i) + " '" + x.name + "'";
    if (x.role == Role::input) {
      return "reads a second graph input, " + what + ": the network takes one data input";
    }
    if (x.producer >= 0 && g_.nodes[x.producer].op != Op::Constant) {
      return what + " comes from shape plumbing whose values shape inference did not fold";
    }
    return what +
           " is a float constant whose values the IR does not keep (it keeps integer "
           "values only)";
  }
  // Optional input: -1 when absent.
  Result<int> OptionalData(size_t i) const { return Has(i) ? Data(i) : Result<int>(-1); }

  // Known dims of input i.
  Result<Dims> InDims(size_t i) const {
    if (!Has(i) || !In(i).shape_known) {
      return Fail("the shape of input " + std::to_string(i) + " is unknown");
    }
    return In(i).dims;
  }
  Result<Dims> OutDims(size_t k) const {
    if (k >= n_.outputs.size() || !Out(k).shape_known) {
      return Fail("the shape of output " + std::to_string(k) + " is unknown");
    }
    return Out(k).dims;
  }

  // Integer values of input i (folded constants), or an error naming what is missing.
  Result<Dims> IntValues(size_t i, const std::string& what) const {
    if (!Has(i) || !In(i).int_values) {
      return Fail(what + " (input " + std::to_string(i) + ") is not a constant the IR knows");
    }
    return *In(i).int_values;
  }
  // A scalar from an attribute (older opsets) or from input i; nullopt when neither is given.
  Result<std::optional<double>> Scalar(const std::string& attr, size_t i,
                                       const std::string& what) const {
    if (n_.Has(attr)) {
      const Attr& a = n_.attrs.at(attr);
      return std::optional<double>(a.type == Attr::Type::integer ? static_cast<double>(a.i) : a.f);
    }
    if (!Has(i)) return std::optional<double>();
    if (In(i).real_values && In(i).real_values->size() == 1) {
      return std::optional<double>(In(i).real_values->front());
    }
    if (!In(i).int_values || In(i).int_values->size() != 1) {
      return Fail(what + ": " + Unavailable(i));
    }
    return std::optional<double>(static_cast<double>(In(i).int_values->front()));
  }

  Status Plan(Kernel* kernel, size_t* produced);

 private:
  Status Conv(Kernel* k);
  Status ConvTranspose(Kernel* k);
  Status Gemm(Kernel* k);
  Status Norm(Kernel* k, size_t* produced);
  Status Activation(Kernel* k);
  Status Pool(Kernel* k);
  Status GlobalPool(Kernel* k);
  Status Reduce(Kernel* k);
  Status Elementwise(Kernel* k);
  Status Split(Kernel* k, size_t* produced);
  Status Pad(Kernel* k);
  Status Resize(Kernel* k);
  Status Gather(Kernel* k);
  Status Slice(Kernel* k);
  Status Dropout(Kernel* k);
  Status View(Kernel* k);

  // Window attributes shared by Conv and the pools, with auto_pad resolved to explicit pads.
  struct Window {
    Dims kernel, strides, dilations, pads;  // pads: begins then ends, ONNX order.
  };
  Result<Window> ReadWindow(const Dims& x, const Dims& kernel) const;

  Planner& p_;
  const Graph& g_;
  const Node& n_;
};

// libtorch's pad list (last dim first, begin then end) for ONNX pads over the trailing
// `spatial` dims of a tensor.
Dims TorchPads(const Dims& onnx_pads, size_t spatial) {
  Dims out;
  for (size_t i = spatial; i-- > 0;) {
    out.push_back(onnx_pads[i]);
    out.push_back(onnx_pads[i + spatial]);
  }
  return out;
}

bool Symmetric(const Dims& pads) {
  size_t sp = pads.size() / 2;
  for (size_t i = 0; i < sp; ++i) {
    if (pads[i] != pads[i + sp]) return false;
  }
  return true;
}

Dims Begins(const Dims& pads) { return Dims(pads.begin(), pads.begin() + pads.size() / 2); }

// Convolutions through the ops PyTorch's ConvNd and ConvTransposeNd modules call (conv2d,
// conv_transpose2d, ...) rather than at::convolution, which they lower to: autocast on the CPU
// casts those ops but has no entry for at::convolution.
at::Tensor ConvNd(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Dims& s,
                  const Dims& p, const Dims& d, int64_t groups) {
  switch (w.dim()) {
    case 3:
      return at::conv1d(x, w, b, s, p, d, groups);
    case 4:
      return at::conv2d(x, w, b, s, p, d, groups);
    case 5:
      return at::conv3d(x, w, b, s, p, d, groups);
    default:
      return at::convolution(x, w, b, s, p, d, false, Dims(s.size(), 0), groups);
  }
}

at::Tensor ConvTransposeNd(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                           const Dims& s, const Dims& p, const Dims& out_pad, const Dims& d,
                           int64_t groups) {
  switch (w.dim()) {
    case 3:
      return at::conv_transpose1d(x, w, b, s, p, out_pad, groups, d);
    case 4:
      return at::conv_transpose2d(x, w, b, s, p, out_pad, groups, d);
    case 5:
      return at::conv_transpose3d(x, w, b, s, p, out_pad, groups, d);
    default:
      return at::convolution(x, w, b, s, p, d, true, out_pad, groups);
  }
}

// Narrows the trailing spatial dims of `y` to `out` (which is never larger).
at::Tensor CropTo(at::Tensor y, const Dims& out) {
  for (size_t d = 2; d < out.size(); ++d) {
    if (y.size(static_cast<int64_t>(d)) != out[d]) y = y.narrow(static_cast<int64_t>(d), 0, out[d]);
  }
  return y;
}

Result<NodePlan::Window> NodePlan::ReadWindow(const Dims& x, const Dims& kernel) const {
  const size_t sp = kernel.size();
  Window w;
  w.kernel = kernel;
  w.strides = n_.Ints("strides", Dims(sp, 1));
  w.dilations = n_.Ints("dilations", Dims(sp, 1));
  w.pads = n_.Ints("pads", Dims(2 * sp, 0));
  if (w.strides.size() != sp || w.dilations.size() != sp || w.pads.size() != 2 * sp ||
      x.size() != sp + 2) {
    return Fail("strides, dilations or pads do not match the " + std::to_string(sp) +
                " spatial dims");
  }
  const std::string auto_pad = n_.Text("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    w.pads.assign(2 * sp, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < sp; ++i) {
      int64_t in = x[2 + i], s = w.strides[i];
      int64_t out = (in + s - 1) / s;
      int64_t span = (kernel[i] - 1) * w.dilations[i] + 1;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
      int64_t small = total / 2, big = total - small;
      w.pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + sp] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else if (auto_pad != "NOTSET") {
    return Fail("unknown auto_pad '" + auto_pad + "'");
  }
  for (size_t i = 0; i < sp; ++i) {
    if (w.kernel[i] <= 0 || w.strides[i] <= 0 || w.dilations[i] <= 0 || w.pads[i] < 0 ||
        w.pads[i + sp] < 0) {
      return Fail("kernel, strides and dilations must be positive and pads non-negative");
    }
  }
  return w;
}

Status NodePlan::Conv(Kernel* k) {
  auto x = Data(0), w = Data(1), b = OptionalData(2);
  if (!x.ok()) return x.status();
  if (!w.ok()) return w.status();
  if (!b.ok()) return b.status();
  auto xd = InDims(0), wd = InDims(1);
  if (!xd.ok()) return xd.status();
  if (!wd.ok()) return wd.status();
  if (wd->size() < 3 || wd->size() != xd->size()) return Fail("input and weight ranks differ");
  auto win = ReadWindow(*xd, Dims(wd->begin() + 2, wd->end()));
  if (!win.ok()) return win.status();
  const int64_t groups = n_.Int("group", 1);
  const size_t sp = wd->size() - 2;
  Dims padding(sp, 0), pre_pad;
  if (Symmetric(win->pads)) {
    padding = Begins(win->pads);
  } else {
    pre_pad = TorchPads(win->pads, sp);  // libtorch pads symmetrically only: pad first.
  }
  *k = [x = *x, w = *w, b = *b, y = n_.outputs[0], s = win->strides, d = win->dilations, padding,
        pre_pad, groups](Values& v) {
    at::Tensor in = pre_pad.empty() ? v[x] : at::constant_pad_nd(v[x], pre_pad, 0);
    v[y] = ConvNd(in, v[w], b >= 0 ? v[b] : at::Tensor(), s, padding, d, groups);
  };
  return Status();
}

Status NodePlan::ConvTranspose(Kernel* k) {
  auto x = Data(0), w = Data(1), b = OptionalData(2);
  if (!x.ok()) return x.status();
  if (!w.ok()) return w.status();
  if (!b.ok()) return b.status();
  auto xd = InDims(0), wd = InDims(1), yd = OutDims(0);
  if (!xd.ok()) return xd.status();
  if (!wd.ok()) return wd.status();
  if (!yd.ok()) return yd.status();
  if (wd->size() < 3 || wd->size() != xd->size() || yd->size() != xd->size()) {
    return Fail("input, weight and output ranks differ");
  }
  const size_t sp = wd->size() - 2;
  Dims strides = n_.Ints("strides", Dims(sp, 1));
  Dims dil = n_.Ints("dilations", Dims(sp, 1));
  Dims pads = n_.Ints("pads", Dims(2 * sp, 0));
  Dims outpad = n_.Ints("output_padding", Dims(sp, 0));
  if (strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp || outpad.size() != sp) {
    return Fail("strides, dilations, pads or output_padding do not match the spatial dims");
  }
  const std::string auto_pad = n_.Text("auto_pad", "NOTSET");
  const int64_t groups = n_.Int("group", 1);
  // Where the output window starts inside the unpadded result (ONNX's rule for output_shape and
  // SAME: the odd pixel of padding goes to the end for SAME_UPPER).
  Dims begin(sp), full(sp);
  bool plain = !n_.Has("output_shape") && (auto_pad == "NOTSET" || auto_pad == "VALID");
  for (size_t i = 0; i < sp; ++i) {
    full[i] = strides[i] * ((*xd)[2 + i] - 1) + ((*wd)[2 + i] - 1) * dil[i] + 1;
    if (plain) {
      begin[i] = auto_pad == "VALID" ? 0 : pads[i];
    } else {
      int64_t total = full[i] + outpad[i] - (*yd)[2 + i];
      if (total < 0) return Fail("output_shape is larger than the transposed convolution gives");
      begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    }
  }
  bool fast = plain && auto_pad == "NOTSET" && Symmetric(pads);
  for (size_t i = 0; i < sp && fast; ++i) {
    fast = outpad[i] < std::max(strides[i], dil[i]);  // libtorch's limit on output_padding.
  }
  if (fast) {
    *k = [x = *x, w = *w, b = *b, y = n_.outputs[0], strides, dil, p = Begins(pads), outpad,
          groups](Values& v) {
      v[y] = ConvTransposeNd(v[x], v[w], b >= 0 ? v[b] : at::Tensor(), strides, p, outpad, dil,
                             groups);
    };
    return Status();
  }
  // General case: the unpadded result, then one constant_pad_nd that crops (negative pads) or
  // extends with zeros to the output window, then the bias.
  Dims window;
  for (size_t i = sp; i-- > 0;) {
    window.push_back(-begin[i]);
    window.push_back((*yd)[2 + i] - (full[i] - begin[i]));
  }
  *k = [x = *x, w = *w, b = *b, y = n_.outputs[0], strides, dil, window, groups, sp](Values& v) {
    at::Tensor out =
        ConvTransposeNd(v[x], v[w], at::Tensor(), strides, Dims(sp, 0), Dims(sp, 0), dil, groups);
    out = at::constant_pad_nd(out, window, 0);
    if (b >= 0) {
      Dims shape(sp + 2, 1);
      shape[1] = -1;
      out = out + v[b].reshape(shape);
    }
    v[y] = out;
  };
  return Status();
}

Status NodePlan::Gemm(Kernel* k) {
  auto a = Data(0), bm = Data(1), c = OptionalData(2);
  if (!a.ok()) return a.status();
  if (!bm.ok()) return bm.status();
  if (!c.ok()) return c.status();
  const bool ta = n_.Int("transA", 0) != 0, tb = n_.Int("transB", 0) != 0;
  const double alpha = n_.Real("alpha", 1.0), beta = n_.Real("beta", 1.0);
  const int y = n_.outputs[0];
  bool bias_1d = *c < 0 || (In(2).shape_known && In(2).dims.size() == 1);
  if (!ta && tb && alpha == 1.0 && beta == 1.0 && bias_1d) {
    // nn.Linear's own op, so that timings match what PyTorch runs.
    *k = [a = *a, b = *bm, c = *c, y](Values& v) {
      v[y] = at::linear(v[a], v[b], c >= 0 ? v[c] : at::Tensor());
    };
    return Status();
  }
  *k = [a = *a, b = *bm, c = *c, y, ta, tb, alpha, beta](Values& v) {
    at::Tensor A = ta ? v[a].t() : v[a];
    at::Tensor B = tb ? v[b].t() : v[b];
    if (c >= 0) {
      v[y] = at::addmm(v[c], A, B, beta, alpha);
    } else {
      v[y] = alpha == 1.0 ? at::mm(A, B) : at::mm(A, B) * alpha;
    }
  };
  return Status();
}

Status NodePlan::Norm(Kernel* k, size_t* produced) {
  auto x = Data(0), scale = OptionalData(1), bias = OptionalData(2);
  if (!x.ok()) return x.status();
  if (!scale.ok()) return scale.status();
  if (!bias.ok()) return bias.status();
  const double eps = n_.Real("epsilon", 1e-5);
  const int y = n_.outputs[0];
  if (n_.op == Op::BatchNormalization) {
    auto mean = OptionalData(3), var = OptionalData(4);
    if (!mean.ok()) return mean.status();
    if (!var.ok()) return var.status();
    // ONNX's momentum weighs the running statistic, PyTorch's the batch statistic.
    const double momentum = 1.0 - n_.Real("momentum", 0.9);
    // Outputs 1 and 2 (opset 14's updated running statistics) are the buffers after the update.
    std::vector<std::pair<int, int>> stats;
    if (n_.outputs.size() > 1 && *mean >= 0) stats.push_back({n_.outputs[1], *mean});
    if (n_.outputs.size() > 2 && *var >= 0) stats.push_back({n_.outputs[2], *var});
    *produced = 1 + stats.size();
    *k = [x = *x, s = *scale, b = *bias, m = *mean, r = *var, y, momentum, eps, stats,
          training = p_.net_->training](Values& v) {
      // Evaluation uses the running statistics, where there are any.
      const bool batch_stats = *training || m < 0 || r < 0;
      v[y] = at::batch_norm(v[x], s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                            m >= 0 ? v[m] : at::Tensor(), r >= 0 ? v[r] : at::Tensor(),
                            batch_stats, momentum, eps, true);
      for (auto [out, buffer] : stats) v[out] = v[buffer].detach();
    };
    return Status();
  }
  if (n_.op == Op::LayerNormalization) {
    auto xd = InDims(0);
    if (!xd.ok()) return xd.status();
    int64_t r = static_cast<int64_t>(xd->size());
    int64_t axis = n_.Int("axis", -1);
    if (axis < -r || axis >= r) return Fail("axis out of range");
    if (axis < 0) axis += r;
    Dims shape(xd->begin() + axis, xd->end());
    *k = [x = *x, s = *scale, b = *bias, y, shape, eps](Values& v) {
      v[y] = at::layer_norm(v[x], shape, s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                            eps);
    };
    return Status();
  }
  *k = [x = *x, s = *scale, b = *bias, y, eps](Values& v) {
    v[y] = at::instance_norm(v[x], s >= 0 ? v[s] : at::Tensor(), b >= 0 ? v[b] : at::Tensor(),
                             at::Tensor(), at::Tensor(), true, 0.1, eps, true);
  };
  return Status();
}

Status NodePlan::Activation(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  const int in = *x, y = n_.outputs[0];
  auto unary = [&](auto f) {
    *k = [in, y, f](Values& v) { v[y] = f(v[in]); };
    return Status();
  };
  switch (n_.op) {
    case Op::Relu:
      return unary([](const at::Tensor& t) { return at::relu(t); });
    case Op::Sigmoid:
      return unary([](const at::Tensor& t) { return at::sigmoid(t); });
    case Op::Tanh:
      return unary([](const at::Tensor& t) { return at::tanh(t); });
    case Op::HardSwish:
      return unary([](const at::Tensor& t) { return at::hardswish(t); });
    case Op::Erf:
      return unary([](const at::Tensor& t) { return at::erf(t); });
    case Op::Softplus:
      return unary([](const at::Tensor& t) { return at::softplus(t); });
    case Op::LeakyRelu: {
      double alpha = n_.Real("alpha", 0.01);
      return unary([alpha](const at::Tensor& t) { return at::leaky_relu(t, alpha); });
    }
    case Op::Elu: {
      double alpha = n_.Real("alpha", 1.0);
      return unary([alpha](const at::Tensor& t) { return at::elu(t, alpha); });
    }
    case Op::Selu: {
      double alpha = n_.Real("alpha", 1.67326319217681884765625);
      double gamma = n_.Real("gamma", 1.05070102214813232421875);
      return unary([alpha, gamma](const at::Tensor& t) { return at::elu(t, alpha, gamma); });
    }
    case Op::HardSigmoid: {
      double alpha = n_.Real("alpha", 0.2), beta = n_.Real("beta", 0.5);
      if (std::abs(alpha - 1.0 / 6) < 1e-6 && beta == 0.5) {
        return unary([](const at::Tensor& t) { return at::hardsigmoid(t); });
      }
      return unary(
          [alpha, beta](const at::Tensor& t) { return at::clamp(t * alpha + beta, 0, 1); });
    }
    case Op::Gelu: {
      std::string approximate = n_.Text("approximate", "none");
      if (approximate != "none" && approximate != "tanh") {
        return Fail("unknown approximate '" + approximate + "'");
      }
      return unary([approximate](const at::Tensor& t) { return at::gelu(t, approximate); });
    }
    case Op::Softmax:
    case Op::LogSoftmax: {
      // Opset 13's semantics (one axis, default -1); for the usual [N, classes] logits they
      // agree with the older flatten-to-2-D ones.
      int64_t axis = n_.Int("axis", -1);
      if (n_.op == Op::Softmax) {
        return unary([axis](const at::Tensor& t) { return at::softmax(t, axis); });
      }
      return unary([axis](const at::Tensor& t) { return at::log_softmax(t, axis); });
    }
    case Op::Clip: {
      auto lo = Scalar("min", 1, "Clip's min");
      if (!lo.ok()) return lo.status();
      auto hi = Scalar("max", 2, "Clip's max");
      if (!hi.ok()) return hi.status();
      std::optional<double> l = *lo, h = *hi;
      return unary([l, h](const at::Tensor& t) {
        return at::clamp(t, l ? c10::optional<at::Scalar>(*l) : c10::nullopt,
                         h ? c10::optional<at::Scalar>(*h) : c10::nullopt);
      });
    }
    case Op::PRelu: {
      auto slope = Data(1);
      if (!slope.ok()) return slope.status();
      auto xd = InDims(0), sd = InDims(1);
      if (!xd.ok()) return xd.status();
      if (!sd.ok()) return sd.status();
      // libtorch's prelu takes one slope per channel (axis 1); ONNX's broadcasts any shape.
      bool per_channel = Product(*sd) == 1 || (xd->size() >= 2 && sd->size() == xd->size() - 1 &&
                                               (*sd)[0] == (*xd)[1] && Product(*sd, 1) == 1);
      const int s = *slope;
      *k = [in, s, y, per_channel](Values& v) {
        v[y] = per_channel ? at::prelu(v[in], v[s].reshape({-1}))
                           : at::where(v[in] >= 0, v[in], v[in] * v[s]);
      };
      return Status();
    }
    default:
      return Fail("not an activation");
  }
}

Status NodePlan::Pool(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0), yd = OutDims(0);
  if (!xd.ok()) return xd.status();
  if (!yd.ok()) return yd.status();
  const Dims kernel = n_.Ints("kernel_shape");
  const size_t sp = kernel.size();
  if (sp < 1 || sp > 3 || xd->size() != sp + 2) {
    return Fail("libtorch pools 1 to 3 spatial dims of an N x C x ... input");
  }
  auto win = ReadWindow(*xd, kernel);
  if (!win.ok()) return win.status();
  const bool ceil_mode = n_.Int("ceil_mode", 0) != 0;
  const int in = *x, y = n_.outputs[0];
  // libtorch takes symmetric pads of at most half the kernel; anything else is padded first.
  bool native = Symmetric(win->pads);
  for (size_t i = 0; i < sp && native; ++i) native = win->pads[i] <= kernel[i] / 2;
  const Dims padding = native ? Begins(win->pads) : Dims(sp, 0);
  const Dims pre_pad = native ? Dims() : TorchPads(win->pads, sp);
  const Dims out = *yd;
  if (n_.op == Op::MaxPool) {
    if (n_.Int("storage_order", 0) != 0) return Fail("storage_order 1 is not supported");
    *k = [in, y, w = *win, padding, pre_pad, ceil_mode, out, sp](Values& v) {
      at::Tensor t = v[in];
      if (!pre_pad.empty()) {
        t = at::constant_pad_nd(t, pre_pad, -std::numeric_limits<double>::infinity());
      }
      switch (sp) {
        case 1:
          t = at::max_pool1d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
          break;
        case 2:
          t = at::max_pool2d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
          break;
        default:
          t = at::max_pool3d(t, w.kernel, w.strides, padding, w.dilations, ceil_mode);
      }
      v[y] = CropTo(t, out);
    };
    return Status();
  }
  if (std::any_of(win->dilations.begin(), win->dilations.end(), [](int64_t d) { return d != 1; })) {
    return Fail("dilated AveragePool has no libtorch op");
  }
  const bool include_pad = n_.Int("count_include_pad", 0) != 0;
  auto avg = [sp](const at::Tensor& t, const Dims& kr, const Dims& st, const Dims& pd, bool ceil,
                  bool include) {
    switch (sp) {
      case 1:
        return at::avg_pool1d(t, kr, st, pd, ceil, include);
      case 2:
        return at::avg_pool2d(t, kr, st, pd, ceil, include);
      default:
        return at::avg_pool3d(t, kr, st, pd, ceil, include);
    }
  };
  if (native) {
    *k = [in, y, w = *win, padding, ceil_mode, include_pad, out, avg](Values& v) {
      v[y] = CropTo(avg(v[in], w.kernel, w.strides, padding, ceil_mode, include_pad), out);
    };
    return Status();
  }
  // Pre-padded: the zeros count by construction; without count_include_pad divide by the
  // pooled mask of real pixels instead, which cancels the kernel-size divisor.
  Dims mask_shape(sp + 2, 1);
  for (size_t i = 0; i < sp; ++i) mask_shape[2 + i] = (*xd)[2 + i];
  *k = [in, y, w = *win, pre_pad, ceil_mode, include_pad, out, avg, mask_shape, sp](Values& v) {
    at::Tensor t = at::constant_pad_nd(v[in], pre_pad, 0);
    at::Tensor sum = avg(t, w.kernel, w.strides, Dims(sp, 0), ceil_mode, true);
    if (!include_pad) {
      at::Tensor mask = at::constant_pad_nd(at::ones(mask_shape, v[in].options()), pre_pad, 0);
      sum = sum / avg(mask, w.kernel, w.strides, Dims(sp, 0), ceil_mode, true);
    }
    v[y] = CropTo(sum, out);
  };
  return Status();
}

Status NodePlan::GlobalPool(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0);
  if (!xd.ok()) return xd.status();
  if (xd->size() < 3) return Fail("global pooling needs an input of rank >= 3");
  Dims axes;
  for (int64_t d = 2; d < static_cast<int64_t>(xd->size()); ++d) axes.push_back(d);
  const bool avg = n_.op == Op::GlobalAveragePool;
  *k = [x = *x, y = n_.outputs[0], axes, avg](Values& v) {
    v[y] = avg ? at::mean(v[x], axes, true) : at::amax(v[x], axes, true);
  };
  return Status();
}

Status NodePlan::Reduce(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0);
  if (!xd.ok()) return xd.status();
  Dims axes;
  if (n_.Has("axes")) {
    axes = n_.Ints("axes");
  } else if (Has(1)) {
    auto a = IntValues(1, "axes");
    if (!a.ok()) return a.status();
    axes = *a;
  }
  const bool keep = n_.Int("keepdims", 1) != 0;
  const int y = n_.outputs[0];
  if (axes.empty()) {
    if (n_.Int("noop_with_empty_axes", 0) != 0) {
      *k = [x = *x, y](Values& v) { v[y] = v[x]; };
      return Status();
    }
    for (int64_t d = 0; d < static_cast<int64_t>(xd->size()); ++d) axes.push_back(d);
  }
  const Op op = n_.op;
  *k = [x = *x, y, axes, keep, op](Values& v) {
    if (op == Op::ReduceMean)
      v[y] = at::mean(v[x], axes, keep);
    else if (op == Op::ReduceSum)
      v[y] = at::sum(v[x], axes, keep);
    else
      v[y] = at::amax(v[x], axes, keep);
  };
  return Status();
}

Status NodePlan::Elementwise(Kernel* k) {
  std::vector<int> ins;
  for (size_t i = 0; i < n_.inputs.size(); ++i) {
    auto t = Data(i);
    if (!t.ok()) return t.status();
    ins.push_back(*t);
  }
  const size_t arity = n_.op == Op::Where ? 3 : (n_.op == Op::Max || n_.op == Op::Min) ? 0 : 2;
  const bool unary = n_.op == Op::Sqrt || n_.op == Op::Neg || n_.op == Op::Exp ||
                     n_.op == Op::Log || n_.op == Op::Reciprocal || n_.op == Op::Abs ||
                     n_.op == Op::Floor || n_.op == Op::Ceil;
  if ((unary && ins.size() != 1) || (!unary && arity && ins.size() != arity) || ins.empty()) {
    return Fail("has " + std::to_string(ins.size()) + " inputs");
  }
  const int y = n_.outputs[0];
  const Op op = n_.op;
  *k = [ins, y, op](Values& v) {
    const at::Tensor& a = v[ins[0]];
    switch (op) {
      case Op::Add:
        v[y] = a + v[ins[1]];
        break;
      case Op::Sub:
        v[y] = a - v[ins[1]];
        break;
      case Op::Mul:
        v[y] = a * v[ins[1]];
        break;
      case Op::Div:
        // ONNX divides integers with truncation; libtorch's '/' would promote to float.
        v[y] = at::isIntegralType(a.scalar_type(), true) &&
                       at::isIntegralType(v[ins[1]].scalar_type(), true)
                   ? at::div(a, v[ins[1]], "trunc")
                   : a / v[ins[1]];
        break;
      case Op::Pow:
        v[y] = at::pow(a, v[ins[1]]);
        break;
      case Op::Equal:
        v[y] = at::eq(a, v[ins[1]]);
        break;
      case Op::Where:
        v[y] = at::where(a.to(at::kBool), v[ins[1]], v[ins[2]]);
        break;
      case Op::Max:
      case Op::Min: {
        at::Tensor r = a;
        for (size_t i = 1; i < ins.size(); ++i) {
          r = op == Op::Max ? at::maximum(r, v[ins[i]]) : at::minimum(r, v[ins[i]]);
        }
        v[y] = r;
        break;
      }
      case Op::Sqrt:
        v[y] = at::sqrt(a);
        break;
      case Op::Neg:
        v[y] = at::neg(a);
        break;
      case Op::Exp:
        v[y] = at::exp(a);
        break;
      case Op::Log:
        v[y] = at::log(a);
        break;
      case Op::Reciprocal:
        v[y] = at::reciprocal(a);
        break;
      case Op::Abs:
        v[y] = at::abs(a);
        break;
      case Op::Floor:
        v[y] = at::floor(a);
        break;
      default:
        v[y] = at::ceil(a);
        break;
    }
  };
  return Status();
}

Status NodePlan::Split(Kernel* k, size_t* produced) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0);
  if (!xd.ok()) return xd.status();
  int64_t r = static_cast<int64_t>(xd->size()), axis = n_.Int("axis", 0);
  if (axis < -r || axis >= r) return Fail("axis out of range");
  if (axis < 0) axis += r;
  // The sizes shape inference worked out (from the split attribute or input, or even parts).
  Dims sizes;
  for (size_t o = 0; o < n_.outputs.size(); ++o) {
    auto od = OutDims(o);
    if (!od.ok()) return od.status();
    sizes.push_back((*od)[axis]);
  }
  *produced = n_.outputs.size();
  *k = [x = *x, outs = n_.outputs, sizes, axis](Values& v) {
    std::vector<at::Tensor> parts = at::split_with_sizes(v[x], sizes, axis);
    for (size_t o = 0; o < outs.size(); ++o) v[outs[o]] = parts[o];
  };
  return Status();
}

Status NodePlan::Pad(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0);
  if (!xd.ok()) return xd.status();
  const size_t r = xd->size();
  Dims pads;
  if (n_.Has("pads")) {
    pads = n_.Ints("pads");
  } else {
    auto p = IntValues(1, "pads");
    if (!p.ok()) return p.status();
    pads = *p;
  }
  if (Has(3)) {  // Opset 18: pads for the listed axes only.
    auto a = IntValues(3, "axes");
    if (!a.ok()) return a.status();
    if (pads.size() != 2 * a->size()) return Fail("pads do not match axes");
    Dims all(2 * r, 0);
    for (size_t i = 0; i < a->size(); ++i) {
      int64_t ax = (*a)[i] < 0 ? (*a)[i] + static_cast<int64_t>(r) : (*a)[i];
      if (ax < 0 || ax >= static_cast<int64_t>(r)) return Fail("axis out of range");
      all[ax] = pads[i];
      all[ax + r] = pads[i + a->size()];
    }
    pads = all;
  }
  if (pads.size() != 2 * r) return Fail("pads do not match the input's rank");
  auto value = Scalar("value", 2, "the pad value");
  if (!value.ok()) return value.status();
  const std::string mode = n_.Text("mode", "constant");
  // libtorch's list runs from the last dim; dims up front without padding are left out.
  Dims torch_pads = TorchPads(pads, r);
  while (torch_pads.size() >= 2 && torch_pads[torch_pads.size() - 1] == 0 &&
         torch_pads[torch_pads.size() - 2] == 0) {
    torch_pads.resize(torch_pads.size() - 2);
  }
  std::string torch_mode = "constant";
  if (mode == "reflect" || mode == "edge" || mode == "wrap") {
    torch_mode = mode == "reflect" ? "reflect" : mode == "edge" ? "replicate" : "circular";
    // libtorch pads these modes over exactly the 1 to 3 dims after N and C.
    if (r < 3 || r > 5 || torch_pads.size() > 2 * (r - 2)) {
      return Fail("libtorch pads in " + mode + " mode only the 1 to 3 dims after N and C");
    }
    torch_pads.resize(2 * (r - 2), 0);
  } else if (mode != "constant") {
    return Fail("unknown mode '" + mode + "'");
  }
  const double fill = value->value_or(0.0);
  *k = [x = *x, y = n_.outputs[0], torch_pads, torch_mode, fill](Values& v) {
    v[y] = torch_mode == "constant" ? at::constant_pad_nd(v[x], torch_pads, fill)
                                    : at::pad(v[x], torch_pads, torch_mode);
  };
  return Status();
}

Status NodePlan::Resize(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0), yd = OutDims(0);
  if (!xd.ok()) return xd.status();
  if (!yd.ok()) return yd.status();
  const size_t r = xd->size();
  if (r < 3 || r > 5 || yd->size() != r || (*yd)[0] != (*xd)[0] || (*yd)[1] != (*xd)[1]) {
    return Fail("libtorch resizes the 1 to 3 spatial dims of an N x C x ... tensor only");
  }
  const Dims size(yd->begin() + 2, yd->end());
  const std::string mode = n_.Text("mode", "nearest");
  const std::string transform = n_.Text("coordinate_transformation_mode",
                                        n_.op == Op::Upsample ? "asymmetric" : "half_pixel");
  const int in = *x, y = n_.outputs[0];
  if (mode == "nearest") {
    // PyTorch exports its 'nearest' as asymmetric + floor; ONNX's default half_pixel is
    // libtorch's 'nearest-exact'. Both agree on integer scale factors.
    const bool exact = transform != "asymmetric";
    *k = [in, y, size, exact](Values& v) {
      const at::Tensor& t = v[in];
      switch (size.size()) {
        case 1:
          v[y] = exact ? at::_upsample_nearest_exact1d(t, size) : at::upsample_nearest1d(t, size);
          break;
        case 2:
          v[y] = exact ? at::_upsample_nearest_exact2d(t, size) : at::upsample_nearest2d(t, size);
          break;
        default:
          v[y] = exact ? at::_upsample_nearest_exact3d(t, size) : at::upsample_nearest3d(t, size);
      }
    };
    return Status();
  }
  if (mode == "linear" || mode == "bilinear" || mode == "trilinear") {
    if (transform != "half_pixel" && transform != "pytorch_half_pixel" &&
        transform != "align_corners") {
      return Fail("linear resize with coordinate_transformation_mode '" + transform +
                  "' has no libtorch op");
    }
    const bool corners = transform == "align_corners";
    *k = [in, y, size, corners](Values& v) {
      const at::Tensor& t = v[in];
      switch (size.size()) {
        case 1:
          v[y] = at::upsample_linear1d(t, size, corners);
          break;
        case 2:
          v[y] = at::upsample_bilinear2d(t, size, corners);
          break;
        default:
          v[y] = at::upsample_trilinear3d(t, size, corners);
      }
    };
    return Status();
  }
  return Fail("resize mode '" + mode + "' is not supported (nearest and linear are)");
}

Status NodePlan::Gather(Kernel* k) {
  auto x = Data(0), idx = Data(1);
  if (!x.ok()) return x.status();
  if (!idx.ok()) return idx.status();
  auto xd = InDims(0), yd = OutDims(0);
  if (!xd.ok()) return xd.status();
  if (!yd.ok()) return yd.status();
  int64_t r = static_cast<int64_t>(xd->size()), axis = n_.Int("axis", 0);
  if (axis < -r || axis >= r) return Fail("axis out of range");
  if (axis < 0) axis += r;
  const int64_t dim = (*xd)[axis];
  *k = [x = *x, i = *idx, y = n_.outputs[0], axis, dim, out = *yd](Values& v) {
    at::Tensor index = v[i].to(at::kLong).reshape({-1});
    index = at::where(index < 0, index + dim, index);
    v[y] = at::index_select(v[x], axis, index).reshape(out);
  };
  return Status();
}

Status NodePlan::Slice(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto xd = InDims(0);
  if (!xd.ok()) return xd.status();
  Dims starts, ends, axes, steps;
  if (n_.Has("starts")) {
    starts = n_.Ints("starts");
    ends = n_.Ints("ends");
    axes = n_.Ints("axes");
  } else {
    auto s = IntValues(1, "starts"), e = IntValues(2, "ends");
    if (!s.ok()) return s.status();
    if (!e.ok()) return e.status();
    starts = *s;
    ends = *e;
    if (Has(3)) {
      auto a = IntValues(3, "axes");
      if (!a.ok()) return a.status();
      axes = *a;
    }
    if (Has(4)) {
      auto st = IntValues(4, "steps");
      if (!st.ok()) return st.status();
      steps = *st;
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return Fail("starts, ends, axes and steps differ in length");
  }
  // Per axis: a positive-step slice, or an explicit index list for negative steps.
  struct Cut {
    int64_t axis, begin, end, step;
    at::Tensor index;
  };
  std::vector<Cut> cuts;
  const int64_t r = static_cast<int64_t>(xd->size());
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
    if (ax < 0 || ax >= r) return Fail("axis out of range");
    int64_t d = (*xd)[ax], s = steps[i], b = starts[i], e = ends[i];
    if (s == 0) return Fail("step is zero");
    if (b < 0) b += d;
    if (e < 0) e += d;
    Cut c{ax, 0, 0, s, at::Tensor()};
    if (s > 0) {
      c.begin = std::clamp<int64_t>(b, 0, d);
      c.end = std::max(c.begin, std::clamp<int64_t>(e, 0, d));
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      Dims idx;
      for (int64_t j = b; j > e; j += s) idx.push_back(j);
      c.index = at::tensor(idx, at::kLong).to(p_.net_->device);
    }
    cuts.push_back(std::move(c));
  }
  *k = [x = *x, y = n_.outputs[0], cuts](Values& v) {
    at::Tensor t = v[x];
    for (const Cut& c : cuts) {
      t = c.step > 0 ? t.slice(c.axis, c.begin, c.end, c.step)
                     : at::index_select(t, c.axis, c.index);
    }
    v[y] = t;
  };
  return Status();
}

Status NodePlan::Dropout(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  auto ratio = Scalar("ratio", 1, "Dropout's ratio");
  if (!ratio.ok()) return ratio.status();
  const double p = ratio->value_or(0.5);
  if (p < 0 || p >= 1) return Fail("ratio must be in [0, 1)");
  bool train = true;
  if (Has(2)) {
    auto mode = IntValues(2, "training_mode");
    if (!mode.ok()) return mode.status();
    train = !mode->empty() && mode->front() != 0;
  }
  *k = [x = *x, y = n_.outputs[0], p, train, training = p_.net_->training](Values& v) {
    v[y] = at::dropout(v[x], p, train && *training);
  };
  return Status();
}

// Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile, Transpose, Identity and Cast: the output
// shape is what shape inference computed (the network runs at the graph's own shapes).
Status NodePlan::View(Kernel* k) {
  auto x = Data(0);
  if (!x.ok()) return x.status();
  const int in = *x, y = n_.outputs[0];
  switch (n_.op) {
    case Op::Identity:
      *k = [in, y](Values& v) { v[y] = v[in]; };
      return Status();
    case Op::Transpose: {
      auto xd = InDims(0);
      if (!xd.ok()) return xd.status();
      Dims perm = n_.Ints("perm");
      if (perm.empty()) {
        for (int64_t i = static_cast<int64_t>(xd->size()) - 1; i >= 0; --i) perm.push_back(i);
      }
      *k = [in, y, perm](Values& v) { v[y] = v[in].permute(perm); };
      return Status();
    }
    case Op::Cast: {
      auto to = ScalarTypeOf(DTypeFromOnnx(static_cast<int>(n_.Int("to", 1))));
      if (!to) return Fail("cast to an unsupported type");
      *k = [in, y, to = *to](Values& v) { v[y] = v[in].to(to); };
      return Status();
    }
    case Op::Tile: {
      auto rep = IntValues(1, "repeats");
      if (!rep.ok()) return rep.status();
      *k = [in, y, rep = *rep](Values& v) { v[y] = v[in].repeat(rep); };
      return Status();
    }
    default:
      break;
  }
  auto yd = OutDims(0);
  if (!yd.ok()) return yd.status();
  if (n_.op == Op::Expand) {
    *k = [in, y, out = *yd](Values& v) { v[y] = v[in].expand(out); };
  } else {
    *k = [in, y, out = *yd](Values& v) { v[y] = v[in].reshape(out); };
  }
  return Status();
}

Status NodePlan::Plan(Kernel* k, size_t* produced) {
  *produced = 1;
  switch (n_.op) {
    case Op::Conv:
      return Conv(k);
    case Op::ConvTranspose:
      return ConvTranspose(k);
    case Op::Gemm:
      return Gemm(k);
    case Op::MatMul: {
      auto a = Data(0), b = Data(1);
      if (!a.ok()) return a.status();
      if (!b.ok()) return b.status();
      *k = [a = *a, b = *b, y = n_.outputs[0]](Values& v) { v[y] = at::matmul(v[a], v[b]); };
      return Status();
    }
    case Op::BatchNormalization:
    case Op::LayerNormalization:
    case Op::InstanceNormalization:
      return Norm(k, produced);
    case Op::Relu:
    case Op::LeakyRelu:
    case Op::Sigmoid:
    case Op::Tanh:
    case Op::HardSigmoid:
    case Op::HardSwish:
    case Op::Clip:
    case Op::Elu:
    case Op::Gelu:
    case Op::Erf:
    case Op::Softplus:
    case Op::Softmax:
    case Op::LogSoftmax:
    case Op::PRelu:
    case Op::Selu:
      return Activation(k);
    case Op::MaxPool:
    case Op::AveragePool:
      return Pool(k);
    case Op::GlobalAveragePool:
    case Op::GlobalMaxPool:
      return GlobalPool(k);
    case Op::ReduceMean:
    case Op::ReduceSum:
    case Op::ReduceMax:
      return Reduce(k);
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Pow:
    case Op::Sqrt:
    case Op::Neg:
    case Op::Exp:
    case Op::Log:
    case Op::Reciprocal:
    case Op::Abs:
    case Op::Floor:
    case Op::Ceil:
    case Op::Equal:
    case Op::Where:
    case Op::Max:
    case Op::Min:
      return Elementwise(k);
    case Op::Concat: {
      std::vector<int> ins;
      for (size_t i = 0; i < n_.inputs.size(); ++i) {
        auto t = Data(i);
        if (!t.ok()) return t.status();
        ins.push_back(*t);
      }
      if (ins.empty()) return Fail("has no inputs");
      const int64_t axis = n_.Int("axis", 0);
      *k = [ins, y = n_.outputs[0], axis](Values& v) {
        std::vector<at::Tensor> parts;
        for (int i : ins) parts.push_back(v[i]);
        v[y] = at::cat(parts, axis);
      };
      return Status();
    }
    case Op::Split:
      return Split(k, produced);
    case Op::Pad:
      return Pad(k);
    case Op::Resize:
    case Op::Upsample:
      return Resize(k);
    case Op::Dropout:
      return Dropout(k);
    case Op::Gather:
      return Gather(k);
    case Op::Slice:
      return Slice(k);
    case Op::Transpose:
    case Op::Expand:
    case Op::Tile:
    case Op::Flatten:
    case Op::Reshape:
    case Op::Squeeze:
    case Op::Unsqueeze:
    case Op::Identity:
    case Op::Cast:
      return View(k);
    case Op::Constant:
    case Op::Shape:
    case Op::ConstantOfShape:
    case Op::Range:
    case Op::Size:
      *produced = 0;  // Not run: its outputs have values only where inference folded them.
      return Status();
    case Op::Unknown:
      return Fail("op not modelled by the analyzer, so joulecast cannot build it in libtorch");
  }
  return Fail("op not handled");
}

Planner::Planner(const Graph& g, TorchNetwork::Impl* net)
    : g_(g),
      net_(net),
      run_(g.nodes.size(), false),
      consumed_(g.tensors.size(), false),
      available_(g.tensors.size(), false),
      running_stat_(g.tensors.size(), 0) {}

// Fan-in of the weight at input `position` of `n`, as PyTorch computes it for the module the op
// comes from (for ConvTranspose that is weight.size(1) x kernel, PyTorch's own quirk).
int64_t Planner::WeightFanIn(const Node& n, size_t position) const {
  if (position >= n.inputs.size() || n.inputs[position] < 0) return 0;
  const Tensor& w = g_.tensors[n.inputs[position]];
  if (!w.shape_known || w.dims.empty()) return 0;
  const Dims& d = w.dims;
  switch (n.op) {
    case Op::Conv:
    case Op::ConvTranspose:
      return d.size() >= 2 ? Product(d, 1) : 0;
    case Op::Gemm:
      if (d.size() != 2) return 0;
      if (position == 1) return n.Int("transB", 0) ? d[1] : d[0];
      return n.Int("transA", 0) ? d[0] : d[1];
    case Op::MatMul:
      if (position == 1) return d.size() >= 2 ? d[d.size() - 2] : d[0];
      return d.back();
    default:
      return d.size() >= 2 ? Product(d, 1) : 0;
  }
}

Init Planner::InitFor(int tensor) const {
  for (const Node& n : g_.nodes) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != tensor) continue;
      switch (n.op) {
        case Op::Conv:
        case Op::ConvTranspose:
        case Op::Gemm:
          // The bias shares the weight's bound.
          return Uniform(WeightFanIn(n, k == 2 ? 1 : k));
        case Op::MatMul:
          return Uniform(WeightFanIn(n, k));
        case Op::BatchNormalization:
        case Op::LayerNormalization:
        case Op::InstanceNormalization:
          return Fill(k == 1 ? 1.0 : 0.0);
        case Op::PRelu:
          return Fill(0.25);
        case Op::Mul:
        case Op::Div:
          return Fill(1.0);
        case Op::Add:
        case Op::Sub: {
          // The bias of a linear layer applied to a higher-rank input (MatMul, then Add).
          int other = n.inputs.size() == 2 ? n.inputs[1 - k] : -1;
          int producer = other >= 0 ? g_.tensors[other].producer : -1;
          if (producer >= 0) {
            const Node& p = g_.nodes[producer];
            if (p.op == Op::MatMul || p.op == Op::Gemm || p.op == Op::Conv) {
              for (size_t j = 0; j < p.inputs.size() && j < 2; ++j) {
                if (p.inputs[j] >= 0 && g_.tensors[p.inputs[j]].role == Role::parameter) {
                  return Uniform(WeightFanIn(p, j));
                }
              }
            }
          }
          return Fill(0.0);
        }
        default: {
          const Tensor& t = g_.tensors[tensor];
          if (t.shape_known && t.dims.size() >= 2) return Uniform(Product(t.dims, 1));
          return Fill(0.0);
        }
      }
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
    if (n.op == Op::BatchNormalization) {
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

}  // namespace

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
    Planner planner(graph, impl.get());
    if (Status s = planner.Run(); !s.ok()) return s;
  } catch (const std::exception& e) {
    return Status::Error("building the network: " + FirstLine(e));
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
