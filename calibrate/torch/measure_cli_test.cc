// The real `joulecast measure` end to end: its JSON fields, its text, and one-line errors with
// exit code 2. Runs the built executable from the source tree.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;

class MeasureCli : public ::testing::Test {
 protected:
  // Runs `joulecast measure ARGS` in the source tree (ARGS are trusted test strings).
  CommandOutput Measure(const std::string& args) {
    return RunCommand("cd '" JOULECAST_SOURCE_DIR "' && '" JOULECAST_BIN "' measure " + args);
  }

  // Expects exit code 2 with exactly one line on stderr that contains `what`.
  void ExpectUsageError(const std::string& args, const std::string& what) {
    CommandOutput o = Measure(args);
    EXPECT_EQ(o.exit_code, 2) << args << "\n" << o.err;
    EXPECT_TRUE(o.out.empty()) << args;
    ASSERT_FALSE(o.err.empty()) << args;
    EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << args << ": more than one line:\n" << o.err;
    EXPECT_EQ(o.err.rfind("joulecast measure: ", 0), 0u) << o.err;
    EXPECT_NE(o.err.find(what), std::string::npos) << args << "\n" << o.err;
  }

  TempDir dir_;
};

TEST_F(MeasureCli, JsonHasTheDocumentedFields) {
  CommandOutput o = Measure("models/lenet5.json --steps 3 --format json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["schema"], "joulecast.measurement/1");
  EXPECT_EQ(j["model"], "lenet5");
  EXPECT_EQ(j["batch"], 64);
  EXPECT_GE(j["steps"].get<int>(), 3);
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_EQ(j["dataset"], "synthetic");
  EXPECT_TRUE(j["loss_first"].is_number());
  EXPECT_TRUE(j["loss_last"].is_number());
  const nlohmann::json& per_step = j["measurement"]["per_step"];
  EXPECT_GT(per_step["time_s"].get<double>(), 0);
  EXPECT_GT(per_step["energy_j"].get<double>(), 0);
  EXPECT_GE(per_step["time_s_stddev"].get<double>(), 0);
  EXPECT_NEAR(j["measurement"]["time_s"].get<double>(),
              per_step["time_s"].get<double>() * j["steps"].get<double>(), 1e-9);
  const nlohmann::json& meter = j["meter"];
  const std::string kind = meter["kind"];
  EXPECT_TRUE(kind == "rapl" || kind == "nvml" || kind == "estimate") << kind;
  ASSERT_TRUE(meter["real"].is_boolean());
  EXPECT_EQ(meter["real"].get<bool>(), kind != "estimate");
  EXPECT_FALSE(meter["description"].get<std::string>().empty());
  if (kind == "estimate") {
    EXPECT_EQ(meter["note"], "estimated, not measured");
  }
}

TEST_F(MeasureCli, EstimateOnFashionMnistToAFile) {
  fs::path file = dir_ / "m.json";
  CommandOutput o = Measure(
      "models/lenet5.json --batch 8 --steps 2 --warmup 1 --dataset fashion-mnist "
      "--optimizer sgd --lr 0.01 --threads 1 --meter estimate --cpu-watts 5 "
      "--seed 3 --format json -o '" +
      file.string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(o.out.empty());
  nlohmann::json j = nlohmann::json::parse(ReadFile(file));
  EXPECT_EQ(j["batch"], 8);
  EXPECT_EQ(j["dataset"], "fashion-mnist");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["seed"], 3);
  EXPECT_EQ(j["optimizer"]["name"], "sgd");
  EXPECT_EQ(j["meter"]["kind"], "estimate");
  EXPECT_EQ(j["meter"]["real"], false);
  EXPECT_NE(j["meter"]["description"].get<std::string>().find("5"), std::string::npos);
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
}

TEST_F(MeasureCli, TextNamesTheMeterAndSaysWhenItIsAnEstimate) {
  CommandOutput o = Measure("models/simplecnn.json --batch 4 --steps 2 --meter estimate");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("model        SimpleCNN (models/simplecnn.json)"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("time/step"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("energy/step"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("meter        estimate: "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("estimated, not measured"), std::string::npos) << o.out;
}

// A JSON architecture's "training" object sets the batch, optimizer and precision that the flags
// leave out, and the report names them.
TEST_F(MeasureCli, TrainingObjectOfTheFileUnlessFlagsSayOtherwise) {
  dir_.Write("m.json", R"({"name": "m", "input": {"shape": [1, 8, 8]}, "layers": [
      {"op": "flatten"}, {"op": "linear", "out_features": 4}],
      "training": {"batch": 12, "optimizer": "sgd", "precision": "bf16"}})");
  const std::string model = (dir_ / "m.json").string();
  CommandOutput o = Measure(model + " --steps 2 --warmup 0 --meter estimate --format json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["batch"], 12);
  EXPECT_EQ(j["optimizer"]["name"], "sgd");
  EXPECT_EQ(j["precision"], "bf16");
  EXPECT_EQ(j["from_file"], (nlohmann::json{"batch", "optimizer", "precision"}));
  CommandOutput flags = Measure(model +
                                " --batch 3 --optimizer adam --precision fp32 --steps 2 "
                                "--warmup 0 --meter estimate --format json");
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  nlohmann::json f = nlohmann::json::parse(flags.out);
  EXPECT_EQ(f["batch"], 3);
  EXPECT_EQ(f["optimizer"]["name"], "adam");
  EXPECT_EQ(f["precision"], "fp32");
  EXPECT_TRUE(f["from_file"].empty());
  CommandOutput text = Measure(model + " --steps 2 --warmup 0 --meter estimate");
  EXPECT_NE(text.out.find("batch, optimizer, precision from the file's training object"),
            std::string::npos)
      << text.out;
  // Without a training object (or an ONNX model), measure's own default batch.
  CommandOutput plain = Measure(
      "models/lenet5.json --steps 2 --warmup 0 --meter estimate "
      "--format json");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["batch"], 64);
  dir_.Write("bad.json", R"({"name": "m", "input": {"shape": [1, 8, 8]}, "layers": [
      {"op": "flatten"}, {"op": "linear", "out_features": 4}], "training": {"batch": -1}})");
  ExpectUsageError((dir_ / "bad.json").string() + " --steps 1", "/training/batch");
}

TEST_F(MeasureCli, PrecisionBf16OnTheCpu) {
  CommandOutput o = Measure(
      "models/lenet5.json --batch 8 --steps 2 --warmup 1 --precision bf16 "
      "--format json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["precision"], "bf16");
  EXPECT_TRUE(std::isfinite(j["loss_first"].get<double>()));
  EXPECT_GT(j["measurement"]["per_step"]["time_s"].get<double>(), 0);

  o = Measure("models/lenet5.json --batch 8 --steps 2 --warmup 0 --precision bf16");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find(" data, cpu, bf16, "), std::string::npos) << o.out;
}

TEST_F(MeasureCli, PrecisionDefaultsToFp32) {
  CommandOutput o = Measure("models/lenet5.json --batch 8 --steps 2 --warmup 0 --format json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(nlohmann::json::parse(o.out)["precision"], "fp32");
}

TEST_F(MeasureCli, BadPrecisionIsOneLineAndExitTwo) {
  ExpectUsageError("models/lenet5.json --precision fp8", "--precision needs fp32, bf16 or fp16");
  ExpectUsageError("models/lenet5.json --precision fp16", "fp16 needs a CUDA device");
  ExpectUsageError("models/lenet5.json --precision", "--precision needs fp32, bf16 or fp16");
}

TEST_F(MeasureCli, BadFlagsAreOneLineAndExitTwo) {
  ExpectUsageError("models/lenet5.json --batch 0", "--batch needs a positive integer");
  ExpectUsageError("models/lenet5.json --steps x", "--steps needs a positive integer");
  ExpectUsageError("models/lenet5.json --lr -1", "--lr needs a positive number");
  ExpectUsageError("models/lenet5.json --optimizer rmsprop", "--optimizer must be adam or sgd");
  ExpectUsageError("models/lenet5.json --dataset cifar", "--dataset must be");
  ExpectUsageError("models/lenet5.json --meter joulemeter", "--meter must be");
  ExpectUsageError("models/lenet5.json --device tpu", "--device must be cpu, cuda or cuda:N");
  ExpectUsageError("models/lenet5.json --format html", "--format must be text or json");
  ExpectUsageError("models/lenet5.json --frobnicate", "unknown option '--frobnicate'");
  ExpectUsageError("models/lenet5.json models/simplecnn.json", "more than one MODEL");
  ExpectUsageError("models/lenet5.json --steps", "--steps needs");
}

TEST_F(MeasureCli, BadInputIsOneLineAndExitTwo) {
  ExpectUsageError("models/no_such_model.json", "no_such_model.json");
  ExpectUsageError("models/resnet_small.json --dataset fashion-mnist --steps 1",
                   "Fashion-MNIST images are 1x28x28 but the model takes 3x32x32");
  ExpectUsageError("models/lenet5.json --device cuda:99 --steps 1", "cuda:99");
  ExpectUsageError("models/lenet5.json --steps 1 -o /nonexistent/dir/m.json", "/nonexistent/dir");
}

}  // namespace
