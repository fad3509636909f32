// Wall time of one Bayesian-optimisation proposal (issue 5's target: at most 1 s with 200
// finished trials and 10,000 candidates on 2 cores): GP fit with restarts, 10,000 candidates
// predicted and scored, local refinement.
//
// The space has 5 parameters (the paper's learning rate, beta1 and beta2, a layer count and the
// optimizer); the 200 trials are seeded random points with a smooth synthetic accuracy and noise.
// For the energy-aware acquisitions the predictor spins 0.1 ms per call, about what the analyzer
// takes to cost and predict a small CNN; a fresh strategy per proposal keeps its cache cold.
// Wall time (UseRealTime): the strategy uses a thread per core. Benchmarks report numbers; they
// do not pass or fail on timing.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "analyzer/search/paper_space_testing.h"
#include "analyzer/search/rng.h"
#include "analyzer/search/space.h"
#include "analyzer/search/strategy.h"

namespace joulecast::search {
namespace {

double Energy(const Params& p) {
  return 100.0 * static_cast<double>(std::get<int64_t>(p.at("nr_conv"))) *
         (std::get<std::string>(p.at("optimizer")) == "adam" ? 1.2 : 1.0);
}

std::vector<Observation> History(const Space& space, int trials) {
  Rng rng(42);
  std::vector<Observation> history;
  std::vector<double> u(space.parameters.size());
  for (int t = 0; t < trials; ++t) {
    for (double& x : u) x = rng.Uniform();
    Observation o;
    o.params = FromUnit(space, u);
    o.ok = true;
    o.accuracy = 0.9 - 0.2 * std::pow(u[0] - 0.6, 2) - 0.1 * std::pow(u[1] - 0.8, 2) + 0.02 * u[3] +
                 0.01 * rng.Normal();
    o.predicted_energy_j = o.energy_j = Energy(o.params);
    history.push_back(std::move(o));
  }
  return history;
}

void Propose(benchmark::State& state, const std::string& acquisition, bool pareto) {
  Result<Space> space = ParseSpace(PaperSpaceJson(/*with_beta2=*/true), "bench");
  if (!space.ok()) {
    state.SkipWithError(space.status().message().c_str());
    return;
  }
  const int trials = static_cast<int>(state.range(0));
  const std::vector<Observation> history = History(*space, trials);
  StrategyOptions options;
  options.acquisition = acquisition;
  if (pareto) options.objectives = {"accuracy", "energy"};
  options.candidates = 10000;
  options.budget_trials = trials + 50;
  int64_t predictions = 0;
  EnergyPredictor energy = [&](const Params& p) -> Result<double> {
    ++predictions;
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (std::chrono::steady_clock::now() < until) {
    }
    return Energy(p);
  };
  for (auto _ : state) {
    Result<std::unique_ptr<Strategy>> strategy = MakeStrategy(*space, options);
    Result<std::optional<Params>> next = (*strategy)->Propose(history, trials, energy);
    if (!next.ok() || !*next) {
      state.SkipWithError("no proposal");
      return;
    }
    benchmark::DoNotOptimize(next);
  }
  state.counters["predictions"] =
      benchmark::Counter(static_cast<double>(predictions), benchmark::Counter::kAvgIterations);
}

// Each acquisition, over `trials` finished trials.
struct Case {
  const char* name;
  const char* acquisition;
  bool pareto;
  std::vector<int64_t> trials;
};
const Case kCases[] = {{"ei", "ei", false, {50, 200}},
                       {"pi", "pi", false, {200}},
                       {"ei_per_joule", "ei-per-joule", false, {200}},
                       {"ehvi", "ei", true, {200}}};

}  // namespace
}  // namespace joulecast::search

int main(int argc, char** argv) {
  using joulecast::search::Case;
  for (const Case& c : joulecast::search::kCases) {
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
        (std::string("Propose/") + c.name).c_str(), [&c](benchmark::State& state) {
          joulecast::search::Propose(state, c.acquisition, c.pareto);
        });
    for (int64_t trials : c.trials) b->Arg(trials);
    b->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
