#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "calibrate/meters/fake_nvml.h"
#include "calibrate/meters/meter.h"
#include "calibrate/meters/rapl_meter.h"
#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::TempDir;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A one-package powercap tree in dir/powercap.
void PackageZone(const TempDir& dir) {
  dir.Write("powercap/intel-rapl:0/name", "package-0\n");
  dir.Write("powercap/intel-rapl:0/energy_uj", "1000\n");
  dir.Write("powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
}

testing::FakeNvml* Fake() {
  static void* handle = dlopen(JOULECAST_FAKE_NVML, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return nullptr;
  auto state = reinterpret_cast<testing::FakeNvml* (*)()>(dlsym(handle, "fake_nvml_state"));
  return state != nullptr ? state() : nullptr;
}

class OpenMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options.powercap_root = dir / "powercap";
    options.cpuinfo_path = dir / "cpuinfo";
    options.nvml_library = dir / "no-libnvidia-ml.so.1";
    dir.Write("cpuinfo", "model name\t: AMD EPYC 7763 64-Core Processor\n");
  }
  TempDir dir;
  MeterOptions options;
  std::string why;
};

TEST_F(OpenMeterTest, UnknownKindListsTheValidOnes) {
  options.kind = "wattmeter";
  auto meter = OpenMeter(options, &why);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().message(),
            "unknown meter 'wattmeter': expected auto, rapl, nvml or estimate");
}

TEST_F(OpenMeterTest, AutoWithoutCountersPicksTheEstimateAndSaysWhy) {
  auto meter = OpenMeter(options, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(meter.value()->kind(), "estimate");
  EXPECT_FALSE(meter.value()->real());
  EXPECT_EQ(why.rfind("auto picked the estimate", 0), 0u) << why;
  EXPECT_TRUE(Contains(why, "RAPL: no powercap tree at " + options.powercap_root)) << why;
  EXPECT_FALSE(Contains(why, "NVML")) << "a CPU run does not try NVML: " << why;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

TEST_F(OpenMeterTest, AutoPrefersARealRaplCounter) {
  PackageZone(dir);
  options.cpu_watts = 4;
  auto meter = OpenMeter(options, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(meter.value()->kind(), "rapl");
  EXPECT_TRUE(meter.value()->real());
  EXPECT_EQ(why,
            "auto picked rapl, the CPU's hardware counter (--cpu-watts unused: a real "
            "counter is available)");
}

TEST_F(OpenMeterTest, AutoFallsBackWhenTheCounterCannotBeRead) {
  dir.Write("powercap/intel-rapl:0/name", "package-0\n");
  dir.Write("powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  std::filesystem::create_directories(options.powercap_root + "/intel-rapl:0/energy_uj");
  auto meter = OpenMeter(options, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(meter.value()->kind(), "estimate");
  EXPECT_TRUE(Contains(why, "RAPL: cannot read " + options.powercap_root +
                                "/intel-rapl:0/energy_uj: Is a directory"))
      << why;
}

TEST_F(OpenMeterTest, ExplicitRaplOrNvmlNeverFallsBack) {
  options.kind = "rapl";
  auto rapl = OpenMeter(options, &why);
  ASSERT_FALSE(rapl.ok());
  EXPECT_EQ(rapl.status().message().rfind("RAPL: no powercap tree at ", 0), 0u)
      << rapl.status().message();
  options.kind = "nvml";
  auto nvml = OpenMeter(options, &why);
  ASSERT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.status().message().rfind("NVML: cannot load ", 0), 0u) << nvml.status().message();
}

TEST_F(OpenMeterTest, ExplicitEstimate) {
  options.kind = "estimate";
  auto meter = OpenMeter(options, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(meter.value()->kind(), "estimate");
  EXPECT_EQ(why, "estimate, as asked");
  EXPECT_TRUE(
      Contains(meter.value()->description(), "2.19 W per busy thread (table: AMD EPYC 7763"))
      << meter.value()->description();
}

TEST_F(OpenMeterTest, BadCpuWattsIsAnErrorWhateverTheKind) {
  options.cpu_watts = -1;
  for (const char* kind : {"auto", "estimate", "rapl"}) {
    options.kind = kind;
    auto meter = OpenMeter(options, &why);
    ASSERT_FALSE(meter.ok()) << kind;
    EXPECT_TRUE(Contains(meter.status().message(), "--cpu-watts")) << meter.status().message();
  }
}

TEST_F(OpenMeterTest, AutoOnAGpuRunPrefersNvml) {
  testing::FakeNvml* fake = Fake();
  ASSERT_NE(fake, nullptr) << JOULECAST_FAKE_NVML;
  fake->Reset();
  PackageZone(dir);
  options.nvml_library = JOULECAST_FAKE_NVML;

  auto cpu_run = OpenMeter(options, &why);
  ASSERT_TRUE(cpu_run.ok()) << cpu_run.status().message();
  EXPECT_EQ(cpu_run.value()->kind(), "rapl");
  EXPECT_EQ(fake->inits, 0) << "a CPU run must not open NVML";

  options.gpu = true;
  auto gpu_run = OpenMeter(options, &why);
  ASSERT_TRUE(gpu_run.ok()) << gpu_run.status().message();
  EXPECT_EQ(gpu_run.value()->kind(), "nvml");
  EXPECT_EQ(why, "auto picked nvml, the GPU's hardware counter");
}

TEST_F(OpenMeterTest, AutoOnAGpuRunWithoutNvmlSaysTheGpuIsNotCounted) {
  options.gpu = true;
  PackageZone(dir);
  auto rapl = OpenMeter(options, &why);
  ASSERT_TRUE(rapl.ok()) << rapl.status().message();
  EXPECT_EQ(rapl.value()->kind(), "rapl");
  EXPECT_EQ(why.rfind("auto picked rapl, the CPU's hardware counter, not counting the GPU: "
                      "NVML: cannot load ",
                      0),
            0u)
      << why;

  std::filesystem::remove_all(options.powercap_root);
  auto estimate = OpenMeter(options, &why);
  ASSERT_TRUE(estimate.ok()) << estimate.status().message();
  EXPECT_EQ(estimate.value()->kind(), "estimate");
  EXPECT_TRUE(Contains(why, "does not count the GPU: NVML: cannot load ")) << why;
  EXPECT_TRUE(Contains(why, "; RAPL: no powercap tree")) << why;
}

// This machine, whatever it has: auto takes RAPL exactly when RAPL opens, and otherwise names
// RAPL's reason (in this project's VM: no /sys/class/powercap at all).
TEST(OpenMeter, AutoOnThisMachineAgreesWithRapl) {
  const MeterOptions options;
  std::string why;
  auto meter = OpenMeter(options, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  auto rapl = RaplMeter::Open(options.powercap_root);
  if (rapl.ok()) {
    EXPECT_EQ(meter.value()->kind(), "rapl") << why;
  } else {
    EXPECT_EQ(meter.value()->kind(), "estimate");
    EXPECT_TRUE(Contains(why, rapl.status().message())) << why;
    EXPECT_TRUE(Contains(meter.value()->description(), "estimate, not a counter"));
  }
  std::printf("auto on this machine: %s\n  %s\n", why.c_str(),
              meter.value()->description().c_str());
}

}  // namespace
}  // namespace joulecast
