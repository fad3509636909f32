// The external trainer: small shell and python3 commands as trainers.
#include "analyzer/search/external_trainer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

namespace joulecast::search {
namespace {

TrialRequest Request() {
  TrialRequest r;
  r.trial = 7;
  r.seed = 3;
  r.params = {{"learning_rate", 0.01}, {"nr_conv", int64_t{2}}, {"optimizer", std::string("sgd")}};
  r.architecture_json = R"({"family": "SimpleCNN", "nr_conv_layers": 2})";
  r.training.epochs = 2;
  r.training.batch_size = 512;
  return r;
}

TrialOutcome RunTrainer(const std::string& command, const TrialRequest& request = Request()) {
  ExternalTrainer trainer(command);
  Result<TrialOutcome> r = trainer.Train(request);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : TrialOutcome{};
}

TEST(ExternalTrainer, WritesTheRequestAndReadsTheLastLine) {
  // Echoes parts of its input back, after a line of progress.
  TrialOutcome o = RunTrainer(
      "/usr/bin/python3 -c 'import json, os, sys\n"
      "r = json.load(sys.stdin)\n"
      "print(\"epoch 1 of 2\")\n"
      "acc = r[\"params\"][\"learning_rate\"] * 10 + r[\"architecture\"][\"nr_conv_layers\"] / 10\n"
      "print(json.dumps({\"accuracy\": acc, \"energy_j\": r[\"training\"][\"batch_size\"] + "
      "r[\"trial\"] + int(os.environ[\"JOULECAST_TRIAL\"]), \"meter\": "
      "r[\"params\"][\"optimizer\"]}))\n"
      "print()'");
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_DOUBLE_EQ(o.accuracy, 0.3);
  EXPECT_DOUBLE_EQ(o.energy_j, 526);
  EXPECT_EQ(o.meter, "sgd");
  EXPECT_FALSE(o.energy_real);
  EXPECT_GT(o.time_s, 0);
}

TEST(ExternalTrainer, RequestJsonHasEveryField) {
  nlohmann::json j = nlohmann::json::parse(TrialRequestJson(Request()));
  EXPECT_EQ(j["trial"], 7);
  EXPECT_EQ(j["seed"], 3);
  EXPECT_EQ(j["params"]["nr_conv"], 2);
  EXPECT_EQ(j["params"]["optimizer"], "sgd");
  EXPECT_EQ(j["architecture"]["family"], "SimpleCNN");
  for (const char* key : {"dataset", "epochs", "batch_size", "train_samples", "validation_samples",
                          "optimizer", "learning_rate", "beta1", "beta2", "weight_decay"}) {
    EXPECT_TRUE(j["training"].contains(key)) << key;
  }
}

TEST(ExternalTrainer, NonZeroExitFailsTheTrialWithItsLastErrorLine) {
  TrialOutcome o =
      RunTrainer("cat >/dev/null; echo starting >&2; echo 'CUDA out of memory' >&2; exit 3");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, "the trainer exited with status 3: CUDA out of memory");
}

TEST(ExternalTrainer, GarbageLastLineFailsTheTrial) {
  TrialOutcome o = RunTrainer("echo '{\"accuracy\": 0.5, \"energy_j\": 1}'; echo 'done!'");
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.error.find("the trainer's last line is not a JSON object: 'done!'"),
            std::string::npos)
      << o.error;
  EXPECT_EQ(o.error.find('\n'), std::string::npos);
}

TEST(ExternalTrainer, KilledBySignal) {
  TrialOutcome o = RunTrainer("kill -KILL $$");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, "the trainer was killed by signal SIGKILL");
}

// A trainer that exits without reading a large input: EPIPE, not a SIGPIPE that kills the search.
TEST(ExternalTrainer, TrainerThatIgnoresItsInput) {
  TrialRequest big = Request();
  big.architecture_json = "{\"pad\": \"" + std::string(4 << 20, 'x') + "\"}";
  TrialOutcome o = RunTrainer("echo '{\"accuracy\": 1, \"energy_j\": 0}'", big);
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_DOUBLE_EQ(o.accuracy, 1);
}

TEST(ExternalTrainer, CancelStopsTheTrainer) {
  std::atomic<bool> cancel{false};
  ExternalTrainer trainer("sleep 30", &cancel);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.store(true);
  });
  const auto t0 = std::chrono::steady_clock::now();
  Result<TrialOutcome> r = trainer.Train(Request());
  canceller.join();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("interrupted"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(ExternalTrainer, ParsesOutput) {
  EXPECT_TRUE(ParseTrainerOutput("{\"accuracy\": 0.5, \"energy_j\": 2}\n\n  \n").ok);
  TrialOutcome real = ParseTrainerOutput(
      "log\n{\"accuracy\": 0, \"energy_j\": 2.5, \"energy_real\": true, \"meter\": \"rapl\"}\r\n");
  EXPECT_TRUE(real.ok);
  EXPECT_TRUE(real.energy_real);
  EXPECT_EQ(real.meter, "rapl");
  struct Bad {
    const char* output;
    const char* error;
  };
  for (const Bad& b : {
           Bad{"", "the trainer printed nothing on standard output"},
           Bad{"{\"energy_j\": 2}", "has no number \"accuracy\""},
           Bad{"{\"accuracy\": 0.5}", "has no number \"energy_j\""},
           Bad{"{\"accuracy\": \"0.5\", \"energy_j\": 1}", "has no number \"accuracy\""},
           Bad{"{\"accuracy\": 87, \"energy_j\": 1}", "\"accuracy\" 87 is not in [0, 1]"},
           Bad{"{\"accuracy\": 0.5, \"energy_j\": -1}", "\"energy_j\" is negative"},
           Bad{"[0.5, 1]", "is not a JSON object"},
           Bad{"{\"accuracy\": 0.5, \"energy_j\": 1, \"energy_real\": 1}", "\"energy_real\""},
       }) {
    TrialOutcome o = ParseTrainerOutput(b.output);
    EXPECT_FALSE(o.ok) << b.output;
    EXPECT_NE(o.error.find(b.error), std::string::npos) << b.output << " -> " << o.error;
  }
}

// What a FakeChildMeter was asked; it outlives the meters the trainer owns.
struct MeterCalls {
  bool armed = false;              ///< Arm was called,
  bool armed_before_start = false;  ///< and before Start (before the trainer was spawned).
  pid_t started_pid = 0;
  int polls = 0;
  bool finished = false;
};

// A meter that reports the energy the test sets, and records what it was asked.
class FakeChildMeter : public ChildMeter {
 public:
  FakeChildMeter(double energy_j, MeterCalls* calls)
      : devices_{{"cpu", "estimate", false, "fake", 0}}, energy_j_(energy_j), calls_(calls) {}
  std::string Arm() override {
    calls_->armed = true;
    return "";
  }
  std::string Start(pid_t pid) override {
    calls_->armed_before_start = calls_->armed;
    calls_->started_pid = pid;
    return "";
  }
  std::string Poll(double* energy_j) override {
    ++calls_->polls;
    if (energy_j) *energy_j = 0;
    return "";
  }
  std::string Finish() override {
    devices_[0].energy_j = energy_j_;
    calls_->finished = true;
    return "";
  }
  const std::vector<DeviceEnergy>& devices() const override { return devices_; }
  std::string kind() const override { return "estimate"; }
  bool real() const override { return false; }

 private:
  std::vector<DeviceEnergy> devices_;
  double energy_j_ = 0;
  MeterCalls* calls_;
};

TEST(ExternalTrainer, MeasuresTheTrainerWhenItReportsNoEnergy) {
  MeterCalls calls;
  ExternalTrainer trainer("sleep 0.7; echo '{\"accuracy\": 0.5}'");
  trainer.MeasureWith([&](std::string*) {
    return std::unique_ptr<ChildMeter>(std::make_unique<FakeChildMeter>(42.5, &calls));
  });
  Result<TrialOutcome> o = trainer.Train(Request());
  ASSERT_TRUE(o.ok()) << o.status().message();
  ASSERT_TRUE(o->ok) << o->error;
  EXPECT_DOUBLE_EQ(o->energy_j, 42.5);
  EXPECT_EQ(o->meter, "estimate");
  EXPECT_FALSE(o->energy_real);
  EXPECT_GT(calls.started_pid, 0);
  EXPECT_TRUE(calls.armed_before_start) << "hardware counters read before the trainer started";
  EXPECT_GE(calls.polls, 1) << "read while the trainer ran";
  EXPECT_TRUE(calls.finished);

  // A trainer that reports its energy keeps its own number and meter.
  ExternalTrainer reporting("echo '{\"accuracy\": 0.5, \"energy_j\": 7, \"meter\": \"zeus\"}'");
  MeterCalls ignored;
  reporting.MeasureWith([&](std::string*) {
    return std::unique_ptr<ChildMeter>(std::make_unique<FakeChildMeter>(99, &ignored));
  });
  Result<TrialOutcome> own = reporting.Train(Request());
  ASSERT_TRUE(own.ok() && own->ok);
  EXPECT_DOUBLE_EQ(own->energy_j, 7);
  EXPECT_EQ(own->meter, "zeus");

  // Without a meter, "energy_j" is still required.
  EXPECT_FALSE(ParseTrainerOutput("{\"accuracy\": 0.5}").ok);

  // A meter that cannot open stops the search with its reason.
  ExternalTrainer broken("true");
  broken.MeasureWith([](std::string* error) {
    *error = "RAPL: no powercap tree";
    return std::unique_ptr<ChildMeter>();
  });
  Result<TrialOutcome> b = broken.Train(Request());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("RAPL: no powercap tree"), std::string::npos);
}

}  // namespace
}  // namespace joulecast::search
