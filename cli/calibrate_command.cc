// `joulecast calibrate`: measures reference networks on this machine and fits a profile
// (docs/calibrate.md). The work is in calibrate/calibration/; this file parses flags, opens the
// meter, shows progress, turns Ctrl-C into a clean stop, and writes the profile atomically.
#include <unistd.h>

#include <algorithm>
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
#include "calibrate/calibration/timing_calibration.h"
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
    "                           [--precision fp32[,bf16,fp16]] [--layers-per-design N]\n"
    "                           [--networks N] [--window S] [--db FILE] [--seed N]\n"
    "\n"
    "Times single layers at the sizes real networks use and measures whole random networks over\n"
    "long windows with the energy meter, then fits the time x power profile PROFILE\n"
    "(docs/calibrate.md, docs/profile.md).\n"
    "  -o PROFILE              the profile to write (replaced only when the run completes)\n"
    "  --quick                 fewer layers (5 per design) and networks (8), shorter windows\n"
    "  --device D              cpu (default), cuda or cuda:N (needs a CUDA build of libtorch)\n"
    "  --meter M               auto (default: the best hardware counter, else the estimate),\n"
    "                          rapl, nvml or estimate\n"
    "  --cpu-watts W           the estimate's power per busy thread, in watts\n"
    "  --threads N             libtorch intra-op threads (default: libtorch's own choice)\n"
    "  --precision P[,P...]    precisions to calibrate: fp32 (default), bf16, fp16 (autocast)\n"
    "  --layers-per-design N   layer timings of each design and precision (default 16, quick 5)\n"
    "  --networks N            whole networks per precision (default 24, quick 8)\n"
    "  --window S              seconds each network is measured (default 5 with a hardware\n"
    "                          counter, quick 3; 1 with the estimate, quick 0.5)\n"
    "  --db FILE               SQLite database of the measurements (default: PROFILE.db); a run\n"
    "                          with the same options resumes from it\n"
    "  --fit-only              measure nothing: fit what --db holds (from any machine) into\n"
    "                          PROFILE, with the facts it recorded about that machine; several\n"
    "                          --db FILE after it pool calibrations of one machine\n"
    "  --seed N                seeds the designs, the weights and the CV folds (default 1)\n";

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
    std::fprintf(stderr, "\r\033[K[%s] %d/%d  elapsed %s  ETA %s  %s", bar.c_str(), p.done,
                 p.total, Clock(p.elapsed_s).c_str(), Clock(p.eta_s).c_str(), p.what.c_str());
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

std::string Summary(const TimingOutcome& o, const std::string& output) {
  const Profile& p = o.profile;
  std::string s = "wrote " + output + ": " + std::to_string(o.done) + " measurements (" +
                  std::to_string(o.done - o.resumed) + " measured now, " +
                  std::to_string(o.resumed) + " from the database) in " + Clock(o.elapsed_s) +
                  "\n";
  s += "meter " + p.meter_kind + (p.meter_real ? " (hardware counter)" : " (estimate, not a counter)") +
       ": " + p.meter_description + "\n";
  char line[256];
  for (const auto& [precision, m] : p.time_models) {
    std::snprintf(line, sizeof line,
                  "%s: launch %.3g us, device scale conv %.3g linear %.3g memory %.3g, optimizer "
                  "%.3g launches/tensor, step overhead %.3g ms, dynamic power %.1f W\n",
                  precision.c_str(), m.launch_s * 1e6, m.device_scale.conv,
                  m.device_scale.linear, m.device_scale.memory,
                  m.optimizer_launches_per_tensor, m.step_overhead_s * 1e3, m.dynamic_w);
    s += line;
    std::snprintf(line, sizeof line, "  %-22s %7s  %-9s %12s %12s %12s\n", "family", "timings",
                  "cv_mape", "floor fwd", "GMAC/s fwd", "GB/s fwd");
    s += line;
    for (const auto& [name, f] : m.families) {
      std::snprintf(line, sizeof line, "  %-22s %7d  %-9s %9.3g us %12.4g %12.4g\n",
                    name.c_str(), f.samples, Percent(f.cv_mape).c_str(), f.host_fwd_s * 1e6,
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
    } else if (a == "--fit-only") {
      options.fit_only = true;
    } else if (a == "--threads" || a == "--seed" || a == "--layers-per-design" ||
               a == "--networks") {
      auto v = value();
      const int64_t min = a == "--threads" || a == "--seed" ? 0 : a == "--networks" ? 3 : 1;
      const int64_t max = a == "--threads" ? 1024 : a == "--seed" ? INT64_MAX : 100000;
      auto n = v ? IntIn(*v, min, max) : std::nullopt;
      if (!n) {
        return Fail(a + " needs an integer from " + std::to_string(min) + " to " +
                    std::to_string(max));
      }
      if (a == "--threads") options.threads = static_cast<int>(*n);
      else if (a == "--seed") options.seed = static_cast<uint64_t>(*n);
      else if (a == "--networks") options.networks = static_cast<int>(*n);
      else options.layers_per_design = static_cast<int>(*n);
    } else if (a == "--window") {
      auto v = value();
      auto x = v ? PositiveReal(*v) : std::nullopt;
      if (!x || *x > 600) return Fail("--window needs seconds between 0 and 600, such as 5");
      options.window_s = *x;
    } else if (a == "--precision") {
      auto v = value();
      if (!v || v->empty()) return Fail("--precision needs fp32, bf16 or fp16 (or a list: fp32,bf16)");
      options.precisions.clear();
      size_t from = 0;
      while (from <= v->size()) {
        const size_t comma = v->find(',', from);
        const std::string p = v->substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        if (p != "fp32" && p != "bf16" && p != "fp16") {
          return Fail("--precision: '" + p + "' is not fp32, bf16 or fp16");
        }
        if (std::find(options.precisions.begin(), options.precisions.end(), p) == options.precisions.end()) {
          options.precisions.push_back(p);
        }
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    } else if (IsMeterFlag(a)) {
      std::string error = ParseMeterFlag(a, value(), &options.device, &meter_options);
      if (!error.empty()) return Fail(error);
    } else if (a == "--db") {
      auto v = value();
      if (!v || v->empty()) return Fail("--db needs a file name");
      if (!db.empty() && !options.fit_only) {
        return Fail("--db is given twice; several databases can only be pooled with --fit-only "
                    "(before the first --db)");
      }
      if (db.empty()) db = *v;
      else options.extra_db_paths.push_back(*v);
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
  if (options.fit_only) {
    if (db.empty()) return Fail("--fit-only needs --db FILE, the measurements to fit");
    Result<TimingOutcome> outcome = RunTimingCalibration(options, nullptr);
    if (!outcome.ok()) return Fail(outcome.status().message());
    if (std::string error = WriteOutput(output, ProfileJson(outcome->profile)); !error.empty()) {
      return Fail(error);
    }
    std::fputs(Summary(*outcome, output).c_str(), stdout);
    return 0;
  }
  if (Status s = CheckDevice(options.device); !s.ok()) return Fail(s.message());
  for (const std::string& p : options.precisions) {
    if (Status s = CheckPrecision(options.device, p); !s.ok()) return Fail(s.message());
  }
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
    return RunTimingCalibration(options, meter->get());
  }();
  view.Finish();
  if (!outcome.ok()) {
    if (last.done == 0) return Fail(outcome.status().message());
    return Fail(outcome.status().message() + " (the " + std::to_string(last.done) +
                " measurements taken so far are kept in " + options.db_path + ")");
  }
  if (outcome->interrupted) {
    return Fail("interrupted: " + std::to_string(outcome->done) + " of " +
                std::to_string(outcome->total) + " measurements are saved in " + options.db_path +
                "; run the same command again to resume (" + output + " was not written)");
  }
  std::string error = WriteOutput(output, ProfileJson(outcome->profile));
  if (!error.empty()) {
    return Fail(error + "; all " + std::to_string(outcome->done) + " measurements are in " +
                options.db_path + ": run the same command again to fit and write without "
                "measuring");
  }
  std::fputs(Summary(*outcome, output).c_str(), stdout);
  return 0;
}

}  // namespace joulecast::cli
