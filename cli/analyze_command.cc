#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
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
    "                         [--carbon-intensity G] [--format text|json|markdown|html] [-o FILE]\n"
    "                         [--strict]\n"
    "\n"
    "MODEL is a .onnx file or a .json architecture (docs/json-architecture.md).\n"
    "  --profile P     hardware profile (joulecast calibrate) for the predicted energy and time;\n"
    "                  default: data/profiles/default.json when it exists\n";

constexpr const char* kAnalyzeOptions =
    "  --format F      text (default), json (schema in docs/analysis-json.md), markdown, or\n"
    "                  html (one self-contained page with charts, docs/html-report.md)\n"
    "  -o FILE         write the report to FILE instead of standard output\n"
    "  --strict        an op the analyzer does not model is an error (exit 2)\n";

void Help(std::FILE* to) {
  std::fputs(kAnalyzeUsage, to);
  std::fputs(kAnalysisFlagsHelp, to);
  std::fputs(kAnalyzeOptions, to);
}

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
  AnalysisRequest request;
  request.default_profile_path = DefaultProfilePath();
  ReportFormat format = ReportFormat::text;
  std::string output;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      Help(stdout);
      return 0;
    } else if (auto error = ParseAnalysisFlag(a, value, request)) {
      if (!error->empty()) return Fail(*error);
    } else {
      if (a == "--format") {
        auto v = value();
        if (v == "text") format = ReportFormat::text;
        else if (v == "json") format = ReportFormat::json;
        else if (v == "markdown") format = ReportFormat::markdown;
        else if (v == "html") format = ReportFormat::html;
        else return Fail("--format must be text, json, markdown or html");
      } else if (a == "-o" || a == "--output") {
        auto v = value();
        if (!v) return Fail("-o needs a file name");
        output = *v;
      } else if (!a.empty() && a[0] == '-') {
        return Fail("unknown option '" + a + "' (see joulecast analyze --help)");
      } else if (request.model.empty()) {
        request.model = a;
      } else {
        return Fail("more than one MODEL given: '" + request.model + "' and '" + a + "'");
      }
    }
  }
  if (request.model.empty()) {
    Help(stderr);
    return 2;
  }
  Result<Analysis> analysis = RunAnalysis(request);
  if (!analysis.ok()) return Fail(analysis.status().message());
  std::string error = WriteOutput(output, RenderReport(analysis->ReportView(), format));
  if (!error.empty()) return Fail(error);
  return 0;
}

}  // namespace joulecast::cli
