#include "analyzer/search/strategy.h"

#include <algorithm>
#include <cmath>

#include "analyzer/search/strategies.h"

namespace joulecast::search {

namespace internal {

std::set<Params> TriedPoints(const std::vector<Observation>& history) {
  std::set<Params> tried;
  for (const Observation& o : history) tried.insert(o.params);
  return tried;
}

EnergyCache::EnergyCache(const Space& space) {
  for (const Parameter& p : space.parameters) {
    if (UsedInArchitecture(space, p.name) || p.name == "batch_size" || p.name == "epochs" ||
        p.name == "optimizer") {
      relevant_.push_back(p.name);
    }
  }
}

std::optional<double> EnergyCache::Get(const Params& params, const EnergyPredictor& energy) {
  Params key;
  for (const std::string& name : relevant_) {
    if (auto it = params.find(name); it != params.end()) key.insert(*it);
  }
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    Result<double> e =
        energy ? energy(params)
               : Result<double>(
                     Status::Error("no energy predictor: the energy-aware options need a profile"));
    it = cache_.emplace(key, std::move(e)).first;
  }
  if (!it->second.ok()) {
    if (failures_++ == 0 && first_error_.ok()) first_error_ = it->second.status();
    return std::nullopt;
  }
  ++successes_;
  return *it->second;
}

bool EnergyCache::Allows(const Params& params, const std::optional<double>& budget_j,
                         const EnergyPredictor& energy) {
  if (!budget_j) return true;
  std::optional<double> e = Get(params, energy);
  return e && *e <= *budget_j;
}

void EnergyCache::ResetCounts() {
  first_error_ = Status();
  successes_ = failures_ = 0;
}

Result<std::optional<Params>> NothingLeft(const EnergyCache& cache) {
  if (cache.all_failed()) {
    return Status::Error("no point could be checked against the energy budget: " +
                         cache.first_error().message());
  }
  return std::optional<Params>();
}

}  // namespace internal

Result<std::unique_ptr<Strategy>> MakeStrategy(const Space& space, const StrategyOptions& options) {
  const std::string& s = options.strategy;
  if (s != "grid" && s != "random" && s != "bo") {
    return Status::Error("--strategy: unknown strategy \"" + s + "\"; use grid, random or bo");
  }
  if (options.sampler != "uniform" && options.sampler != "halton") {
    return Status::Error("--sampler: unknown sampler \"" + options.sampler +
                         "\"; use uniform or halton");
  }
  const std::string& a = options.acquisition;
  if (a != "ei" && a != "pi" && a != "ucb" && a != "ei-per-joule") {
    return Status::Error("--acquisition: unknown acquisition \"" + a +
                         "\"; use ei, pi, ucb or ei-per-joule");
  }
  std::vector<std::string> objectives = options.objectives;
  std::sort(objectives.begin(), objectives.end());
  const bool pareto = objectives == std::vector<std::string>{"accuracy", "energy"};
  if (objectives != std::vector<std::string>{"accuracy"} && !pareto) {
    return Status::Error("--objectives: use accuracy, or accuracy,energy for the Pareto front");
  }
  if (pareto && s != "bo") {
    return Status::Error(
        "--objectives accuracy,energy needs --strategy bo (expected "
        "hypervolume improvement)");
  }
  const std::string& pending = options.pending;
  if (pending != "kriging-believer" && pending != "constant-liar-min" &&
      pending != "constant-liar-mean" && pending != "constant-liar-max" && pending != "ignore") {
    return Status::Error("--pending: unknown \"" + pending +
                         "\"; use kriging-believer, constant-liar-min, constant-liar-mean, "
                         "constant-liar-max or ignore");
  }
  if (options.initial_trials < 0) return Status::Error("--initial-trials: must be at least 0");
  if (options.candidates < 1 || options.candidates > 10'000'000) {
    return Status::Error("--candidates: must be from 1 to 10,000,000");
  }
  if (options.grid_points < 1) return Status::Error("--grid-points: must be at least 1");
  if (options.budget_trials < 1) return Status::Error("--trials: must be at least 1");
  if (options.energy_budget_j &&
      !(*options.energy_budget_j > 0 && std::isfinite(*options.energy_budget_j))) {
    return Status::Error("--energy-budget: must be a positive energy");
  }
  if (space.parameters.empty())
    return Status::Error(space.source + ": the space has no parameters");
  if (s == "grid") {
    Result<uint64_t> size = internal::GridSize(space, options);
    if (!size.ok()) return size.status();
    return internal::MakeGrid(space, options);
  }
  if (s == "random") return internal::MakeRandom(space, options);
  return internal::MakeBo(space, options);
}

}  // namespace joulecast::search
