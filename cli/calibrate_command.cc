// `joulecast calibrate`: measures reference networks on this machine and fits a profile
// (docs/calibrate.md). The work is in calibrate/calibration/; this file parses flags, opens the
// meter, shows progress, turns Ctrl-C into a clean stop, and writes the profile atomically.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "analyzer/energy/profile.h"
#include "calibrate/calibration/timing_calibration.h"
#include "calibrate/meters/meter.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/meter_flags.h"
#include "cli/stop_signals.h"
#include "cli/torch_backend.h"

namespace joulecast::cli {

namespace {

constexpr const char* kCalibrateUsage =
    "usage: joulecast calibrate -o PROFILE [--quick] [--device cpu|cuda[:N]]\n"
    "                           [--meter auto|rapl|nvml|estimate] [--cpu-watts W] [--threads N]\n"
    "                           [--precision fp32[,bf16,fp16]] [--layers-per-design N]\n"
    "                           [--networks N] [--window S] [--db FILE] [--seed N]\n"
    "       joulecast calibrate --fit-only --db FILE [--db FILE ...] -o PROFILE\n"
    "\n"
    "Times single layers at the sizes real networks use and measures whole random networks over\n"
    "long windows with the energy meter, then fits the time x power profile PROFILE\n"
    "(docs/calibrate.md, docs/profile.md).\n";

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

std::string Percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", x * 100);
  return buf;
}

// Progress on standard error: a bar redrawn in place on a terminal, one line per measurement
// otherwise (logs, CI).
class ProgressView {
 public:
  explicit ProgressView(bool terminal) : terminal_(terminal) {}
  ~ProgressView() { Finish(); }

  void Show(const TimingProgress& p) {
    if (p.fitting) {
      Finish();
      std::fprintf(stderr, "calibrate: %d measurements; fitting the profile\n", p.done);
      return;
    }
    if (!terminal_) {
      std::fprintf(stderr, "calibrate: %d/%d %s, elapsed %s, ETA %s\n", p.done, p.total,
                   p.what.c_str(), Clock(p.elapsed_s).c_str(), Clock(p.eta_s).c_str());
      return;
    }
    constexpr int kWidth = 30;
    const int filled = p.total > 0 ? kWidth * p.done / p.total : kWidth;
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(stderr, "\r\033[K[%s] %d/%d  elapsed %s  ETA %s  %s", bar.c_str(), p.done, p.total,
                 Clock(p.elapsed_s).c_str(), Clock(p.eta_s).c_str(), p.what.c_str());
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

// "fp32,bf16" into `precisions`, each once, in the order given. Returns an error line or "".
std::string PrecisionList(const std::string& list, std::vector<std::string>* precisions) {
  precisions->clear();
  size_t from = 0;
  while (from <= list.size()) {
    const size_t comma = list.find(',', from);
    const std::string p =
        list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (p != "fp32" && p != "bf16" && p != "fp16") {
      return "--precision: '" + p + "' is not fp32, bf16 or fp16";
    }
    if (std::find(precisions->begin(), precisions->end(), p) == precisions->end()) {
      precisions->push_back(p);
    }
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return "";
}

std::string Summary(const TimingOutcome& o, const std::string& output) {
  const Profile& p = o.profile;
  std::string s = "wrote " + output + ": " + std::to_string(o.done) + " measurements (" +
                  std::to_string(o.done - o.resumed) + " measured now, " +
                  std::to_string(o.resumed) + " from the database) in " + Clock(o.elapsed_s) + "\n";
  s += "meter " + p.meter_kind +
       (p.meter_real ? " (hardware counter)" : " (estimate, not a counter)") + ": " +
       p.meter_description + "\n";
  char line[256];
  for (const auto& [precision, m] : p.time_models) {
    std::snprintf(line, sizeof line,
                  "%s: launch %.3g us, device scale conv %.3g linear %.3g memory %.3g, optimizer "
                  "%.3g launches/tensor, step overhead %.3g ms, dynamic power %.1f W, %.3g pJ "
                  "a MAC, %.3g pJ a byte\n",
                  precision.c_str(), m.launch_s * 1e6, m.device_scale.conv, m.device_scale.linear,
                  m.device_scale.memory, m.optimizer_launches_per_tensor, m.step_overhead_s * 1e3,
                  m.dynamic_w, m.joules_per_mac * 1e12, m.joules_per_byte * 1e12);
    s += line;
    if (m.joules_per_mac_matmul) {
      std::snprintf(line, sizeof line, "  matrix products apart: %.3g pJ a MAC\n",
                    *m.joules_per_mac_matmul * 1e12);
      s += line;
    }
    if (m.optimizer_tensor_s > 0) {
      std::snprintf(line, sizeof line,
                    "  Adam, timed: %.3g ms a step + %.3g us a tensor on the host, %.3g GB/s\n",
                    m.optimizer_step_s * 1e3, m.optimizer_tensor_s * 1e6,
                    m.optimizer_bytes_per_s / 1e9);
      s += line;
    }
    std::snprintf(line, sizeof line, "  %-22s %7s  %-9s %12s %12s %12s\n", "family", "timings",
                  "cv_mape", "floor fwd", "GMAC/s fwd", "GB/s fwd");
    s += line;
    for (const auto& [name, f] : m.families) {
      std::snprintf(line, sizeof line, "  %-22s %7d  %-9s %9.3g us %12.4g %12.4g\n", name.c_str(),
                    f.samples, Percent(f.cv_mape).c_str(), f.host_fwd_s * 1e6,
                    f.macs_per_s_fwd / 1e9, f.bytes_per_s_fwd / 1e9);
      s += line;
    }
  }
  std::snprintf(line, sizeof line, "power: idle %.1f W, active %.1f W, dynamic %.1f W\n",
                p.power.idle_w, p.power.active_w, p.power.dynamic_w);
  s += line;
  if (p.networks.samples > 0) {
    std::snprintf(line, sizeof line,
                  "whole networks: %d, each predicted by a fit without it: energy error %s "
                  "(90%% within %s, the prediction interval), time error %s\n",
                  p.networks.samples, Percent(p.networks.cv_mape).c_str(),
                  Percent(p.networks.cv_p90).c_str(), Percent(p.networks.time_cv_mape).c_str());
    s += line;
  }
  return s;
}

}  // namespace

int Calibrate(const std::vector<std::string>& args) {
  TimingCalibrationOptions options;
  MeterOptions meter_options;
  std::string output, db;
  // clang-format off
  CommandLine cli(
      "calibrate", kCalibrateUsage, 26,
      {
          OutputFlag(&output, "the profile to write (replaced only when the run completes)",
                     "PROFILE"),
          {.name = "--quick",
           .help = "fewer layers (5 per design) and networks (8), shorter windows",
           .set = Into(&options.quick)},
          DeviceFlag(&options.device,
                     "cpu (default), cuda or cuda:N (needs a CUDA build of libtorch)"),
          MeterFlag(&meter_options,
                    "auto (default: the best hardware counter, else the estimate),\n"
                    "rapl, nvml or estimate"),
          CpuWattsFlag(&meter_options, "the estimate's power per busy thread, in watts"),
          {.name = "--threads", .metavar = "N", .kind = FlagKind::integer, .min = 0, .max = 1024,
           .help = "libtorch intra-op threads (default: libtorch's own choice)",
           .set = Into(&options.threads)},
          {.name = "--precision", .metavar = "P[,P...]", .kind = FlagKind::text,
           .empty_ok = false,
           .help = "precisions to calibrate: fp32 (default), bf16, fp16 (autocast)",
           .error = "--precision needs fp32, bf16 or fp16 (or a list: fp32,bf16)",
           .set = [&](const FlagValue& v) { return PrecisionList(v.text, &options.precisions); }},
          {.name = "--layers-per-design", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 100000,
           .help = "layer timings of each design and precision (default 16, quick 5)",
           .set = Into(&options.layers_per_design)},
          {.name = "--networks", .metavar = "N", .kind = FlagKind::integer, .min = 3,
           .max = 100000, .help = "whole networks per precision (default 24, quick 8)",
           .set = Into(&options.networks)},
          {.name = "--window", .metavar = "S", .kind = FlagKind::real, .max = 600,
           .help = "seconds each network is measured (default 5 with a hardware\n"
                   "counter, quick 3; 1 with the estimate, quick 0.5)",
           .error = "--window needs seconds between 0 and 600, such as 5",
           .set = Into(&options.window_s)},
          {.name = "--db", .metavar = "FILE", .kind = FlagKind::text, .empty_ok = false,
           .help = "SQLite database of the measurements (default: PROFILE.db); a run\n"
                   "with the same options resumes from it",
           .error = "--db needs a file name",
           .set = [&](const FlagValue& v) {
             if (!db.empty() && !options.fit_only) {
               return std::string(
                   "--db is given twice; several databases can only be pooled with --fit-only "
                   "(before the first --db)");
             }
             if (db.empty()) {
               db = v.text;
             } else {
               options.extra_db_paths.push_back(v.text);
             }
             return std::string();
           }},
          {.name = "--fit-only",
           .help = "measure nothing: fit what --db holds (from any machine) into\n"
                   "PROFILE, with the facts it recorded about that machine; several\n"
                   "--db FILE after it pool calibrations of one machine",
           .set = Into(&options.fit_only)},
          {.name = "--seed", .metavar = "N", .kind = FlagKind::integer, .min = 0,
           .max = INT64_MAX,
           .help = "seeds the designs, the weights and the CV folds (default 1)",
           .set = Into(&options.seed)},
      });
  // clang-format on
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (output.empty()) return cli.Fail("-o PROFILE is required (see joulecast calibrate --help)");
  if (output == "-") return cli.Fail("-o needs a file: the profile is written only when complete");
  options.db_path = db.empty() ? output + ".db" : db;
  if (options.db_path == output) return cli.Fail("--db must not be the profile itself");
  if (options.fit_only && db.empty()) {
    return cli.Fail("--fit-only needs --db FILE, the measurements to fit");
  }
  if (std::string error = CheckWritable(output, "nothing was measured"); !error.empty()) {
    return cli.Fail(error);
  }

  Result<const TorchBackend*> torch = LoadTorchBackend();
  if (!torch.ok()) return cli.Fail(torch.status().message());
  const TorchBackend& backend = **torch;
  if (options.fit_only) {
    Result<TimingOutcome> outcome = backend.run_timing_calibration(options, nullptr);
    if (!outcome.ok()) return cli.Fail(outcome.status().message());
    if (std::string error = WriteOutput(output, ProfileJson(outcome->profile)); !error.empty()) {
      return cli.Fail(error);
    }
    std::fputs(Summary(*outcome, output).c_str(), stdout);
    return 0;
  }
  if (Status s = backend.check_device(options.device); !s.ok()) return cli.Fail(s.message());
  for (const std::string& p : options.precisions) {
    if (Status s = backend.check_precision(options.device, p); !s.ok())
      return cli.Fail(s.message());
  }
  MeterForDevice(backend, options.device, &meter_options);
  std::string meter_why;
  Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(meter_options, &meter_why);
  if (!meter.ok()) return cli.Fail(meter.status().message());
  std::fprintf(stderr, "calibrate: meter %s: %s\n", (*meter)->kind().c_str(),
               (*meter)->description().c_str());
  if (!meter_why.empty()) std::fprintf(stderr, "calibrate: %s\n", meter_why.c_str());
  std::fprintf(stderr, "calibrate: measurements go to %s\n", options.db_path.c_str());

  options.libtorch_version = backend.libtorch_version();
  ProgressView view(isatty(STDERR_FILENO) == 1);
  TimingProgress last;  // stays at total 0 if the database could not be opened
  options.progress = [&](const TimingProgress& p) {
    last = p;
    view.Show(p);
  };
  Result<TimingOutcome> outcome = [&] {
    // The first SIGINT/SIGTERM stops after the current measurement, a second ends the process
    // at once (the database stays consistent: each sample is its own transaction).
    StopOnSignals signals(
        "\njoulecast calibrate: stopping after the current measurement (again to quit at once)\n");
    options.stop = StopOnSignals::stop();
    return backend.run_timing_calibration(options, meter->get());
  }();
  view.Finish();
  if (!outcome.ok()) {
    if (last.done == 0) return cli.Fail(outcome.status().message());
    return cli.Fail(outcome.status().message() + " (the " + std::to_string(last.done) +
                    " measurements taken so far are kept in " + options.db_path + ")");
  }
  if (outcome->interrupted) {
    return cli.Fail("interrupted: " + std::to_string(outcome->done) + " of " +
                    std::to_string(outcome->total) + " measurements are saved in " +
                    options.db_path + "; run the same command again to resume (" + output +
                    " was not written)");
  }
  std::string error = WriteOutput(output, ProfileJson(outcome->profile));
  if (!error.empty()) {
    return cli.Fail(error + "; all " + std::to_string(outcome->done) + " measurements are in " +
                    options.db_path +
                    ": run the same command again to fit and write without "
                    "measuring");
  }
  std::fputs(Summary(*outcome, output).c_str(), stdout);
  return 0;
}

}  // namespace joulecast::cli
