// `joulecast search` end to end through the real executable, with a deterministic fake trainer
// (python3 computing accuracy and energy from the parameters) so that it runs in seconds: every
// strategy, resume, the JSON schema, failed trials, two workers on one study, Ctrl-C, a worker
// killed mid-trial, the reports, and one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;
using nlohmann::json;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;

constexpr const char* kSpace = R"({
  "architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                   "input": {"shape": [1, 28, 28]}, "classes": 10},
  "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": true},
                 "nr_conv": {"type": "int", "low": 1, "high": 3},
                 "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}},
  "training": {"dataset": "fashion-mnist", "epochs": 2, "batch_size": 64,
               "train_samples": 1000, "validation_samples": 500}})";

// Accuracy peaks at lr = 10^-2.5 and drops with depth; energy grows with depth and epochs. Trials
// with nr_conv = FAIL_CONV (if set) exit 1; SLEEP seconds of sleep make a trial long, and the
// file STARTED (if set) is created when a trial starts. With BURN set a trial spends that many
// seconds of CPU time and reports no energy.
constexpr const char* kTrainer = R"(import json, math, os, sys, time
r = json.load(sys.stdin)
p = r["params"]
if os.environ.get("STARTED"):
    open(os.environ["STARTED"], "a").close()
time.sleep(float(os.environ.get("SLEEP", "0")))
if str(p["nr_conv"]) == os.environ.get("FAIL_CONV"):
    print("no GPU memory left", file=sys.stderr)
    sys.exit(1)
acc = 0.9 - 0.05 * abs(math.log10(p["learning_rate"]) + 2.5) - 0.02 * p["nr_conv"]
if p["optimizer"] == "sgd":
    acc -= 0.03
print("training trial", r["trial"])
if os.environ.get("BURN"):
    # Reports no energy: joulecast measures it. BURN seconds of CPU time first.
    end = time.process_time() + float(os.environ["BURN"])
    while time.process_time() < end:
        pass
    print(json.dumps({"accuracy": max(0.0, min(1.0, acc))}))
    sys.exit(0)
print(json.dumps({"accuracy": max(0.0, min(1.0, acc)),
                  "energy_j": 50.0 * p["nr_conv"] * r["training"]["epochs"]}))
)";

struct Fixture {
  TempDir dir;
  fs::path space = dir / "space.json", trainer = dir / "trainer.py";
  Fixture() {
    std::ofstream(space) << kSpace;
    std::ofstream(trainer) << kTrainer;
  }
  std::string Trainer() const { return "--trainer '/usr/bin/python3 " + trainer.string() + "'"; }
  std::string Db(const std::string& name = "s.db") const { return (dir / name).string(); }
};

// A shell loop that waits (up to a minute) until `path` exists: a trial has started.
std::string WaitFor(const std::string& path) {
  return "n=0; while [ ! -e " + path + " ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done";
}

CommandOutput Search(const std::string& args) { return RunCommand(kBin + " search " + args); }

json Json(const CommandOutput& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

void ExpectOneLineError(const CommandOutput& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("joulecast search: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

TEST(SearchCli, EachStrategyRunsItsTrials) {
  Fixture s;
  for (const std::string strategy : {"grid", "random", "bo"}) {
    CommandOutput r = Search(s.space.string() + " --strategy " + strategy +
                             " --trials 6 --seed 3 --format json " + s.Trainer());
    ASSERT_EQ(r.exit_code, 0) << strategy << ": " << r.err;
    json j = Json(r);
    EXPECT_EQ(j["schema"], "joulecast.search/1");
    EXPECT_EQ(j["options"]["strategy"], strategy);
    ASSERT_EQ(j["trials"].size(), 6u) << strategy;
    std::set<std::string> points;
    for (const json& t : j["trials"]) {
      EXPECT_EQ(t["status"], "done") << t.dump();
      points.insert(t["params"].dump());
    }
    EXPECT_EQ(points.size(), 6u) << strategy << " proposed a point twice";
    EXPECT_EQ(Count(r.err, " done: accuracy "), 6u) << r.err;
  }
}

TEST(SearchCli, ATrainerThatReportsNoEnergyIsMeasured) {
  Fixture s;
  CommandOutput r = RunCommand("BURN=0.3 " + kBin + " search " + s.space.string() +
                               " --strategy random --trials 2 --format json --meter estimate "
                               "--cpu-watts 10 " + s.Trainer() + " --study " + s.Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  ASSERT_EQ(j["trials"].size(), 2u);
  for (const json& t : j["trials"]) {
    EXPECT_EQ(t["status"], "done");
    EXPECT_EQ(t["meter"], "estimate");
    EXPECT_EQ(t["energy_real"], false);
    // At least the 0.3 s of CPU time burnt at 10 W (Python's start adds to it).
    EXPECT_GE(t["energy_j"].get<double>(), 3.0) << t.dump();
    EXPECT_LT(t["energy_j"].get<double>(), 60.0) << t.dump();
  }
}

TEST(SearchCli, JsonHasTheDocumentedFields) {
  Fixture s;
  CommandOutput r = Search(s.space.string() + " --strategy random --trials 4 --format json " +
                           s.Trainer() + " --study " + s.Db());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  EXPECT_EQ(j["schema"], "joulecast.search/1");
  EXPECT_EQ(j["study"], s.Db());
  EXPECT_EQ(j["space"], s.space.string());
  for (const char* key : {"strategy", "sampler", "acquisition", "objectives", "seed",
                          "energy-budget", "initial-trials"}) {
    EXPECT_TRUE(j["options"].contains(key)) << key;
  }
  EXPECT_TRUE(j["profile"]["source"].get<std::string>().ends_with("data/profiles/default.json"));
  EXPECT_EQ(j["counts"]["trials"], 4);
  EXPECT_EQ(j["counts"]["done"], 4);
  const json& t = j["trials"][0];
  for (const char* key :
       {"number", "params", "status", "accuracy", "energy_j", "energy_real", "meter",
        "predicted_energy_j", "predicted_energy_low_j", "predicted_energy_high_j",
        "prediction_error", "time_s", "error", "started_at", "finished_at", "worker", "runs"}) {
    EXPECT_TRUE(t.contains(key)) << key;
  }
  EXPECT_EQ(t["number"], 0);
  EXPECT_TRUE(t["params"]["learning_rate"].is_number_float());
  EXPECT_TRUE(t["params"]["nr_conv"].is_number_integer());
  EXPECT_TRUE(t["params"]["optimizer"].is_string());
  EXPECT_EQ(t["meter"], "external");
  EXPECT_EQ(t["energy_j"], 100.0 * t["params"]["nr_conv"].get<int>());
  EXPECT_GT(t["predicted_energy_j"].get<double>(), 0);
  EXPECT_TRUE(t["error"].is_null());
  // The best is the most accurate; the front is not empty and ends at the best.
  double best = 0;
  for (const json& trial : j["trials"]) best = std::max(best, trial["accuracy"].get<double>());
  EXPECT_EQ(j["best"]["accuracy"], best);
  ASSERT_FALSE(j["pareto"].empty());
  EXPECT_EQ(j["pareto"].back()["accuracy"], best);
  double spent = 0;
  for (const json& trial : j["trials"]) spent += trial["energy_j"].get<double>();
  EXPECT_DOUBLE_EQ(j["energy_spent_j"].get<double>(), spent);
}

TEST(SearchCli, RunningAgainWithMoreTrialsAddsThem) {
  Fixture s;
  const std::string args = s.space.string() + " --strategy bo --seed 2 --study " + s.Db() + " " +
                           s.Trainer() + " --format json";
  CommandOutput first = Search(args + " --trials 6");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CommandOutput second = Search(args + " --trials 10");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resuming " + s.Db() + ": 6 trials finished"), std::string::npos)
      << second.err;
  EXPECT_EQ(Count(second.err, " done: accuracy "), 4u) << second.err;
  json j = Json(second);
  ASSERT_EQ(j["trials"].size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(j["trials"][i]["number"], i);
  // The first six are the first run's, unchanged.
  json before = Json(first);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(j["trials"][i], before["trials"][i]);
  // Asking for what is there already trains nothing.
  CommandOutput third = Search(args + " --trials 10");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(Count(third.err, " done: accuracy "), 0u) << third.err;
}

TEST(SearchCli, OtherOptionsOnAStudyAreOneLineNamingTheFlag) {
  Fixture s;
  ASSERT_EQ(Search(s.space.string() + " --strategy random --trials 2 --study " + s.Db() + " " +
                   s.Trainer())
                .exit_code,
            0);
  CommandOutput r =
      Search(s.space.string() + " --strategy bo --trials 4 --study " + s.Db() + " " + s.Trainer());
  ExpectOneLineError(r, "this study was made with --strategy random, not --strategy bo");
  r = Search(s.space.string() + " --strategy random --seed 9 --trials 4 --study " + s.Db() + " " +
             s.Trainer());
  ExpectOneLineError(r, "--seed 1, not --seed 9");
}

TEST(SearchCli, AFailedTrialDoesNotStopTheSearch) {
  Fixture s;
  CommandOutput r = RunCommand("FAIL_CONV=2 " + kBin + " search " + s.space.string() +
                               " --strategy grid --trials 30 --format json " + s.Trainer());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  // The grid has 5 x 3 x 2 = 30 points: all run, those with two conv layers failed.
  ASSERT_EQ(j["trials"].size(), 30u);
  int failed = 0;
  for (const json& t : j["trials"]) {
    if (t["params"]["nr_conv"] == 2) {
      EXPECT_EQ(t["status"], "failed");
      EXPECT_EQ(t["error"], "the trainer exited with status 1: no GPU memory left");
      EXPECT_TRUE(t["accuracy"].is_null());
      ++failed;
    } else {
      EXPECT_EQ(t["status"], "done");
    }
  }
  EXPECT_EQ(failed, 10);
  EXPECT_EQ(j["counts"]["failed"], 10);
  // The grid is exhausted: asking for more says so and adds nothing.
  r = RunCommand("FAIL_CONV=2 " + kBin + " search " + s.space.string() +
                 " --strategy grid --trials 30 " + s.Trainer());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(SearchCli, TwoWorkersShareOneStudy) {
  Fixture s;
  const std::string worker = "SLEEP=0.05 " + kBin + " search " + s.space.string() +
                             " --strategy random --trials 12 --study " + s.Db() + " " +
                             s.Trainer() + " >/dev/null";
  CommandOutput r = RunCommand("(" + worker + " 2>" + (s.dir / "a.err").string() + " & " + worker +
                               " 2>" + (s.dir / "b.err").string() + " & wait)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string a = ReadFile(s.dir / "a.err"), b = ReadFile(s.dir / "b.err");
  EXPECT_EQ(Count(a, " done: accuracy ") + Count(b, " done: accuracy "), 12u) << a << b;
  CommandOutput report = Search("--report " + s.Db() + " --format json");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  json j = Json(report);
  EXPECT_EQ(j["schema"], "joulecast.search-report/1");
  const json& trials = j["studies"][0]["trials"];
  ASSERT_EQ(trials.size(), 12u);
  std::set<int> numbers;
  std::set<std::string> points, workers;
  for (const json& t : trials) {
    numbers.insert(t["number"].get<int>());
    points.insert(t["params"].dump());
    workers.insert(t["worker"].get<std::string>());
    EXPECT_EQ(t["status"], "done");
  }
  EXPECT_EQ(numbers.size(), 12u);
  EXPECT_EQ(*numbers.rbegin(), 11);
  EXPECT_EQ(points.size(), 12u) << "two workers trained the same point";
  EXPECT_EQ(workers.size(), 2u);
}

// Ctrl-C stops after the current trial, which is recorded as done; the study resumes.
TEST(SearchCli, InterruptStopsAfterTheCurrentTrial) {
  Fixture s;
  const std::string cmd = kBin + " search " + s.space.string() +
                          " --strategy random --trials 5 --study " + s.Db() + " " + s.Trainer();
  CommandOutput r = RunCommand("(SLEEP=1.5 STARTED=" + s.Db("started") + " " + cmd + " & pid=$!; " +
                               WaitFor(s.Db("started")) + "; kill -INT $pid; wait $pid; " +
                               "echo \"exit $?\" >&2)");
  EXPECT_NE(r.err.find("stopping after the current trial"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("interrupted: the study holds 1 trials; run the same command again"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("exit 2"), std::string::npos) << r.err;
  CommandOutput resumed = RunCommand(cmd + " --format json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  json j = Json(resumed);
  ASSERT_EQ(j["trials"].size(), 5u);
  EXPECT_EQ(j["trials"][0]["status"], "done");
  EXPECT_EQ(j["trials"][0]["runs"], 1);
  EXPECT_EQ(Count(resumed.err, " done: accuracy "), 4u) << resumed.err;
}

// A worker killed mid-trial leaves the trial running; the next run redoes it under its number.
TEST(SearchCli, KilledSearchResumesWithoutLosingOrDuplicatingATrial) {
  Fixture s;
  const std::string cmd = kBin + " search " + s.space.string() +
                          " --strategy random --trials 4 --study " + s.Db() + " " + s.Trainer();
  RunCommand("(SLEEP=3 STARTED=" + s.Db("started") + " " + cmd + " & pid=$!; " +
             WaitFor(s.Db("started")) + "; kill -KILL $pid; wait $pid)");
  CommandOutput resumed = RunCommand(cmd + " --format json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("re-running 0 (left running by a worker that is gone)"),
            std::string::npos)
      << resumed.err;
  json j = Json(resumed);
  ASSERT_EQ(j["trials"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(j["trials"][i]["number"], i);
    EXPECT_EQ(j["trials"][i]["status"], "done");
  }
  EXPECT_EQ(j["trials"][0]["runs"], 2);
}

TEST(SearchCli, TextReportShowsTheTableAndTheBest) {
  Fixture s;
  CommandOutput r = Search(s.space.string() + " --strategy random --trials 3 " + s.Trainer());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("strategy random"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in memory (not saved: give --study)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#  status  accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nbest: trial "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\npareto front (accuracy against energy): "), std::string::npos) << r.out;
}

TEST(SearchCli, HtmlReportComparesStudies) {
  Fixture s;
  for (const std::string strategy : {"random", "bo"}) {
    ASSERT_EQ(Search(s.space.string() + " --strategy " + strategy + " --trials 6 --study " +
                     s.Db(strategy + ".db") + " " + s.Trainer())
                  .exit_code,
              0);
  }
  const fs::path html = s.dir / "report.html";
  CommandOutput r = Search("--report " + s.Db("random.db") + " " + s.Db("bo.db") +
                           " --format html -o " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = ReadFile(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id :
       {"id=\"best-vs-energy\"", "id=\"accuracy-vs-energy\"", "id=\"effect-learning_rate\"",
        "id=\"effect-nr_conv\"", "id=\"effect-optimizer\"", "id=\"study-table\""}) {
    EXPECT_NE(page.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(Count(page, "class=\"best-line\""), 2u);
  EXPECT_EQ(Count(page, "class=\"pareto\""), 2u);
  // Six trials per study in the scatter and in each of the three parameter charts.
  EXPECT_EQ(Count(page, "<circle class=\"trial\""), 2u * 6u * 4u);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("href="), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(Count(page, "http"), Count(page, "http://www.w3.org/2000/svg"));
}

TEST(SearchCli, BadInputIsOneLineAndExitTwo) {
  Fixture s;
  std::ofstream(s.dir / "bad.json")
      << R"({"architecture": {"family": "SimpleCNN"}, "parameters": {"lr": {"type": "complex"}}})";
  ExpectOneLineError(Search((s.dir / "bad.json").string() + " " + s.Trainer()), "bad.json");
  ExpectOneLineError(Search((s.dir / "missing.json").string() + " " + s.Trainer()), "missing.json");
  ExpectOneLineError(Search(s.space.string() + " --strategy annealing"),
                     "--strategy must be grid, random or bo");
  ExpectOneLineError(Search(s.space.string() + " --trials 0"), "--trials needs a positive");
  ExpectOneLineError(Search(s.space.string() + " --energy-budget 50gCO2e " + s.Trainer()),
                     "--energy-budget takes an energy");
  ExpectOneLineError(Search(s.space.string() + " --energy-budget 50 " + s.Trainer()),
                     "--energy-budget '50': needs a unit");
  ExpectOneLineError(Search(s.space.string() + " --threads 2 " + s.Trainer()),
                     "--threads sets the built-in trainer");
  ExpectOneLineError(
      Search(s.space.string() + " --objectives accuracy,energy --strategy random " + s.Trainer()),
      "--objectives accuracy,energy needs --strategy bo");
  ExpectOneLineError(Search("--report " + (s.dir / "none.db").string()), "none.db");
  std::ofstream(s.dir / "text.db") << "this is not a database, it is a text file of some length";
  ExpectOneLineError(
      Search(s.space.string() + " --study " + (s.dir / "text.db").string() + " " + s.Trainer()),
      "not a joulecast study");
}

TEST(SearchCli, EnergyBudgetKeepsPredictedCostsUnderIt) {
  Fixture s;
  // Find the predicted energies, then allow only the cheapest architecture.
  CommandOutput all =
      Search(s.space.string() + " --strategy grid --trials 30 --format json " + s.Trainer());
  ASSERT_EQ(all.exit_code, 0) << all.err;
  double cheapest = 1e300, dearest = 0;
  int cheapest_conv = 0;
  const json grid = Json(all);
  for (const json& t : grid["trials"]) {
    const double e = t["predicted_energy_j"].get<double>();
    if (e < cheapest) cheapest_conv = t["params"]["nr_conv"].get<int>();
    cheapest = std::min(cheapest, e);
    dearest = std::max(dearest, e);
  }
  ASSERT_LT(cheapest, dearest);
  const std::string budget = std::to_string(cheapest * 1.0001) + "J";
  CommandOutput r = Search(s.space.string() + " --strategy random --trials 8 --format json " +
                           "--energy-budget " + budget + " " + s.Trainer());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  ASSERT_FALSE(j["trials"].empty());
  for (const json& t : j["trials"]) {
    EXPECT_LE(t["predicted_energy_j"].get<double>(), cheapest * 1.0001) << t.dump();
    EXPECT_EQ(t["params"]["nr_conv"], cheapest_conv);
  }
}

}  // namespace
