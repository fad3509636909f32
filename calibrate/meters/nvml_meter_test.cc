#include "calibrate/meters/nvml_meter.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "calibrate/meters/fake_nvml.h"

namespace joulecast {
namespace {

using Clock = std::chrono::steady_clock;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

TEST(PowerIntegrator, TrapezoidRule) {
  PowerIntegrator constant;
  constant.Add(10.0, 100);
  EXPECT_EQ(constant.energy_j(), 0);  // one sample: no interval yet
  constant.Add(11.5, 100);
  constant.Add(12.0, 100);
  EXPECT_DOUBLE_EQ(constant.energy_j(), 200);

  PowerIntegrator ramp;  // exact for power linear in time
  ramp.Add(0, 0);
  ramp.Add(0.25, 25);
  ramp.Add(1.0, 100);
  EXPECT_DOUBLE_EQ(ramp.energy_j(), 50);

  PowerIntegrator step;  // 100 W then 300 W, sampled at the edges
  step.Add(0, 100);
  step.Add(2, 100);
  step.Add(2, 300);  // same instant: ignored
  step.Add(3, 300);
  EXPECT_DOUBLE_EQ(step.energy_j(), 200 + 200);
  EXPECT_EQ(step.samples(), 3);
}

TEST(PowerIntegrator, IgnoresSamplesGoingBackInTime) {
  PowerIntegrator p;
  p.Add(1, 50);
  p.Add(0.5, 1000);
  p.Add(2, 50);
  EXPECT_DOUBLE_EQ(p.energy_j(), 50);
}

TEST(NvmlMeter, MissingLibraryIsOneClearLine) {
  MeterOptions options;
  options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  const std::string m = meter.status().message();
  EXPECT_EQ(m.rfind("NVML: cannot load /nonexistent/libnvidia-ml.so.1 (", 0), 0u) << m;
  EXPECT_TRUE(Contains(m, "No such file")) << m;
  EXPECT_TRUE(Contains(m, "NVIDIA driver")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(NvmlMeter, LibraryWithoutNvmlIsAnError) {
  MeterOptions options;
  options.nvml_library = "libm.so.6";
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().message(),
            "NVML: libm.so.6 has no nvmlInit_v2 (not NVML, or a driver too old)");
}

// The real library, whatever this machine has: a meter or one line, never a crash.
TEST(NvmlMeter, TheRealLibraryOpensOrSaysWhy) {
  auto meter = NvmlMeter::Open(MeterOptions());
  if (meter.ok()) {
    Result<double> e = meter.value()->EnergyJ();
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_GE(*e, 0);
  } else {
    EXPECT_EQ(meter.status().message().rfind("NVML: ", 0), 0u) << meter.status().message();
    EXPECT_EQ(meter.status().message().find('\n'), std::string::npos);
  }
}

TEST(NvmlMeter, NegativeIndexIsAnError) {
  MeterOptions options;
  options.gpu_index = -1;
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_TRUE(Contains(meter.status().message(), "negative")) << meter.status().message();
}

// Tests against the fake library (fake_nvml.cc), which the test keeps loaded to reach its state.
class FakeNvmlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    handle_ = dlopen(JOULECAST_FAKE_NVML, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto state = reinterpret_cast<testing::FakeNvml* (*)()>(dlsym(handle_, "fake_nvml_state"));
    ASSERT_NE(state, nullptr);
    fake_ = state();
  }
  void SetUp() override {
    ASSERT_NE(fake_, nullptr);
    fake_->Reset();
    options.kind = "nvml";
    options.nvml_library = JOULECAST_FAKE_NVML;
  }

  static void* handle_;
  static testing::FakeNvml* fake_;
  MeterOptions options;
};
void* FakeNvmlTest::handle_ = nullptr;
testing::FakeNvml* FakeNvmlTest::fake_ = nullptr;

TEST_F(FakeNvmlTest, ReadsTheTotalEnergyCounter) {
  fake_->energy_mj = 1000;
  auto meter = NvmlMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_TRUE(meter.value()->has_energy_counter());
  EXPECT_EQ(meter.value()->kind(), "nvml");
  EXPECT_TRUE(meter.value()->real());
  EXPECT_EQ(meter.value()->description(), "NVML GPU 0 (Fake GPU 0): total-energy counter");
  fake_->energy_mj = 3500;
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_DOUBLE_EQ(*e, 2.5);
  EXPECT_EQ(fake_->power_reads, 0) << "no sampling when the counter exists";
  meter.value().reset();
  EXPECT_EQ(fake_->shutdowns, 1);
}

TEST_F(FakeNvmlTest, ReportsTheEnforcedPowerLimitOrZero) {
  auto unknown = NvmlMeter::Open(options);
  ASSERT_TRUE(unknown.ok()) << unknown.status().message();
  EXPECT_EQ(unknown.value()->power_limit_w(), 0) << "not supported: unknown";
  unknown.value().reset();
  fake_->limit_mw = 700000;
  auto meter = NvmlMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_DOUBLE_EQ(meter.value()->power_limit_w(), 700);
}

TEST_F(FakeNvmlTest, SynchronisesBeforeEachReading) {
  fake_->energy_mj = 1000;
  int syncs = 0;
  // Queued GPU work that finishes only when synchronised: its energy must be in the reading.
  options.synchronize = [&] {
    ++syncs;
    fake_->energy_mj += 500;
  };
  auto meter = NvmlMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(syncs, 1);
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(syncs, 2);
  EXPECT_DOUBLE_EQ(*e, 0.5);
}

TEST_F(FakeNvmlTest, CounterGoingBackwardsIsAnError) {
  fake_->energy_mj = 1000;
  auto meter = NvmlMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  fake_->energy_mj = 10;
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "went backwards")) << e.status().message();
}

TEST_F(FakeNvmlTest, WithoutACounterSamplesPowerInAThreadAndIntegrates) {
  fake_->has_energy = false;
  fake_->power_mw = 100000;  // 100 W
  const Clock::time_point before_open = Clock::now();
  auto meter = NvmlMeter::Open(options);
  const Clock::time_point after_open = Clock::now();
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_FALSE(meter.value()->has_energy_counter());
  EXPECT_TRUE(Contains(meter.value()->description(), "power sampled every 20 ms"))
      << meter.value()->description();

  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Clock::time_point before_read = Clock::now();
  Result<double> e = meter.value()->EnergyJ();
  const Clock::time_point after_read = Clock::now();
  ASSERT_TRUE(e.ok()) << e.status().message();
  // Constant power: exactly 100 W x (read time - open time), which lies between these bounds.
  EXPECT_GE(*e, 100 * Seconds(after_open, before_read));
  EXPECT_LE(*e, 100 * Seconds(before_open, after_read));
  // About ten samples from the thread (every 20 ms), one at open and one at the read.
  EXPECT_GE(fake_->power_reads, 4);

  meter.value().reset();
  EXPECT_EQ(fake_->shutdowns, 1);
  const int reads_after_close = fake_->power_reads;
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(fake_->power_reads, reads_after_close) << "the sampler thread outlived the meter";
}

TEST_F(FakeNvmlTest, LostGpuWhileSamplingIsAnError) {
  fake_->has_energy = false;
  fake_->power_mw = 50000;
  auto meter = NvmlMeter::Open(options);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  fake_->power_result = 15;  // NVML_ERROR_GPU_IS_LOST
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "NVML: reading the power of GPU 0 (Fake GPU 0) failed: GPU is lost");
}

TEST_F(FakeNvmlTest, NoEnergyAndNoPowerIsAnError) {
  fake_->has_energy = false;
  fake_->power_result = 3;  // NVML_ERROR_NOT_SUPPORTED
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().message(),
            "NVML: GPU 0 (Fake GPU 0) reports neither energy (total energy: Not Supported) nor "
            "power (Not Supported)");
  EXPECT_EQ(fake_->shutdowns, 1);
}

TEST_F(FakeNvmlTest, NoGpuIsAnErrorAndNvmlIsShutDown) {
  fake_->device_count = 0;
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().message(), "NVML: no GPU at index 0 (0 NVIDIA GPUs visible)");
  EXPECT_EQ(fake_->inits, 1);
  EXPECT_EQ(fake_->shutdowns, 1);
}

TEST_F(FakeNvmlTest, IndexPastTheLastGpuIsAnError) {
  fake_->device_count = 2;
  options.gpu_index = 5;
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().message(), "NVML: no GPU at index 5 (2 NVIDIA GPUs visible)");
  options.gpu_index = 1;
  auto second = NvmlMeter::Open(options);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second.value()->description(), "NVML GPU 1 (Fake GPU): total-energy counter");
}

TEST_F(FakeNvmlTest, DriverNotLoadedIsAnError) {
  fake_->init_result = 9;  // NVML_ERROR_DRIVER_NOT_LOADED
  auto meter = NvmlMeter::Open(options);
  ASSERT_FALSE(meter.ok());
  EXPECT_TRUE(Contains(meter.status().message(), "NVML: initialisation failed: Driver Not Loaded"))
      << meter.status().message();
  EXPECT_EQ(fake_->shutdowns, 0) << "shut down without a successful init";
}

}  // namespace
}  // namespace joulecast
