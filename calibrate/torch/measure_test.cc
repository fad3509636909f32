// MeasureTraining through its plain-type API, with a fake meter: no libtorch included here.
#include "calibrate/torch/measure.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include "analyzer/load_model.h"

namespace joulecast {
namespace {

// Joules as a 10 W load would use them since the meter was made.
class FakeMeter : public EnergyMeter {
 public:
  explicit FakeMeter(double period_s = 0.001, bool fail = false)
      : period_s_(period_s), fail_(fail) {}
  std::string kind() const override { return "fake"; }
  bool real() const override { return false; }
  std::string description() const override { return "fake: 10 W"; }
  double update_period_s() const override { return period_s_; }
  Result<double> EnergyJ() override {
    ++reads;
    if (fail_) return Status::Error("counter went away");
    return 10 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  int reads = 0;

 private:
  double period_s_;
  bool fail_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

Graph Load(const std::string& name, int64_t batch) {
  LoadOptions lo;
  lo.batch = batch;
  Result<Graph> g = LoadModel(std::string(JOULECAST_SOURCE_DIR) + "/models/" + name + ".json", lo);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(*g) : Graph{};
}

MeasureOptions Options(int64_t batch, int64_t steps) {
  MeasureOptions o;
  o.batch = batch;
  o.steps = steps;
  o.warmup_steps = 1;
  return o;
}

// Measures `steps` steps of `model` at batch 16 with no warm-up, the options changed by `change`.
Result<Measurement> MeasureFromTheFirstStep(
    const char* model, int64_t steps, const std::function<void(MeasureOptions&)>& change = {}) {
  Graph g = Load(model, 16);
  FakeMeter meter;
  MeasureOptions o = Options(16, steps);
  o.warmup_steps = 0;
  if (change) change(o);
  return MeasureTraining(g, o, meter);
}

TEST(MeasureTraining, MeasuresTimeAndEnergyPerStep) {
  Graph g = Load("lenet5", 16);
  FakeMeter meter;
  Result<Measurement> m = MeasureTraining(g, Options(16, 5), meter);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(meter.reads, 2);
  EXPECT_GE(m->steps, 5);
  EXPECT_EQ(m->batch, 16);
  EXPECT_GT(m->time_s, 0);
  EXPECT_NEAR(m->time_s_per_step, m->time_s / m->steps, 1e-12);
  // The fake meter's 10 W over the same window.
  EXPECT_NEAR(m->energy_j, 10 * m->time_s, 0.05 * 10 * m->time_s + 1e-3);
  EXPECT_NEAR(m->energy_j_per_step, m->energy_j / m->steps, 1e-12);
  EXPECT_GT(m->time_s_per_step_stddev, 0);
  EXPECT_GE(m->threads, 1);
}

// A few Adam steps on one fixed synthetic batch must fit it better.
class LossDecreases : public ::testing::TestWithParam<const char*> {};

TEST_P(LossDecreases, WithAdamOnAFixedSyntheticBatch) {
  Result<Measurement> m = MeasureFromTheFirstStep(GetParam(), 12);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_LT(m->loss_last, m->loss_first) << GetParam();
  EXPECT_GT(m->loss_first, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, LossDecreases,
                         ::testing::Values("lenet5", "simplecnn", "resnet_small", "mobilenet_small",
                                           "inception_small"));

TEST(MeasureTraining, SgdWithMomentumTrainsToo) {
  Result<Measurement> m = MeasureFromTheFirstStep("simplecnn", 10, [](MeasureOptions& o) {
    o.train.optimizer = "sgd";
    o.train.learning_rate = 0.05;
  });
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_LT(m->loss_last, m->loss_first);
}

TEST(MeasureTraining, Bf16PrecisionTrainsOnTheCpu) {
  Result<Measurement> m = MeasureFromTheFirstStep(
      "lenet5", 12, [](MeasureOptions& o) { o.train.precision = "bf16"; });
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_GT(m->time_s_per_step, 0);
  EXPECT_LT(m->loss_last, m->loss_first);
}

TEST(MeasureTraining, StepsUntilTheWindowCoversTenMeterPeriods) {
  Graph g = Load("lenet5", 2);
  FakeMeter meter(0.05);
  Result<Measurement> m = MeasureTraining(g, Options(2, 2), meter);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_GE(m->time_s, 0.5);
  EXPECT_GT(m->steps, 2);
  EXPECT_NEAR(m->time_s_per_step, m->time_s / m->steps, 1e-12);
}

TEST(MeasureTraining, TrainsOnFashionMnist) {
  Graph g = Load("lenet5", 32);
  FakeMeter meter;
  MeasureOptions o = Options(32, 3);
  o.dataset = "fashion-mnist";
  o.train.threads = 1;
  Result<Measurement> m = MeasureTraining(g, o, meter);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->threads, 1);
  // Real images with ten classes: the first loss is near ln 10.
  EXPECT_NEAR(m->loss_first, 2.3, 0.5);
}

// Inputs MeasureTraining rejects before it reads the meter, each with a message that says why.
TEST(MeasureTraining, BadInputsAreErrorsThatSayWhy) {
  struct Case {
    const char* model;  // loaded at batch 4
    std::function<void(MeasureOptions&)> change;
    const char* expected;
  };
  const Case cases[] = {
      {"lenet5", [](MeasureOptions& o) { o.train.precision = "fp16"; },
       "fp16 needs a CUDA device"},
      {"lenet5", [](MeasureOptions& o) { o.train.precision = "fp8"; }, "'fp8'"},
      {"resnet_small", [](MeasureOptions& o) { o.dataset = "fashion-mnist"; },
       "1x28x28 but the model takes 3x32x32"},
      {"lenet5",
       [](MeasureOptions& o) {
         o.dataset = "fashion-mnist";
         o.dataset_dir = "/nonexistent/fmnist";
       },
       "/nonexistent/fmnist/train-images-idx3-ubyte.gz"},
      {"lenet5", [](MeasureOptions& o) { o.batch = 8; }, "loaded at batch 4"},
      {"lenet5", [](MeasureOptions& o) { o.train.optimizer = "rmsprop"; }, "rmsprop"},
      {"lenet5", [](MeasureOptions& o) { o.train.device = "tpu"; }, "'tpu'"},
  };
  for (const Case& c : cases) {
    Graph g = Load(c.model, 4);
    FakeMeter meter;
    MeasureOptions o = Options(4, 1);
    c.change(o);
    Result<Measurement> m = MeasureTraining(g, o, meter);
    ASSERT_FALSE(m.ok()) << c.expected;
    EXPECT_NE(m.status().message().find(c.expected), std::string::npos) << m.status().message();
    EXPECT_EQ(meter.reads, 0) << c.expected;
  }
}

TEST(MeasureTraining, MeterFailuresAreErrors) {
  Graph g = Load("lenet5", 4);
  FakeMeter broken(0.001, true);
  Result<Measurement> m = MeasureTraining(g, Options(4, 1), broken);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("counter went away"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace joulecast
