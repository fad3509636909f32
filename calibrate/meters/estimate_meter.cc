#include "calibrate/meters/estimate_meter.h"

#include <time.h>

#include <cmath>
#include <cstdio>

#include "calibrate/meters/cpu_power_table.h"

namespace joulecast {
namespace {

std::string Watts(double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", w);
  return buf;
}

}  // namespace

double ProcessCpuSeconds() {
  timespec ts{};
  // Cannot fail for this clock id on Linux; a zero reading would only make the estimate 0.
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<CpuWatts> ChooseCpuWatts(const MeterOptions& options) {
  if (options.cpu_watts) {
    const double w = *options.cpu_watts;
    if (!std::isfinite(w) || w <= 0 || w > 1000) {
      return Status::Error("--cpu-watts " + Watts(w) +
                           ": expected the power of one busy CPU thread in watts, in (0, 1000]");
    }
    return CpuWatts{w, "--cpu-watts"};
  }
  Result<std::string> model = ReadCpuModel(options.cpuinfo_path);
  if (!model.ok()) {
    return CpuWatts{kDefaultWattsPerThread,
                    "default: CPU model unknown (" + model.status().message() + ")"};
  }
  if (const CpuPowerRow* row = FindCpuPower(*model)) {
    char tdp[32];
    std::snprintf(tdp, sizeof tdp, "%g", row->tdp_w);
    return CpuWatts{row->watts_per_thread(), "table: " + *model + ", " + tdp + " W TDP / " +
                                                 std::to_string(row->threads) + " threads"};
  }
  return CpuWatts{kDefaultWattsPerThread, "default: CPU '" + *model + "' is not in the table"};
}

Result<std::unique_ptr<EstimateMeter>> EstimateMeter::Open(const MeterOptions& options) {
  Result<CpuWatts> watts = ChooseCpuWatts(options);
  if (!watts.ok()) return watts.status();
  std::function<double()> cpu = options.cpu_seconds ? options.cpu_seconds : ProcessCpuSeconds;
  return std::unique_ptr<EstimateMeter>(new EstimateMeter(std::move(*watts), std::move(cpu)));
}

std::string EstimateMeter::description() const {
  std::string out = "estimate, not a counter: process CPU time x " +
                    Watts(watts_.watts_per_thread) + " W per busy thread (" + watts_.source;
  if (watts_.source != "--cpu-watts") out += "; --cpu-watts overrides";
  return out + ")";
}

Result<double> EstimateMeter::EnergyJ() {
  return (cpu_seconds_() - start_cpu_s_) * watts_.watts_per_thread;
}

}  // namespace joulecast
