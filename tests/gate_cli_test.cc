// `joulecast gate` end to end: exit codes, the summary line, every format, baselines made by
// `joulecast analyze --format json`, and one-line errors for bad usage and bad baselines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/testing/test_util.h"
#include "tests/cli_test_files.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;
const std::string kPython = JOULECAST_PYTHON;

CommandOutput Gate(const std::string& args) { return RunCommand(kBin + " gate " + args); }

std::string Model(const std::string& name) { return kSrc + "/models/" + name; }

std::string Lenet(const fs::path& profile) {
  return Model("lenet5.json") + " --samples 100 --epochs 2 --profile " + profile.string();
}

// Every test has a folder of its own, and the round-number profile in it.
class GateCli : public ::testing::Test {
 protected:
  const TempDir dir_;
  const fs::path profile_ = WriteTestProfile(dir_.path());
};

TEST_F(GateCli, WithinBudgetExitsZero) {
  CommandOutput r = Gate(Lenet(profile_) + " --budget 124J");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "joulecast gate: OK: whole-run energy 124 J is within budget 124 J (0.4% left) (1 "
            "warning in the report)\n");
  EXPECT_EQ(r.out.rfind("joulecast gate: OK\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("pass budget: whole-run energy 124 J is within budget 124 J"),
            std::string::npos)
      << r.out;
  // Kinds without a model are predicted as zero, and the report says so.
  EXPECT_NE(r.out.find("warning: the profile has no model for linear, relu, pool: those layers "
                       "are predicted as zero"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("profile " + profile_.string()), std::string::npos);
  EXPECT_NE(r.out.find("estimated, not measured"), std::string::npos);
}

TEST_F(GateCli, OverBudgetExitsOne) {
  CommandOutput r = Gate(Lenet(profile_) + " --budget 123J");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("joulecast gate: FAIL: whole-run energy 124 J exceeds budget 123 J by "
                        "0.4%",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.out.find("FAIL budget:"), std::string::npos) << r.out;
}

TEST_F(GateCli, PerStepAndPerEpochAndEmissions) {
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 0.62J --per step").exit_code, 0);
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 0.61J --per step").exit_code, 1);
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 62J --per epoch").exit_code, 0);
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 61J --per epoch").exit_code, 1);
  // 123.52 J = 3.431e-5 kWh: 16.5 mg CO2e at 480 g/kWh, 3.43 mg at 100 g/kWh.
  CommandOutput r = Gate(Lenet(profile_) + " --budget 0.01gCO2e");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("whole-run emissions 16.5 mgCO2e exceeds budget 10 mgCO2e"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 0.01gCO2e --carbon-intensity 100").exit_code, 0);
}

TEST_F(GateCli, ConservativeGatesOnTheUpperBound) {
  EXPECT_EQ(Gate(Lenet(profile_) + " --budget 125J").exit_code, 0);
  CommandOutput r = Gate(Lenet(profile_) + " --budget 125J --conservative");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("whole-run energy (upper bound) 126 J exceeds budget 125 J"),
            std::string::npos)
      << r.err;
}

TEST_F(GateCli, BaselineFromAnalyzeThenABiggerModel) {
  fs::path base = dir_ / "base.json";
  // The bundled SimpleCNN carries the paper's run (batch 512, 25 epochs); these checks pin
  // batch 1 and 1 epoch with flags.
  CommandOutput a = RunCommand(kBin + " analyze " + Model("simplecnn.json") +
                               " --batch 1 --epochs 1 --format json -o " + base.string());
  ASSERT_EQ(a.exit_code, 0) << a.err;

  // The same model and settings: no increase, no warning.
  CommandOutput same = Gate(Model("simplecnn.json") + " --batch 1 --epochs 1 --baseline " +
                            base.string() + " --max-increase 0%");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.err.find("is 0.0% above baseline"), std::string::npos) << same.err;
  EXPECT_EQ(same.out.find("warning:"), std::string::npos) << same.out;

  // VGG-small costs far more per sample than SimpleCNN.
  CommandOutput bigger =
      Gate(Model("vgg_small.json") + " --baseline " + base.string() + " --max-increase 5%");
  EXPECT_EQ(bigger.exit_code, 1) << bigger.err;
  EXPECT_EQ(bigger.err.rfind("joulecast gate: FAIL: whole-run energy ", 0), 0u) << bigger.err;
  EXPECT_NE(bigger.err.find("more than the allowed +5%"), std::string::npos) << bigger.err;
  EXPECT_EQ(Lines(bigger.err), 1u);

  // A generous allowance lets it through.
  EXPECT_EQ(
      Gate(Model("vgg_small.json") + " --baseline " + base.string() + " --max-increase 1000000%")
          .exit_code,
      0);

  // Other run settings are compared anyway, with a warning. A bigger batch takes fewer steps.
  CommandOutput batch = Gate(Model("simplecnn.json") + " --batch 64 --epochs 1 --baseline " +
                             base.string() + " --max-increase 5 --format json");
  EXPECT_EQ(batch.exit_code, 0) << batch.err;
  nlohmann::json j = nlohmann::json::parse(batch.out);
  ASSERT_EQ(j["warnings"].size(), 1u) << batch.out;
  EXPECT_NE(j["warnings"][0].get<std::string>().find("was predicted for batch 1, 60000 samples, "
                                                     "1 epoch, this run for batch 64"),
            std::string::npos)
      << j["warnings"][0];
  EXPECT_LT(j["checks"][0]["increase"].get<double>(), 0);
  EXPECT_NE(batch.err.find("(1 warning in the report)"), std::string::npos) << batch.err;

  // Per step, the batch of 64 costs more than the batch of 1.
  EXPECT_EQ(Gate(Model("simplecnn.json") + " --batch 64 --per step --baseline " + base.string() +
                 " --max-increase 5")
                .exit_code,
            1);

  // Budget and baseline together: both must pass.
  CommandOutput both = Gate(Model("simplecnn.json") + " --batch 1 --epochs 1 --baseline " +
                            base.string() + " --max-increase 5 --budget 1J");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("exceeds budget 1 J"), std::string::npos) << both.err;
  EXPECT_EQ(both.err.find("baseline"), std::string::npos) << both.err;
}

TEST_F(GateCli, JunitIsWellFormedXml) {
  fs::path base = dir_ / "base.json";
  ASSERT_EQ(RunCommand(kBin + " analyze " + Lenet(profile_) + " --format json -o " + base.string())
                .exit_code,
            0);
  fs::path xml_path = dir_ / "gate.xml";
  CommandOutput r = Gate(Lenet(profile_) + " --budget 100J --baseline " + base.string() +
                         " --max-increase 5% --format junit -o " + xml_path.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(xml_path.string() + ".tmp"));
  const std::string xml = ReadFile(xml_path);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"joulecast gate\" tests=\"2\" failures=\"1\""),
            std::string::npos)
      << xml;
  EXPECT_EQ(Count(xml, "<testcase "), 2u);
  EXPECT_EQ(Count(xml, "</testcase>"), 2u);
  EXPECT_EQ(Count(xml, "<failure message=\"whole-run energy 124 J exceeds budget 100 J by 23.5%\""),
            1u)
      << xml;
  EXPECT_EQ(Count(xml, "</failure>"), 1u);
  EXPECT_NE(xml.rfind("</testsuite>\n</testsuites>\n"), std::string::npos);
  // And a real XML parser agrees.
  CommandOutput parse = RunCommand(kPython +
                                   " -c \"import sys, xml.etree.ElementTree as E; "
                                   "r = E.parse(sys.argv[1]).getroot(); "
                                   "print(r.tag, len(r.findall('testsuite/testcase')), "
                                   "len(r.findall('testsuite/testcase/failure')))\" " +
                                   xml_path.string());
  EXPECT_EQ(parse.exit_code, 0) << parse.err;
  EXPECT_EQ(parse.out, "testsuites 2 1\n") << parse.err;
}

TEST_F(GateCli, MarkdownTableForAPullRequest) {
  CommandOutput r = Gate(Lenet(profile_) + " --budget 200J --format markdown");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("### joulecast gate: \xE2\x9C\x85 passed (1 check)\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("| check | limit | predicted | margin | result |"), std::string::npos);
  EXPECT_NE(r.out.find("| budget: whole-run energy within 200J | 200 J | 124 J | 38.2% left "
                       "| \xE2\x9C\x85 |"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("**These energies are estimated, not measured.**"), std::string::npos);
  EXPECT_NE(r.out.find("> **Warning:** the profile has no model for"), std::string::npos);
}

TEST_F(GateCli, JsonReport) {
  fs::path out = dir_ / "gate.json";
  CommandOutput r = Gate(Lenet(profile_) + " --budget 1kJ --format json -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(ReadFile(out));
  EXPECT_EQ(j["schema"], "joulecast.gate/1");
  EXPECT_TRUE(j["pass"].get<bool>());
  ASSERT_EQ(j["checks"].size(), 1u);
  EXPECT_EQ(j["checks"][0]["name"], "budget");
  EXPECT_EQ(j["checks"][0]["unit"], "J");
  EXPECT_DOUBLE_EQ(j["checks"][0]["limit"].get<double>(), 1000);
  EXPECT_NEAR(j["checks"][0]["value"].get<double>(), 123.52, 1e-9);
  EXPECT_NEAR(j["prediction"]["per_step"]["energy_j"].get<double>(), 0.6176, 1e-12);
  EXPECT_NEAR(j["prediction"]["total"]["energy_j_high"].get<double>(), 125.872, 1e-9);
  EXPECT_EQ(j["prediction"]["run"]["steps"], 200);
  EXPECT_EQ(j["model"]["name"], "lenet5");
  EXPECT_EQ(j["profile"]["source"], profile_.string());
  EXPECT_EQ(j["profile"]["meter"]["kind"], "estimate");
}

TEST_F(GateCli, DefaultProfileIsUsedAndNamed) {
  CommandOutput r = Gate(Model("lenet5.json") + " --budget 1MJ --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["profile"]["default"].get<bool>());
  EXPECT_EQ(j["profile"]["source"], kSrc + "/data/profiles/default.json");
}

TEST_F(GateCli, BadBaselinesAreOneLineAndExitTwo) {
  std::ofstream(dir_ / "corrupt.json") << "{\"schema\": \"joulecast.analysis/1\", ";
  std::ofstream(dir_ / "gate.json") << R"({"schema": "joulecast.gate/1"})";
  // A report made without a profile has no prediction.
  ASSERT_EQ(
      RunCommand("JOULECAST_DATA_DIR=" + dir_.path().string() + " " + kBin + " analyze " +
                 Model("lenet5.json") + " --format json -o " + (dir_ / "noprof.json").string())
          .exit_code,
      0);
  struct Case {
    std::string file, says;
  };
  for (const Case& c : {Case{"corrupt.json", "corrupt.json: not valid JSON"},
                        Case{"gate.json", "gate.json: /schema is 'joulecast.gate/1'"},
                        Case{"noprof.json", "noprof.json: /prediction is missing"},
                        Case{"none.json", "none.json: cannot open the baseline report"}}) {
    CommandOutput r =
        Gate(Lenet(profile_) + " --baseline " + (dir_ / c.file).string() + " --max-increase 5%");
    EXPECT_EQ(r.exit_code, 2) << c.file << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("joulecast gate: " + dir_.path().string() + "/" + c.says, 0), 0u)
        << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(GateCli, BadUsageIsOneLineAndExitTwo) {
  const std::string lenet = Lenet(profile_);
  struct Case {
    std::string args, says;
  };
  for (const Case& c : {
           Case{"", "no MODEL given"},
           Case{lenet, "nothing to check"},
           Case{lenet + " --budget 0.5 kWh", "needs a unit right after the number"},
           Case{lenet + " --budget '0.5 kWh'", "without a space"},
           Case{lenet + " --budget 5kj", "did you mean kJ?"},
           Case{lenet + " --budget -5kJ", "must start with a positive number"},
           Case{lenet + " --budget", "--budget needs an amount"},
           Case{lenet + " --budget 1kJ --budget 2kJ", "--budget given twice"},
           Case{lenet + " --baseline x.json", "--baseline needs --max-increase"},
           Case{lenet + " --max-increase 5%", "--max-increase needs --baseline"},
           Case{lenet + " --baseline x.json --max-increase -1%", "--max-increase '-1%'"},
           Case{lenet + " --budget 1kJ --per batch", "--per must be step, epoch or run"},
           Case{lenet + " --budget 1kJ --format xml", "--format must be"},
           Case{lenet + " --budget 1kJ --batch 0", "--batch needs a positive integer"},
           Case{lenet + " --budget 1kJ --bogus", "unknown option '--bogus'"},
           Case{lenet + " --budget 1kJ " + Model("simplecnn.json"), "more than one MODEL"},
           Case{lenet + " --budget 1kJ -o /nonexistent-dir/out.txt", "cannot open for writing"},
           Case{Model("lenet5.json") + " --budget 1kJ --profile " + (dir_ / "none.json").string(),
                "cannot open the profile"},
           Case{dir_.path().string() + "/none.onnx --budget 1kJ", "none.onnx"},
       }) {
    CommandOutput r = Gate(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("joulecast gate: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
  }
  // No profile at all: the gate needs one.
  CommandOutput r = RunCommand("JOULECAST_DATA_DIR=" + dir_.path().string() + " " + kBin +
                               " gate " + Model("lenet5.json") + " --budget 1kJ");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no profile: give --profile"), std::string::npos) << r.err;
}

TEST_F(GateCli, UnmodelledNodesAreAWarningAndStrictMakesThemErrors) {
  fs::path model = WriteModelWithCustomOp(dir_.path());
  const std::string args =
      model.string() + " --profile " + profile_.string() + " --budget 1MJ --format json";
  CommandOutput r = Gate(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  bool named = false;
  for (const auto& w : j["warnings"]) {
    named =
        named || w.get<std::string>().rfind("2 nodes are not modelled and count as zero", 0) == 0;
  }
  EXPECT_TRUE(named) << j["warnings"];
  r = Gate(args + " --strict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("node 'Mystery_node' (com.example:Mystery)"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
}

TEST_F(GateCli, HelpAndTheCommandList) {
  CommandOutput help = Gate("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("no space"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--carbon-intensity"), std::string::npos);
  CommandOutput list = RunCommand(kBin + " --help");
  EXPECT_NE(list.out.find("  gate "), std::string::npos) << list.out;
}

}  // namespace
