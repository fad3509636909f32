// `joulecast search`: energy-aware search over a space of networks and hyperparameters
// (docs/search.md). The loop is analyzer/search/search.h; this file parses flags, picks the
// trainer (an external command, or the built-in libtorch one), turns Ctrl-C into a stop after the
// current trial, and writes the report.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "analyzer/gate/budget.h"
#include "analyzer/search/external_trainer.h"
#include "analyzer/search/search.h"
#include "analyzer/search/search_report.h"
#include "calibrate/train/torch_trainer.h"
#include "cli/child_meter_options.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/meter_flags.h"
#include "cli/stop_signals.h"
#include "cli/torch_backend.h"

namespace joulecast::cli {

namespace {

constexpr const char* kSearchUsage =
    "usage: joulecast search SPACE.json [--strategy grid|random|bo] [--trials N] [--seed S]\n"
    "                        [--sampler uniform|halton] [--acquisition ei|pi|ucb|ei-per-joule]\n"
    "                        [--objectives accuracy|accuracy,energy] [--initial-trials N]\n"
    "                        [--candidates N] [--grid-points N]\n"
    "                        [--energy-budget 50kJ] [--profile P]\n"
    "                        [--study FILE.db|postgresql://USER@HOST[:PORT]/DB]\n"
    "                        [--study-name NAME] [--lease-s S] [--pending P]\n"
    "                        [--trainer CMD] [--threads N] [--device cpu|cuda[:N]] [--precision "
    "P]\n"
    "                        [--meter auto|rapl|nvml|estimate] [--cpu-watts W]\n"
    "                        [--format text|json|html] [-o FILE]\n"
    "       joulecast search --report A.db|URL [B.db ...] [--study-name NAME]\n"
    "                        [--format text|json|html] [-o FILE]\n"
    "\n"
    "Searches SPACE.json (docs/search.md) for accurate networks, predicting each candidate's\n"
    "training energy before it trains, and keeps every trial in a study database.\n";

constexpr const char* kTrainerError =
    "--trainer needs a command, like --trainer 'python3 train.py'";

std::string Render(const std::vector<search::StudyReport>& studies, const std::string& format,
                   bool report_mode) {
  if (format == "html") return search::SearchHtml(studies);
  if (format == "json") {
    return report_mode ? search::SearchReportJson(studies) : search::SearchJson(studies[0]);
  }
  std::string text;
  for (const search::StudyReport& s : studies) {
    text += (text.empty() ? "" : "\n") + search::SearchText(s);
  }
  return text;
}

}  // namespace

int Search(const std::vector<std::string>& args) {
  search::SearchOptions options;
  options.default_profile_path = DefaultProfilePath();
  std::string format = "text", output, trainer_command;
  std::vector<std::string> reports;
  bool report_mode = false;
  int threads = -1;
  TorchTrainerOptions torch_options;
  // clang-format off
  CommandLine cli(
      "search", kSearchUsage, 23,
      {
          {.name = "--strategy", .metavar = "S", .kind = FlagKind::choice,
           .choices = {"grid", "random", "bo"},
           .help = "bo (default: Bayesian optimisation), random or grid",
           .set = Into(&options.strategy.strategy)},
          {.name = "--trials", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 100000,
           .help = "the study is to hold N trials (default 25); more resumes and adds",
           .set = Into(&options.trials)},
          {.name = "--seed", .metavar = "S", .kind = FlagKind::integer, .min = 0,
           .max = INT64_MAX,
           .help = "seeds the strategy, the data split and the weights (default 1)",
           .set = Into(&options.strategy.seed)},
          {.name = "--sampler", .metavar = "X", .kind = FlagKind::choice,
           .choices = {"uniform", "halton"},
           .help = "uniform (default) or halton: random's points and bo's first ones",
           .set = Into(&options.strategy.sampler)},
          {.name = "--acquisition", .metavar = "A", .kind = FlagKind::choice,
           .choices = {"ei", "pi", "ucb", "ei-per-joule"},
           .help = "bo: ei (default), pi, ucb, or ei-per-joule (EI per predicted joule)",
           .set = Into(&options.strategy.acquisition)},
          {.name = "--objectives", .metavar = "O", .kind = FlagKind::choice,
           .choices = {"accuracy", "accuracy,energy"},
           .help = "accuracy (default) or accuracy,energy (bo: the Pareto front)",
           .set = [&](const FlagValue& v) {
             options.strategy.objectives = {"accuracy"};
             if (v.text == "accuracy,energy") options.strategy.objectives.push_back("energy");
             return std::string();
           }},
          {.name = "--initial-trials", .metavar = "N", .kind = FlagKind::integer, .min = 0,
           .max = 100000, .help = "bo: random trials before the Gaussian process (default 5)",
           .set = Into(&options.strategy.initial_trials)},
          {.name = "--candidates", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 10'000'000, .help = "bo: quasi-random candidates per proposal (default 10000)",
           .set = Into(&options.strategy.candidates)},
          {.name = "--grid-points", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 100000, .help = "grid: levels of each real parameter (default 5)",
           .set = Into(&options.strategy.grid_points)},
          {.name = "--energy-budget", .metavar = "E", .kind = FlagKind::text,
           .help = "never propose a trial predicted to cost more than E (J, kJ, MJ, Wh,\n"
                   "kWh: 50kJ)",
           .error = "--energy-budget needs an amount with its unit, like 50kJ",
           .set = [&](const FlagValue& v) {
             Result<gate::Budget> budget = gate::ParseBudget(v.text);
             if (!budget.ok()) return "--energy-budget " + budget.status().message();
             if (budget->quantity != gate::Quantity::energy) {
               return std::string(
                   "--energy-budget takes an energy: J, kJ, MJ, Wh or kWh (like 50kJ)");
             }
             options.strategy.energy_budget_j = budget->limit;
             return std::string();
           }},
          {.name = "--study", .metavar = "DB", .kind = FlagKind::text, .empty_ok = false,
           .help = "the study: an SQLite FILE.db, or postgresql://USER@HOST[:PORT]/DB\n"
                   "for workers on many machines; run again to resume (default: in\n"
                   "memory, nothing kept)",
           .error = "--study needs a file name or a postgresql:// URL",
           .set = Into(&options.study_path)},
          {.name = "--study-name", .metavar = "NAME", .kind = FlagKind::text, .empty_ok = false,
           .help = "the study inside the file or database (default: default)",
           .error = "--study-name needs a name",
           .set = [&](const FlagValue& v) {
             Status s = search::CheckStudyName(v.text);
             if (!s.ok()) return s.message();
             options.study_name = v.text;
             return std::string();
           }},
          {.name = "--lease-s", .metavar = "S", .kind = FlagKind::real,
           .max = 7 * 24 * 3600,
           .help = "a running trial's lease, renewed every S/3 while it trains; another\n"
                   "worker takes over a trial not renewed for S (default 60)",
           .set = Into(&options.lease_s)},
          {.name = "--pending", .metavar = "P", .kind = FlagKind::choice,
           .choices = {"kriging-believer", "constant-liar-min", "constant-liar-mean",
                       "constant-liar-max", "ignore"},
           .help = "bo: how trials still running count in a proposal (default\n"
                   "kriging-believer; constant-liar-min|mean|max; ignore)",
           .set = Into(&options.strategy.pending)},
          {.name = "--profile", .metavar = "P", .kind = FlagKind::text, .empty_ok = false,
           .help = "hardware profile for the predictions (default: data/profiles/\n"
                   "default.json)",
           .error = "--profile needs a file name", .set = Into(&options.profile_path)},
          {.name = "--trainer", .metavar = "CMD", .kind = FlagKind::text, .empty_ok = false,
           .help = "train each trial with CMD (/bin/sh -c): JSON in on stdin, a JSON\n"
                   "line {\"accuracy\": ..., \"energy_j\": ...} out (default: the built-in\n"
                   "libtorch trainer on Fashion-MNIST)",
           .error = kTrainerError,
           .set = [&](const FlagValue& v) {
             if (v.text.find_first_not_of(" \t") == std::string::npos) {
               return std::string(kTrainerError);
             }
             trainer_command = v.text;
             return std::string();
           }},
          {.name = "--threads", .metavar = "N", .kind = FlagKind::integer, .min = 0, .max = 1024,
           .help = "built-in trainer: libtorch threads (default: the profile's)",
           .set = Into(&threads)},
          DeviceFlag(&torch_options.device, "built-in trainer: cpu (default), cuda or cuda:N"),
          PrecisionFlag(&options.precision,
                        "fp32 (default), bf16 or fp16 (autocast): what the trainer trains\n"
                        "at and the predictions are for (the profile must have it)"),
          MeterFlag(&torch_options.meter,
                    "auto (default), rapl, nvml or estimate: the built-in trainer's meter,\n"
                    "or the one around a --trainer command that reports no energy_j"),
          CpuWattsFlag(&torch_options.meter, "the estimate meter's watts per busy thread"),
          {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
           .choices = {"text", "json", "html"},
           .help = "text (default), json (schema joulecast.search/1) or html",
           .set = Into(&format)},
          OutputFlag(&output, "write the report to FILE instead of standard output"),
          {.name = "--report", .metavar = "A.db ...",
           .help = "report on existing studies (side by side in html) without searching",
           .set = Into(&report_mode)},
      });
  // clang-format on
  cli.Positionals([&](const std::string& arg) {
    if (report_mode) {
      reports.push_back(arg);
    } else if (options.space_path.empty()) {
      options.space_path = arg;
    } else {
      return "more than one SPACE given: '" + options.space_path + "' and '" + arg +
             "' (for a report on studies, use --report A.db B.db)";
    }
    return std::string();
  });
  if (auto exit_code = cli.Parse(args)) return *exit_code;

  if (report_mode) {
    if (!options.space_path.empty()) {
      return cli.Fail("--report reads studies, not a SPACE: give the .db files after --report");
    }
    if (reports.empty()) return cli.Fail("--report needs at least one study file or URL");
    std::vector<search::StudyReport> studies;
    for (const std::string& path : reports) {
      Result<search::StudyReport> r = search::LoadStudyReport(path, options.study_name);
      if (!r.ok()) return cli.Fail(r.status().message());
      studies.push_back(std::move(*r));
    }
    std::string error = WriteOutput(output, Render(studies, format, true));
    if (!error.empty()) return cli.Fail(error);
    return 0;
  }
  if (options.space_path.empty()) {
    cli.PrintHelp(stderr);
    return 2;
  }
  const bool trainer_given = cli.Given("--trainer");
  for (const std::string& flag : cli.given()) {
    if (trainer_given && (flag == "--threads" || flag == "--device")) {
      return cli.Fail(flag +
                      " sets the built-in trainer; with --trainer, the command chooses its own "
                      "device and threads");
    }
  }
  if (std::string error = CheckWritable(output, "nothing was run"); !error.empty()) {
    return cli.Fail(error);
  }

  std::unique_ptr<search::Trainer> trainer;
  if (trainer_given) {
    auto external =
        std::make_unique<search::ExternalTrainer>(trainer_command, StopOnSignals::cancel());
    // A trainer that reports no "energy_j" is measured as `joulecast track` measures a command.
    external->MeasureWith(ChildMeterOpener(ChildMeterOptionsFromEnvironment(torch_options.meter)));
    trainer = std::move(external);
  } else {
    Result<const TorchBackend*> torch = LoadTorchBackend();
    if (!torch.ok()) {
      return cli.Fail(
          "the built-in trainer needs libtorch (or give --trainer CMD, "
          "docs/search.md): " +
          torch.status().message());
    }
    torch_options.precision = options.precision;
    torch_options.threads =
        threads >= 0 ? threads
                     : ProfileThreads(options.profile_path.empty() ? options.default_profile_path
                                                                   : options.profile_path);
    std::string why;
    Result<std::unique_ptr<TorchTrainer>> t = (*torch)->create_trainer(torch_options, &why);
    if (!t.ok()) return cli.Fail(t.status().message());
    std::fprintf(stderr, "search: meter %s: %s\n", (*t)->meter().kind().c_str(),
                 (*t)->meter().description().c_str());
    if (!why.empty()) std::fprintf(stderr, "search: %s\n", why.c_str());
    trainer = std::move(*t);
  }

  Result<search::SearchOutcome> outcome = [&] {
    // The first SIGINT/SIGTERM stops after the current trial; the second stops an external
    // trainer's trial now (SIGTERM to it; the trial is released for the next run to redo). The
    // built-in trainer cannot be stopped midway, so then the process ends at once and the
    // trial, left running by a process that is gone, is redone by the next run.
    StopOnSignals signals(
        "\njoulecast search: stopping after the current trial (again to stop it now)\n");
    StopOnSignals::set_cancellable(trainer_given);
    return search::RunSearch(options, *trainer, StopOnSignals::stop(), [](const std::string& line) {
      std::fprintf(stderr, "search: %s\n", line.c_str());
    });
  }();
  if (!outcome.ok()) return cli.Fail(outcome.status().message());
  Result<search::StudyReport> report = search::ReportOf(*outcome);
  if (!report.ok()) return cli.Fail(report.status().message());
  std::string error = WriteOutput(output, Render({*report}, format, false));
  if (!error.empty()) return cli.Fail(error);
  if (outcome->interrupted) {
    return cli.Fail("interrupted: the study holds " + std::to_string(outcome->trials.size()) +
                    " trials" +
                    (options.study_path == ":memory:"
                         ? std::string(" (in memory: give --study FILE.db to keep them)")
                         : "; run the same command again to resume " + outcome->study_path));
  }
  return 0;
}

}  // namespace joulecast::cli
