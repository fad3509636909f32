// The search loop with an in-process trainer: predictions recorded before training, resume,
// a stop between trials, a trainer error releasing its trial, and the energy oracle's cache.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "analyzer/search/search.h"
#include "analyzer/search/search_report.h"
#include "common/testing/test_util.h"

namespace joulecast::search {
namespace {

namespace fs = std::filesystem;
using joulecast::testing::TempDir;

std::string SourceDir() {
  const char* s = std::getenv("JOULECAST_SOURCE_DIR");
  return s ? s : ".";
}

constexpr const char* kSpace = R"({
  "architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                   "input": {"shape": [1, 28, 28]}, "classes": 10},
  "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": true},
                 "nr_conv": {"type": "int", "low": 1, "high": 3}},
  "training": {"dataset": "fashion-mnist", "epochs": 2, "batch_size": 64,
               "train_samples": 1000, "validation_samples": 500}})";

// Accuracy from the parameters; records what it was asked.
class FakeTrainer : public Trainer {
 public:
  Result<TrialOutcome> Train(const TrialRequest& r) override {
    requests.push_back(r);
    if (fail_with) return Status::Error(*fail_with);
    if (stop_after_first) stop_after_first->store(true);
    TrialOutcome o;
    o.ok = true;
    const double lr = std::get<double>(r.params.at("learning_rate"));
    o.accuracy = 0.9 - 0.05 * std::abs(std::log10(lr) + 2.5);
    o.energy_j = 100.0 * static_cast<double>(std::get<int64_t>(r.params.at("nr_conv")));
    o.meter = "fake";
    o.time_s = 0.01;
    return o;
  }
  std::vector<TrialRequest> requests;
  std::optional<std::string> fail_with;
  std::atomic<bool>* stop_after_first = nullptr;
};

SearchOptions Options(const fs::path& dir, const std::string& strategy, int trials) {
  std::ofstream(dir / "space.json") << kSpace;
  SearchOptions o;
  o.space_path = (dir / "space.json").string();
  o.strategy.strategy = strategy;
  o.strategy.initial_trials = 3;
  o.strategy.candidates = 500;
  o.trials = trials;
  o.study_path = (dir / "s.db").string();
  o.profile_path = SourceDir() + "/data/profiles/default.json";
  return o;
}

TEST(SearchLoop, TrainsAndRecordsEachTrialWithItsPrediction) {
  const TempDir dir;
  FakeTrainer trainer;
  std::vector<std::string> log;
  Result<SearchOutcome> out = RunSearch(Options(dir.path(), "random", 4), trainer, nullptr,
                                        [&](const std::string& line) { log.push_back(line); });
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->trials.size(), 4u);
  EXPECT_EQ(out->ran, 4);
  ASSERT_EQ(trainer.requests.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const StudyTrial& t = out->trials[i];
    EXPECT_EQ(t.number, static_cast<int>(i));
    EXPECT_EQ(t.status, "done");
    ASSERT_TRUE(t.predicted_energy_j.has_value());
    EXPECT_GT(*t.predicted_energy_j, 0);
    EXPECT_LE(*t.predicted_low_j, *t.predicted_energy_j);
    EXPECT_GE(*t.predicted_high_j, *t.predicted_energy_j);
    const TrialRequest& r = trainer.requests[i];
    EXPECT_EQ(r.trial, static_cast<int>(i));
    EXPECT_EQ(r.training.epochs, 2);
    EXPECT_EQ(r.architecture_json.find('$'), std::string::npos) << r.architecture_json;
    nlohmann::json arch = nlohmann::json::parse(r.architecture_json);
    EXPECT_EQ(arch["nr_conv_layers"], std::get<int64_t>(r.params.at("nr_conv")));
  }
  EXPECT_EQ(log.size(), 8u);  // started and done, per trial
}

// Another architecture is another prediction; the learning rate changes none.
TEST(SearchLoop, OraclePredictsTheWholeRunAndCachesByArchitecture) {
  const TempDir dir;
  std::ofstream(dir / "space.json") << kSpace;
  Result<Space> space = LoadSpace((dir / "space.json").string());
  ASSERT_TRUE(space.ok()) << space.status().message();
  Result<Profile> profile = LoadProfile(SourceDir() + "/data/profiles/default.json");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EnergyOracle oracle(*space, &*profile);
  auto predict = [&](double lr, int64_t nr_conv) {
    Result<std::optional<Prediction>> p =
        oracle.Predict({{"learning_rate", lr}, {"nr_conv", nr_conv}});
    EXPECT_TRUE(p.ok()) << p.status().message();
    return p.ok() && *p ? (*p)->energy_j : -1.0;
  };
  const double one = predict(1e-3, 1), again = predict(1e-2, 1), three = predict(1e-3, 3);
  EXPECT_GT(one, 0);
  EXPECT_EQ(one, again);
  EXPECT_GT(three, 0);
  EXPECT_NE(three, one);
  EXPECT_EQ(oracle.cached(), 2u);

  EnergyOracle no_profile(*space, nullptr);
  Result<std::optional<Prediction>> p =
      no_profile.Predict({{"learning_rate", 1e-3}, {"nr_conv", int64_t{2}}});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_value());
}

TEST(SearchLoop, ResumingWithMoreTrialsAddsOnlyTheMissingOnes) {
  const TempDir dir;
  for (const char* strategy : {"grid", "bo"}) {
    fs::remove(dir / "s.db");
    FakeTrainer first;
    ASSERT_TRUE(RunSearch(Options(dir.path(), strategy, 3), first).ok());
    EXPECT_EQ(first.requests.size(), 3u);
    FakeTrainer second;
    Result<SearchOutcome> out = RunSearch(Options(dir.path(), strategy, 5), second);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(second.requests.size(), 2u) << strategy;
    ASSERT_EQ(out->trials.size(), 5u);
    EXPECT_EQ(second.requests[0].trial, 3);
    std::set<std::string> points;
    for (const StudyTrial& t : out->trials) points.insert(t.params_json);
    EXPECT_EQ(points.size(), 5u) << strategy << ": a point was proposed twice";
  }
}

TEST(SearchLoop, StopEndsTheSearchAfterTheCurrentTrial) {
  const TempDir dir;
  std::atomic<bool> stop{false};
  FakeTrainer trainer;
  trainer.stop_after_first = &stop;
  Result<SearchOutcome> out = RunSearch(Options(dir.path(), "random", 5), trainer, &stop);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->interrupted);
  ASSERT_EQ(out->trials.size(), 1u);
  EXPECT_EQ(out->trials[0].status, "done");
}

// A trainer error stops the search and gives the trial back; the next run redoes that number.
TEST(SearchLoop, TrainerErrorReleasesTheTrialForTheNextRun) {
  const TempDir dir;
  FakeTrainer broken;
  broken.fail_with = "energy meter (rapl): cannot read";
  Result<SearchOutcome> out = RunSearch(Options(dir.path(), "random", 3), broken);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "energy meter (rapl): cannot read (trial 0 is left for the next run to redo)");
  FakeTrainer good;
  out = RunSearch(Options(dir.path(), "random", 3), good);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->trials.size(), 3u);
  EXPECT_EQ(out->trials[0].runs, 2);
  EXPECT_EQ(good.requests[0].trial, 0);
  EXPECT_EQ(ParamsJson(good.requests[0].params), out->trials[0].params_json);
}

TEST(SearchLoop, EnergyAwareOptionsNeedAProfile) {
  const TempDir dir;
  SearchOptions o = Options(dir.path(), "bo", 3);
  o.profile_path.clear();
  o.strategy.energy_budget_j = 1000;
  FakeTrainer trainer;
  Result<SearchOutcome> out = RunSearch(o, trainer);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("need a profile"), std::string::npos);
  EXPECT_TRUE(trainer.requests.empty());
}

TEST(SearchLoop, ReportsBestAndParetoFront) {
  const TempDir dir;
  FakeTrainer trainer;
  Result<SearchOutcome> out = RunSearch(Options(dir.path(), "grid", 15), trainer);
  ASSERT_TRUE(out.ok()) << out.status().message();
  Result<StudyReport> report = ReportOf(*out);
  ASSERT_TRUE(report.ok());
  std::optional<size_t> best = BestTrial(*report);
  ASSERT_TRUE(best);
  for (const StudyTrial& t : report->trials) {
    EXPECT_LE(*t.accuracy, *report->trials[*best].accuracy);
  }
  // The front: strictly more accurate as energy grows, and nothing dominates its members.
  std::vector<size_t> front = ParetoFront(*report);
  ASSERT_FALSE(front.empty());
  for (size_t i = 1; i < front.size(); ++i) {
    EXPECT_GT(*report->trials[front[i]].accuracy, *report->trials[front[i - 1]].accuracy);
    EXPECT_GT(*report->trials[front[i]].energy_j, *report->trials[front[i - 1]].energy_j);
  }
  for (size_t f : front) {
    for (const StudyTrial& t : report->trials) {
      const StudyTrial& m = report->trials[f];
      EXPECT_FALSE(*t.accuracy >= *m.accuracy && *t.energy_j <= *m.energy_j &&
                   (*t.accuracy > *m.accuracy || *t.energy_j < *m.energy_j));
    }
  }
  EXPECT_EQ(report->trials[front.back()].number, report->trials[*best].number);
  std::string html = SearchHtml({*report, *report});
  EXPECT_NE(html.find("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"best-vs-energy\""),
            std::string::npos);
  EXPECT_NE(html.find("id=\"effect-learning_rate\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace joulecast::search
