// The built-in search trainer on the real Fashion-MNIST (Debian's dataset-fashion-mnist).
#include "calibrate/train/torch_trainer.h"

#include <gtest/gtest.h>

namespace joulecast {
namespace {

search::TrialRequest SimpleCnn(int64_t train_samples, int64_t validation_samples) {
  search::TrialRequest r;
  r.trial = 0;
  r.seed = 1;
  r.params = {{"learning_rate", 0.003}};
  r.architecture_json = R"({"family": "SimpleCNN", "nr_conv_layers": 1, "nr_linear_layers": 2,
                            "input": {"shape": [1, 28, 28]}, "classes": 10})";
  r.training.epochs = 1;
  r.training.batch_size = 64;
  r.training.train_samples = train_samples;
  r.training.validation_samples = validation_samples;
  r.training.learning_rate = 0.003;
  return r;
}

std::unique_ptr<TorchTrainer> Trainer() {
  TorchTrainerOptions options;
  options.meter.kind = "estimate";
  options.threads = 1;
  Result<std::unique_ptr<TorchTrainer>> t = TorchTrainer::Create(options);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(TorchTrainer, TrainsOneConvSimpleCnnOnRealFashionMnist) {
  auto trainer = Trainer();
  ASSERT_TRUE(trainer);
  Result<search::TrialOutcome> o = trainer->Train(SimpleCnn(512, 512));
  ASSERT_TRUE(o.ok()) << o.status().message();
  ASSERT_TRUE(o->ok) << o->error;
  // Ten classes: chance is 0.1; one epoch of 512 images gets well past it.
  EXPECT_GT(o->accuracy, 0.3);
  EXPECT_LE(o->accuracy, 1.0);
  EXPECT_GT(o->energy_j, 0);
  EXPECT_EQ(o->meter, "estimate");
  EXPECT_FALSE(o->energy_real);
  EXPECT_GT(o->time_s, 0);

  // The same trial again: the same split, weights and order give the same accuracy.
  Result<search::TrialOutcome> again = trainer->Train(SimpleCnn(512, 512));
  ASSERT_TRUE(again.ok() && again->ok);
  EXPECT_DOUBLE_EQ(again->accuracy, o->accuracy);
}

TEST(TorchTrainer, ANetworkThatDoesNotLoadFailsTheTrialOnly) {
  auto trainer = Trainer();
  ASSERT_TRUE(trainer);
  search::TrialRequest r = SimpleCnn(128, 64);
  r.architecture_json = R"({"input": {"shape": [1, 28, 28]}, "layers": []})";
  Result<search::TrialOutcome> o = trainer->Train(r);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_FALSE(o->ok);
  EXPECT_NE(o->error.find("trial 0"), std::string::npos) << o->error;
}

TEST(TorchTrainer, MoreSamplesThanTheSplitHoldsStopsTheSearch) {
  auto trainer = Trainer();
  ASSERT_TRUE(trainer);
  Result<search::TrialOutcome> o = trainer->Train(SimpleCnn(50000, 20000));
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("at most the 60000 images"), std::string::npos)
      << o.status().message();
}

}  // namespace
}  // namespace joulecast
