// BO with trials still running in other workers (StrategyOptions::pending): eight workers
// propose one after another while the earlier proposals still run, over several seeds, for
// expected improvement, EI per joule and the accuracy-energy Pareto search. With pending trials
// conditioned on, no point is proposed twice and the proposals spread out; ignoring them, the
// proposals pile up on one spot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "analyzer/search/strategy.h"

namespace joulecast::search {
namespace {

// Two reals on Branin's domain, both in the architecture (so both change the predicted energy).
const char* kBraninSpace = R"({"architecture": {"x1": "$x1", "x2": "$x2"}, "parameters": {
    "x1": {"type": "float", "low": -5, "high": 10}, "x2": {"type": "float", "low": 0, "high": 15}}})";

constexpr int kWorkers = 8;

double X1(const Params& p) { return std::get<double>(p.at("x1")); }
double X2(const Params& p) { return std::get<double>(p.at("x2")); }

// Branin mapped to an accuracy: 1 at its minimum, about 0 at its maximum.
double Accuracy(const Params& p) {
  const double x1 = X1(p), x2 = X2(p);
  const double b = 5.1 / (4 * std::numbers::pi * std::numbers::pi), c = 5 / std::numbers::pi,
               t = 1 / (8 * std::numbers::pi);
  const double f = std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
  return 1 - (f - 0.397887) / 300;
}

// A predicted energy that grows with x1.
Result<double> Energy(const Params& p) { return 100 + 10 * (X1(p) + 5); }

// The distance of two points in the unit square.
double Distance(const Params& a, const Params& b) {
  return std::hypot((X1(a) - X1(b)) / 15, (X2(a) - X2(b)) / 15);
}

// Ten finished trials, then kWorkers proposals, each made while the ones before it still run.
// Returns the smallest distance between two of those proposals (0 when one repeats).
double SmallestGap(const StrategyOptions& options) {
  Result<Space> space = ParseSpace(kBraninSpace, "space.json");
  EXPECT_TRUE(space.ok());
  StrategyOptions random = options;
  random.strategy = "random";
  random.objectives = {"accuracy"};
  std::vector<Observation> history;
  auto sampler = MakeStrategy(*space, random);
  for (int t = 0; t < 10; ++t) {
    Result<std::optional<Params>> p = (*sampler)->Propose(history, t, Energy);
    EXPECT_TRUE(p.ok() && *p);
    Observation o;
    o.params = **p;
    o.ok = true;
    o.accuracy = Accuracy(o.params);
    o.predicted_energy_j = *Energy(o.params);
    history.push_back(o);
  }
  std::vector<Params> proposed;
  for (int w = 0; w < kWorkers; ++w) {
    auto bo = MakeStrategy(*space, options);  // each worker a process of its own
    EXPECT_TRUE(bo.ok()) << bo.status().message();
    Result<std::optional<Params>> p =
        (*bo)->Propose(history, static_cast<int>(history.size()), Energy);
    EXPECT_TRUE(p.ok() && *p) << (p.ok() ? "nothing proposed" : p.status().message());
    if (!p.ok() || !*p) return 0;
    Observation running;
    running.params = **p;
    running.pending = true;
    history.push_back(running);
    proposed.push_back(**p);
  }
  double gap = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < proposed.size(); ++i) {
    for (size_t j = i + 1; j < proposed.size(); ++j) {
      gap = std::min(gap, Distance(proposed[i], proposed[j]));
    }
  }
  return gap;
}

struct Mode {
  const char* name;
  std::string acquisition;
  std::vector<std::string> objectives;
};

const Mode kModes[] = {{"ei", "ei", {"accuracy"}},
                       {"ei-per-joule", "ei-per-joule", {"accuracy"}},
                       {"pareto", "ei", {"accuracy", "energy"}}};

StrategyOptions Options(const Mode& mode, const std::string& pending, uint64_t seed) {
  StrategyOptions o;
  o.strategy = "bo";
  o.acquisition = mode.acquisition;
  o.objectives = mode.objectives;
  o.pending = pending;
  o.initial_trials = 5;
  o.candidates = 2000;
  o.budget_trials = 40;
  o.seed = seed;
  return o;
}

TEST(BoPending, ParallelProposalsAreDistinctAndSpreadOut) {
  for (const Mode& mode : kModes) {
    for (const std::string pending : {"kriging-believer", "constant-liar-min"}) {
      double smallest = std::numeric_limits<double>::infinity();
      for (uint64_t seed = 1; seed <= 5; ++seed) {
        const double gap = SmallestGap(Options(mode, pending, seed));
        smallest = std::min(smallest, gap);
      }
      // 2% of the square's side: a point 0.3 away on Branin's axes is another trial.
      EXPECT_GT(smallest, 0.02) << mode.name << " with " << pending;
      std::printf("%s, %s: smallest gap between 8 parallel proposals %.4f\n", mode.name,
                  pending.c_str(), smallest);
    }
  }
}

TEST(BoPending, IgnoringPendingTrialsPilesProposalsUp) {
  double ignored = 0, believed = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ignored += SmallestGap(Options(kModes[0], "ignore", seed));
    believed += SmallestGap(Options(kModes[0], "kriging-believer", seed));
  }
  std::printf("ei: mean smallest gap %.4f ignoring pending trials, %.4f believing them\n",
              ignored / 5, believed / 5);
  EXPECT_LT(ignored, believed / 4);
}

}  // namespace
}  // namespace joulecast::search
