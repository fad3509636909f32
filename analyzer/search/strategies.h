// Internal to the search library: the three strategies behind MakeStrategy and what they share
// (points already tried, cached energy predictions, the sampler).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analyzer/search/strategy.h"
#include "common/halton.h"

namespace joulecast::search::internal {

/// Every point of `history`, failed or not: none is proposed again.
std::set<Params> TriedPoints(const std::vector<Observation>& history);

/// Predicted energies, cached by the parameters that can change them: those in the architecture
/// template, batch_size, epochs and optimizer (learning rate, betas and weight decay change
/// neither the network nor the work of a step).
class EnergyCache {
 public:
  explicit EnergyCache(const Space& space);
  /// The prediction for `params`, or nullopt when the predictor failed for it (remembered).
  std::optional<double> Get(const Params& params, const EnergyPredictor& energy);
  /// Whether `params` may be proposed under `budget_j`: predicted at or below it. Always true
  /// without a budget (and the predictor is then not called).
  bool Allows(const Params& params, const std::optional<double>& budget_j,
              const EnergyPredictor& energy);
  /// The first failure since the last ResetCounts, and whether every call since failed.
  const Status& first_error() const { return first_error_; }
  bool all_failed() const { return failures_ > 0 && successes_ == 0; }
  void ResetCounts();

 private:
  std::vector<std::string> relevant_;
  std::map<Params, Result<double>> cache_;
  Status first_error_;
  int64_t successes_ = 0, failures_ = 0;
};

/// The status to return when a strategy found nothing to propose: the predictor's error when
/// every prediction failed (a broken profile should not look like an exhausted space), else
/// nullopt.
Result<std::optional<Params>> NothingLeft(const EnergyCache& cache);

/// Draws points with the `uniform` or `halton` sampler, skipping points tried before and points
/// over the energy budget. The draw for a history depends only on the seed and the history's
/// length.
class Sampler {
 public:
  Sampler(const Space& space, const StrategyOptions& options);
  Result<std::optional<Params>> Propose(const std::vector<Observation>& history,
                                        const EnergyPredictor& energy);
  EnergyCache& cache() { return cache_; }

 private:
  Space space_;
  StrategyOptions options_;
  ScrambledHalton halton_;
  EnergyCache cache_;
};

/// The number of grid points `options` gives `space`, or an error when it exceeds 2^62.
Result<uint64_t> GridSize(const Space& space, const StrategyOptions& options);

std::unique_ptr<Strategy> MakeGrid(const Space& space, const StrategyOptions& options);
std::unique_ptr<Strategy> MakeRandom(const Space& space, const StrategyOptions& options);
std::unique_ptr<Strategy> MakeBo(const Space& space, const StrategyOptions& options);

}  // namespace joulecast::search::internal
