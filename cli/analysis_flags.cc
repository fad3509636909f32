#include "cli/analysis_flags.h"

namespace joulecast::cli {

// clang-format off
std::vector<Flag> AnalysisFlags(AnalysisRequest* request) {
  return {
      {.name = "--batch", .metavar = "N", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 30, .help = "bind a symbolic batch (default 1)",
       .set = Into(&request->load.batch)},
      {.name = "--input", .metavar = "CxHxW", .kind = FlagKind::dims,
       .help = "bind symbolic input dims, or replace a JSON architecture's input shape",
       .set = Into(&request->load.input_chw)},
      {.name = "--samples", .metavar = "N", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 40,
       .help = "training samples per epoch (default 60000, Fashion-MNIST's training set)",
       .set = Into(&request->run.samples)},
      {.name = "--epochs", .metavar = "E", .kind = FlagKind::integer, .min = 1,
       .max = int64_t{1} << 20, .help = "epochs in the whole run (default 1)",
       .set = Into(&request->run.epochs)},
      PrecisionFlag(&request->precision,
                    "fp32 (default), bf16 or fp16 (autocast): the profile must be calibrated\n"
                    "at it (joulecast calibrate --precision)"),
      {.name = "--carbon-intensity", .metavar = "G", .kind = FlagKind::real, .max = 10000,
       .help = "grams of CO2e per kWh (default 480, about the world's 2023 average)",
       .error = "--carbon-intensity needs grams of CO2e per kWh, in (0, 10000]",
       .set = Into(&request->run.carbon_g_per_kwh)},
  };
}

// clang-format on
CommandLine AnalysisCommandLine(std::string command, std::string usage, std::vector<Flag> own,
                                Flag format, AnalysisRequest* request, std::string* output) {
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
