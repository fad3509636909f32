#include "cli/analysis_flags.h"

#include <cstdlib>

namespace joulecast::cli {

// clang-format off
std::vector<Flag> AnalysisFlags(AnalysisRequest* request) {
  std::vector<Flag> flags = {
      {.name = "--batch", .metavar = "N", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 30,
       .help = "bind a symbolic batch (default: the file's training batch, else 1)",
       .set = Into(&request->load.batch)},
      {.name = "--input", .metavar = "CxHxW", .kind = FlagKind::dims,
       .help = "bind symbolic input dims, or replace a JSON architecture's input shape",
       .set = Into(&request->load.input_chw)},
      {.name = "--samples", .metavar = "N", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 40,
       .help = "training samples per epoch (default: the file's, else 60000,\n"
               "Fashion-MNIST's training set)",
       .set = Into(&request->samples)},
      {.name = "--epochs", .metavar = "E", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 20, .help = "epochs in the whole run (default: the file's, else 1)",
       .set = Into(&request->epochs)},
      {.name = "--precision", .metavar = "P", .kind = FlagKind::choice,
       .choices = {"fp32", "bf16", "fp16"},
       .help = "fp32, bf16 or fp16 (autocast; default: the file's, else fp32): the\n"
               "profile must be calibrated at it (joulecast calibrate --precision)",
       .error = "--precision needs fp32, bf16 or fp16",
       .set = [request](const FlagValue& v) {
         request->precision = v.text;
         return std::string();
       }},
  };
  for (Flag& f : CarbonFlags(&request->carbon)) flags.push_back(std::move(f));
  return flags;
}

std::vector<Flag> CarbonFlags(CarbonRequest* carbon) {
  return {
      {.name = "--region", .metavar = "CODE", .kind = FlagKind::text, .empty_ok = false,
       .help = "the grid whose yearly average carbon intensity to use: an ISO country\n"
               "code (DE, DEU) or a grid region of data/carbon/ (SE3); docs/carbon.md",
       .error = "--region needs a country code like DE or a grid region like SE3",
       .set = [carbon](const FlagValue& v) {
         carbon->region = v.text;
         return std::string();
       }},
      {.name = "--carbon-intensity", .metavar = "G", .kind = FlagKind::real, .max = 10000,
       .help = "grams of CO2e per kWh; wins over --region (default: the world's 2023\n"
               "average, 480)",
       .error = "--carbon-intensity needs grams of CO2e per kWh, in (0, 10000]",
       .set = [carbon](const FlagValue& v) {
         carbon->g_per_kwh = v.real;
         return std::string();
       }},
  };
}

std::string CarbonTablePath() {
  const char* dir = std::getenv("JOULECAST_DATA_DIR");
  return std::string(dir && *dir ? dir : JOULECAST_DATA_DIR) + "/carbon/grid_intensity.json";
}

// clang-format on
CommandLine AnalysisCommandLine(std::string command, std::string usage, std::vector<Flag> own,
                                Flag format, AnalysisRequest* request, std::string* output) {
  request->carbon_table_path = CarbonTablePath();
  for (Flag& f : AnalysisFlags(request)) own.push_back(std::move(f));
  own.push_back(std::move(format));
  own.push_back(OutputFlag(output, "write the report to FILE instead of standard output"));
  own.push_back(StrictFlag(request));
  CommandLine cli(std::move(command), std::move(usage), 18, std::move(own));
  cli.Positionals(OnePositional(&request->model, "MODEL"));
  return cli;
}

// clang-format off
Flag ProfileFlag(AnalysisRequest* request, std::string help) {
  return {.name = "--profile", .metavar = "P", .kind = FlagKind::text, .empty_ok = false,
          .help = std::move(help), .error = "--profile needs a file name",
          .set = Into(&request->profile_path)};
}

Flag StrictFlag(AnalysisRequest* request) {
  return {.name = "--strict", .help = "an op the analyzer does not model is an error (exit 2)",
          .set = Into(&request->strict)};
}

// clang-format on
}  // namespace joulecast::cli
