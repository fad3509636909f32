// A whole, tiny time x power calibration on this CPU with the estimate meter: the profile it
// fits, resuming from its database, a stop in the middle, a database of other options, refits
// of stored measurements (fit_only, pooling) and the store itself.
#include "calibrate/calibration/timing_calibration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"
#include "analyzer/json/json_frontend.h"
#include "calibrate/calibration/layer_design.h"
#include "calibrate/calibration/timing_store.h"
#include "calibrate/meters/meter.h"
#include "common/testing/test_util.h"

namespace joulecast {
namespace {

namespace fs = std::filesystem;
using joulecast::testing::TempDir;

constexpr const char* kCpuModel = "Joulecast Test CPU 9000 @ 1.00GHz";

// What the tiny calibration (Tiny() below) plans: at least 4 timings of each design (with one
// per design, max(4, round(1 x weight)) = 4 each), the quick run's 6 optimizer steps and 3
// networks: 69 measurements.
int Planned() {
  int planned = 3 + 6;
  for (const std::string& design : LayerDesigns()) {
    planned += std::max(4, static_cast<int>(std::lround(1 * DesignWeight(design))));
  }
  return planned;
}
const int kPlanned = Planned();

class TimingCalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "cpuinfo") << "processor\t: 0\nmodel name\t: " << kCpuModel
                                    << "\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: "
                                    << kCpuModel << "\n";
    std::ofstream(dir_ / "meminfo") << "MemTotal:        1048576 kB\nMemFree:          524288 kB\n";
    MeterOptions m;
    m.kind = "estimate";
    m.cpu_watts = 10;
    m.cpuinfo_path = (dir_ / "cpuinfo").string();
    Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(m);
    ASSERT_TRUE(meter.ok()) << meter.status().message();
    meter_ = std::move(*meter);
  }

  // The tiny calibration: 4 timings per design, 3 networks measured 0.05 s each, one thread.
  TimingCalibrationOptions Tiny(const std::string& db_name) {
    TimingCalibrationOptions o;
    o.quick = true;
    o.layers_per_design = 1;
    o.networks = 3;
    o.window_s = 0.05;
    o.threads = 1;
    o.db_path = (dir_ / db_name).string();
    o.hardware.cpuinfo = (dir_ / "cpuinfo").string();
    o.hardware.meminfo = (dir_ / "meminfo").string();
    o.hardware.nvidia = (dir_ / "no_nvidia").string();
    o.progress = [this](const TimingProgress& p) {
      if (p.fitting) {
        ++fitting_;
      } else {
        ++measured_;
        last_ = p;
      }
    };
    return o;
  }

  // The rows stored in `path` (any options), or -1 if it cannot be read.
  int Rows(const std::string& path) {
    Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(path, "");
    if (!store.ok()) return -1;
    Result<std::vector<TimingRow>> rows = (*store)->Load();
    return rows.ok() ? static_cast<int>(rows->size()) : -1;
  }

  static std::set<std::string> Families(const Profile& p, const std::string& precision) {
    std::set<std::string> names;
    auto it = p.time_models.find(precision);
    if (it == p.time_models.end()) return names;
    for (const auto& [name, family] : it->second.families) names.insert(name);
    return names;
  }

  TempDir dir_;
  std::unique_ptr<EnergyMeter> meter_;
  int measured_ = 0, fitting_ = 0;
  TimingProgress last_;
};

TEST_F(TimingCalibrationTest, MeasuresFitsAProfileAndResumesWithoutMeasuring) {
  const TimingCalibrationOptions options = Tiny("tiny.db");
  Result<TimingOutcome> run = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_FALSE(run->interrupted);
  EXPECT_EQ(run->total, kPlanned);
  EXPECT_EQ(run->done, kPlanned);
  EXPECT_EQ(run->resumed, 0);
  EXPECT_EQ(measured_, kPlanned);
  EXPECT_EQ(fitting_, 1);
  EXPECT_EQ(last_.done, kPlanned);
  EXPECT_EQ(last_.total, kPlanned);
  EXPECT_EQ(Rows(options.db_path), kPlanned);
  // Each design's first 3 timings fill its space; the fourth was chosen where the family was
  // least sure, among its next 8 points (design_selection.h).
  {
    Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(options.db_path, "");
    ASSERT_TRUE(store.ok());
    Result<std::vector<TimingRow>> rows = (*store)->Load();
    ASSERT_TRUE(rows.ok());
    for (const std::string& design : LayerDesigns()) {
      std::vector<int64_t> indices;
      for (const TimingRow& r : *rows) {
        if (r.design == design) indices.push_back(r.index);
      }
      std::sort(indices.begin(), indices.end());
      ASSERT_EQ(indices.size(), 4u) << design;
      EXPECT_EQ(indices[2], 2) << design;
      EXPECT_GE(indices[3], 3) << design;
      EXPECT_LT(indices[3], 11) << design;
    }
  }

  const Profile& p = run->profile;
  EXPECT_EQ(p.version, 3);
  EXPECT_EQ(p.device, "cpu");
  EXPECT_FALSE(p.created.empty());
  ASSERT_EQ(p.time_models.count("fp32"), 1u);
  EXPECT_EQ(p.time_models.size(), 1u);
  const std::set<std::string> families = Families(p, "fp32");
  for (const std::string& design : LayerDesigns()) {
    EXPECT_EQ(families.count(design), 1u) << design;
  }
  // The estimate charges host and device time alike: either term may carry the watts.
  EXPECT_GT(p.power.active_w + p.power.dynamic_w, 0);
  EXPECT_EQ(p.meter_kind, "estimate");
  EXPECT_FALSE(p.meter_real);
  EXPECT_FALSE(p.meter_description.empty());
  ASSERT_EQ(p.hardware.count("cpu_model"), 1u);
  EXPECT_EQ(p.hardware.at("cpu_model"), kCpuModel);
  EXPECT_EQ(p.hardware.count("memory_bytes") ? p.hardware.at("memory_bytes") : "",
            std::to_string(1048576LL * 1024));
  EXPECT_EQ(p.hardware.count("gpu"), 0u);
  EXPECT_EQ(p.networks.samples, 3);
  // Adam was timed, so its host terms come from those steps, not from the networks.
  const TimeModel& fp32 = p.time_models.at("fp32");
  EXPECT_GT(fp32.optimizer_tensor_s, 0);
  EXPECT_GT(fp32.optimizer_step_s, 0);
  EXPECT_GT(fp32.optimizer_bytes_per_s, 0);

  // The profile survives its own JSON.
  Result<Profile> parsed = ParseProfile(ProfileJson(p), "tiny.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->version, 3);
  EXPECT_EQ(Families(*parsed, "fp32"), families);
  EXPECT_DOUBLE_EQ(parsed->power.active_w, p.power.active_w);
  EXPECT_EQ(parsed->meter_kind, "estimate");
  EXPECT_EQ(parsed->hardware.at("cpu_model"), kCpuModel);

  // It predicts a small network it never measured.
  LoadOptions load;
  load.batch = 16;
  Result<Graph> g = ParseJsonArchitecture(
      R"({"name": "small", "input": {"shape": [3, 32, 32]}, "layers": [
            {"op": "conv2d", "out_channels": 16, "kernel": 3, "padding": 1},
            {"op": "batchnorm2d"}, {"op": "relu"},
            {"op": "maxpool2d", "kernel": 2, "stride": 2},
            {"op": "flatten"}, {"op": "linear", "out_features": 10}]})",
      "small", load);
  ASSERT_TRUE(g.ok()) << g.status().message();
  Result<ModelCost> cost = ComputeCosts(*g);
  ASSERT_TRUE(cost.ok()) << cost.status().message();
  const StepPrediction prediction = PredictStep(*cost, *parsed, "fp32");
  EXPECT_GT(prediction.total.energy_j, 0);
  EXPECT_GT(prediction.total.time_s, 0);
  EXPECT_EQ(prediction.layer_times.size(), cost->layers.size());
  EXPECT_TRUE(prediction.missing_kinds.empty());

  // The same command again measures nothing.
  measured_ = fitting_ = 0;
  Result<TimingOutcome> again = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(again->interrupted);
  EXPECT_EQ(again->total, kPlanned);
  EXPECT_EQ(again->resumed, kPlanned);
  EXPECT_EQ(again->done, kPlanned);
  EXPECT_EQ(measured_, 0);
  EXPECT_EQ(Rows(options.db_path), kPlanned);
  EXPECT_EQ(Families(again->profile, "fp32"), families);

  // Other options: refused before anything is measured, naming the file.
  TimingCalibrationOptions other = options;
  other.seed = 2;
  measured_ = 0;
  Result<TimingOutcome> refused = RunTimingCalibration(other, meter_.get());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(options.db_path), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("seed"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(measured_, 0);
  EXPECT_EQ(Rows(options.db_path), kPlanned);

  // Refitting what the database holds needs no meter and fits the same families with the
  // facts the measuring run recorded.
  TimingCalibrationOptions refit = options;
  refit.fit_only = true;
  refit.progress = nullptr;
  refit.hardware.cpuinfo = (dir_ / "missing_cpuinfo").string();
  Result<TimingOutcome> fitted = RunTimingCalibration(refit, nullptr);
  ASSERT_TRUE(fitted.ok()) << fitted.status().message();
  EXPECT_FALSE(fitted->interrupted);
  EXPECT_EQ(fitted->done, kPlanned);
  EXPECT_EQ(fitted->profile.version, 3);
  EXPECT_EQ(Families(fitted->profile, "fp32"), families);
  EXPECT_EQ(fitted->profile.meter_kind, "estimate");
  EXPECT_EQ(fitted->profile.hardware.at("cpu_model"), kCpuModel);
  // The same measurements fit to the same power model.
  EXPECT_DOUBLE_EQ(fitted->profile.power.active_w, p.power.active_w);
  EXPECT_DOUBLE_EQ(fitted->profile.power.dynamic_w, p.power.dynamic_w);
  EXPECT_DOUBLE_EQ(fitted->profile.time_models.at("fp32").optimizer_tensor_s, fp32.optimizer_tensor_s);
  EXPECT_EQ(Rows(options.db_path), kPlanned);
}

TEST_F(TimingCalibrationTest, AStoppedRunKeepsItsRowsAndTheNextMeasuresOnlyTheRest) {
  std::atomic<bool> stop{false};
  int stop_after = 3;
  TimingCalibrationOptions options = Tiny("stopped.db");
  options.stop = &stop;
  options.progress = [&](const TimingProgress& p) {
    if (p.fitting) {
      ++fitting_;
      return;
    }
    if (++measured_ == stop_after) stop = true;
  };
  Result<TimingOutcome> first = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(first->interrupted);
  EXPECT_EQ(first->total, kPlanned);
  EXPECT_EQ(first->done, 3);
  EXPECT_EQ(measured_, 3);
  EXPECT_EQ(fitting_, 0);
  EXPECT_TRUE(first->profile.time_models.empty());
  EXPECT_EQ(Rows(options.db_path), 3);

  stop = false;
  stop_after = -1;
  measured_ = 0;
  Result<TimingOutcome> second = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_FALSE(second->interrupted);
  EXPECT_EQ(second->resumed, 3);
  EXPECT_EQ(second->done, kPlanned);
  EXPECT_EQ(measured_, kPlanned - 3);
  EXPECT_EQ(fitting_, 1);
  EXPECT_EQ(Rows(options.db_path), kPlanned);
  EXPECT_EQ(second->profile.version, 3);
  EXPECT_EQ(second->profile.time_models.count("fp32"), 1u);
}

TEST_F(TimingCalibrationTest, AStopAmongTheChosenTimingsResumesWithTheSameChoice) {
  // 15 designs x 3 space-filling timings come first; stop 5 into the chosen ones.
  std::atomic<bool> stop{false};
  const int stop_after = 15 * 3 + 5;
  TimingCalibrationOptions options = Tiny("chosen.db");
  options.stop = &stop;
  options.progress = [&](const TimingProgress& p) {
    if (!p.fitting && ++measured_ == stop_after) stop = true;
  };
  Result<TimingOutcome> first = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(first->interrupted);
  EXPECT_EQ(Rows(options.db_path), stop_after);
  // Resumed, it chooses the same points: it measures only the rest, and no row is extra.
  stop = false;
  measured_ = 0;
  Result<TimingOutcome> second = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_FALSE(second->interrupted);
  EXPECT_EQ(second->resumed, stop_after);
  EXPECT_EQ(measured_, kPlanned - stop_after);
  EXPECT_EQ(Rows(options.db_path), kPlanned);
}

TEST_F(TimingCalibrationTest, ADatabaseOfOtherOptionsIsRefusedBeforeMeasuring) {
  // A run stopped after its first measurement leaves a database of seed 1.
  std::atomic<bool> stop{false};
  TimingCalibrationOptions options = Tiny("seed1.db");
  options.stop = &stop;
  options.progress = [&](const TimingProgress& p) {
    if (!p.fitting) ++measured_;
    stop = true;
  };
  Result<TimingOutcome> first = RunTimingCalibration(options, meter_.get());
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(first->interrupted);
  ASSERT_EQ(Rows(options.db_path), 1);

  for (const auto& change : {"seed", "window", "threads"}) {
    SCOPED_TRACE(change);
    TimingCalibrationOptions other = options;
    other.stop = nullptr;
    if (std::string(change) == "seed") other.seed = 5;
    if (std::string(change) == "window") other.window_s = 0.25;
    if (std::string(change) == "threads") other.threads = 2;
    measured_ = 0;
    Result<TimingOutcome> refused = RunTimingCalibration(other, meter_.get());
    ASSERT_FALSE(refused.ok());
    const std::string& message = refused.status().message();
    EXPECT_NE(message.find(options.db_path), std::string::npos) << message;
    EXPECT_NE(message.find(change), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(measured_, 0);
    EXPECT_EQ(Rows(options.db_path), 1);
  }
}

TEST_F(TimingCalibrationTest, FitOnlyOfAMissingDatabaseFailsInOneLine) {
  TimingCalibrationOptions options = Tiny("never_made.db");
  options.fit_only = true;
  Result<TimingOutcome> r = RunTimingCalibration(options, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(options.db_path), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(options.db_path)) << "fit_only must not create the database";
  EXPECT_EQ(measured_, 0);
}

TEST_F(TimingCalibrationTest, PoolingADatabaseOfAnotherDeviceOrMeterIsRefused) {
  const std::string facts_cpu =
      R"({"device": "cpu", "hardware": {"cpu_model": "X"}, "idle_w": 0,
          "meter": {"kind": "estimate", "real": false, "description": "d"}})";
  const std::string facts_rapl =
      R"({"device": "cpu", "hardware": {"cpu_model": "X"}, "idle_w": 0,
          "meter": {"kind": "rapl", "real": true, "description": "d"}})";
  const std::string facts_gpu =
      R"({"device": "cuda:0", "hardware": {"cpu_model": "X", "gpu": "G"}, "idle_w": 0,
          "meter": {"kind": "estimate", "real": false, "description": "d"}})";
  auto make = [&](const std::string& name, const std::string& facts) {
    const std::string path = (dir_ / name).string();
    Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(path, "version=test;");
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (store.ok()) {
      EXPECT_TRUE((*store)->SetMeta("profile", facts).ok());
    }
    return path;
  };
  const std::string base = make("base.db", facts_cpu);
  for (const auto& [name, facts] : {std::pair{"rapl.db", facts_rapl},
                                    std::pair{"gpu.db", facts_gpu}}) {
    SCOPED_TRACE(name);
    const std::string other = make(name, facts);
    TimingCalibrationOptions options = Tiny("base.db");
    options.fit_only = true;
    options.extra_db_paths = {other};
    Result<TimingOutcome> r = RunTimingCalibration(options, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(other), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("pooled"), std::string::npos) << r.status().message();
  }
}

TEST(TimingStore, StoresRowsOnceAndKeepsMeta) {
  const TempDir dir;
  const std::string path = (dir / "store.db").string();
  {
    Result<std::unique_ptr<TimingStore>> store = TimingStore::Open(path, "version=1;seed=1;");
    ASSERT_TRUE(store.ok()) << store.status().message();
    TimingStore& s = **store;
    EXPECT_EQ(s.Meta("profile"), "");
    ASSERT_TRUE(s.SetMeta("profile", "{\"device\": \"cpu\"}").ok());
    EXPECT_EQ(s.Meta("profile"), "{\"device\": \"cpu\"}");
    ASSERT_TRUE(s.SetMeta("profile", "second").ok());
    EXPECT_EQ(s.Meta("profile"), "second");

    TimingRow row;
    row.design = "conv";
    row.index = 3;
    row.json = "{}";
    row.batch = 16;
    row.input_needs_grad = false;
    row.a = 1.5e-3;
    row.b = 2.5e-3;
    row.seconds = 0.25;
    ASSERT_TRUE(s.Insert(row).ok());
    TimingRow dup = row;
    dup.a = 9;
    const Status twice = s.Insert(dup);
    EXPECT_FALSE(twice.ok());
    EXPECT_NE(twice.message().find(path), std::string::npos) << twice.message();
    TimingRow bf16 = row;
    bf16.precision = "bf16";
    EXPECT_TRUE(s.Insert(bf16).ok()) << "another precision is another measurement";
    TimingRow next = row;
    next.index = 4;
    EXPECT_TRUE(s.Insert(next).ok());

    Result<std::vector<TimingRow>> rows = s.Load();
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    ASSERT_EQ(rows->size(), 3u);
    const TimingRow& r = (*rows)[0];
    EXPECT_EQ(r.design, "conv");
    EXPECT_EQ(r.index, 3);
    EXPECT_EQ(r.precision, "fp32");
    EXPECT_EQ(r.json, "{}");
    EXPECT_EQ(r.batch, 16);
    EXPECT_FALSE(r.input_needs_grad);
    EXPECT_DOUBLE_EQ(r.a, 1.5e-3);
    EXPECT_DOUBLE_EQ(r.b, 2.5e-3);
    EXPECT_DOUBLE_EQ(r.seconds, 0.25);
    EXPECT_EQ((*rows)[1].precision, "bf16");
    EXPECT_EQ((*rows)[2].index, 4);
  }
  {
    // Reopened: the rows and meta stay; other options are refused naming the file.
    Result<std::unique_ptr<TimingStore>> same = TimingStore::Open(path, "version=1;seed=1;");
    ASSERT_TRUE(same.ok()) << same.status().message();
    EXPECT_EQ((*same)->Meta("profile"), "second");
    Result<std::vector<TimingRow>> rows = (*same)->Load();
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->size(), 3u);
  }
  Result<std::unique_ptr<TimingStore>> other = TimingStore::Open(path, "version=1;seed=2;");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find(path), std::string::npos) << other.status().message();
  EXPECT_NE(other.status().message().find("seed=2"), std::string::npos)
      << other.status().message();
  EXPECT_TRUE(TimingStore::Open(path, "").ok()) << "any options, to fit what it holds";
  EXPECT_FALSE(TimingStore::Open((dir / "missing.db").string(), "").ok());
  EXPECT_FALSE(fs::exists(dir / "missing.db"));
}

}  // namespace
}  // namespace joulecast
