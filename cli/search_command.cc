// `joulecast search`: energy-aware search over a space of networks and hyperparameters
// (docs/search.md). The loop is analyzer/search/search.h; this file parses flags, picks the
// trainer (an external command, or the built-in libtorch one), turns Ctrl-C into a stop after the
// current trial, and writes the report.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/energy/profile.h"
#include "analyzer/gate/budget.h"
#include "analyzer/search/external_trainer.h"
#include "analyzer/search/search.h"
#include "analyzer/search/search_report.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/stop_signals.h"

#ifdef JOULECAST_HAVE_TORCH
#include "calibrate/train/torch_trainer.h"
#include "cli/meter_flags.h"
#endif

namespace joulecast::cli {

namespace {

constexpr const char* kSearchHelp =
    "usage: joulecast search SPACE.json [--strategy grid|random|bo] [--trials N] [--seed S]\n"
    "                        [--sampler uniform|halton] [--acquisition ei|pi|ucb|ei-per-joule]\n"
    "                        [--objectives accuracy|accuracy,energy] [--initial-trials N]\n"
    "                        [--candidates N] [--grid-points N]\n"
    "                        [--energy-budget 50kJ] [--study FILE.db] [--profile P]\n"
    "                        [--trainer CMD] [--threads N] [--device cpu|cuda[:N]] [--precision P]\n"
    "                        [--meter auto|rapl|nvml|estimate] [--cpu-watts W]\n"
    "                        [--format text|json|html] [-o FILE]\n"
    "       joulecast search --report A.db [B.db ...] [--format text|json|html] [-o FILE]\n"
    "\n"
    "Searches SPACE.json (docs/search.md) for accurate networks, predicting each candidate's\n"
    "training energy before it trains, and keeps every trial in a study database.\n"
    "  --strategy S         bo (default: Bayesian optimisation), random or grid\n"
    "  --trials N           the study is to hold N trials (default 25); more resumes and adds\n"
    "  --seed S             seeds the strategy, the data split and the weights (default 1)\n"
    "  --sampler X          uniform (default) or halton: random's points and bo's first ones\n"
    "  --acquisition A      bo: ei (default), pi, ucb, or ei-per-joule (EI per predicted joule)\n"
    "  --objectives O       accuracy (default) or accuracy,energy (bo: the Pareto front)\n"
    "  --initial-trials N   bo: random trials before the Gaussian process (default 5)\n"
    "  --candidates N       bo: quasi-random candidates per proposal (default 10000)\n"
    "  --grid-points N      grid: levels of each real parameter (default 5)\n"
    "  --energy-budget E    never propose a trial predicted to cost more than E (J, kJ, MJ, Wh,\n"
    "                       kWh: 50kJ)\n"
    "  --study FILE.db      the study database: run again to resume; two workers may share it\n"
    "                       (default: in memory, nothing kept)\n"
    "  --profile P          hardware profile for the predictions (default: data/profiles/\n"
    "                       default.json)\n"
    "  --trainer CMD        train each trial with CMD (/bin/sh -c): JSON in on stdin, a JSON\n"
    "                       line {\"accuracy\": ..., \"energy_j\": ...} out (default: the "
    "built-in\n"
    "                       libtorch trainer on Fashion-MNIST)\n"
    "  --threads N          built-in trainer: libtorch threads (default: the profile's)\n"
    "  --device D           built-in trainer: cpu (default), cuda or cuda:N\n"
    "  --precision P        fp32 (default), bf16 or fp16 (autocast): what the trainer trains\n"
    "                       at and the predictions are for (the profile must have it)\n"
    "  --meter M            built-in trainer: auto (default), rapl, nvml or estimate\n"
    "  --cpu-watts W        built-in trainer: the estimate meter's watts per busy thread\n"
    "  --format F           text (default), json (schema joulecast.search/1) or html\n"
    "  -o FILE              write the report to FILE instead of standard output\n"
    "  --report A.db ...    report on existing studies (side by side in html) without searching\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "joulecast search: %s\n", message.c_str());
  return 2;
}


// Fails now, before any trial runs, if the report cannot be written to `path` at the end.
std::string CheckWritable(const std::string& path) {
  if (path.empty() || path == "-") return "";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + ": is a folder, not a file";
  const std::string tmp = path + ".tmp";
  const bool existed = std::filesystem::exists(tmp, ec);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::app);
    if (!f) {
      return path + ": cannot write there (cannot create " + tmp + ": " + std::strerror(errno) +
             "); nothing was run";
    }
  }
  if (!existed) std::filesystem::remove(tmp, ec);
  return "";
}

std::optional<std::vector<std::string>> Objectives(const std::string& s) {
  if (s == "accuracy") return std::vector<std::string>{"accuracy"};
  if (s == "accuracy,energy") return std::vector<std::string>{"accuracy", "energy"};
  return std::nullopt;
}

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

#ifdef JOULECAST_HAVE_TORCH
// The threads the profile was calibrated with, so that trials are measured as predicted.
int ProfileThreads(const std::string& path) {
  if (path.empty() || !std::filesystem::exists(path)) return 0;
  Result<Profile> profile = LoadProfile(path);
  if (!profile.ok()) return 0;
  auto it = profile->hardware.find("threads");
  if (it == profile->hardware.end()) return 0;
  auto n = IntIn(it->second, 1, 1024);
  return n ? static_cast<int>(*n) : 0;
}
#endif

}  // namespace

int Search(const std::vector<std::string>& args) {
  search::SearchOptions options;
  options.default_profile_path = DefaultProfilePath();
  std::string format = "text", output, trainer_command;
  std::vector<std::string> reports;
  std::vector<std::string> builtin_flags;  // flags that only the built-in trainer takes
  bool report_mode = false, trainer_given = false;
  int threads = -1;
#ifdef JOULECAST_HAVE_TORCH
  TorchTrainerOptions torch_options;
#endif
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kSearchHelp, stdout);
      return 0;
    } else if (a == "--strategy") {
      auto v = value();
      if (v != "grid" && v != "random" && v != "bo") {
        return Fail("--strategy must be grid, random or bo");
      }
      options.strategy.strategy = *v;
    } else if (a == "--sampler") {
      auto v = value();
      if (v != "uniform" && v != "halton") return Fail("--sampler must be uniform or halton");
      options.strategy.sampler = *v;
    } else if (a == "--acquisition") {
      auto v = value();
      if (v != "ei" && v != "pi" && v != "ucb" && v != "ei-per-joule") {
        return Fail("--acquisition must be ei, pi, ucb or ei-per-joule");
      }
      options.strategy.acquisition = *v;
    } else if (a == "--objectives") {
      auto v = value();
      auto o = v ? Objectives(*v) : std::nullopt;
      if (!o) return Fail("--objectives must be accuracy or accuracy,energy");
      options.strategy.objectives = *o;
    } else if (a == "--trials" || a == "--seed" || a == "--initial-trials" || a == "--threads" ||
               a == "--grid-points" || a == "--candidates") {
      auto v = value();
      const int64_t min = a == "--trials" || a == "--grid-points" || a == "--candidates" ? 1 : 0;
      const int64_t max = a == "--seed"         ? INT64_MAX
                          : a == "--threads"    ? 1024
                          : a == "--candidates" ? 10'000'000
                                                : 100000;
      auto n = v ? IntIn(*v, min, max) : std::nullopt;
      if (!n) {
        return Fail(a + " needs " + (min == 0 ? "a non-negative" : "a positive") +
                    " integer up to " + std::to_string(max));
      }
      if (a == "--trials")
        options.trials = static_cast<int>(*n);
      else if (a == "--seed")
        options.strategy.seed = static_cast<uint64_t>(*n);
      else if (a == "--initial-trials")
        options.strategy.initial_trials = static_cast<int>(*n);
      else if (a == "--grid-points")
        options.strategy.grid_points = static_cast<int>(*n);
      else if (a == "--candidates")
        options.strategy.candidates = static_cast<int>(*n);
      else {
        threads = static_cast<int>(*n);
        builtin_flags.push_back(a);
      }
    } else if (a == "--energy-budget") {
      auto v = value();
      if (!v) return Fail("--energy-budget needs an amount with its unit, like 50kJ");
      Result<gate::Budget> budget = gate::ParseBudget(*v);
      if (!budget.ok()) return Fail("--energy-budget " + budget.status().message());
      if (budget->quantity != gate::Quantity::energy) {
        return Fail("--energy-budget takes an energy: J, kJ, MJ, Wh or kWh (like 50kJ)");
      }
      options.strategy.energy_budget_j = budget->limit;
    } else if (a == "--study") {
      auto v = value();
      if (!v || v->empty()) return Fail("--study needs a file name");
      options.study_path = *v;
    } else if (a == "--profile") {
      auto v = value();
      if (!v || v->empty()) return Fail("--profile needs a file name");
      options.profile_path = *v;
    } else if (a == "--precision") {
      auto v = value();
      if (!v || (*v != "fp32" && *v != "bf16" && *v != "fp16")) {
        return Fail("--precision needs fp32, bf16 or fp16");
      }
      options.precision = *v;
#ifdef JOULECAST_HAVE_TORCH
      torch_options.precision = *v;
#endif
    } else if (a == "--trainer") {
      auto v = value();
      if (!v || v->find_first_not_of(" \t") == std::string::npos) {
        return Fail("--trainer needs a command, like --trainer 'python3 train.py'");
      }
      trainer_command = *v;
      trainer_given = true;
    } else if (a == "--device" || a == "--meter" || a == "--cpu-watts") {
#ifdef JOULECAST_HAVE_TORCH
      std::string error = ParseMeterFlag(a, value(), &torch_options.device, &torch_options.meter);
      if (!error.empty()) return Fail(error);
      builtin_flags.push_back(a);
#else
      return Fail(a +
                  " sets the built-in trainer, which trains with libtorch and needs the "
                  "libtorch build (or give --trainer CMD, which measures its own energy)");
#endif
    } else if (a == "--format") {
      auto v = value();
      if (v != "text" && v != "json" && v != "html") {
        return Fail("--format must be text, json or html");
      }
      format = *v;
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v || v->empty()) return Fail("-o needs a file name");
      output = *v;
    } else if (a == "--report") {
      report_mode = true;
    } else if (!a.empty() && a[0] == '-') {
      return Fail("unknown option '" + a + "' (see joulecast search --help)");
    } else if (report_mode) {
      reports.push_back(a);
    } else if (options.space_path.empty()) {
      options.space_path = a;
    } else {
      return Fail("more than one SPACE given: '" + options.space_path + "' and '" + a +
                  "' (for a report on studies, use --report A.db B.db)");
    }
  }

  if (report_mode) {
    if (!options.space_path.empty()) {
      return Fail("--report reads studies, not a SPACE: give the .db files after --report");
    }
    if (reports.empty()) return Fail("--report needs at least one study file");
    std::vector<search::StudyReport> studies;
    for (const std::string& path : reports) {
      Result<search::StudyReport> r = search::LoadStudyReport(path);
      if (!r.ok()) return Fail(r.status().message());
      studies.push_back(std::move(*r));
    }
    std::string error = WriteOutput(output, Render(studies, format, true));
    if (!error.empty()) return Fail(error);
    return 0;
  }
  if (options.space_path.empty()) {
    std::fputs(kSearchHelp, stderr);
    return 2;
  }
  if (trainer_given && !builtin_flags.empty()) {
    return Fail(builtin_flags[0] +
                " sets the built-in trainer; with --trainer, the command "
                "chooses its own device and threads and measures its own energy");
  }
  if (std::string error = CheckWritable(output); !error.empty()) return Fail(error);

  std::unique_ptr<search::Trainer> trainer;
  if (trainer_given) {
    trainer = std::make_unique<search::ExternalTrainer>(trainer_command, StopOnSignals::cancel());
  } else {
#ifdef JOULECAST_HAVE_TORCH
    torch_options.threads =
        threads >= 0 ? threads
                     : ProfileThreads(options.profile_path.empty() ? options.default_profile_path
                                                                   : options.profile_path);
    std::string why;
    Result<std::unique_ptr<TorchTrainer>> t = TorchTrainer::Create(torch_options, &why);
    if (!t.ok()) return Fail(t.status().message());
    std::fprintf(stderr, "search: meter %s: %s\n", (*t)->meter().kind().c_str(),
                 (*t)->meter().description().c_str());
    if (!why.empty()) std::fprintf(stderr, "search: %s\n", why.c_str());
    trainer = std::move(*t);
#else
    (void)threads;
    return Fail(
        "the built-in trainer trains with libtorch and needs the libtorch build: give "
        "--trainer CMD (docs/search.md), or install libtorch-dev and rebuild with "
        "-DJOULECAST_WITH_TORCH=ON");
#endif
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
  if (!outcome.ok()) return Fail(outcome.status().message());
  Result<search::StudyReport> report = search::ReportOf(*outcome);
  if (!report.ok()) return Fail(report.status().message());
  std::string error = WriteOutput(output, Render({*report}, format, false));
  if (!error.empty()) return Fail(error);
  if (outcome->interrupted) {
    return Fail("interrupted: the study holds " + std::to_string(outcome->trials.size()) +
                " trials" +
                (options.study_path == ":memory:"
                     ? std::string(" (in memory: give --study FILE.db to keep them)")
                     : "; run the same command again to resume " + options.study_path));
  }
  return 0;
}

}  // namespace joulecast::cli
