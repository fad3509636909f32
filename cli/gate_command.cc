// `joulecast gate MODEL`: exit 1 when the predicted training energy is over a budget or grew too
// much over a baseline report (docs/gate.md).
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
#include "cli/flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kGateUsage =
    "usage: joulecast gate MODEL [--budget AMOUNT] [--baseline REPORT.json --max-increase P%]\n"
    "                      [--per step|epoch|run] [--conservative] [--profile P] [--batch N]\n"
    "                      [--input CxHxW] [--samples N] [--epochs E] [--precision P]\n"
    "                      [--region CODE] [--carbon-intensity G]\n"
    "                      [--format text|markdown|junit|json] [-o FILE] [--strict]\n"
    "\n"
    "Fails (exit 1) when MODEL's predicted training energy is over a budget or grew too much\n"
    "over a baseline report; exit 0 within both, 2 on bad usage or input (docs/gate.md).\n";

}  // namespace

int Gate(const std::vector<std::string>& args) {
  AnalysisRequest request;
  request.default_profile_path = DefaultProfilePath();
  request.require_profile = true;
  gate::GateOptions options;
  std::string format = "text", output, baseline_path;
  std::optional<double> max_increase;
  // clang-format off
  std::vector<Flag> own = {
      {.name = "--budget", .metavar = "AMOUNT", .kind = FlagKind::text,
       .help = "an amount and unit with no space between: J, kJ, MJ, Wh, kWh, MWh, GWh\n"
               "(energy), gCO2e, kgCO2e, tCO2e (emissions at the run's carbon intensity);\n"
               "e.g. 250kJ, 0.5kWh, 1.2MWh, 3tCO2e",
       .error = "--budget needs an amount and unit, like 250kJ or 0.5kWh",
       .set = [&](const FlagValue& v) {
         if (options.budget) return std::string("--budget given twice");
         Result<gate::Budget> budget = gate::ParseBudget(v.text);
         if (!budget.ok()) return "--budget " + budget.status().message();
         options.budget = *budget;
         return std::string();
       }},
      {.name = "--baseline", .metavar = "REPORT.json", .kind = FlagKind::text,
       .help = "a `joulecast analyze --format json` report with a prediction",
       .error = "--baseline needs a report file (joulecast analyze --format json)",
       .set = [&](const FlagValue& v) {
         if (!baseline_path.empty()) return std::string("--baseline given twice");
         baseline_path = v.text;
         return std::string();
       }},
      {.name = "--max-increase", .metavar = "P%", .kind = FlagKind::text,
       .help = "with --baseline: the allowed increase over its energy, e.g. 5% or 5",
       .error = "--max-increase needs a percentage, like 5%",
       .set = [&](const FlagValue& v) {
         Result<double> p = gate::ParsePercent(v.text);
         if (!p.ok()) return "--max-increase " + p.status().message();
         max_increase = *p;
         return std::string();
       }},
      {.name = "--per", .metavar = "LEVEL", .kind = FlagKind::choice,
       .choices = {"step", "epoch", "run"},
       .help = "what the limits apply to: step, epoch or run (default: the whole run)",
       .set = [&](const FlagValue& v) {
         options.level = *gate::ParseLevel(v.text);
         return std::string();
       }},
      {.name = "--conservative",
       .help = "compare the prediction's upper bound instead of its central value",
       .set = Into(&options.conservative)},
      ProfileFlag(&request, "hardware profile (joulecast calibrate);\n"
                            "default: data/profiles/default.json"),
  };
  CommandLine cli = AnalysisCommandLine(
      "gate", kGateUsage, std::move(own),
      {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
       .choices = {"text", "markdown", "junit", "json"},
       .help = "text (default), markdown (a pull-request comment), junit (JUnit XML) or\n"
               "json (schema joulecast.gate/1, docs/gate.md)",
       .set = Into(&format)},
      &request, &output);
  // clang-format on
  if (auto exit_code = cli.Parse(args)) return *exit_code;

  if (request.model.empty()) return cli.Fail("no MODEL given (see joulecast gate --help)");
  if (baseline_path.empty() && max_increase) return cli.Fail("--max-increase needs --baseline");
  if (!options.budget && baseline_path.empty()) {
    return cli.Fail(
        "nothing to check: give --budget AMOUNT, --baseline REPORT.json --max-increase "
        "P%, or both");
  }
  if (!baseline_path.empty() && !max_increase) {
    return cli.Fail("--baseline needs --max-increase P% (the allowed increase, e.g. 5%)");
  }
  if (!baseline_path.empty()) {
    Result<gate::Baseline> baseline = gate::ReadBaseline(baseline_path);
    if (!baseline.ok()) return cli.Fail(baseline.status().message());
    options.baseline = *baseline;
    options.max_increase = *max_increase;
  }
  Result<Analysis> analysis = RunAnalysis(request);
  if (!analysis.ok()) return cli.Fail(analysis.status().message());
  const gate::GateResult result = gate::EvaluateGate(gate::SubjectOf(*analysis), options);
  const gate::GateFormat gate_format = format == "markdown" ? gate::GateFormat::markdown
                                       : format == "junit"  ? gate::GateFormat::junit
                                       : format == "json"   ? gate::GateFormat::json
                                                            : gate::GateFormat::text;
  std::string error = WriteOutput(output, gate::RenderGate(result, gate_format));
  if (!error.empty()) return cli.Fail(error);
  std::fprintf(stderr, "joulecast gate: %s\n", gate::SummaryLine(result).c_str());
  return result.pass ? 0 : 1;
}

}  // namespace joulecast::cli
