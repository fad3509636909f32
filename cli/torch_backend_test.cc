// The libtorch back end is loaded only by the commands that train: with the module missing (a
// copy of the executable alone in a folder) measure, calibrate and the built-in search trainer
// fail with one line naming the file, and analyze, gate, search --trainer and --report work;
// beside the module (the build tree), analyze does not load it, and calibrate and the built-in
// trainer do.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using joulecast::testing::CommandOutput;
using joulecast::testing::Lines;
using joulecast::testing::RunCommand;
using joulecast::testing::TempDir;

const fs::path kBin = JOULECAST_BIN;
const std::string kModel = std::string(JOULECAST_SOURCE_DIR) + "/models/simplecnn.json";

// A space of small trials on Fashion-MNIST.
constexpr const char* kSpace = R"({
  "architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                   "input": {"shape": [1, 28, 28]}, "classes": 10},
  "parameters": {"nr_conv": {"type": "int", "low": 1, "high": 3}},
  "training": {"dataset": "fashion-mnist", "epochs": 1, "batch_size": 64,
               "train_samples": 256, "validation_samples": 128}})";

// Reads the trial from standard input and answers with a fixed accuracy and energy.
constexpr const char* kTrainer =
    "--trainer 'cat >/dev/null; echo \"{\\\"accuracy\\\": 0.5, \\\"energy_j\\\": 10}\"'";

// A folder holding a copy of the executable and nothing else, and a search space.
class WithoutModule : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy_file(kBin, dir_ / "joulecast");
    dir_.Write("space.json", kSpace);
  }

  CommandOutput Run(const std::string& args) const {
    return RunCommand((dir_ / "joulecast").string() + " " + args);
  }
  std::string In(const std::string& name) const { return (dir_ / name).string(); }

  // One line: "joulecast COMMAND: ...", naming the missing module and what to install.
  void ExpectMissing(const CommandOutput& r, const std::string& command) const {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("joulecast " + command + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("the libtorch back end " + In("libjoulecast-torch.so") + " is missing"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("install libtorch-dev"), std::string::npos) << r.err;
  }

  TempDir dir_;
};

TEST_F(WithoutModule, TrainingCommandsSayWhatIsMissing) {
  ExpectMissing(Run("measure " + kModel), "measure");
  ExpectMissing(Run("calibrate -o " + In("p.json")), "calibrate");
  CommandOutput search = Run("search " + In("space.json") + " --trials 1");
  ExpectMissing(search, "search");
  EXPECT_NE(search.err.find("--trainer CMD"), std::string::npos) << search.err;
  EXPECT_FALSE(fs::exists(In("p.json")));
}

TEST_F(WithoutModule, AModuleThatCannotServeIsOneLine) {
  dir_.Write("libjoulecast-torch.so", "not a shared object\n");
  CommandOutput garbage = Run("measure " + kModel);
  EXPECT_EQ(garbage.exit_code, 2) << garbage.err;
  EXPECT_EQ(Lines(garbage.err), 1u) << garbage.err;
  EXPECT_EQ(garbage.err.rfind("joulecast measure: cannot load the libtorch back end " +
                                  In("libjoulecast-torch.so") + ": ",
                              0),
            0u)
      << garbage.err;

  fs::copy_file(JOULECAST_FAKE_TORCH_MODULE, In("libjoulecast-torch.so"),
                fs::copy_options::overwrite_existing);
  CommandOutput other = Run("calibrate -o " + In("p.json"));
  EXPECT_EQ(other.exit_code, 2) << other.err;
  EXPECT_EQ(other.err, "joulecast calibrate: " + In("libjoulecast-torch.so") +
                           " is from another build of joulecast: rebuild joulecast, or install "
                           "the executable and its libtorch back end together\n");
}

TEST_F(WithoutModule, FlagErrorsAndHelpNeedNoModule) {
  CommandOutput bad = Run("measure " + kModel + " --batch 0");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "joulecast measure: --batch needs a positive integer up to 16777216\n");
  CommandOutput help = Run("calibrate --help");
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(help.out.rfind("usage: joulecast calibrate -o PROFILE", 0), 0u) << help.out;
}

TEST_F(WithoutModule, AnalyzeGateAndExternalSearchWork) {
  CommandOutput analyze = Run("analyze " + kModel + " --format json");
  EXPECT_EQ(analyze.exit_code, 0) << analyze.err;
  EXPECT_NE(analyze.out.find("\"SimpleCNN\""), std::string::npos) << analyze.out;

  CommandOutput gate = Run("gate " + kModel + " --budget 1MJ -o " + In("gate.txt"));
  EXPECT_EQ(gate.exit_code, 0) << gate.err;

  CommandOutput search = Run("search " + In("space.json") + " --strategy random --trials 2 " +
                             "--study " + In("s.db") + " " + kTrainer);
  EXPECT_EQ(search.exit_code, 0) << search.err;
  CommandOutput report = Run("search --report " + In("s.db"));
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("strategy random"), std::string::npos) << report.out;
}

#ifdef JOULECAST_TORCH_MODULE
// The dynamic loader's own account (LD_DEBUG=files) of what each process loads.
std::string Loaded(const std::string& args) {
  return RunCommand("LD_DEBUG=files " + kBin.string() + " " + args).err;
}

TEST(BesideModule, OnlyTrainingCommandsLoadIt) {
  ASSERT_TRUE(fs::exists(JOULECAST_TORCH_MODULE));
  const TempDir dir;
  const std::string analyze = Loaded("analyze " + kModel + " -o " + (dir / "r.txt").string());
  EXPECT_NE(analyze.find("calling init"), std::string::npos) << "no LD_DEBUG output:\n" << analyze;
  EXPECT_EQ(analyze.find("libjoulecast-torch"), std::string::npos) << analyze;
  EXPECT_EQ(analyze.find("libtorch"), std::string::npos) << analyze;
  EXPECT_EQ(analyze.find("libc10"), std::string::npos) << analyze;

  // track measures and predicts with the meters and the analyzer alone.
  const std::string track = Loaded("track --no-history --predict " + kModel + " -o " +
                                   (dir / "t.txt").string() + " -- true");
  EXPECT_NE(track.find("calling init"), std::string::npos) << track;
  EXPECT_EQ(track.find("libjoulecast-torch"), std::string::npos) << track;
  EXPECT_EQ(track.find("libtorch"), std::string::npos) << track;

  // calibrate --fit-only loads the back end, then fails: the database does not exist.
  const std::string calibrate = Loaded("calibrate --fit-only --db " + (dir / "none.db").string() +
                                       " -o " + (dir / "p.json").string());
  EXPECT_NE(calibrate.find("libjoulecast-torch.so"), std::string::npos) << calibrate;
  EXPECT_NE(calibrate.find("libtorch"), std::string::npos) << calibrate;
}

// The built-in trainer, made and run through the module: one small trial on Fashion-MNIST.
TEST(BesideModule, BuiltInTrainerTrainsATrial) {
  const TempDir dir;
  dir.Write("space.json", kSpace);
  CommandOutput r = RunCommand(kBin.string() + " search " + (dir / "space.json").string() +
                               " --trials 1 --strategy random --meter estimate");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("search: meter estimate: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("trial 0 done: accuracy "), std::string::npos) << r.err;
}
#endif

}  // namespace
