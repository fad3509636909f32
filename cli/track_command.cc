// `joulecast track [options] -- CMD [ARGS...]`: runs a command, measures the energy it uses
// while it runs, sets the prediction beside it, and keeps the run in the local history
// (docs/track.md). Links the meters only: libtorch is never loaded.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/analysis.h"
#include "analyzer/report/format.h"
#include "analyzer/track/run_history.h"
#include "analyzer/track/tracked_run.h"
#include "calibrate/meters/child_meter.h"
#include "cli/analysis_flags.h"
#include "cli/child_meter_options.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/meter_flags.h"
#include "common/utc_time.h"

extern char** environ;

namespace joulecast::cli {

namespace {

constexpr const char* kTrackUsage =
    "usage: joulecast track [--meter auto|rapl|nvml|estimate] [--cpu-watts W]\n"
    "                       [--predict MODEL [--profile P] [--batch N] [--epochs E]\n"
    "                        [--samples N] [--precision P]] [--region CODE]\n"
    "                       [--carbon-intensity G] [--format text|json|markdown] [-o FILE]\n"
    "                       [--history PATH | --no-history] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD, measures the energy it uses while it runs, and exits with its exit code\n"
    "(128 + N when signal N ended it). Ctrl-C reaches CMD; SIGINT or SIGTERM sent to joulecast\n"
    "is passed on. Every run is kept in the history (joulecast history); docs/track.md.\n";

constexpr double kPollPeriodS = 0.1;  // how often the command's end is checked
constexpr double kReadPeriodS = 0.5;  // how often the meters are read (RAPL wraps in minutes)

std::atomic<pid_t> g_child{0};
std::atomic<int> g_signal{0};

// A signal typed at the terminal reaches the whole foreground process group, the command
// included; one sent to joulecast alone (kill, a job scheduler) is passed on to the command.
extern "C" void OnSignal(int sig, siginfo_t* info, void*) {
  g_signal.store(sig);
  const pid_t child = g_child.load();
  if (child > 0 && info != nullptr && info->si_code <= 0) kill(child, sig);
}

class ForwardSignals {
 public:
  ForwardSignals() {
    struct sigaction sa {};
    sa.sa_sigaction = OnSignal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~ForwardSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void SleepS(double s) {
  timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<time_t>(s)) * 1e9)};
  nanosleep(&ts, nullptr);  // a signal may end it early; the loop checks again
}

// Starts `command` with the default SIGINT and SIGTERM actions, in joulecast's process group.
int Spawn(const std::vector<std::string>& command, pid_t* pid) {
  std::vector<char*> argv;
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  const int rc = posix_spawnp(pid, argv[0], nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  return rc;
}

struct Options {
  ChildMeterOptions meter;
  std::string format = "text", output, history;
  bool no_history = false;
  AnalysisRequest request;
};

// The prediction for --predict, or an error line.
Result<track::TrackPrediction> Predict(const AnalysisRequest& request) {
  Result<Analysis> a = RunAnalysis(request);
  if (!a.ok()) return a.status();
  track::TrackPrediction p;
  p.model = request.model;
  p.model_name = a->graph.name;
  p.profile = a->profile->source;
  p.profile_real = a->profile->meter_real;
  p.energy_j = a->run->total.mid.energy_j;
  p.low_j = a->run->total.low.energy_j;
  p.high_j = a->run->total.high.energy_j;
  p.time_s = a->run->total.mid.time_s;
  p.training = a->training;
  return p;
}

// Runs `command` under `meter`, passing stop signals on, and fills in how it ended and what
// it used.
void RunAndMeasure(const std::vector<std::string>& command, ChildMeter& meter,
                   track::TrackedRun* run) {
  const bool live = isatty(STDERR_FILENO);
  ForwardSignals forward;
  g_signal.store(0);
  std::fflush(nullptr);
  run->started_utc = UtcNow();
  const auto start = std::chrono::steady_clock::now();
  // A signal that comes while the command starts waits until it can be passed on.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
  pid_t pid = 0;
  std::string meter_error = meter.Arm();
  const int spawn_error = Spawn(command, &pid);
  if (spawn_error == 0) g_child.store(pid);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  int status = 0;
  if (spawn_error != 0) {
    std::fprintf(stderr, "joulecast track: cannot run '%s': %s\n", command[0].c_str(),
                 std::strerror(spawn_error));
    run->exit_code = spawn_error == ENOENT ? 127 : 126;  // as a shell reports it
  } else {
    if (meter_error.empty()) meter_error = meter.Start(pid);
    double last_read = 0;
    while (true) {
      const pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) break;
      SleepS(kPollPeriodS);
      const double elapsed = Since(start);
      if (elapsed - last_read < kReadPeriodS || !meter_error.empty()) continue;
      double energy_j = 0;
      meter_error = meter.Poll(&energy_j);
      last_read = elapsed;
      if (live && meter_error.empty()) {
        std::fprintf(stderr, "\r\033[Kjoulecast track: %s, %s, %s mean",
                     report::Duration(elapsed).c_str(), report::Quantity(energy_j, "J").c_str(),
                     report::Quantity(elapsed > 0 ? energy_j / elapsed : 0, "W").c_str());
      }
    }
    g_child.store(0);
    if (live) std::fprintf(stderr, "\r\033[K");
    if (meter_error.empty()) meter_error = meter.Finish();
    run->exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : 1;
  }
  run->duration_s = Since(start);
  const bool signalled = spawn_error == 0 && WIFSIGNALED(status) &&
                         (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGTERM);
  run->status = g_signal.load() != 0 || signalled ? track::RunStatus::interrupted
                : run->exit_code == 0             ? track::RunStatus::ok
                                                  : track::RunStatus::failed;
  run->devices = meter.devices();
  for (const DeviceEnergy& d : run->devices) run->energy_j += d.energy_j;
  run->meter = meter.kind();
  run->meter_real = meter.real();
  if (!meter_error.empty()) {
    std::fprintf(stderr, "joulecast track: meter: %s (the energy stops at its last reading)\n",
                 meter_error.c_str());
  }
}

}  // namespace

int Track(const std::vector<std::string>& all_args) {
  Options o;
  o.request.default_profile_path = DefaultProfilePath();
  o.request.require_profile = true;
  o.request.carbon_table_path = CarbonTablePath();

  std::vector<std::string> args, command;
  bool after = false;
  for (const std::string& a : all_args) {
    if (!after && a == "--") {
      after = true;
    } else {
      (after ? command : args).push_back(a);
    }
  }
  // clang-format off
  std::vector<Flag> flags = {
      MeterFlag(&o.meter.meter,
                "auto (default: RAPL and every visible GPU's NVML counter that opens, else\n"
                "the estimate), rapl, nvml or estimate"),
      CpuWattsFlag(&o.meter.meter, "the estimate's power per busy thread, in watts"),
      {.name = "--predict", .metavar = "MODEL", .kind = FlagKind::text, .empty_ok = false,
       .help = "predict MODEL's training (.onnx or .json) and set it beside the measurement",
       .set = Into(&o.request.model)},
      ProfileFlag(&o.request, "with --predict: the hardware profile (default:\n"
                              "data/profiles/default.json)"),
  };
  for (Flag& f : AnalysisFlags(&o.request)) {
    if (f.name != "--input") flags.push_back(std::move(f));
  }
  flags.push_back({.name = "--format", .metavar = "F", .kind = FlagKind::choice,
                   .choices = {"text", "json", "markdown"},
                   .help = "text (default), json (schema joulecast.track/1) or markdown",
                   .set = Into(&o.format)});
  flags.push_back(OutputFlag(&o.output, "write the report to FILE instead of standard output"));
  flags.push_back({.name = "--history", .metavar = "PATH", .kind = FlagKind::text,
                   .empty_ok = false,
                   .help = "the history database (default: $JOULECAST_HISTORY, else\n"
                           "$XDG_DATA_HOME/joulecast/history.db, else\n"
                           "~/.local/share/joulecast/history.db)",
                   .set = Into(&o.history)});
  flags.push_back({.name = "--no-history", .help = "do not keep the run in the history",
                   .set = Into(&o.no_history)});
  // clang-format on
  CommandLine cli("track", kTrackUsage, 20, std::move(flags));
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (!after || command.empty()) {
    return cli.Fail(
        "no command to run: give it after --, as in joulecast track -- python3 train.py");
  }
  if (o.request.model.empty()) {
    for (const char* f : {"--profile", "--batch", "--epochs", "--samples", "--precision"}) {
      if (cli.Given(f)) return cli.Fail(std::string(f) + " needs --predict MODEL");
    }
  }
  if (o.no_history && cli.Given("--history"))
    return cli.Fail("--history and --no-history conflict");
  if (!o.no_history && o.history.empty()) {
    o.history = track::DefaultHistoryPath();
    if (o.history.empty()) {
      return cli.Fail(
          "no history path: set HOME, JOULECAST_HISTORY or --history (or --no-history)");
    }
  }
  if (std::string e = CheckWritable(o.output, "nothing was run"); !e.empty()) return cli.Fail(e);

  track::TrackedRun run;
  run.command = command;
  Result<CarbonIntensity> carbon = ResolveCarbon(o.request.carbon, o.request.carbon_table_path);
  if (!carbon.ok()) return cli.Fail(carbon.status().message());
  run.carbon = *carbon;
  if (!o.request.model.empty()) {
    Result<track::TrackPrediction> p = Predict(o.request);
    if (!p.ok()) return cli.Fail(p.status().message());
    run.prediction = *p;
  }
  Result<std::unique_ptr<ChildMeter>> meter =
      OpenChildMeter(ChildMeterOptionsFromEnvironment(o.meter.meter), &run.meter_why);
  if (!meter.ok()) return cli.Fail(meter.status().message());

  RunAndMeasure(command, **meter, &run);
  if (!o.no_history) {
    if (Status s = track::AppendRun(o.history, run); !s.ok()) {
      std::fprintf(stderr, "joulecast track: history: %s\n", s.message().c_str());
    }
  }
  const track::TrackFormat format = o.format == "json"       ? track::TrackFormat::json
                                    : o.format == "markdown" ? track::TrackFormat::markdown
                                                             : track::TrackFormat::text;
  if (std::string e = WriteOutput(o.output, track::RenderTrackedRun(run, format)); !e.empty()) {
    std::fprintf(stderr, "joulecast track: %s\n", e.c_str());
  }
  return run.exit_code;
}

int History(const std::vector<std::string>& args) {
  std::string path, format = "text";
  // clang-format off
  CommandLine cli("history",
                  "usage: joulecast history [--history PATH] [--format text|json]\n\n"
                  "Lists the runs joulecast track measured, and each profile's error on the\n"
                  "completed runs that had a prediction (docs/track.md).\n",
                  20,
                  {{.name = "--history", .metavar = "PATH", .kind = FlagKind::text,
                    .empty_ok = false,
                    .help = "the history database (default: as joulecast track's)",
                    .set = Into(&path)},
                   {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
                    .choices = {"text", "json"},
                    .help = "text (default) or json (schema joulecast.history/1)",
                    .set = Into(&format)}});
  // clang-format on
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (path.empty()) path = track::DefaultHistoryPath();
  if (path.empty()) return cli.Fail("no history path: set HOME, JOULECAST_HISTORY or --history");
  Result<std::vector<track::HistoryRow>> rows = track::ReadHistory(path);
  if (!rows.ok()) return cli.Fail(rows.status().message());
  std::fputs(track::RenderHistory(path, *rows, format == "json").c_str(), stdout);
  return 0;
}

}  // namespace joulecast::cli
