#include "calibrate/calibration/random_network.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace joulecast {

namespace {

using nlohmann::ordered_json;

int Pick(double u, int n) { return std::min(static_cast<int>(u * n), n - 1); }

int64_t LogInt(double u, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const double v = std::exp(std::log(static_cast<double>(lo)) +
                            u * (std::log(static_cast<double>(hi) + 1) - std::log(static_cast<double>(lo))));
  return std::clamp(static_cast<int64_t>(v), lo, hi);
}

// Appends layers with ids n0, n1, ...; each reads the previous one unless given `from`.
class Builder {
 public:
  std::string Add(ordered_json layer, std::vector<std::string> from = {}) {
    const std::string id = "n" + std::to_string(layers_.size());
    layer["id"] = id;
    if (from.empty() && !last_.empty()) from = {last_};
    if (!from.empty()) layer["from"] = from;
    layers_.push_back(std::move(layer));
    last_ = id;
    return id;
  }
  std::string Conv(int64_t out, int kernel, int stride = 1, int64_t groups = 1,
                   std::vector<std::string> from = {}) {
    ordered_json l = {{"op", "conv2d"}, {"out_channels", out}, {"kernel", kernel},
                      {"stride", stride}, {"padding", kernel / 2}, {"bias", false}};
    if (groups > 1) l["groups"] = groups;
    return Add(l, std::move(from));
  }
  std::string Op(const char* op, std::vector<std::string> from = {}) {
    return Add({{"op", op}}, std::move(from));
  }
  std::string ConvBnRelu(int64_t out, int kernel, int stride = 1, int64_t groups = 1,
                         std::vector<std::string> from = {}) {
    Conv(out, kernel, stride, groups, std::move(from));
    Op("batchnorm2d");
    return Op("relu");
  }
  const std::string& last() const { return last_; }
  ordered_json& layers() { return layers_; }

 private:
  ordered_json layers_ = ordered_json::array();
  std::string last_;
};

}  // namespace

RandomNetworkSpec RandomNetwork(const std::vector<double>& u, double scale, int64_t min_batch,
                                int64_t max_batch) {
  static const char* kStyles[] = {"plain", "residual", "depthwise", "inception"};
  static const char* kDownsample[] = {"maxpool", "avgpool", "stride"};
  RandomNetworkSpec s;
  s.style = kStyles[Pick(u[0], 4)];
  s.head = Pick(u[1], 2) == 0 ? "pooled" : "dense";
  const bool colour = Pick(u[2], 2) == 1;
  s.channels = colour ? 3 : 1;
  s.size = colour ? 32 : 28;
  s.stages = 1 + Pick(u[3], 4);
  s.width = LogInt(u[4] * scale, 8, 64);
  s.batch = LogInt(u[5] * scale, min_batch, std::max(min_batch, max_batch));
  s.downsample = kDownsample[Pick(u[6], 3)];
  const int blocks = 1 + Pick(u[7], 2);  // per stage
  const bool dropout = u[8] < 0.5;

  Builder b;
  int64_t c = s.width;
  b.ConvBnRelu(c, 3);  // the stem
  for (int stage = 0; stage < s.stages; ++stage) {
    for (int block = 0; block < blocks; ++block) {
      if (s.style == "plain") {
        b.ConvBnRelu(c, 3);
      } else if (s.style == "residual") {
        const std::string in = b.last();
        b.ConvBnRelu(c, 3);
        b.Conv(c, 3);
        const std::string main = b.Op("batchnorm2d");
        b.Op("add", {main, in});
        b.Op("relu");
      } else if (s.style == "depthwise") {
        b.ConvBnRelu(c, 3, 1, c);  // depthwise
        b.ConvBnRelu(c, 1);        // pointwise
      } else {
        const std::string in = b.last();
        const std::string one = b.ConvBnRelu(c / 2, 1, 1, 1, {in});
        b.ConvBnRelu(c / 4, 1, 1, 1, {in});
        const std::string three = b.ConvBnRelu(c / 2, 3);
        b.Op("concat", {one, three});
      }
    }
    if (stage + 1 == s.stages) break;
    if (s.downsample == "stride") {
      b.ConvBnRelu(2 * c, 3, 2);
    } else {
      b.Add({{"op", s.downsample == "maxpool" ? "maxpool2d" : "avgpool2d"}, {"kernel", 2}});
      b.ConvBnRelu(2 * c, 1);
    }
    c *= 2;
  }
  if (s.head == "pooled") {
    b.Op("global_avgpool");
    b.Op("flatten");
  } else {
    b.Add({{"op", "maxpool2d"}, {"kernel", 2}});
    b.Op("flatten");
    b.Add({{"op", "linear"}, {"out_features", 64}});
    b.Op("relu");
    if (dropout) b.Add({{"op", "dropout"}, {"p", 0.25}});
  }
  b.Add({{"op", "linear"}, {"out_features", 10}});

  ordered_json net = {{"name", "network_" + s.style},
                      {"input", {{"shape", {s.channels, s.size, s.size}}}},
                      {"layers", b.layers()}};
  s.json = net.dump();
  s.config_json = ordered_json({{"design", "network"}, {"style", s.style}, {"head", s.head},
                                {"stages", s.stages}, {"blocks_per_stage", blocks},
                                {"width", s.width}, {"input", {s.channels, s.size, s.size}},
                                {"downsample", s.downsample}, {"dropout", dropout && s.head == "dense"},
                                {"batch", s.batch}, {"shrink", std::round(scale * 1e4) / 1e4}})
                      .dump();
  return s;
}

std::string TrivialNetworkJson(int64_t channels, int64_t size) {
  ordered_json net = {{"name", "network_base"},
                      {"input", {{"shape", {channels, size, size}}}},
                      {"layers", {{{"op", "global_avgpool"}},
                                  {{"op", "flatten"}},
                                  {{"op", "linear"}, {"out_features", 10}}}}};
  return net.dump();
}

}  // namespace joulecast
