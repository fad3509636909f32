// The grid strategy: every combination of each parameter's levels, in order, or, when the grid
// has more points than the trial budget, in a seeded random order whose first budget_trials
// points are the random subset the paper ran.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "analyzer/search/rng.h"
#include "analyzer/search/strategies.h"

namespace joulecast::search::internal {

namespace {

constexpr uint64_t kMaxGridPoints = uint64_t{1} << 62;
// Grid points walked per proposal before giving up on finding one within the energy budget.
constexpr uint64_t kMaxWalk = 1'000'000;

// The levels of one parameter: reals on grid_points linear (or log) steps from low to high,
// integers every value, categoricals every choice.
uint64_t LevelCount(const Parameter& p, int grid_points) {
  if (p.type == Parameter::Type::categorical) return p.choices.size();
  if (p.type == Parameter::Type::integer) return static_cast<uint64_t>(p.high - p.low) + 1;
  return p.low == p.high ? 1 : static_cast<uint64_t>(grid_points);
}

Value LevelAt(const Parameter& p, uint64_t count, uint64_t k) {
  if (p.type == Parameter::Type::categorical) return p.choices[k];
  if (p.type == Parameter::Type::integer)
    return static_cast<int64_t>(p.low) + static_cast<int64_t>(k);
  if (count == 1) return p.log ? std::sqrt(p.low * p.high) : (p.low + p.high) / 2;
  // The ends exactly, whatever the rounding.
  if (k == 0) return p.low;
  if (k == count - 1) return p.high;
  const double f = static_cast<double>(k) / static_cast<double>(count - 1);
  return p.log ? std::exp(std::log(p.low) + f * (std::log(p.high) - std::log(p.low)))
               : p.low + f * (p.high - p.low);
}

class GridStrategy : public Strategy {
 public:
  GridStrategy(const Space& space, const StrategyOptions& options, uint64_t size)
      : space_(space), options_(options), size_(size), cache_(space) {
    for (const Parameter& p : space.parameters)
      counts_.push_back(LevelCount(p, options.grid_points));
  }

  Result<std::optional<Params>> Propose(const std::vector<Observation>& history, int /*trial*/,
                                        const EnergyPredictor& energy) override {
    const std::set<Params> tried = TriedPoints(history);
    const bool shuffled = size_ > static_cast<uint64_t>(options_.budget_trials);
    // A lazy Fisher-Yates shuffle of [0, size): position i swaps with a random j >= i; only the
    // positions touched are stored. The same seed walks the same order every call.
    std::unordered_map<uint64_t, uint64_t> moved;
    auto at = [&](uint64_t k) {
      auto it = moved.find(k);
      return it == moved.end() ? k : it->second;
    };
    Rng rng(MixSeed(options_.seed, 0x67726964));
    cache_.ResetCounts();
    const uint64_t walk = std::min(size_, history.size() + kMaxWalk);
    for (uint64_t i = 0; i < walk; ++i) {
      uint64_t index = i;
      if (shuffled) {
        uint64_t j = i + rng.Below(size_ - i);
        index = at(j);
        moved[j] = at(i);
      }
      Params p = Decode(index);
      if (tried.count(p) || !cache_.Allows(p, options_.energy_budget_j, energy)) continue;
      return std::optional<Params>(std::move(p));
    }
    return NothingLeft(cache_);
  }

 private:
  // Mixed radix, the last parameter varying fastest.
  Params Decode(uint64_t index) const {
    Params p;
    for (size_t d = space_.parameters.size(); d-- > 0;) {
      const Parameter& param = space_.parameters[d];
      p[param.name] = LevelAt(param, counts_[d], index % counts_[d]);
      index /= counts_[d];
    }
    return p;
  }

  Space space_;
  StrategyOptions options_;
  uint64_t size_;
  std::vector<uint64_t> counts_;  ///< Levels per parameter.
  EnergyCache cache_;
};

}  // namespace

Result<uint64_t> GridSize(const Space& space, const StrategyOptions& options) {
  uint64_t size = 1;
  for (const Parameter& p : space.parameters) {
    const uint64_t levels = LevelCount(p, options.grid_points);
    if (static_cast<double>(levels) * static_cast<double>(size) >
        static_cast<double>(kMaxGridPoints)) {
      return Status::Error("--strategy grid: the grid of " + space.source +
                           " has more than 2^62 points; use random or bo");
    }
    size *= levels;
  }
  return size;
}

std::unique_ptr<Strategy> MakeGrid(const Space& space, const StrategyOptions& options) {
  return std::make_unique<GridStrategy>(space, options, GridSize(space, options).value());
}

}  // namespace joulecast::search::internal
