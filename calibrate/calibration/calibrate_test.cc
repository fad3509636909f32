// End to end through MeasureTraining with the estimate meter, at sizes small enough for a test:
// two kinds, three samples each, then the profile read back by the analyzer's LoadProfile.
#include "calibrate/calibration/calibrate.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <utility>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/energy/predict.h"
#include "analyzer/json/json_frontend.h"

namespace joulecast {
namespace {

namespace fs = std::filesystem;

class CalibrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "joulecast-calibrate-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "cpuinfo") << "processor\t: 0\nmodel name\t: Test CPU 9000\n";
    std::ofstream(dir_ / "meminfo") << "MemTotal:        2048 kB\nMemFree:  1 kB\n";

    MeterOptions m;
    m.kind = "estimate";
    m.cpu_watts = 10;
    auto meter = OpenMeter(m);
    ASSERT_TRUE(meter.ok()) << meter.status().message();
    meter_ = std::move(*meter);

    options_.designs = {Design::conv, Design::relu};
    options_.samples_per_kind = 3;
    DesignLimits tiny;
    tiny.max_channels = 4;
    tiny.min_spatial = 7;
    tiny.max_spatial = 8;
    tiny.min_batch = tiny.max_batch = 8;
    tiny.min_features = 8;
    tiny.max_features = 16;
    options_.limits = tiny;
    options_.rse = 0.05;
    options_.sample_time_cap_s = 0.3;
    options_.repeat_window_s = 0.005;
    options_.threads = 1;
    options_.libtorch_version = "test";
    options_.db_path = (dir_ / "cal.db").string();
    options_.hardware.cpuinfo = (dir_ / "cpuinfo").string();
    options_.hardware.meminfo = (dir_ / "meminfo").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // (design, index) of every stored row, and the row count.
  std::pair<std::set<std::pair<std::string, int64_t>>, int> Rows() const {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(options_.db_path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT design, sample_index FROM samples", -1, &q, nullptr),
              SQLITE_OK);
    std::set<std::pair<std::string, int64_t>> keys;
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
      keys.emplace(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)),
                   sqlite3_column_int64(q, 1));
      ++rows;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return {keys, rows};
  }

  fs::path dir_;
  std::unique_ptr<EnergyMeter> meter_;
  CalibrationOptions options_;
};

TEST_F(CalibrateTest, TinyCalibrationWritesAProfileTheAnalyzerReads) {
  int reports = 0;
  options_.progress = [&](const CalibrationProgress& p) {
    ++reports;
    EXPECT_EQ(p.total, 6);
    if (!p.design.empty() && !p.fitting) {
      EXPECT_GE(p.probe.repeats, 2);
      EXPECT_GT(p.probe.energy_j, 0);
      EXPECT_GE(p.eta_s, 0);
    }
  };
  Result<CalibrationOutcome> out = RunCalibration(options_, *meter_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->interrupted);
  EXPECT_EQ(out->total, 6);
  EXPECT_EQ(out->done, 6);
  EXPECT_EQ(out->resumed, 0);
  EXPECT_EQ(reports, 1 + 6 + 1);  // start, each sample, fitting

  const std::string path = (dir_ / "profile.json").string();
  std::ofstream(path) << ProfileJson(out->profile);
  Result<Profile> p = LoadProfile(path);
  ASSERT_TRUE(p.ok()) << p.status().message();
  // The measured classes and those of the stems and heads (conv.input, pool.global_avg,
  // linear) all have models; the samples count for the classes they measure.
  int conv_samples = 0;
  for (const auto& [cls, m] : p->models) conv_samples += cls.rfind("conv", 0) == 0 ? m.samples : 0;
  EXPECT_EQ(conv_samples, 3);
  EXPECT_EQ(p->models.at("relu").samples, 3);
  EXPECT_EQ(p->models.at("pool.global_avg").samples, 0);
  EXPECT_EQ(p->models.count("linear"), 1u);
  EXPECT_EQ(p->step.samples, 6);
  EXPECT_EQ(p->step.features, (std::vector<std::string>{"params", "one"}));
  EXPECT_EQ(p->meter_kind, "estimate");
  EXPECT_FALSE(p->meter_real);
  EXPECT_NE(p->meter_description.find("estimate"), std::string::npos);
  EXPECT_EQ(p->device, "cpu");
  EXPECT_EQ(p->hardware.at("cpu_model"), "Test CPU 9000");
  EXPECT_EQ(p->hardware.at("memory_bytes"), "2097152");
  EXPECT_EQ(p->hardware.at("threads"), "1");
  EXPECT_EQ(p->hardware.at("libtorch"), "test");
  EXPECT_GE(std::stoi(p->hardware.at("cores")), 1);
  EXPECT_EQ(p->created.size(), 20u);  // 2025-11-23T06:30:00Z
  EXPECT_EQ(p->created.back(), 'Z');

  // The profile predicts a positive step for a small CNN.
  LoadOptions lo;
  lo.batch = 8;
  Result<Graph> g = ParseJsonArchitecture(
      R"({"input": {"shape": [3, 8, 8]}, "layers": [
          {"op": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1}, {"op": "relu"},
          {"op": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1}, {"op": "relu"},
          {"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out_features": 10}]})",
      "cnn", lo);
  ASSERT_TRUE(g.ok());
  Result<ModelCost> cost = ComputeCosts(*g);
  ASSERT_TRUE(cost.ok());
  const StepPrediction pred = PredictStep(*cost, *p);
  EXPECT_GT(pred.total.energy_j, 0);
  EXPECT_GT(pred.total.time_s, 0);

  // Every sample is in the database once, with its noise recorded.
  auto [keys, rows] = Rows();
  EXPECT_EQ(rows, 6);
  EXPECT_EQ(keys.size(), 6u);
  auto store = SampleStore::Open(options_.db_path, OptionsKey(options_, *meter_));
  ASSERT_TRUE(store.ok()) << store.status().message();
  Result<std::vector<StoredSample>> stored = (*store)->Load();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 6u);
  for (const StoredSample& s : *stored) {
    EXPECT_GE(s.probe.repeats, 2) << s.design << " " << s.index;
    EXPECT_GE(s.base.repeats, 2);
    EXPECT_GT(s.probe.steps, 0);
    EXPECT_GE(s.probe.rse, 0);
    EXPECT_EQ(s.meter_kind, "estimate");
    EXPECT_EQ(s.threads, 1);
    EXPECT_EQ(s.batch, 8);
  }
}

TEST_F(CalibrateTest, InterruptedRunResumesWithoutLosingOrRepeating) {
  std::atomic<bool> stop{false};
  std::vector<std::pair<std::string, int64_t>> first, second;
  options_.stop = &stop;
  options_.progress = [&](const CalibrationProgress& p) {
    if (p.design.empty() || p.fitting) return;
    first.emplace_back(p.design, p.index);
    if (p.done == 2) stop = true;
  };
  Result<CalibrationOutcome> out = RunCalibration(options_, *meter_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->interrupted);
  EXPECT_EQ(out->done, 2);
  EXPECT_EQ(Rows().second, 2);
  // Interleaved: the first two samples are one of each design.
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], std::make_pair(std::string("conv"), int64_t{0}));
  EXPECT_EQ(first[1], std::make_pair(std::string("relu"), int64_t{0}));

  stop = false;
  int resumed_seen = -1;
  options_.progress = [&](const CalibrationProgress& p) {
    if (p.design.empty() && !p.fitting) resumed_seen = p.resumed;
    if (!p.design.empty() && !p.fitting) second.emplace_back(p.design, p.index);
  };
  out = RunCalibration(options_, *meter_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->interrupted);
  EXPECT_EQ(out->resumed, 2);
  EXPECT_EQ(resumed_seen, 2);
  EXPECT_EQ(out->done, 6);
  ASSERT_EQ(second.size(), 4u);  // only the rest
  for (const auto& k : second) {
    EXPECT_EQ(std::count(first.begin(), first.end(), k), 0) << k.first << " " << k.second;
  }
  auto [keys, rows] = Rows();
  EXPECT_EQ(rows, 6);
  EXPECT_EQ(keys.size(), 6u);
  int conv_samples = 0;
  for (const auto& [cls, m] : out->profile.models) conv_samples += cls.rfind("conv", 0) == 0 ? m.samples : 0;
  EXPECT_EQ(conv_samples, 3);

  // More samples per kind extend the same design: only the new points are measured.
  options_.samples_per_kind = 4;
  second.clear();
  out = RunCalibration(options_, *meter_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->resumed, 6);
  EXPECT_EQ(second, (std::vector<std::pair<std::string, int64_t>>{{"conv", 3}, {"relu", 3}}));
  EXPECT_EQ(Rows().second, 8);
}

TEST_F(CalibrateTest, DatabaseOfOtherOptionsIsRefusedBeforeMeasuring) {
  std::atomic<bool> stop{true};  // stop at once: only the database is created
  options_.stop = &stop;
  Result<CalibrationOutcome> out = RunCalibration(options_, *meter_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->interrupted);
  EXPECT_EQ(out->done, 0);

  options_.seed = 2;
  options_.stop = nullptr;
  bool measured = false;
  options_.progress = [&](const CalibrationProgress&) { measured = true; };
  out = RunCalibration(options_, *meter_);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("seed is 1 there, 2 here"), std::string::npos)
      << out.status().message();
  EXPECT_FALSE(measured);
}

TEST(Plan, DefaultsAndSplits) {
  CalibrationOptions o;
  int total = 0, conv = 0, conv_first = 0;
  for (const auto& [d, n] : PlanSamples(o)) {
    total += n;
    if (d == Design::conv) conv = n;
    if (d == Design::conv_first) conv_first = n;
  }
  EXPECT_EQ(conv + conv_first, 112);
  EXPECT_EQ(conv_first, 28);
  EXPECT_EQ(PlanSamples(o).size(), AllDesigns().size());
  o.quick = true;
  int quick = 0;
  for (const auto& [d, n] : PlanSamples(o)) quick += n;
  EXPECT_LT(quick, total / 2);
  o.samples_per_kind = 8;
  o.designs = {Design::linear, Design::linear_first, Design::pool};
  auto plan = PlanSamples(o);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].second + plan[1].second, 8);
  EXPECT_EQ(plan[2].second, 8);
}

TEST(OptionsKeyTest, NamesWhatChangesTheMeasurementsButNotTheCounts) {
  MeterOptions m;
  m.kind = "estimate";
  m.cpu_watts = 10;
  auto meter = OpenMeter(m);
  ASSERT_TRUE(meter.ok());
  CalibrationOptions a, b;
  const std::string key = OptionsKey(a, **meter);
  for (const char* field : {"seed=1;", "rse=0.02;", "meter=estimate;", "threads=0;", "device=cpu;",
                            "channels=1-512;"}) {
    EXPECT_NE(key.find(field), std::string::npos) << field << " in " << key;
  }
  b.samples_per_kind = 99;
  EXPECT_EQ(OptionsKey(b, **meter), key);
  b.quick = true;
  EXPECT_NE(OptionsKey(b, **meter), key);
}

}  // namespace
}  // namespace joulecast

namespace joulecast {
namespace {

// The driver's proc files as two driver generations write them.
TEST(Hardware, ReadsTheGpuModelAndTheDriverVersionOfEitherVersionLine) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("jc_hw_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "gpus" / "0000:01:00.0");
  std::ofstream(dir / "gpus" / "0000:01:00.0" / "information")
      << "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\n";
  HardwareSources s;
  s.nvidia = dir.string();
  for (const auto& [line, want] : std::vector<std::pair<std::string, std::string>>{
           {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC "
            "2023\n",
            "535.104.05"},
           {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
            "(dvs-builder@U22)\n",
            "580.159.04"}}) {
    std::ofstream(dir / "version") << line;
    const auto hw = DescribeHardware(s, 0);
    EXPECT_EQ(hw.at("driver"), want) << line;
    EXPECT_EQ(hw.at("gpu"), "NVIDIA H100 80GB HBM3");
  }
  EXPECT_EQ(DescribeHardware(s, 1).count("gpu"), 0u);  // no second GPU
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace joulecast
