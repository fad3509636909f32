#include "analyzer/json/families.h"

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "analyzer/json/json_layers.h"
#include "common/json_fields.h"

namespace joulecast {

namespace {

using json_internal::kMaxDim;
using Json = nlohmann::json;

// One layer on one line: {"op": "conv2d", "out_channels": 3, ...}, fields in the given order.
std::string Layer(std::string_view op,
                  std::initializer_list<std::pair<std::string_view, int64_t>> fields = {}) {
  std::string line = "{\"op\": \"" + std::string(op) + "\"";
  for (const auto& [key, value] : fields) {
    line += ", \"" + std::string(key) + "\": " + std::to_string(value);
  }
  return line + "}";
}

std::string Dims2(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

}  // namespace

const std::vector<std::string>& FamilyNames() {
  static const std::vector<std::string> names = {"DensePolyNN", "DenseLinearNN", "SimpleCNN",
                                                 "SimpleCNN2"};
  return names;
}

Result<std::string> ExpandFamily(const FamilySpec& spec, const std::string& source) {
  auto fail = [&](const std::string& pointer, const std::string& what) {
    return Status::Error(source + ": " + pointer + ": " + what);
  };
  const auto& names = FamilyNames();
  if (std::find(names.begin(), names.end(), spec.family) == names.end()) {
    return fail("/family", "unknown family " + json_fields::Quote(spec.family) +
                               "; the families are DensePolyNN, DenseLinearNN, SimpleCNN, "
                               "SimpleCNN2");
  }
  const bool cnn = spec.family == "SimpleCNN" || spec.family == "SimpleCNN2";
  const std::string counts =
      "expected a positive integer up to " + std::to_string(kMaxFamilyLayers);
  if (spec.nr_conv_layers < 1 || spec.nr_conv_layers > kMaxFamilyLayers) {
    return fail("/nr_conv_layers", counts + ", got " + std::to_string(spec.nr_conv_layers));
  }
  if (spec.nr_linear_layers < 1 || spec.nr_linear_layers > kMaxFamilyLayers) {
    return fail("/nr_linear_layers", counts + ", got " + std::to_string(spec.nr_linear_layers));
  }
  if (spec.classes < 1 || spec.classes > kMaxDim) {
    return fail("/classes", "expected a positive integer up to " + std::to_string(kMaxDim) +
                                ", got " + std::to_string(spec.classes));
  }
  const auto& chw = spec.input_chw;
  bool dims_ok = chw.size() == 3;
  for (int64_t v : chw) dims_ok &= v >= 1 && v <= kMaxDim;
  if (!dims_ok) {
    return fail("/input/shape", "a family needs [C, H, W], each a positive integer up to " +
                                    std::to_string(kMaxDim));
  }
  const int64_t c = chw[0];
  const int64_t features = chw[0] * chw[1] * chw[2];  // <= 2^60: cannot overflow.

  std::vector<std::string> layers;
  if (cnn) {
    int64_t channels = c, h = chw[1], w = chw[2];
    for (int64_t d = 0; d < spec.nr_conv_layers; ++d) {
      channels *= 3;
      h /= 2;
      w /= 2;
      if (h == 0 || w == 0) {
        int64_t fit = 0;
        for (int64_t s = std::min(chw[1], chw[2]); s >= 2; s /= 2) ++fit;
        return fail("/nr_conv_layers", std::to_string(spec.nr_conv_layers) +
                                           " conv blocks each halve the " + Dims2(chw[1], chw[2]) +
                                           " input, leaving 0 pixels; at most " +
                                           std::to_string(fit) + " fit");
      }
      if (channels > kMaxDim) {
        return fail("/nr_conv_layers", std::to_string(spec.nr_conv_layers) +
                                           " conv blocks widen the " + std::to_string(c) +
                                           " input channels past " + std::to_string(kMaxDim));
      }
      layers.push_back(Layer(
          "conv2d", {{"out_channels", channels}, {"kernel", 3}, {"stride", 1}, {"padding", 1}}));
      layers.push_back(Layer("batchnorm2d"));
      if (spec.family == "SimpleCNN") layers.push_back(Layer("relu"));
      layers.push_back(Layer("maxpool2d", {{"kernel", 2}, {"stride", 2}}));
    }
  }
  layers.push_back(Layer("flatten"));
  const int64_t n = spec.nr_linear_layers;
  for (int64_t d = 0; d + 1 < n; ++d) {
    int64_t width;
    if (spec.family == "DenseLinearNN") {
      // floor(F - (d+1)·F/n) = floor((n-d-1)·F/n), split so the product cannot overflow.
      int64_t q = features / n, r = features % n, m = n - d - 1;
      width = m * q + m * r / n;
    } else {
      width = d + 1 >= 63 ? 0 : features >> (d + 1);
    }
    width = std::max(width, c);
    if (width > kMaxDim) {
      return fail("/input/shape", "linear layer " + std::to_string(d) + " would have " +
                                      std::to_string(width) + " features, over the limit of " +
                                      std::to_string(kMaxDim));
    }
    layers.push_back(Layer("linear", {{"out_features", width}}));
  }
  layers.push_back(Layer("linear", {{"out_features", spec.classes}}));

  const std::string name = Json(spec.name.empty() ? spec.family : spec.name)
                               .dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string text = "{\"name\": " + name + ", \"input\": {\"shape\": [" + std::to_string(chw[0]) +
                     ", " + std::to_string(chw[1]) + ", " + std::to_string(chw[2]) +
                     "]}, \"layers\": [\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    text += "  " + layers[i] + (i + 1 < layers.size() ? ",\n" : "\n");
  }
  return text + "]}\n";
}

}  // namespace joulecast
