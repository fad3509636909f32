// `joulecast calibrate`: measures reference networks on this machine and fits a profile
// (docs/calibrate.md). The work is in calibrate/calibration/; this file parses flags, opens the
// meter, shows progress, turns Ctrl-C into a clean stop, and writes the profile atomically.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/energy/profile.h"
#include "calibrate/calibration/calibrate.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/torch_network.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/stop_signals.h"
#include "cli/meter_flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kCalibrateHelp =
    "usage: joulecast calibrate -o PROFILE [--quick] [--device cpu|cuda[:N]]\n"
    "                           [--meter auto|rapl|nvml|estimate] [--cpu-watts W] [--threads N]\n"
    "                           [--samples-per-kind N] [--rse X] [--db FILE] [--seed N]\n"
    "\n"
    "Trains small reference networks on this machine, measures their energy and time per step,\n"
    "and fits one model per layer kind into PROFILE (docs/calibrate.md, docs/profile.md).\n"
    "  -o PROFILE            the profile to write (replaced only when the run completes)\n"
    "  --quick               fewer, smaller samples: about 2 minutes on 2 cores (default: the\n"
    "                        full run, about 15 minutes)\n"
    "  --device D            cpu (default), cuda or cuda:N (needs a CUDA build of libtorch)\n"
    "  --meter M             auto (default: the best hardware counter, else the estimate), rapl,\n"
    "                        nvml or estimate\n"
    "  --cpu-watts W         the estimate's power per busy thread, in watts\n"
    "  --threads N           libtorch intra-op threads (default: libtorch's own choice)\n"
    "  --samples-per-kind N  samples of each layer kind (default: 112 conv, 48 linear, 32-56\n"
    "                        others; quick 12-40); more extends an earlier run's database\n"
    "  --rse X               target relative standard error of each measurement (default 0.02)\n"
    "  --db FILE             SQLite database of the measurements (default: PROFILE.db); a run\n"
    "                        with the same options resumes from it\n"
    "  --seed N              seeds the sampled designs, the weights and the CV folds (default 1)\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "joulecast calibrate: %s\n", message.c_str());
  return 2;
}


// "1:05", "12:00", "1:02:03".
std::string Clock(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  }
  return buf;
}

std::string Energy(double j) {
  char buf[32];
  if (std::abs(j) < 1) {
    std::snprintf(buf, sizeof buf, "%.3g mJ", j * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g J", j);
  }
  return buf;
}

std::string Percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", x * 100);
  return buf;
}

// Progress on standard error: a bar redrawn in place on a terminal, one line per sample
// otherwise (logs, CI).
class ProgressView {
 public:
  explicit ProgressView(bool terminal) : terminal_(terminal) {}
  ~ProgressView() { Finish(); }

  void Show(const CalibrationProgress& p) {
    if (p.fitting) {
      Finish();
      std::fprintf(stderr, "calibrate: %d samples measured; fitting the models\n", p.done);
      return;
    }
    if (p.design.empty()) {
      if (p.resumed > 0) {
        std::fprintf(stderr, "calibrate: resuming: %d of %d samples are already in the database\n",
                     p.resumed, p.total);
      } else {
        std::fprintf(stderr, "calibrate: measuring %d samples\n", p.total);
      }
      return;
    }
    if (!terminal_) {
      std::fprintf(stderr,
                   "calibrate: %d/%d %s %lld: probe %s/step (%d repeats, rse %s), base %s/step "
                   "(%d, %s), elapsed %s, ETA %s\n",
                   p.done, p.total, p.design.c_str(), static_cast<long long>(p.index),
                   Energy(p.probe.energy_j).c_str(), p.probe.repeats, Percent(p.probe.rse).c_str(),
                   Energy(p.base.energy_j).c_str(), p.base.repeats, Percent(p.base.rse).c_str(),
                   Clock(p.elapsed_s).c_str(), Clock(p.eta_s).c_str());
      return;
    }
    constexpr int kWidth = 30;
    const int filled = p.total > 0 ? kWidth * p.done / p.total : kWidth;
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(stderr, "\r\033[K[%s] %d/%d  %s %lld  elapsed %s  ETA %s", bar.c_str(), p.done,
                 p.total, p.design.c_str(), static_cast<long long>(p.index),
                 Clock(p.elapsed_s).c_str(), Clock(p.eta_s).c_str());
    std::fflush(stderr);
    open_line_ = true;
  }

  void Finish() {
    if (open_line_) std::fputc('\n', stderr);
    open_line_ = false;
  }

 private:
  bool terminal_;
  bool open_line_ = false;
};

// Fails now, before anything is measured, if `path` cannot be replaced at the end: the
// temporary file WriteOutput writes must be creatable beside it.
std::string CheckWritable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + ": is a folder, not a file";
  const std::string tmp = path + ".tmp";
  const bool existed = std::filesystem::exists(tmp, ec);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::app);
    if (!f) {
      return path + ": cannot write there (cannot create " + tmp + ": " + std::strerror(errno) +
             "); nothing was measured";
    }
  }
  if (!existed) std::filesystem::remove(tmp, ec);
  return "";
}

std::string Summary(const CalibrationOutcome& o, const std::string& output) {
  const Profile& p = o.profile;
  std::string s = "wrote " + output + ": " + std::to_string(o.done) + " samples (" +
                  std::to_string(o.done - o.resumed) + " measured now, " +
                  std::to_string(o.resumed) + " from the database) in " + Clock(o.elapsed_s) +
                  "\n";
  s += "meter " + p.meter_kind + (p.meter_real ? " (hardware counter)" : " (estimate, not a counter)") +
       ": " + p.meter_description + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %7s  %-10s %-10s  %s\n", "model class", "samples",
                "cv_mape", "time mape", "features");
  s += line;
  auto row = [&](const std::string& name, const LinearModel& m, double time_mape) {
    std::string features;
    for (const std::string& f : m.features) {
      if (!features.empty()) features += ", ";
      features += f;
    }
    std::snprintf(line, sizeof line, "%-22s %7d  %-10s %-10s  %s\n", name.c_str(), m.samples,
                  Percent(m.cv_mape).c_str(), Percent(time_mape).c_str(), features.c_str());
    s += line;
  };
  for (const auto& [cls, m] : p.models) {
    auto t = o.fit.time_cv_mape.find(cls);
    row(cls, m, t == o.fit.time_cv_mape.end() ? 0 : t->second);
  }
  row("step", p.step, o.fit.step_time_cv_mape);
  if (p.networks.samples > 0) {
    std::snprintf(line, sizeof line,
                  "whole networks: %d random CNNs, each predicted by a fit without it: mean error "
                  "%s, 90%% within %s (the prediction interval)\n",
                  p.networks.samples, Percent(p.networks.cv_mape).c_str(),
                  Percent(p.networks.cv_p90).c_str());
    s += line;
  }
  return s;
}

}  // namespace

int Calibrate(const std::vector<std::string>& args) {
  CalibrationOptions options;
  MeterOptions meter_options;
  std::string output, db;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kCalibrateHelp, stdout);
      return 0;
    } else if (a == "--quick") {
      options.quick = true;
    } else if (a == "--threads" || a == "--seed" || a == "--samples-per-kind") {
      auto v = value();
      const int64_t min = a == "--samples-per-kind" ? 1 : 0;
      const int64_t max = a == "--threads" ? 1024 : a == "--seed" ? INT64_MAX : 100000;
      auto n = v ? IntIn(*v, min, max) : std::nullopt;
      if (!n) {
        return Fail(a + " needs " + (min == 0 ? "a non-negative" : "a positive") +
                    " integer up to " + std::to_string(max));
      }
      if (a == "--threads") options.threads = static_cast<int>(*n);
      else if (a == "--seed") options.seed = static_cast<uint64_t>(*n);
      else options.samples_per_kind = static_cast<int>(*n);
    } else if (a == "--rse") {
      auto v = value();
      auto x = v ? PositiveReal(*v) : std::nullopt;
      if (!x || *x >= 1) return Fail("--rse needs a number between 0 and 1, such as 0.02");
      options.rse = *x;
    } else if (IsMeterFlag(a)) {
      std::string error = ParseMeterFlag(a, value(), &options.device, &meter_options);
      if (!error.empty()) return Fail(error);
    } else if (a == "--db") {
      auto v = value();
      if (!v || v->empty()) return Fail("--db needs a file name");
      db = *v;
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v || v->empty()) return Fail("-o needs a file name");
      output = *v;
    } else {
      return Fail("unknown option '" + a + "' (see joulecast calibrate --help)");
    }
  }
  if (output.empty()) return Fail("-o PROFILE is required (see joulecast calibrate --help)");
  if (output == "-") return Fail("-o needs a file: the profile is written only when complete");
  options.db_path = db.empty() ? output + ".db" : db;
  if (options.db_path == output) return Fail("--db must not be the profile itself");

  if (std::string error = CheckWritable(output); !error.empty()) return Fail(error);
  if (Status s = CheckDevice(options.device); !s.ok()) return Fail(s.message());
  const int gpu = CudaIndex(options.device);
  meter_options.gpu = gpu >= 0;
  meter_options.gpu_index = gpu >= 0 ? gpu : 0;
  meter_options.synchronize = DeviceSynchronizer(options.device);
  std::string meter_why;
  Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(meter_options, &meter_why);
  if (!meter.ok()) return Fail(meter.status().message());
  std::fprintf(stderr, "calibrate: meter %s: %s\n", (*meter)->kind().c_str(),
               (*meter)->description().c_str());
  if (!meter_why.empty()) std::fprintf(stderr, "calibrate: %s\n", meter_why.c_str());
  std::fprintf(stderr, "calibrate: measurements go to %s\n", options.db_path.c_str());

  options.libtorch_version = LibtorchVersion();
  ProgressView view(isatty(STDERR_FILENO) == 1);
  CalibrationProgress last;  // stays at total 0 if the database could not be opened
  options.progress = [&](const CalibrationProgress& p) {
    last = p;
    view.Show(p);
  };
  Result<CalibrationOutcome> outcome = [&] {
    // The first SIGINT/SIGTERM stops after the current measurement, a second ends the process
    // at once (the database stays consistent: each sample is its own transaction).
    StopOnSignals signals(
        "\njoulecast calibrate: stopping after the current measurement (again to quit at once)\n");
    options.stop = StopOnSignals::stop();
    return RunCalibration(options, **meter);
  }();
  view.Finish();
  if (!outcome.ok()) {
    if (last.done == 0) return Fail(outcome.status().message());
    return Fail(outcome.status().message() + " (the " + std::to_string(last.done) +
                " samples measured so far are kept in " + options.db_path + ")");
  }
  if (outcome->interrupted) {
    return Fail("interrupted: " + std::to_string(outcome->done) + " of " +
                std::to_string(outcome->total) + " samples are saved in " + options.db_path +
                "; run the same command again to resume (" + output + " was not written)");
  }
  std::string error = WriteOutput(output, ProfileJson(outcome->profile));
  if (!error.empty()) {
    return Fail(error + "; all " + std::to_string(outcome->done) + " samples are in " +
                options.db_path + ": run the same command again to fit and write without "
                "measuring");
  }
  std::fputs(Summary(*outcome, output).c_str(), stdout);
  return 0;
}

}  // namespace joulecast::cli
