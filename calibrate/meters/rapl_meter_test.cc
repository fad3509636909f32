#include "calibrate/meters/rapl_meter.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::TempDir;

// A realistic range: 2^32 counts of 61.035 uJ.
constexpr uint64_t kMaxUj = 262143328850;

// One zone folder the way powercap lays it out.
void Zone(const TempDir& root, const std::string& dir, const std::string& name, uint64_t energy_uj,
          uint64_t max_uj = kMaxUj) {
  root.Write(dir + "/name", name + "\n");
  root.Write(dir + "/energy_uj", std::to_string(energy_uj) + "\n");
  root.Write(dir + "/max_energy_range_uj", std::to_string(max_uj) + "\n");
}

void SetEnergy(const TempDir& root, const std::string& dir, uint64_t energy_uj) {
  root.Write(dir + "/energy_uj", std::to_string(energy_uj) + "\n");
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The labels of the zones `meter` sums, in its order.
std::vector<std::string> Labels(const RaplMeter& meter) {
  std::vector<std::string> labels;
  for (const RaplZone& z : meter.zones()) labels.push_back(z.label);
  return labels;
}

// The error RaplMeter::Open gives for the tree at `root`, which must not open.
std::string OpenError(const std::string& root, ReadFileFn read = ReadSmallFile) {
  auto meter = RaplMeter::Open(root, std::move(read));
  EXPECT_FALSE(meter.ok()) << root;
  return meter.ok() ? std::string() : meter.status().message();
}

// A tree of one package zone, intel-rapl:0, at 100 uJ.
class OnePackage : public ::testing::Test {
 protected:
  void SetUp() override { Zone(root, "intel-rapl:0", "package-0", 100); }
  TempDir root;
};

TEST(RaplDeltaUj, CountsForwardAndAcrossOneWrap) {
  EXPECT_EQ(RaplDeltaUj(100, 100, 999), 0u);
  EXPECT_EQ(RaplDeltaUj(100, 350, 999), 250u);
  // 999 -> 0 is one step of a counter taking the values 0..999.
  EXPECT_EQ(RaplDeltaUj(999, 0, 999), 1u);
  EXPECT_EQ(RaplDeltaUj(990, 5, 999), 15u);  // 9 up to 999, 1 to wrap, 5 after
  EXPECT_EQ(RaplDeltaUj(1, 0, 999), 999u);   // almost a full turn
}

TEST(RaplDeltaUj, DoesNotOverflowAtTheTopOfUint64) {
  constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(RaplDeltaUj(kTop, 0, kTop), 1u);
  EXPECT_EQ(RaplDeltaUj(kTop - 5, 10, kTop), 16u);
  EXPECT_EQ(RaplDeltaUj(1, 0, kTop), kTop);
}

// Two packages with DRAM on the first, psys, core and uncore subzones, the MMIO duplicate of
// package 0 and the control-type folder itself: only package-0, dram-0 and package-1 count.
class RaplTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root.Write("intel-rapl/enabled", "1\n");
    Zone(root, "intel-rapl:0", "package-0", 1000);
    Zone(root, "intel-rapl:0:0", "core", 2000);
    Zone(root, "intel-rapl:0:1", "uncore", 3000);
    Zone(root, "intel-rapl:0:2", "dram", 4000);
    Zone(root, "intel-rapl:1", "package-1", 5000);
    Zone(root, "intel-rapl:2", "psys", 6000);
    Zone(root, "intel-rapl-mmio:0", "package-0", 7000);
  }
  TempDir root;
};

TEST_F(RaplTree, SumsPackagesAndDramWithoutDoubleCounting) {
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  ASSERT_EQ(Labels(**meter), (std::vector<std::string>{"package-0", "dram-0", "package-1"}));

  Result<double> e0 = meter.value()->EnergyJ();
  ASSERT_TRUE(e0.ok()) << e0.status().message();
  EXPECT_EQ(*e0, 0.0);

  SetEnergy(root, "intel-rapl:0", 1000 + 1000000);       // package-0: +1 J
  SetEnergy(root, "intel-rapl:0:0", 2000 + 700000);      // core: inside package-0
  SetEnergy(root, "intel-rapl:0:1", 3000 + 100000);      // uncore: inside package-0
  SetEnergy(root, "intel-rapl:0:2", 4000 + 250000);      // dram-0: +0.25 J
  SetEnergy(root, "intel-rapl:1", 5000 + 2000000);       // package-1: +2 J
  SetEnergy(root, "intel-rapl:2", 6000 + 9000000);       // psys: contains the packages
  SetEnergy(root, "intel-rapl-mmio:0", 7000 + 1000000);  // package-0 again
  Result<double> e1 = meter.value()->EnergyJ();
  ASSERT_TRUE(e1.ok()) << e1.status().message();
  EXPECT_DOUBLE_EQ(*e1, 3.25);
  EXPECT_EQ(meter.value()->zones()[1].total_uj, 250000u);

  // Cumulative, not per call.
  SetEnergy(root, "intel-rapl:1", 5000 + 3000000);
  EXPECT_DOUBLE_EQ(*meter.value()->EnergyJ(), 4.25);
}

TEST_F(RaplTree, DescribesWhatItSumsAndWhatItSkips) {
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  const std::string d = meter.value()->description();
  EXPECT_TRUE(Contains(d, "package-0 + dram-0 + package-1")) << d;
  EXPECT_TRUE(Contains(d, "psys")) << d;
  EXPECT_TRUE(Contains(d, "core")) << d;
  EXPECT_EQ(meter.value()->kind(), "rapl");
  EXPECT_TRUE(meter.value()->real());
  EXPECT_DOUBLE_EQ(meter.value()->update_period_s(), 0.001);
}

TEST(RaplMeter, HandlesWraparoundPerZone) {
  TempDir root;
  Zone(root, "intel-rapl:0", "package-0", 999000, 999999);
  Zone(root, "intel-rapl:1", "package-1", 10, 5000000);
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();

  SetEnergy(root, "intel-rapl:0", 500);  // wrapped: 999 to the top, 1 to wrap, 500 after
  SetEnergy(root, "intel-rapl:1", 1010);
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(meter.value()->zones()[0].total_uj, 1500u);
  EXPECT_DOUBLE_EQ(*e, 2500e-6);

  SetEnergy(root, "intel-rapl:0", 999999);
  EXPECT_DOUBLE_EQ(*meter.value()->EnergyJ(), (2500 + 999499) * 1e-6);
  SetEnergy(root, "intel-rapl:0", 0);  // wraps exactly onto 0: one microjoule
  EXPECT_DOUBLE_EQ(*meter.value()->EnergyJ(), (2500 + 999499 + 1) * 1e-6);
}

TEST(RaplMeter, RejectsAReadingAboveTheRange) {
  TempDir root;
  Zone(root, "intel-rapl:0", "package-0", 10, 1000);
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  SetEnergy(root, "intel-rapl:0", 1001);
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), root / "intel-rapl:0/energy_uj"))
      << e.status().message();
  EXPECT_TRUE(Contains(e.status().message(), "above")) << e.status().message();
}

TEST(RaplMeter, MissingTreeIsAClearError) {
  TempDir root;
  const std::string missing = root / "no-such-powercap";
  const std::string m = OpenError(missing);
  EXPECT_EQ(m.rfind("RAPL: no powercap tree at " + missing, 0), 0u) << m;
  EXPECT_TRUE(Contains(m, "VM")) << m;
}

TEST(RaplMeter, TreeWithoutPackagesIsAnError) {
  TempDir root;
  Zone(root, "intel-rapl:0", "psys", 100);
  const std::string m = OpenError(root.path());
  EXPECT_TRUE(Contains(m, "no package zone")) << m;
  EXPECT_TRUE(Contains(m, "found only: psys")) << m;
}

TEST(RaplMeter, ZoneNumbersSortNumerically) {
  TempDir root;
  Zone(root, "intel-rapl:10", "package-10", 0);
  Zone(root, "intel-rapl:2", "package-2", 0);
  Zone(root, "intel-rapl:2:10", "dram", 0);
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ(Labels(**meter), (std::vector<std::string>{"package-2", "dram-2", "package-10"}));
}

// As root (the test machines), chmod 000 does not stop a read: the reader seam returns the
// EACCES a user sees on kernels since 2020.
ReadFileFn DenyingReader(const std::string& denied_file) {
  return [denied_file](const std::string& path, std::string* text) {
    const std::string suffix = "/" + denied_file;
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return EACCES;
    }
    return ReadSmallFile(path, text);
  };
}

TEST_F(OnePackage, RootOnlyCounterSaysHowToGrantAccess) {
  const std::string m = OpenError(root.path(), DenyingReader("energy_uj"));
  EXPECT_EQ(
      m.rfind("RAPL: " + (root / "intel-rapl:0/energy_uj").string() + " is readable by root only",
              0),
      0u)
      << m;
  EXPECT_TRUE(Contains(m, "CVE-2020-8694")) << m;
  EXPECT_TRUE(Contains(m, "sudo chmod o+r " + root.path().string() + "/intel-rapl:*/energy_uj"))
      << m;
  EXPECT_TRUE(Contains(m, "udev")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
}

TEST_F(OnePackage, RootOnlyRangeFileGetsTheSameAdvice) {
  const std::string m = OpenError(root.path(), DenyingReader("max_energy_range_uj"));
  EXPECT_TRUE(Contains(m, "max_energy_range_uj is readable by root only")) << m;
}

TEST_F(OnePackage, UnreadableCounterNamesTheFileAndTheReason) {
  const std::string counter = root / "intel-rapl:0/energy_uj";
  std::filesystem::remove(counter);
  std::filesystem::create_directory(counter);  // read(2) fails with EISDIR, even for root
  EXPECT_EQ(OpenError(root.path()), "RAPL: cannot read " + counter + ": Is a directory");
}

TEST_F(OnePackage, GarbageCounterIsAnError) {
  root.Write("intel-rapl:0/energy_uj", "12ab\n");
  const std::string m = OpenError(root.path());
  EXPECT_TRUE(Contains(m, "holds '12ab', not a number")) << m;
}

TEST_F(OnePackage, CounterVanishingAfterOpenIsAnError) {
  auto meter = RaplMeter::Open(root.path());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  std::filesystem::remove(root / "intel-rapl:0/energy_uj");
  Result<double> e = meter.value()->EnergyJ();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "RAPL: " + (root / "intel-rapl:0/energy_uj").string() + " is missing");
}

TEST(ReadSmallFile, ReturnsContentsOrErrno) {
  TempDir root;
  root.Write("a", "123\n");
  std::string text;
  EXPECT_EQ(ReadSmallFile(root / "a", &text), 0);
  EXPECT_EQ(text, "123\n");
  EXPECT_EQ(ReadSmallFile(root / "missing", &text), ENOENT);
  EXPECT_EQ(ReadSmallFile(root.path(), &text), EISDIR);
}

}  // namespace
}  // namespace joulecast
