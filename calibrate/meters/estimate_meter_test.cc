#include "calibrate/meters/estimate_meter.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "calibrate/meters/cpu_power_table.h"
#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::TempDir;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

MeterOptions WithCpuinfo(const TempDir& dir, const std::string& model_name) {
  dir.Write("cpuinfo", "processor\t: 0\nmodel name\t: " + model_name + "\n");
  MeterOptions options;
  options.kind = "estimate";
  options.cpuinfo_path = dir / "cpuinfo";
  return options;
}

TEST(ChooseCpuWatts, DeclaredWattsWin) {
  TempDir dir;
  MeterOptions options = WithCpuinfo(dir, "AMD EPYC 7763 64-Core Processor");
  options.cpu_watts = 7.5;
  Result<CpuWatts> w = ChooseCpuWatts(options);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->watts_per_thread, 7.5);
  EXPECT_EQ(w->source, "--cpu-watts");
}

TEST(ChooseCpuWatts, RejectsWattsThatAreNotAPowerPerThread) {
  for (double bad : {0.0, -3.0, 5000.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    MeterOptions options;
    options.cpu_watts = bad;
    Result<CpuWatts> w = ChooseCpuWatts(options);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_TRUE(Contains(w.status().message(), "--cpu-watts")) << w.status().message();
  }
}

TEST(ChooseCpuWatts, LooksTheModelUpInTheTable) {
  TempDir dir;
  Result<CpuWatts> w = ChooseCpuWatts(WithCpuinfo(dir, "AMD EPYC 7763 64-Core Processor"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_DOUBLE_EQ(w->watts_per_thread, 280.0 / 128);
  EXPECT_EQ(w->source, "table: AMD EPYC 7763 64-Core Processor, 280 W TDP / 128 threads");
}

TEST(ChooseCpuWatts, UnknownModelGetsTheStatedDefault) {
  TempDir dir;
  Result<CpuWatts> w = ChooseCpuWatts(WithCpuinfo(dir, "AMD EPYC"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->watts_per_thread, kDefaultWattsPerThread);
  EXPECT_EQ(w->source, "default: CPU 'AMD EPYC' is not in the table");
}

TEST(ChooseCpuWatts, UnreadableCpuinfoGetsTheDefaultAndSaysWhy) {
  TempDir dir;
  MeterOptions options;
  options.cpuinfo_path = dir / "missing";
  Result<CpuWatts> w = ChooseCpuWatts(options);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->watts_per_thread, kDefaultWattsPerThread);
  EXPECT_TRUE(Contains(w->source, dir / "missing")) << w->source;
}

TEST(EstimateMeter, SaysItIsAnEstimateAndWhereTheWattsCameFrom) {
  TempDir dir;
  auto meter = EstimateMeter::Open(WithCpuinfo(dir, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"));
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(meter.value()->kind(), "estimate");
  EXPECT_FALSE(meter.value()->real());
  EXPECT_EQ(meter.value()->description(),
            "estimate, not a counter: process CPU time x 3.75 W per busy thread (table: "
            "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz, 150 W TDP / 40 threads; --cpu-watts "
            "overrides)");
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Spins until this thread has used `seconds` of CPU, however busy the machine is.
void Burn(double seconds) {
  const double start = ThreadCpuSeconds();
  volatile uint64_t sink = 0;
  while (ThreadCpuSeconds() - start < seconds) {
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<uint64_t>(i) * 2654435761u;
  }
}

double RusageCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

TEST(EstimateMeter, EnergyIsCpuTimeOfAllThreadsTimesWatts) {
  MeterOptions options;
  options.cpu_watts = 5;
  auto meter = EstimateMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  const double rusage_before = RusageCpuSeconds();
  // Two threads of 0.2 s CPU each: 0.4 CPU seconds whether or not they ran in parallel.
  std::thread a(Burn, 0.2), b(Burn, 0.2);
  a.join();
  b.join();
  Result<double> e = meter.value()->EnergyJ();
  const double rusage_cpu_s = RusageCpuSeconds() - rusage_before;
  ASSERT_TRUE(e.ok()) << e.status().message();
  const double cpu_s = *e / 5;
  EXPECT_GE(cpu_s, 0.4);
  EXPECT_LT(cpu_s, 0.5);
  // Independently counted by the kernel's rusage (microsecond resolution).
  EXPECT_NEAR(cpu_s, rusage_cpu_s, 0.02);

  // Cumulative since Open.
  Burn(0.05);
  Result<double> later = meter.value()->EnergyJ();
  ASSERT_TRUE(later.ok());
  EXPECT_GE(*later - *e, 0.05 * 5);
}

}  // namespace
}  // namespace joulecast
