// `joulecast gate` end to end: exit codes, the summary line, every format, baselines made by
// `joulecast analyze --format json`, and one-line errors for bad usage and bad baselines.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/run_command.h"

namespace {

namespace fs = std::filesystem;
using joulecast::testing::CommandOutput;
using joulecast::testing::RunCommand;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;
const std::string kPython = JOULECAST_PYTHON;

CommandOutput Gate(const std::string& args) { return RunCommand(kBin + " gate " + args); }

std::string Model(const std::string& name) { return kSrc + "/models/" + name; }

fs::path TempDir() {
  fs::path d = fs::temp_directory_path() /
               ("joulecast_gate_cli_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// A profile with round numbers: conv costs 1 µJ per forward MAC (cv 10%), a step 0.5 J, and no
// other kind has a model. LeNet-5's one conv does 117,600 MACs per sample, so at batch 1 a step
// is 0.6176 J (upper bound 0.62936 J); 100 samples x 2 epochs are 200 steps: 123.52 J
// (upper bound 125.872 J).
fs::path WriteProfile(const fs::path& dir) {
  fs::path p = dir / "profile.json";
  std::ofstream(p) << R"({"schema": "joulecast.profile/1", "created": "2026-11-23T00:00:00Z",
    "device": "cpu", "hardware": {"cpu_model": "test"},
    "meter": {"kind": "estimate", "real": false, "description": "test meter"},
    "kinds": {"conv": {"features": ["macs_fwd"], "energy_j": [1e-6], "time_s": [1e-9],
                       "cv_mape": 0.1, "samples": 3}},
    "step": {"features": ["one"], "energy_j": [0.5], "time_s": [0.01], "cv_mape": 0, "samples": 3}})";
  return p;
}

std::string Lenet(const fs::path& profile) {
  return Model("lenet5.json") + " --samples 100 --epochs 2 --profile " + profile.string();
}

TEST(GateCli, WithinBudgetExitsZero) {
  fs::path profile = WriteProfile(TempDir());
  CommandOutput r = Gate(Lenet(profile) + " --budget 124J");
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
  EXPECT_NE(r.out.find("profile " + profile.string()), std::string::npos);
  EXPECT_NE(r.out.find("estimated, not measured"), std::string::npos);
}

TEST(GateCli, OverBudgetExitsOne) {
  fs::path profile = WriteProfile(TempDir());
  CommandOutput r = Gate(Lenet(profile) + " --budget 123J");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("joulecast gate: FAIL: whole-run energy 124 J exceeds budget 123 J by "
                        "0.4%",
                        0),
            0u)
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.out.find("FAIL budget:"), std::string::npos) << r.out;
}

TEST(GateCli, PerStepAndPerEpochAndEmissions) {
  fs::path profile = WriteProfile(TempDir());
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 0.62J --per step").exit_code, 0);
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 0.61J --per step").exit_code, 1);
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 62J --per epoch").exit_code, 0);
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 61J --per epoch").exit_code, 1);
  // 123.52 J = 3.431e-5 kWh: 16.5 mg CO2e at 480 g/kWh, 3.43 mg at 100 g/kWh.
  CommandOutput r = Gate(Lenet(profile) + " --budget 0.01gCO2e");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("whole-run emissions 16.5 mgCO2e exceeds budget 10 mgCO2e"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 0.01gCO2e --carbon-intensity 100").exit_code, 0);
}

TEST(GateCli, ConservativeGatesOnTheUpperBound) {
  fs::path profile = WriteProfile(TempDir());
  EXPECT_EQ(Gate(Lenet(profile) + " --budget 125J").exit_code, 0);
  CommandOutput r = Gate(Lenet(profile) + " --budget 125J --conservative");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("whole-run energy (upper bound) 126 J exceeds budget 125 J"),
            std::string::npos)
      << r.err;
}

TEST(GateCli, BaselineFromAnalyzeThenABiggerModel) {
  fs::path dir = TempDir();
  fs::path base = dir / "base.json";
  CommandOutput a = RunCommand(kBin + " analyze " + Model("simplecnn.json") + " --format json -o " +
                               base.string());
  ASSERT_EQ(a.exit_code, 0) << a.err;

  // The same model and settings: no increase, no warning.
  CommandOutput same =
      Gate(Model("simplecnn.json") + " --baseline " + base.string() + " --max-increase 0%");
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
  CommandOutput batch = Gate(Model("simplecnn.json") + " --batch 64 --baseline " + base.string() +
                             " --max-increase 5 --format json");
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
  CommandOutput both = Gate(Model("simplecnn.json") + " --baseline " + base.string() +
                            " --max-increase 5 --budget 1J");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("exceeds budget 1 J"), std::string::npos) << both.err;
  EXPECT_EQ(both.err.find("baseline"), std::string::npos) << both.err;
}

TEST(GateCli, JunitIsWellFormedXml) {
  fs::path dir = TempDir();
  fs::path profile = WriteProfile(dir);
  fs::path base = dir / "base.json";
  ASSERT_EQ(RunCommand(kBin + " analyze " + Lenet(profile) + " --format json -o " + base.string())
                .exit_code,
            0);
  fs::path xml_path = dir / "gate.xml";
  CommandOutput r = Gate(Lenet(profile) + " --budget 100J --baseline " + base.string() +
                         " --max-increase 5% --format junit -o " + xml_path.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(xml_path.string() + ".tmp"));
  const std::string xml = Slurp(xml_path);
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

TEST(GateCli, MarkdownTableForAPullRequest) {
  fs::path profile = WriteProfile(TempDir());
  CommandOutput r = Gate(Lenet(profile) + " --budget 200J --format markdown");
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

TEST(GateCli, JsonReport) {
  fs::path dir = TempDir();
  fs::path profile = WriteProfile(dir);
  fs::path out = dir / "gate.json";
  CommandOutput r = Gate(Lenet(profile) + " --budget 1kJ --format json -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(Slurp(out));
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
  EXPECT_EQ(j["profile"]["source"], profile.string());
  EXPECT_EQ(j["profile"]["meter"]["kind"], "estimate");
}

TEST(GateCli, DefaultProfileIsUsedAndNamed) {
  CommandOutput r = Gate(Model("lenet5.json") + " --budget 1MJ --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["profile"]["default"].get<bool>());
  EXPECT_EQ(j["profile"]["source"], kSrc + "/data/profiles/default.json");
}

TEST(GateCli, BadBaselinesAreOneLineAndExitTwo) {
  fs::path dir = TempDir();
  fs::path profile = WriteProfile(dir);
  std::ofstream(dir / "corrupt.json") << "{\"schema\": \"joulecast.analysis/1\", ";
  std::ofstream(dir / "gate.json") << R"({"schema": "joulecast.gate/1"})";
  // A report made without a profile has no prediction.
  ASSERT_EQ(RunCommand("JOULECAST_DATA_DIR=" + dir.string() + " " + kBin + " analyze " +
                       Model("lenet5.json") + " --format json -o " + (dir / "noprof.json").string())
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
        Gate(Lenet(profile) + " --baseline " + (dir / c.file).string() + " --max-increase 5%");
    EXPECT_EQ(r.exit_code, 2) << c.file << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("joulecast gate: " + dir.string() + "/" + c.says, 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(GateCli, BadUsageIsOneLineAndExitTwo) {
  fs::path dir = TempDir();
  fs::path profile = WriteProfile(dir);
  const std::string lenet = Lenet(profile);
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
           Case{Model("lenet5.json") + " --budget 1kJ --profile " + (dir / "none.json").string(),
                "cannot open the profile"},
           Case{dir.string() + "/none.onnx --budget 1kJ", "none.onnx"},
       }) {
    CommandOutput r = Gate(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("joulecast gate: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
  }
  // No profile at all: the gate needs one.
  CommandOutput r = RunCommand("JOULECAST_DATA_DIR=" + dir.string() + " " + kBin + " gate " +
                               Model("lenet5.json") + " --budget 1kJ");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no profile: give --profile"), std::string::npos) << r.err;
}

// x (batch x 8) -> Relu -> com.example:Mystery -> Sigmoid, as an ONNX file: Mystery is not
// modelled, and Sigmoid, whose input shape is then unknown, neither.
fs::path WriteModelWithCustomOp(const fs::path& dir) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(14);
  auto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(1);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("custom");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(8);
  auto node = [&](const char* op, const char* domain, const char* a, const char* b) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_domain(domain);
    n->set_name(std::string(op) + "_node");
    n->add_input(a);
    n->add_output(b);
  };
  node("Relu", "", "x", "r");
  node("Mystery", "com.example", "r", "m");
  node("Sigmoid", "", "m", "y");
  g->add_output()->set_name("y");
  fs::path p = dir / "custom.onnx";
  std::ofstream f(p, std::ios::binary);
  m.SerializeToOstream(&f);
  return p;
}

TEST(GateCli, UnmodelledNodesAreAWarningAndStrictMakesThemErrors) {
  fs::path dir = TempDir();
  fs::path model = WriteModelWithCustomOp(dir);
  const std::string args =
      model.string() + " --profile " + WriteProfile(dir).string() + " --budget 1MJ --format json";
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

TEST(GateCli, HelpAndTheCommandList) {
  CommandOutput help = Gate("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("no space"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--carbon-intensity"), std::string::npos);
  CommandOutput list = RunCommand(kBin + " --help");
  EXPECT_NE(list.out.find("  gate "), std::string::npos) << list.out;
}

}  // namespace
