#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/analysis.h"
#include "analyzer/gate/baseline.h"
#include "analyzer/gate/budget.h"
#include "analyzer/gate/gate.h"
#include "cli/analysis_flags.h"
#include "cli/commands.h"

namespace joulecast::cli {

namespace {

constexpr const char* kGateUsage =
    "usage: joulecast gate MODEL [--budget AMOUNT] [--baseline REPORT.json --max-increase P%]\n"
    "                      [--per step|epoch|run] [--conservative] [--profile P] [--batch N]\n"
    "                      [--input CxHxW] [--samples N] [--epochs E] [--carbon-intensity G]\n"
    "                      [--format text|markdown|junit|json] [-o FILE] [--strict]\n"
    "\n"
    "Fails (exit 1) when MODEL's predicted training energy is over a budget or grew too much\n"
    "over a baseline report; exit 0 within both, 2 on bad usage or input (docs/gate.md).\n"
    "  --budget AMOUNT an amount and unit with no space between: J, kJ, MJ, Wh, kWh (energy),\n"
    "                  gCO2e, kgCO2e (emissions at --carbon-intensity); e.g. 250kJ, 0.5kWh\n"
    "  --baseline REPORT.json\n"
    "                  a `joulecast analyze --format json` report with a prediction\n"
    "  --max-increase P%\n"
    "                  with --baseline: the allowed increase over its energy, e.g. 5% or 5\n"
    "  --per LEVEL     what the limits apply to: step, epoch or run (default: the whole run)\n"
    "  --conservative  compare the prediction's upper bound instead of its central value\n"
    "  --profile P     hardware profile (joulecast calibrate);\n"
    "                  default: data/profiles/default.json\n";

constexpr const char* kGateOptions =
    "  --format F      text (default), markdown (a pull-request comment), junit (JUnit XML) or\n"
    "                  json (schema joulecast.gate/1, docs/gate.md)\n"
    "  -o FILE         write the report to FILE instead of standard output\n"
    "  --strict        an op the analyzer does not model is an error (exit 2)\n";

void Help(std::FILE* to) {
  std::fputs(kGateUsage, to);
  std::fputs(kAnalysisFlagsHelp, to);
  std::fputs(kGateOptions, to);
}

std::optional<gate::GateFormat> FormatNamed(const std::optional<std::string>& name) {
  if (name == "text") return gate::GateFormat::text;
  if (name == "markdown") return gate::GateFormat::markdown;
  if (name == "junit") return gate::GateFormat::junit;
  if (name == "json") return gate::GateFormat::json;
  return std::nullopt;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "joulecast gate: %s\n", message.c_str());
  return 2;
}

}  // namespace

int Gate(const std::vector<std::string>& args) {
  AnalysisRequest request;
  request.default_profile_path = DefaultProfilePath();
  request.require_profile = true;
  gate::GateOptions options;
  gate::GateFormat format = gate::GateFormat::text;
  std::string output, baseline_path;
  std::optional<double> max_increase;
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
    } else if (a == "--budget") {
      auto v = value();
      if (!v) return Fail("--budget needs an amount and unit, like 250kJ or 0.5kWh");
      if (options.budget) return Fail("--budget given twice");
      Result<gate::Budget> budget = gate::ParseBudget(*v);
      if (!budget.ok()) return Fail("--budget " + budget.status().message());
      options.budget = *budget;
    } else if (a == "--baseline") {
      auto v = value();
      if (!v) return Fail("--baseline needs a report file (joulecast analyze --format json)");
      if (!baseline_path.empty()) return Fail("--baseline given twice");
      baseline_path = *v;
    } else if (a == "--max-increase") {
      auto v = value();
      if (!v) return Fail("--max-increase needs a percentage, like 5%");
      Result<double> p = gate::ParsePercent(*v);
      if (!p.ok()) return Fail("--max-increase " + p.status().message());
      max_increase = *p;
    } else if (a == "--per") {
      auto v = value();
      auto level = v ? gate::ParseLevel(*v) : std::nullopt;
      if (!level) return Fail("--per must be step, epoch or run");
      options.level = *level;
    } else if (a == "--conservative") {
      options.conservative = true;
    } else if (a == "--format") {
      auto f = FormatNamed(value());
      if (!f) return Fail("--format must be text, markdown, junit or json");
      format = *f;
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v) return Fail("-o needs a file name");
      output = *v;
    } else if (!a.empty() && a[0] == '-') {
      return Fail("unknown option '" + a + "' (see joulecast gate --help)");
    } else if (request.model.empty()) {
      request.model = a;
    } else {
      return Fail("more than one MODEL given: '" + request.model + "' and '" + a + "'");
    }
  }
  if (request.model.empty()) return Fail("no MODEL given (see joulecast gate --help)");
  if (baseline_path.empty() && max_increase) return Fail("--max-increase needs --baseline");
  if (!options.budget && baseline_path.empty()) {
    return Fail(
        "nothing to check: give --budget AMOUNT, --baseline REPORT.json --max-increase "
        "P%, or both");
  }
  if (!baseline_path.empty() && !max_increase) {
    return Fail("--baseline needs --max-increase P% (the allowed increase, e.g. 5%)");
  }
  if (!baseline_path.empty()) {
    Result<gate::Baseline> baseline = gate::ReadBaseline(baseline_path);
    if (!baseline.ok()) return Fail(baseline.status().message());
    options.baseline = *baseline;
    options.max_increase = *max_increase;
  }
  Result<Analysis> analysis = RunAnalysis(request);
  if (!analysis.ok()) return Fail(analysis.status().message());
  const gate::GateResult result = gate::EvaluateGate(gate::SubjectOf(*analysis), options);
  std::string error = WriteOutput(output, gate::RenderGate(result, format));
  if (!error.empty()) return Fail(error);
  std::fprintf(stderr, "joulecast gate: %s\n", gate::SummaryLine(result).c_str());
  return result.pass ? 0 : 1;
}

}  // namespace joulecast::cli
