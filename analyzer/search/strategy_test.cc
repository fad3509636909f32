#include "analyzer/search/strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

namespace joulecast::search {
namespace {

Space Parse(const std::string& text) {
  Result<Space> s = ParseSpace(text, "space.json");
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? *s : Space{};
}

// 3 x 2 x 2 = 12 grid points with grid_points 3.
const char* kSmallSpace = R"({"architecture": {"a": "$a", "b": "$b", "c": "$c"}, "parameters": {
    "a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "int", "low": 1, "high": 2},
    "c": {"type": "categorical", "choices": ["x", "y"]}}})";

// Two reals on Branin's domain.
const char* kBraninSpace = R"({"architecture": {"x1": "$x1", "x2": "$x2"}, "parameters": {
    "x1": {"type": "float", "low": -5, "high": 10}, "x2": {"type": "float", "low": 0, "high": 15}}})";

// A width that sets the energy and a learning rate that does not.
const char* kEnergySpace = R"({"architecture": {"width": "$width"}, "parameters": {
    "width": {"type": "int", "low": 1, "high": 20},
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": true}}})";

std::unique_ptr<Strategy> Make(const Space& space, const StrategyOptions& options) {
  Result<std::unique_ptr<Strategy>> s = MakeStrategy(space, options);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

double Number(const Value& v) {
  return std::holds_alternative<double>(v) ? std::get<double>(v)
                                           : static_cast<double>(std::get<int64_t>(v));
}

// Branin mapped to an accuracy: 1 at its minimum (0.397887), about 0 at its maximum.
double BraninAccuracy(const Params& p) {
  const double x1 = Number(p.at("x1")), x2 = Number(p.at("x2"));
  const double b = 5.1 / (4 * std::numbers::pi * std::numbers::pi), c = 5 / std::numbers::pi,
               t = 1 / (8 * std::numbers::pi);
  const double f = std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
  return 1 - (f - 0.397887) / 300;
}

// The same accuracy everywhere: for tests about which points are proposed, not which are best.
double FlatAccuracy(const Params&) { return 0.5; }

// A successful trial of `params`.
Observation Trial(const Params& params, double accuracy) {
  Observation o;
  o.params = params;
  o.ok = true;
  o.accuracy = accuracy;
  return o;
}

// Runs `trials` proposals, each evaluated by `accuracy` (and its predicted energy recorded when
// `record_energy`); returns the history.
std::vector<Observation> RunTrials(
    Strategy& strategy, int trials,
    const std::function<double(const Params&)>& accuracy = FlatAccuracy,
    const EnergyPredictor& energy = {}, bool record_energy = true) {
  std::vector<Observation> history;
  for (int t = 0; t < trials; ++t) {
    Result<std::optional<Params>> next = strategy.Propose(history, t, energy);
    EXPECT_TRUE(next.ok()) << next.status().message();
    if (!next.ok() || !*next) break;
    history.push_back(Trial(**next, accuracy(**next)));
    if (energy && record_energy) history.back().predicted_energy_j = *energy(**next);
  }
  return history;
}

StrategyOptions GridOptions(int grid_points, int budget_trials) {
  StrategyOptions o;
  o.strategy = "grid";
  o.grid_points = grid_points;
  o.budget_trials = budget_trials;
  return o;
}

TEST(StrategyMake, RejectsUnknownOptions) {
  Space s = Parse(kSmallSpace);
  auto error = [&](StrategyOptions o) {
    Result<std::unique_ptr<Strategy>> r = MakeStrategy(s, o);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  };
  StrategyOptions o;
  o.strategy = "anneal";
  EXPECT_EQ(error(o).rfind("--strategy: unknown strategy \"anneal\"", 0), 0u);
  o = {};
  o.sampler = "sobol";
  EXPECT_EQ(error(o).rfind("--sampler:", 0), 0u);
  o = {};
  o.acquisition = "kg";
  EXPECT_EQ(error(o).rfind("--acquisition:", 0), 0u);
  o = {};
  o.objectives = {"accuracy", "time"};
  EXPECT_EQ(error(o).rfind("--objectives:", 0), 0u);
  o = {};
  o.strategy = "random";
  o.objectives = {"accuracy", "energy"};
  EXPECT_NE(error(o).find("needs --strategy bo"), std::string::npos);
  o = {};
  o.energy_budget_j = -1;
  EXPECT_EQ(error(o).rfind("--energy-budget:", 0), 0u);
}

TEST(StrategyGrid, EnumeratesEveryPointOnceThenStops) {
  auto grid = Make(Parse(kSmallSpace), GridOptions(3, 25));
  std::vector<Observation> h = RunTrials(*grid, 20);
  ASSERT_EQ(h.size(), 12u);
  std::set<Params> seen;
  for (const Observation& ob : h) {
    EXPECT_TRUE(seen.insert(ob.params).second) << ParamsText(ob.params);
    double a = std::get<double>(ob.params.at("a"));
    EXPECT_TRUE(a == 0 || a == 0.5 || a == 1) << a;
  }
  // In order: the last parameter varies fastest.
  EXPECT_EQ(ParamsText(h[0].params), "a=0, b=1, c=x");
  EXPECT_EQ(ParamsText(h[1].params), "a=0, b=1, c=y");
  EXPECT_EQ(ParamsText(h[11].params), "a=1, b=2, c=y");
}

TEST(StrategyGrid, LogLevelsAreEvenInLogSpace) {
  auto grid = Make(Parse(kEnergySpace), GridOptions(4, 80));
  std::vector<Observation> h = RunTrials(*grid, 4);
  ASSERT_EQ(h.size(), 4u);
  const double expected[] = {1e-4, 1e-3, 1e-2, 1e-1};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(std::get<double>(h[i].params.at("learning_rate")), expected[i],
                expected[i] * 1e-12);
  }
}

TEST(StrategyGrid, LargerThanTheBudgetRunsASeededRandomSubset) {
  Space s = Parse(kSmallSpace);
  StrategyOptions o = GridOptions(3, 5);
  std::vector<std::string> first_points;
  for (uint64_t seed : {1, 2, 3}) {
    o.seed = seed;
    auto a = Make(s, o), b = Make(s, o);
    std::vector<Observation> ha = RunTrials(*a, 5), hb = RunTrials(*b, 5);
    ASSERT_EQ(ha.size(), 5u);
    std::set<Params> distinct;
    for (size_t i = 0; i < ha.size(); ++i) {
      EXPECT_EQ(ha[i].params, hb[i].params);  // the same seed, the same subset and order
      distinct.insert(ha[i].params);
    }
    EXPECT_EQ(distinct.size(), 5u);
    first_points.push_back(ParamsText(ha[0].params) + ParamsText(ha[1].params));
    // Asked for more, it goes on through the rest of the grid and then stops.
    std::vector<Observation> all = RunTrials(*a, 30);
    EXPECT_EQ(all.size(), 12u);
  }
  EXPECT_TRUE(first_points[0] != first_points[1] || first_points[1] != first_points[2]);
}

TEST(StrategyGrid, NeverRepeatsAPointInTheHistory) {
  auto grid = Make(Parse(kSmallSpace), GridOptions(3, 25));
  std::vector<Observation> history;
  for (const char* c : {"x", "y"}) {
    Observation failed;
    failed.params = Params{{"a", 0.0}, {"b", int64_t{1}}, {"c", std::string(c)}};
    history.push_back(failed);
  }
  Result<std::optional<Params>> next = grid->Propose(history, 2, {});
  ASSERT_TRUE(next.ok() && *next);
  EXPECT_EQ(ParamsText(**next), "a=0, b=2, c=x");
}

TEST(StrategyRandom, UniformAndHaltonStayInRangeAndAreSeeded) {
  Space s = Parse(kBraninSpace);
  for (const char* sampler : {"uniform", "halton"}) {
    StrategyOptions o;
    o.strategy = "random";
    o.sampler = sampler;
    auto a = Make(s, o), b = Make(s, o);
    std::vector<Observation> ha = RunTrials(*a, 30, BraninAccuracy),
                             hb = RunTrials(*b, 30, BraninAccuracy);
    ASSERT_EQ(ha.size(), 30u);
    double below_half = 0;
    for (size_t i = 0; i < ha.size(); ++i) {
      EXPECT_EQ(ha[i].params, hb[i].params);
      double x1 = std::get<double>(ha[i].params.at("x1"));
      EXPECT_GE(x1, -5);
      EXPECT_LE(x1, 10);
      below_half += x1 < 2.5;
    }
    EXPECT_GT(below_half, 7) << sampler;
    EXPECT_LT(below_half, 23) << sampler;
    o.seed = 2;
    auto c = Make(s, o);
    EXPECT_NE(RunTrials(*c, 1, BraninAccuracy)[0].params, ha[0].params) << sampler;
  }
}

TEST(StrategyRandom, StopsWhenADiscreteSpaceIsExhausted) {
  Space s = Parse(R"({"architecture": {"b": "$b"}, "parameters": {
      "b": {"type": "int", "low": 1, "high": 3}}})");
  StrategyOptions o;
  o.strategy = "random";
  auto r = Make(s, o);
  EXPECT_EQ(RunTrials(*r, 10).size(), 3u);
}

// Mean over seeds of the best accuracy after `trials` trials.
double MeanBest(const std::string& strategy, int trials, int seeds) {
  Space s = Parse(kBraninSpace);
  double sum = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    StrategyOptions o;
    o.strategy = strategy;
    o.seed = static_cast<uint64_t>(seed);
    o.initial_trials = 5;
    o.candidates = 1000;
    o.budget_trials = trials;
    auto st = Make(s, o);
    double best = -INFINITY;
    for (const Observation& ob : RunTrials(*st, trials, BraninAccuracy))
      best = std::max(best, ob.accuracy);
    sum += best;
  }
  return sum / seeds;
}

TEST(StrategyBo, BeatsRandomOnBranin) {
  const double bo = MeanBest("bo", 20, 8), random = MeanBest("random", 20, 8);
  // Regret in Branin units: (1 - accuracy) x 300.
  const double bo_regret = (1 - bo) * 300, random_regret = (1 - random) * 300;
  EXPECT_LT(bo_regret, 0.5 * random_regret) << "bo " << bo_regret << " random " << random_regret;
  EXPECT_LT(bo_regret, 1.0);
}

TEST(StrategyBo, IsDeterministicAndSkipsFailedPoints) {
  Space s = Parse(R"({"architecture": {"b": "$b", "c": "$c"}, "parameters": {
      "b": {"type": "int", "low": 1, "high": 4},
      "c": {"type": "categorical", "choices": ["x", "y", "z"]}}})");
  StrategyOptions o;
  o.initial_trials = 3;
  o.candidates = 500;
  auto accuracy = [](const Params& p) {
    return 0.1 * Number(p.at("b")) + (std::get<std::string>(p.at("c")) == "z" ? 0.3 : 0.0);
  };
  auto a = Make(s, o);
  std::vector<Observation> history = RunTrials(*a, 6, accuracy);
  ASSERT_EQ(history.size(), 6u);
  // The best point, (4, z), fails: it is not proposed again, nor any point tried before.
  Observation failed;
  failed.params = Params{{"b", int64_t{4}}, {"c", std::string("z")}};
  history.push_back(failed);
  std::set<Params> tried;
  for (const Observation& ob : history) tried.insert(ob.params);
  for (int t = 0; t < 4; ++t) {
    auto fresh = Make(s, o);
    Result<std::optional<Params>> x = a->Propose(history, 7 + t, {});
    Result<std::optional<Params>> y = fresh->Propose(history, 7 + t, {});
    ASSERT_TRUE(x.ok() && *x && y.ok() && *y);
    EXPECT_EQ(**x, **y);  // the same history, the same proposal
    EXPECT_FALSE(tried.count(**x)) << ParamsText(**x);
    tried.insert(**x);
    history.push_back(Trial(**x, accuracy(**x)));
  }
  // It goes on through all 12 points, each once, then has nothing left.
  for (int t = 0; t < 20; ++t) {
    Result<std::optional<Params>> x = a->Propose(history, static_cast<int>(history.size()), {});
    ASSERT_TRUE(x.ok());
    if (!*x) break;
    EXPECT_TRUE(tried.insert(**x).second) << ParamsText(**x);
    history.push_back(Trial(**x, 0));
  }
  EXPECT_EQ(tried.size(), 12u);
}

TEST(StrategyEnergy, NoProposalExceedsTheBudget) {
  Space s = Parse(kEnergySpace);
  auto energy = [](const Params& p) -> Result<double> { return 10.0 * Number(p.at("width")); };
  // Wider is better, so every strategy is drawn toward the budget's edge.
  auto accuracy = [](const Params& p) {
    return 0.5 + 0.02 * Number(p.at("width")) -
           0.05 * std::abs(std::log10(std::get<double>(p.at("learning_rate"))) + 2);
  };
  struct Case {
    std::string strategy, acquisition;
    std::vector<std::string> objectives;
  };
  const Case cases[] = {{"grid", "ei", {"accuracy"}},         {"random", "ei", {"accuracy"}},
                        {"bo", "ei", {"accuracy"}},           {"bo", "ucb", {"accuracy"}},
                        {"bo", "ei-per-joule", {"accuracy"}}, {"bo", "ei", {"accuracy", "energy"}}};
  for (const Case& c : cases) {
    StrategyOptions o;
    o.strategy = c.strategy;
    o.acquisition = c.acquisition;
    o.objectives = c.objectives;
    o.energy_budget_j = 80;
    o.candidates = 1000;
    o.budget_trials = 15;
    auto st = Make(s, o);
    std::vector<Observation> h = RunTrials(*st, 15, accuracy, energy);
    EXPECT_EQ(h.size(), 15u) << c.strategy << " " << c.acquisition;
    int at_edge = 0;
    for (const Observation& ob : h) {
      EXPECT_LE(Number(ob.params.at("width")), 8) << c.strategy << " " << c.acquisition;
      at_edge += Number(ob.params.at("width")) == 8;
    }
    if (c.strategy == "bo" && c.objectives.size() == 1 && c.acquisition != "ei-per-joule") {
      EXPECT_GE(at_edge, 3) << c.acquisition;  // it does find the best width allowed
    }
  }
}

TEST(StrategyEnergy, PredictsOncePerArchitecture) {
  Space s = Parse(kEnergySpace);
  std::map<int64_t, int> calls;
  EnergyPredictor energy = [&](const Params& p) -> Result<double> {
    ++calls[std::get<int64_t>(p.at("width"))];
    return 10.0 * Number(p.at("width"));
  };
  StrategyOptions o;
  o.acquisition = "ei-per-joule";
  o.candidates = 2000;
  auto bo = Make(s, o);
  RunTrials(
      *bo, 10, [](const Params& p) { return 0.01 * Number(p.at("width")); }, energy, false);
  ASSERT_FALSE(calls.empty());
  for (const auto& [width, n] : calls) EXPECT_EQ(n, 1) << width;
}

TEST(StrategyEnergy, AFailingPredictorIsAnErrorNotAnEmptySpace) {
  Space s = Parse(kEnergySpace);
  EnergyPredictor broken = [](const Params&) -> Result<double> {
    return Status::Error("profile.json: no conv model");
  };
  for (const char* strategy : {"grid", "random", "bo"}) {
    StrategyOptions o;
    o.strategy = strategy;
    o.energy_budget_j = 100;
    auto st = Make(s, o);
    Result<std::optional<Params>> r = st->Propose({}, 0, broken);
    ASSERT_FALSE(r.ok()) << strategy;
    EXPECT_NE(r.status().message().find("no conv model"), std::string::npos);
  }
}

TEST(StrategyEnergy, EiPerJouleStartsCheap) {
  Space s = Parse(kEnergySpace);
  // Accuracy depends on the learning rate only, energy on the width: early on (t near 1)
  // ei-per-joule keeps to narrow networks, where plain EI explores every width.
  auto accuracy = [](const Params& p) {
    return 0.8 - 0.1 * std::pow(std::log10(std::get<double>(p.at("learning_rate"))) + 2, 2);
  };
  auto energy = [](const Params& p) -> Result<double> {
    return std::pow(Number(p.at("width")), 2);
  };
  double mean_width[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      StrategyOptions o;
      o.acquisition = k == 0 ? "ei" : "ei-per-joule";
      o.budget_trials = 40;
      o.candidates = 1000;
      o.seed = seed;
      auto st = Make(s, o);
      std::vector<Observation> h = RunTrials(*st, 12, accuracy, energy);
      for (size_t i = 5; i < h.size(); ++i) mean_width[k] += Number(h[i].params.at("width"));
    }
  }
  const double trials = 4 * 7;
  EXPECT_LT(mean_width[1] / trials, 3) << "ei " << mean_width[0] / trials;
  EXPECT_LT(mean_width[1], 0.5 * mean_width[0]);
}

}  // namespace
}  // namespace joulecast::search
