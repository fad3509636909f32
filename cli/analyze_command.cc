#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"
#include "analyzer/load_model.h"
#include "analyzer/report/report.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kAnalyzeHelp =
    "usage: joulecast analyze MODEL [--profile P] [--batch N] [--input CxHxW]\n"
    "                         [--format text|json|markdown] [-o FILE] [--strict]\n"
    "\n"
    "MODEL is a .onnx file or a .json architecture (docs/json-architecture.md).\n"
    "  --profile P     hardware profile (joulecast calibrate) for the predicted energy and time\n"
    "                  per step; default: data/profiles/default.json when it exists\n"
    "  --batch N       bind a symbolic batch (default 1)\n"
    "  --input CxHxW   bind symbolic input dims, or replace a JSON architecture's input shape\n"
    "  --format F      text (default), json (schema in docs/analysis-json.md) or markdown\n"
    "  -o FILE         write the report to FILE instead of standard output\n"
    "  --strict        an op the analyzer does not model is an error (exit 2)\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "joulecast analyze: %s\n", message.c_str());
  return 2;
}

}  // namespace

std::string DefaultProfilePath() {
  const char* dir = std::getenv("JOULECAST_DATA_DIR");
  return std::string(dir && *dir ? dir : JOULECAST_DATA_DIR) + "/profiles/default.json";
}

std::string WriteOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? "" : "cannot write to standard output";
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return path + ": cannot open for writing";
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return path + ": write failed (disk full?)";
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return path + ": cannot replace: " + ec.message();
  }
  return "";
}

int Analyze(const std::vector<std::string>& args) {
  LoadOptions options;
  ReportFormat format = ReportFormat::text;
  std::string model, output, profile_path;
  bool strict = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kAnalyzeHelp, stdout);
      return 0;
    } else if (a == "--profile") {
      auto v = value();
      if (!v) return Fail("--profile needs a file name");
      profile_path = *v;
    } else if (a == "--batch") {
      auto v = value();
      auto n = v ? IntIn(*v, 1, int64_t{1} << 30) : std::nullopt;
      if (!n) return Fail("--batch needs a positive integer");
      options.batch = n;
    } else if (a == "--input") {
      auto v = value();
      auto d = v ? DimsArg(*v) : std::nullopt;
      if (!d) return Fail("--input needs positive dims like 3x224x224");
      options.input_chw = d;
    } else if (a == "--format") {
      auto v = value();
      if (v == "text") format = ReportFormat::text;
      else if (v == "json") format = ReportFormat::json;
      else if (v == "markdown") format = ReportFormat::markdown;
      else return Fail("--format must be text, json or markdown");
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v) return Fail("-o needs a file name");
      output = *v;
    } else if (a == "--strict") {
      strict = true;
    } else if (!a.empty() && a[0] == '-') {
      return Fail("unknown option '" + a + "' (see joulecast analyze --help)");
    } else if (model.empty()) {
      model = a;
    } else {
      return Fail("more than one MODEL given: '" + model + "' and '" + a + "'");
    }
  }
  if (model.empty()) {
    std::fputs(kAnalyzeHelp, stderr);
    return 2;
  }
  Result<Graph> graph = LoadModel(model, options);
  if (!graph.ok()) return Fail(graph.status().message());
  Result<ModelCost> cost = ComputeCosts(*graph);
  if (!cost.ok()) return Fail(model + ": " + cost.status().message());
  if (strict && !cost->unmodelled.empty()) {
    const LayerCost& lc = cost->layers[cost->unmodelled[0]];
    const Node& n = graph->nodes[lc.node];
    return Fail(model + ": node '" + n.name + "' (" + n.op_type + "): " + lc.why_unmodelled +
                " (" + std::to_string(cost->unmodelled.size()) +
                " unmodelled nodes; --strict makes them errors)");
  }
  ReportInput input{&*graph, &*cost};
  bool default_profile = profile_path.empty();
  if (default_profile) profile_path = DefaultProfilePath();
  std::optional<Profile> profile;
  std::optional<StepPrediction> prediction;
  if (!default_profile || std::filesystem::exists(profile_path)) {
    Result<Profile> p = LoadProfile(profile_path);
    if (!p.ok()) return Fail(p.status().message());
    profile = std::move(*p);
    prediction = PredictStep(*cost, *profile);
    input.profile = &*profile;
    input.prediction = &*prediction;
    input.default_profile = default_profile;
  }
  std::string error = WriteOutput(output, RenderReport(input, format));
  if (!error.empty()) return Fail(error);
  return 0;
}

}  // namespace joulecast::cli
