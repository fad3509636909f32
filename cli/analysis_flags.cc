#include "cli/analysis_flags.h"

#include "cli/flags.h"

namespace joulecast::cli {

const char* const kAnalysisFlagsHelp =
    "  --batch N       bind a symbolic batch (default 1)\n"
    "  --input CxHxW   bind symbolic input dims, or replace a JSON architecture's input shape\n"
    "  --samples N     training samples per epoch (default 60000, Fashion-MNIST's training set)\n"
    "  --epochs E      epochs in the whole run (default 1)\n"
    "  --precision P   fp32 (default), bf16 or fp16 (autocast): the profile must be calibrated\n"
    "                  at it (joulecast calibrate --precision)\n"
    "  --carbon-intensity G\n"
    "                  grams of CO2e per kWh (default 480, about the world's 2023 average)\n";

std::optional<std::string> ParseAnalysisFlag(const std::string& flag, const NextValue& next,
                                             AnalysisRequest& request) {
  constexpr int64_t kMax = int64_t{1} << 40;
  if (flag == "--profile") {
    auto v = next();
    if (!v) return "--profile needs a file name";
    request.profile_path = *v;
  } else if (flag == "--strict") {
    request.strict = true;
  } else if (flag == "--batch") {
    auto v = next();
    auto n = v ? IntIn(*v, 1, int64_t{1} << 30) : std::nullopt;
    if (!n) return "--batch needs a positive integer";
    request.load.batch = n;
  } else if (flag == "--input") {
    auto v = next();
    auto d = v ? DimsArg(*v) : std::nullopt;
    if (!d) return "--input needs positive dims like 3x224x224";
    request.load.input_chw = d;
  } else if (flag == "--samples") {
    auto v = next();
    auto n = v ? IntIn(*v, 1, kMax) : std::nullopt;
    if (!n) return "--samples needs a positive integer";
    request.run.samples = *n;
  } else if (flag == "--epochs") {
    auto v = next();
    auto n = v ? IntIn(*v, 1, int64_t{1} << 20) : std::nullopt;
    if (!n) return "--epochs needs a positive integer";
    request.run.epochs = *n;
  } else if (flag == "--precision") {
    auto v = next();
    if (!v || (*v != "fp32" && *v != "bf16" && *v != "fp16")) {
      return "--precision needs fp32, bf16 or fp16";
    }
    request.precision = *v;
  } else if (flag == "--carbon-intensity") {
    auto v = next();
    auto g = v ? PositiveReal(*v) : std::nullopt;
    if (!g || *g > 1e4) return "--carbon-intensity needs grams of CO2e per kWh, in (0, 10000]";
    request.run.carbon_g_per_kwh = *g;
  } else {
    return std::nullopt;
  }
  return "";
}

}  // namespace joulecast::cli
