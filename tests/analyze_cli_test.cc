// `joulecast analyze` end to end: exit codes, formats, output files, --strict and --profile.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/testing/test_util.h"
#include "tests/cli_test_files.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;

CommandOutput Analyze(const std::string& args) { return RunCommand(kBin + " analyze " + args); }

TEST(AnalyzeCli, TextReportOfABundledModel) {
  CommandOutput r = Analyze(kSrc + "/models/lenet5.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("parameters 142,606"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("per kind, one training step"), std::string::npos);
}

TEST(AnalyzeCli, JsonToAFileAtABatch) {
  const TempDir dir;
  fs::path out = dir / "report.json";
  CommandOutput r =
      Analyze(kSrc + "/models/simplecnn.json --batch 64 --format json -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  std::ifstream f(out);
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["model"]["batch"], 64);
  EXPECT_EQ(j["model"]["params"], 252568);
  EXPECT_EQ(j["per_batch"]["macs_fwd"].get<int64_t>(), 64 * j["model"]["macs"].get<int64_t>());
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
}

TEST(AnalyzeCli, MarkdownForAPullRequest) {
  CommandOutput r = Analyze(kSrc + "/models/resnet_small.json --format markdown");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("### joulecast analysis: ", 0), 0u) << r.out;
}

TEST(AnalyzeCli, UnmodelledOpsAreListedAndStrictMakesThemErrors) {
  const TempDir dir;
  fs::path model = WriteModelWithCustomOp(dir.path());
  CommandOutput r = Analyze(model.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Mystery_node (com.example:Mystery): op not modelled"), std::string::npos)
      << r.out;
  r = Analyze(model.string() + " --strict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("node 'Mystery_node' (com.example:Mystery): op not modelled"),
            std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
}

TEST(AnalyzeCli, BadInputIsOneLineAndExitTwo) {
  const TempDir dir;
  std::ofstream(dir / "empty.onnx").close();
  std::ofstream(dir / "typo.json") << R"({"input": {"shape": [1, 28, 28]}, "layers": [)"
                                      R"({"op": "conv2d", "out_channel": 6, "kernel": 5}]})";
  for (const std::string& args :
       {(dir / "empty.onnx").string(), (dir / "typo.json").string(), (dir / "none.onnx").string(),
        kSrc + "/README.md", kSrc + "/models/lenet5.json --batch 0",
        kSrc + "/models/lenet5.json --format yaml", kSrc + "/models/lenet5.json --bogus",
        kSrc + "/models/lenet5.json --profile " + (dir / "typo.json").string(),
        kSrc + "/models/lenet5.json -o /nonexistent-dir/out.txt"}) {
    CommandOutput r = Analyze(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(Lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("joulecast analyze: ", 0), 0u) << r.err;
  }
  EXPECT_NE(Analyze((dir / "typo.json").string()).err.find("/layers/0/out_channel"),
            std::string::npos);
}

TEST(AnalyzeCli, ProfilePredictsEnergyPerStep) {
  const TempDir dir;
  const fs::path profile = WriteTestProfile(dir.path());
  CommandOutput r = Analyze(kSrc + "/models/lenet5.json --format json --profile " + profile.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["prediction"]["per_step"]["energy_j"].get<double>(), 117600 * 1e-6 + 0.5);
  EXPECT_EQ(j["prediction"]["profile"]["source"], profile.string());
  EXPECT_FALSE(j["prediction"]["profile"]["default"].get<bool>());
}

// The shipped H200 profile (schema 3, fp32 and bf16): --precision picks the time model, each
// layer says what bounds it, and a precision the profile lacks is one line and exit 2.
TEST(AnalyzeCli, PrecisionAndRegimesWithASchemaThreeProfile) {
  const std::string h200 = kSrc + "/data/profiles/h200-nvml.json";
  CommandOutput fp32 = Analyze(kSrc + "/models/resnet_small.json --batch 256 --format json --profile " + h200);
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  CommandOutput bf16 = Analyze(kSrc + "/models/resnet_small.json --batch 256 --format json --precision bf16 --profile " + h200);
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  nlohmann::json a = nlohmann::json::parse(fp32.out), b = nlohmann::json::parse(bf16.out);
  EXPECT_EQ(a["prediction"]["model"]["precision"], "fp32");
  EXPECT_EQ(b["prediction"]["model"]["precision"], "bf16");
  EXPECT_NE(a["prediction"]["per_step"]["energy_j"], b["prediction"]["per_step"]["energy_j"]);
  std::set<std::string> regimes;
  for (const auto& l : a["layers"]) {
    if (l.contains("prediction") && l["prediction"].contains("regime")) {
      regimes.insert(l["prediction"]["regime"].get<std::string>());
      EXPECT_GE(l["prediction"]["device_s"].get<double>(), 0);
    }
  }
  EXPECT_FALSE(regimes.empty());
  for (const std::string& r : regimes) EXPECT_TRUE(r == "dispatch" || r == "memory" || r == "compute") << r;
  // The text report shows each layer's time and regime.
  CommandOutput text = Analyze(kSrc + "/models/lenet5.json --batch 64 --profile " + h200);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("bound by"), std::string::npos);

  // The CPU default profile is fp32 only.
  CommandOutput refused = Analyze(kSrc + "/models/lenet5.json --precision bf16 --profile " + kSrc +
                                  "/data/profiles/default.json");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("was calibrated at fp32, not bf16"), std::string::npos) << refused.err;
  EXPECT_EQ(Lines(refused.err), 1u) << refused.err;
  CommandOutput bad = Analyze(kSrc + "/models/lenet5.json --precision fp8");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--precision needs fp32, bf16 or fp16"), std::string::npos) << bad.err;
}

}  // namespace