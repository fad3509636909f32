// The random strategy, and the sampler it shares with BO's initial trials.
#include <cmath>

#include "analyzer/search/rng.h"
#include "analyzer/search/strategies.h"

namespace joulecast::search::internal {

namespace {

// Draws before a strategy gives up on finding an untried point within the budget.
constexpr int kMaxDraws = 1000;

class RandomStrategy : public Strategy {
 public:
  RandomStrategy(const Space& space, const StrategyOptions& options) : sampler_(space, options) {}
  Result<std::optional<Params>> Propose(const std::vector<Observation>& history, int /*trial*/,
                                        const EnergyPredictor& energy) override {
    return sampler_.Propose(history, energy);
  }

 private:
  Sampler sampler_;
};

}  // namespace

Sampler::Sampler(const Space& space, const StrategyOptions& options)
    : space_(space),
      options_(options),
      halton_(SeededHalton(static_cast<int>(space.parameters.size()), options.seed)),
      cache_(space) {}

Result<std::optional<Params>> Sampler::Propose(const std::vector<Observation>& history,
                                               const EnergyPredictor& energy) {
  const std::set<Params> tried = TriedPoints(history);
  const uint64_t n = history.size();
  Rng rng(MixSeed(options_.seed, n));
  const bool halton = options_.sampler == "halton";
  std::vector<double> u(space_.parameters.size());
  cache_.ResetCounts();
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    // Halton: the history's length indexes the sequence, so successive trials walk it in order,
    // skipping points already tried.
    if (halton) {
      halton_.Point(n + static_cast<uint64_t>(draw), u.data());
    } else {
      for (double& x : u) x = rng.Uniform();
    }
    Params p = FromUnit(space_, u);
    if (tried.count(p) || !cache_.Allows(p, options_.energy_budget_j, energy)) continue;
    return std::optional<Params>(std::move(p));
  }
  return NothingLeft(cache_);
}

std::unique_ptr<Strategy> MakeRandom(const Space& space, const StrategyOptions& options) {
  return std::make_unique<RandomStrategy>(space, options);
}

}  // namespace joulecast::search::internal
