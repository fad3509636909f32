#include "calibrate/meters/cpu_power_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::TempDir;

TEST(CpuPowerTable, EveryRowMatchesItsOwnModelAndNoEarlierRowShadowsIt) {
  for (const CpuPowerRow& row : CpuPowerTable()) {
    EXPECT_EQ(FindCpuPower(row.model), &row) << row.model;
  }
}

TEST(CpuPowerTable, FiguresAreTdpPerThreadAndPlausible) {
  for (const CpuPowerRow& row : CpuPowerTable()) {
    ASSERT_GT(row.threads, 0) << row.model;
    EXPECT_DOUBLE_EQ(row.watts_per_thread(), row.tdp_w / row.threads) << row.model;
    EXPECT_GE(row.watts_per_thread(), 1.0) << row.model;
    EXPECT_LE(row.watts_per_thread(), kDefaultWattsPerThread) << row.model;
  }
}

TEST(CpuPowerTable, VariantsWithOtherPowerDoNotMatch) {
  const CpuPowerRow* r = FindCpuPower("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->tdp_w, 205);  // not the 150 W Gold 6248
  EXPECT_EQ(FindCpuPower("AMD Ryzen 5 3600X 6-Core Processor"), nullptr);  // 95 W, not 65 W
  EXPECT_EQ(FindCpuPower("Intel(R) Core(TM) i9-9900KS CPU @ 4.00GHz"), nullptr);
  EXPECT_EQ(FindCpuPower("AMD EPYC"), nullptr);  // a hypervisor hiding the model
  EXPECT_EQ(FindCpuPower(""), nullptr);
}

TEST(CpuPowerTable, DocsListEveryRow) {
  const char* env = std::getenv("JOULECAST_SOURCE_DIR");
  const std::string source_dir = env != nullptr ? env : JOULECAST_SOURCE_DIR_DEFAULT;
  std::ifstream in(source_dir + "/docs/meters.md");
  ASSERT_TRUE(in) << source_dir << "/docs/meters.md";
  std::stringstream docs;
  docs << in.rdbuf();
  for (const CpuPowerRow& row : CpuPowerTable()) {
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %g | %d | %.2f |", row.model, row.tdp_w, row.threads,
                  row.watts_per_thread());
    EXPECT_NE(docs.str().find(line), std::string::npos) << "docs/meters.md lacks the row " << line;
  }
  char fallback[64];
  std::snprintf(fallback, sizeof fallback, "%g W per busy thread", kDefaultWattsPerThread);
  EXPECT_NE(docs.str().find(fallback), std::string::npos) << fallback;
}

TEST(ReadCpuModel, TakesTheFirstModelNameLine) {
  TempDir dir;
  dir.Write("cpuinfo",
            "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
            "model\t\t: 1\n"
            "model name\t: AMD EPYC 7763 64-Core Processor  \n"
            "processor\t: 1\nmodel name\t: Something Else\n");
  Result<std::string> model = ReadCpuModel(dir / "cpuinfo");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(*model, "AMD EPYC 7763 64-Core Processor");
}

TEST(ReadCpuModel, ErrorsNameTheFile) {
  TempDir dir;
  dir.Write("cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\n");  // an ARM kernel's style
  Result<std::string> none = ReadCpuModel(dir / "cpuinfo");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), (dir / "cpuinfo").string() + ": no \"model name\" line");
  Result<std::string> missing = ReadCpuModel(dir / "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), (dir / "missing").string() + ": cannot be read");
}

}  // namespace
}  // namespace joulecast
