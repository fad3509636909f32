// The "training" object of architecture files and --region through analyze and gate, end to
// end: file values used, flags winning, ONNX models reporting defaults, bad values refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/testing/test_util.h"
#include "tests/cli_test_files.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;
using nlohmann::json;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;

json AnalyzeJson(const std::string& args) {
  CommandOutput r = RunCommand(kBin + " analyze " + args + " --format json");
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

std::string Source(const json& report, const char* setting) {
  return report["training"][setting]["source"];
}

TEST(TrainingCli, ThePapersFamiliesPredictThePapersRun) {
  for (const char* model : {"simplecnn", "simplecnn2", "densepolynn", "denselinearnn"}) {
    json j = AnalyzeJson(kSrc + "/models/" + model + ".json");
    const json& run = j["prediction"]["run"];
    EXPECT_EQ(run["batch"], 512) << model;
    EXPECT_EQ(run["epochs"], 25) << model;
    EXPECT_EQ(run["samples"], 60000) << model;
    EXPECT_EQ(run["steps"], 118 * 25) << model;
    EXPECT_EQ(Source(j, "batch"), "file");
    EXPECT_EQ(Source(j, "optimizer"), "file");
    EXPECT_EQ(Source(j, "precision"), "default");
  }
  CommandOutput text = RunCommand(kBin + " analyze " + kSrc + "/models/simplecnn.json");
  EXPECT_NE(text.out.find("training: batch 512 (file), 25 epochs (file) of 60,000 samples "
                          "(file), adam (file), fp32 (default)"),
            std::string::npos)
      << text.out;
}

TEST(TrainingCli, FlagsWinOverTheFile) {
  json j = AnalyzeJson(kSrc + "/models/simplecnn.json --batch 64 --epochs 2 --samples 1000");
  EXPECT_EQ(j["prediction"]["run"]["batch"], 64);
  EXPECT_EQ(j["prediction"]["run"]["epochs"], 2);
  EXPECT_EQ(j["prediction"]["run"]["steps"], 16 * 2);
  EXPECT_EQ(Source(j, "batch"), "flag");
  EXPECT_EQ(Source(j, "epochs"), "flag");
  EXPECT_EQ(Source(j, "samples"), "flag");
  EXPECT_EQ(Source(j, "optimizer"), "file");
}

TEST(TrainingCli, PrecisionFromTheFileNeedsAProfileCalibratedAtIt) {
  TempDir dir;
  dir.Write("bf16.json", R"({"name": "m", "input": {"shape": [1, 8, 8]}, "layers": [
      {"op": "flatten"}, {"op": "linear", "out_features": 4}],
      "training": {"batch": 32, "precision": "bf16"}})");
  json h200 = AnalyzeJson((dir / "bf16.json").string() + " --profile " + kSrc +
                          "/data/profiles/h200-nvml.json");
  EXPECT_EQ(h200["prediction"]["model"]["precision"], "bf16");
  EXPECT_EQ(Source(h200, "precision"), "file");
  CommandOutput cpu = RunCommand(kBin + " analyze " + (dir / "bf16.json").string() + " --profile " +
                                 kSrc + "/data/profiles/default.json");
  EXPECT_EQ(cpu.exit_code, 2);
  EXPECT_NE(cpu.err.find("/training/precision"), std::string::npos) << cpu.err;
  EXPECT_EQ(Lines(cpu.err), 1u) << cpu.err;
  json flag = AnalyzeJson((dir / "bf16.json").string() + " --precision fp32 --profile " + kSrc +
                          "/data/profiles/default.json");
  EXPECT_EQ(Source(flag, "precision"), "flag");
}

TEST(TrainingCli, OnnxModelsSayEverySettingIsADefault) {
  TempDir dir;
  const fs::path onnx = WriteModelWithCustomOp(dir.path());
  json j = AnalyzeJson(onnx.string());
  for (const char* s : {"batch", "epochs", "samples", "optimizer", "precision"}) {
    EXPECT_EQ(Source(j, s), "default") << s;
  }
  json b = AnalyzeJson(onnx.string() + " --batch 4");
  EXPECT_EQ(Source(b, "batch"), "flag");
  EXPECT_EQ(b["training"]["batch"]["value"], 4);
}

TEST(TrainingCli, BadTrainingValuesAreOneLineWithThePointer) {
  TempDir dir;
  dir.Write("bad.json", R"({"family": "SimpleCNN", "input": {"shape": [1, 28, 28]},
      "training": {"batch": 0}})");
  dir.Write("key.json", R"({"family": "SimpleCNN", "input": {"shape": [1, 28, 28]},
      "training": {"batch": 8, "momentum": 0.9}})");
  for (const char* cmd : {" analyze ", " gate "}) {
    for (const char* file : {"bad.json", "key.json"}) {
      CommandOutput r = RunCommand(kBin + cmd + (dir / file).string() + " --budget 1kJ");
      if (std::string(cmd) == " analyze ") {
        r = RunCommand(kBin + cmd + (dir / file).string());
      }
      EXPECT_EQ(r.exit_code, 2) << cmd << file << r.err;
      EXPECT_EQ(Lines(r.err), 1u) << r.err;
      EXPECT_NE(r.err.find("/training"), std::string::npos) << r.err;
    }
  }
}

TEST(TrainingCli, GateUsesTheFilesRunAndTheRegion) {
  CommandOutput r = RunCommand(kBin + " gate " + kSrc +
                               "/models/simplecnn.json --budget 1MWh --region FR --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["prediction"]["run"]["epochs"], 25);
  EXPECT_EQ(j["prediction"]["run"]["batch"], 512);
  EXPECT_DOUBLE_EQ(j["prediction"]["run"]["carbon_intensity_g_per_kwh"].get<double>(), 56.0);
  EXPECT_NE(j["prediction"]["run"]["carbon_intensity_from"].get<std::string>().find("France"),
            std::string::npos);
}

TEST(TrainingCli, RegionCodesAndABadOne) {
  struct Case {
    const char* code;
    double g_per_kwh;
  };
  for (const Case& c : {Case{"DE", 380.9}, Case{"deu", 380.9}, Case{"FR", 56.0}, Case{"SE3", 18.0},
                        Case{"US", 369.5}}) {
    json j = AnalyzeJson(kSrc + "/models/lenet5.json --region " + c.code);
    const json& carbon = j["prediction"]["carbon"];
    EXPECT_EQ(carbon["from"], "region") << c.code;
    EXPECT_DOUBLE_EQ(carbon["g_per_kwh"].get<double>(), c.g_per_kwh) << c.code;
    EXPECT_DOUBLE_EQ(j["prediction"]["run"]["carbon_intensity_g_per_kwh"].get<double>(),
                     c.g_per_kwh);
    EXPECT_GT(carbon["year"].get<int>(), 2000);
  }
  json flag = AnalyzeJson(kSrc + "/models/lenet5.json --region DE --carbon-intensity 100");
  EXPECT_EQ(flag["prediction"]["carbon"]["from"], "flag");
  json none = AnalyzeJson(kSrc + "/models/lenet5.json");
  EXPECT_EQ(none["prediction"]["carbon"]["from"], "world_default");
  for (const char* cmd : {" analyze ", " gate ", " track --no-history "}) {
    std::string args = std::string(cmd) == " analyze " ? kSrc + "/models/lenet5.json"
                       : std::string(cmd) == " gate "  ? kSrc + "/models/lenet5.json --budget 1kJ"
                                                       : std::string("-- true");
    CommandOutput bad = RunCommand(kBin + cmd + "--region ZZ9 " + args);
    EXPECT_EQ(bad.exit_code, 2) << cmd << bad.err;
    EXPECT_EQ(Lines(bad.err), 1u) << bad.err;
    EXPECT_NE(bad.err.find("\"ZZ9\""), std::string::npos) << bad.err;
  }
}

}  // namespace
