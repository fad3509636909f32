// `joulecast analyze MODEL`: per-layer shapes and training-step costs, and the predicted energy.
#include <string>
#include <vector>

#include "analyzer/analysis.h"
#include "analyzer/report/report.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kAnalyzeUsage =
    "usage: joulecast analyze MODEL [--profile P] [--batch N] [--input CxHxW]\n"
    "                         [--precision fp32|bf16|fp16] [--samples N] [--epochs E]\n"
    "                         [--region CODE] [--carbon-intensity G]\n"
    "                         [--format text|json|markdown|html] [-o FILE] [--strict]\n"
    "\n"
    "MODEL is a .onnx file or a .json architecture (docs/json-architecture.md), whose\n"
    "\"training\" object sets what the flags leave unset.\n";

}  // namespace

int Analyze(const std::vector<std::string>& args) {
  AnalysisRequest request;
  request.default_profile_path = DefaultProfilePath();
  std::string format = "text", output;
  // clang-format off
  CommandLine cli = AnalysisCommandLine(
      "analyze", kAnalyzeUsage,
      {ProfileFlag(&request,
                   "hardware profile (joulecast calibrate) for the predicted energy and time;\n"
                   "default: data/profiles/default.json when it exists")},
      {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
       .choices = {"text", "json", "markdown", "html"},
       .help = "text (default), json (schema in docs/analysis-json.md), markdown, or\n"
               "html (one self-contained page with charts, docs/html-report.md)",
       .set = Into(&format)},
      &request, &output);
  // clang-format on
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (request.model.empty()) {
    cli.PrintHelp(stderr);
    return 2;
  }

  Result<Analysis> analysis = RunAnalysis(request);
  if (!analysis.ok()) return cli.Fail(analysis.status().message());
  const ReportFormat report_format = format == "json"       ? ReportFormat::json
                                     : format == "markdown" ? ReportFormat::markdown
                                     : format == "html"     ? ReportFormat::html
                                                            : ReportFormat::text;
  std::string error = WriteOutput(output, RenderReport(analysis->ReportView(), report_format));
  if (!error.empty()) return cli.Fail(error);
  return 0;
}

}  // namespace joulecast::cli
