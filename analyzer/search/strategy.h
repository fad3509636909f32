// Search strategies: what to try next, given the finished trials.
//
// A strategy proposes points of the space; the search loop (search.h) predicts each proposal's
// training energy with the analyzer before it runs, and the strategy may use that prediction
// (energy-aware proposals), so it is passed in as a function.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/search/space.h"

namespace joulecast::search {

/// A finished (or failed) trial as a strategy sees it.
struct Observation {
  Params params;
  bool ok = false;            ///< False: the trial failed (no accuracy); it is not re-proposed.
  /// The trial still runs (in another worker): no accuracy yet, not re-proposed, and BO
  /// conditions on it as StrategyOptions::pending says.
  bool pending = false;
  double accuracy = 0;        ///< Validation accuracy in [0, 1] (the objective, maximised).
  double energy_j = 0;        ///< Measured training energy (0 when unknown).
  double predicted_energy_j = 0;
};

struct StrategyOptions {
  std::string strategy = "bo";     ///< "grid", "random" or "bo".
  std::string sampler = "uniform"; ///< For random (and BO's initial trials): "uniform" or "halton".
  std::string acquisition = "ei";  ///< BO: "ei", "pi", "ucb" or "ei-per-joule".
  /// Or {"accuracy", "energy"}: the Pareto front, by expected hypervolume improvement (BO only;
  /// `acquisition` is then not used).
  std::vector<std::string> objectives = {"accuracy"};
  int initial_trials = 5;          ///< BO: random/Halton trials before the GP takes over.
  int candidates = 10000;          ///< BO: quasi-random candidates per proposal.
  int grid_points = 5;             ///< Grid: points per real parameter (integers: all values).
  int budget_trials = 25;          ///< The search's trial budget (cools ei-per-joule, sizes grid).
  std::optional<double> energy_budget_j;  ///< Never propose a point predicted above this.
  /// BO: how trials still running (pending) count in a proposal, so that parallel workers do
  /// not propose the same region: "kriging-believer" (default: each pending point is believed
  /// to score the GP's mean there), "constant-liar-min", "-mean" or "-max" (each is believed to
  /// score the worst, mean or best accuracy observed), or "ignore" (pending points are only
  /// never proposed again).
  std::string pending = "kriging-believer";
  uint64_t seed = 1;
};

/// Predicted training energy of a point (joules), or an error (a point that does not build).
/// Strategies call it only for the energy-aware options and cache its answers by the parameters
/// that can change them: those in the architecture template, batch_size, epochs and optimizer
/// (learning_rate, beta1, beta2 and weight_decay must not change a prediction). A point whose
/// prediction fails is never proposed under an energy-aware option; when every prediction fails,
/// Propose returns the first error.
using EnergyPredictor = std::function<Result<double>(const Params&)>;

class Strategy {
 public:
  virtual ~Strategy() = default;
  /// The next point to try, given every trial so far (in trial order; the same history always
  /// gives the same proposal for the same options). `trial` is the number the proposal gets.
  /// nullopt: the strategy has nothing left (a grid exhausted, or every candidate over the
  /// energy budget).
  virtual Result<std::optional<Params>> Propose(const std::vector<Observation>& history,
                                                int trial, const EnergyPredictor& energy) = 0;
};

/// The strategy `options` names, for `space`. Errors: an unknown strategy, sampler or
/// acquisition; Pareto objectives with a strategy other than bo.
Result<std::unique_ptr<Strategy>> MakeStrategy(const Space& space, const StrategyOptions& options);

}  // namespace joulecast::search
