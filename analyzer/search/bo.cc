// Bayesian optimisation: the sampler's points until initial_trials have run, then a GP on the
// finished trials and the acquisition maximised over a shifted scrambled Halton candidate set,
// refined around its best points. docs/search-strategies.md describes it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "analyzer/search/acquisition.h"
#include "analyzer/search/gp.h"
#include "analyzer/search/rng.h"
#include "analyzer/search/strategies.h"

namespace joulecast::search::internal {

namespace {

constexpr int kStarts = 10;         // best candidates refined locally
constexpr int kRounds = 4;          // refinement rounds
constexpr int kPerturbations = 8;   // per start and round
constexpr double kFirstStep = 0.1;  // sd of the first round's steps in the unit cube, then halved
constexpr double kMinEnergyJ = 1e-12;

enum class Mode { pi, ei, ucb, ei_per_joule, ehvi };

struct Candidate {
  std::vector<double> u;  // snapped to the cells of discrete parameters
  Params params;
  double energy_j = 0;  // known when the mode needs every candidate's energy
  double score = -std::numeric_limits<double>::infinity();
};

// What the acquisition needs besides a candidate's posterior.
struct Scorer {
  Mode mode = Mode::ei;
  double best = 0;             // best observed accuracy
  double pi_margin = 0;        // PI's xi, in accuracy units
  double energy_exponent = 0;  // ei-per-joule's t
  std::vector<FrontPoint> front;
  double ref_energy = 0, ref_accuracy = 0;

  double operator()(double mean, double variance, double energy_j) const {
    const double sd = std::sqrt(std::max(variance, 0.0));
    switch (mode) {
      case Mode::pi:
        return LogProbabilityOfImprovement(mean, sd, best, pi_margin);
      case Mode::ei:
        return LogExpectedImprovement(mean, sd, best);
      case Mode::ucb:
        return UpperConfidenceBound(mean, sd);
      case Mode::ei_per_joule:
        return LogExpectedImprovement(mean, sd, best) -
               energy_exponent * std::log(std::max(energy_j, kMinEnergyJ));
      case Mode::ehvi:
        return LogExpectedHypervolumeImprovement(
            front, ref_energy, ref_accuracy, std::log(std::max(energy_j, kMinEnergyJ)), mean, sd);
    }
    return 0;
  }
};

Mode ModeFor(const StrategyOptions& options) {
  if (options.objectives.size() == 2) return Mode::ehvi;
  if (options.acquisition == "pi") return Mode::pi;
  if (options.acquisition == "ucb") return Mode::ucb;
  if (options.acquisition == "ei-per-joule") return Mode::ei_per_joule;
  return Mode::ei;
}

class BoStrategy : public Strategy {
 public:
  BoStrategy(const Space& space, const StrategyOptions& options)
      : space_(space),
        options_(options),
        mode_(ModeFor(options)),
        sampler_(space, options),
        cache_(space) {}

  Result<std::optional<Params>> Propose(const std::vector<Observation>& history, int /*trial*/,
                                        const EnergyPredictor& energy) override {
    std::vector<const Observation*> ok;
    for (const Observation& o : history) {
      if (o.ok && std::isfinite(o.accuracy)) ok.push_back(&o);
    }
    if (static_cast<int>(history.size()) < options_.initial_trials || ok.size() < 2) {
      return sampler_.Propose(history, energy);
    }
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (const Observation* o : ok) {
      x.push_back(ToUnit(space_, o->params));
      y.push_back(o->accuracy);
    }
    GpOptions gp_options;
    gp_options.seed = MixSeed(options_.seed, history.size());
    Result<GaussianProcess> gp = GaussianProcess::Fit(x, y, gp_options);
    // A covariance singular even with jitter (only pathological histories): keep searching.
    if (!gp.ok()) return sampler_.Propose(history, energy);
    // Trials running elsewhere join the data (and the incumbent, and the Pareto front) at the
    // accuracy they are believed to reach.
    const std::vector<Observation> believed = Believed(*gp, history, y);
    if (!believed.empty()) {
      for (const Observation& o : believed) {
        x.push_back(ToUnit(space_, o.params));
        y.push_back(o.accuracy);
      }
      GpOptions fixed;
      fixed.optimise = false;
      fixed.initial = gp->hyperparameters();
      Result<GaussianProcess> conditioned = GaussianProcess::Fit(x, y, fixed);
      if (conditioned.ok()) {
        gp = std::move(conditioned);
        for (const Observation& o : believed) ok.push_back(&o);
      }
    }

    cache_.ResetCounts();
    const std::set<Params> tried = TriedPoints(history);
    const bool all_energies = mode_ == Mode::ei_per_joule || mode_ == Mode::ehvi;
    const std::optional<double>& budget = options_.energy_budget_j;
    std::vector<Candidate> cands = Candidates(history.size(), tried);
    if (all_energies) {
      std::erase_if(cands, [&](Candidate& c) {
        std::optional<double> e = cache_.Get(c.params, energy);
        if (!e || (budget && *e > *budget)) return true;
        c.energy_j = *e;
        return false;
      });
    }
    if (cands.empty()) return NothingLeft(cache_);

    Scorer scorer = MakeScorer(*gp, ok, cands, history.size(), energy);
    Score(*gp, scorer, &cands);
    std::vector<size_t> order(cands.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return cands[a].score > cands[b].score; });
    std::vector<Candidate> starts;
    for (size_t i : order) {
      if (static_cast<int>(starts.size()) == kStarts) break;
      // Without the energies in the score, the budget is checked only for the points that
      // could be proposed, best first.
      if (!all_energies && !cache_.Allows(cands[i].params, budget, energy)) continue;
      starts.push_back(cands[i]);
    }
    if (starts.empty()) return NothingLeft(cache_);
    Refine(*gp, scorer, tried, history.size(), energy, &starts);
    const Candidate& best =
        *std::max_element(starts.begin(), starts.end(),
                          [](const Candidate& a, const Candidate& b) { return a.score < b.score; });
    return std::optional<Params>(best.params);
  }

 private:
  // The trials still running in other workers, as observations of what they are believed to
  // score (options_.pending): Kriging believer, the GP's mean there, capped at the best observed
  // accuracy; a constant liar, the worst, mean or best accuracy observed. With them in the data
  // the posterior variance collapses around pending points, so the acquisition stops pointing at
  // them and parallel workers spread out. The hyperparameters stay those fitted on the finished
  // trials. Empty for "ignore".
  std::vector<Observation> Believed(const GaussianProcess& gp,
                                    const std::vector<Observation>& history,
                                    const std::vector<double>& y) const {
    std::vector<Observation> believed;
    if (options_.pending == "ignore") return believed;
    for (const Observation& o : history) {
      if (o.pending) believed.push_back(o);
    }
    if (believed.empty()) return believed;
    double lie = 0;
    if (options_.pending == "constant-liar-min") {
      lie = *std::min_element(y.begin(), y.end());
    } else if (options_.pending == "constant-liar-max") {
      lie = *std::max_element(y.begin(), y.end());
    } else {
      lie = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(y.size());
    }
    std::vector<std::vector<double>> points;
    for (const Observation& o : believed) points.push_back(ToUnit(space_, o.params));
    std::vector<double> mean, variance;
    if (options_.pending == "kriging-believer") gp.Predict(points, &mean, &variance);
    const double best = *std::max_element(y.begin(), y.end());
    for (size_t i = 0; i < believed.size(); ++i) {
      believed[i].ok = true;
      believed[i].pending = false;
      // Never believed better than the best finished trial: a GP extrapolating a trend to a
      // corner of the space would otherwise believe every worker's pending point there the new
      // optimum, and send the next worker beside it.
      believed[i].accuracy = mean.empty() ? lie : std::min(mean[i], best);
    }
    return believed;
  }

  // The candidate set: `candidates` points of a scrambled Halton sequence shifted by the seed
  // and the history's length, snapped to their cells, without points tried before or repeated.
  std::vector<Candidate> Candidates(size_t n, const std::set<Params>& tried) const {
    const int d = static_cast<int>(space_.parameters.size());
    const ScrambledHalton halton = SeededHalton(d, MixSeed(options_.seed, 0x63616e64ULL + n));
    std::vector<Candidate> cands;
    cands.reserve(static_cast<size_t>(options_.candidates));
    std::set<Params> seen;
    std::vector<double> u(d);
    for (int i = 0; i < options_.candidates; ++i) {
      halton.Point(static_cast<uint64_t>(i), u.data());
      Params p = FromUnit(space_, u);
      if (tried.count(p) || !seen.insert(p).second) continue;
      cands.push_back(Candidate{ToUnit(space_, p), std::move(p)});
    }
    return cands;
  }

  Scorer MakeScorer(const GaussianProcess& gp, const std::vector<const Observation*>& ok,
                    const std::vector<Candidate>& cands, size_t n, const EnergyPredictor& energy) {
    Scorer s;
    s.mode = mode_;
    s.best = -std::numeric_limits<double>::infinity();
    s.ref_accuracy = std::numeric_limits<double>::infinity();
    for (const Observation* o : ok) {
      s.best = std::max(s.best, o->accuracy);
      s.ref_accuracy = std::min(s.ref_accuracy, o->accuracy);
    }
    s.pi_margin = kPiMargin * gp.y_std();
    s.energy_exponent =
        EnergyExponent(static_cast<int>(n), options_.initial_trials, options_.budget_trials);
    if (mode_ != Mode::ehvi) return s;
    // The front in (log predicted energy, accuracy): the same predictor as the candidates', so
    // that a systematic error of the profile does not move candidates against the front.
    std::vector<FrontPoint> points;
    double max_energy = 0;
    for (const Observation* o : ok) {
      std::optional<double> e = o->predicted_energy_j > 0
                                    ? std::optional<double>(o->predicted_energy_j)
                                : o->energy_j > 0 ? std::optional<double>(o->energy_j)
                                                  : cache_.Get(o->params, energy);
      if (!e || *e <= 0) continue;
      points.push_back({std::log(*e), o->accuracy});
      max_energy = std::max(max_energy, *e);
    }
    for (const Candidate& c : cands) max_energy = std::max(max_energy, c.energy_j);
    s.front = ParetoFront(std::move(points));
    // The reference point: 10% beyond the most energy seen, and the worst accuracy observed.
    s.ref_energy = std::log(std::max(max_energy, kMinEnergyJ) * 1.1);
    return s;
  }

  static void Score(const GaussianProcess& gp, const Scorer& scorer,
                    std::vector<Candidate>* cands) {
    const size_t d = static_cast<size_t>(gp.dims());
    std::vector<double> flat;
    flat.reserve(cands->size() * d);
    for (const Candidate& c : *cands) flat.insert(flat.end(), c.u.begin(), c.u.end());
    std::vector<double> mean(cands->size()), variance(cands->size());
    gp.Predict(flat.data(), cands->size(), mean.data(), variance.data());
    for (size_t i = 0; i < cands->size(); ++i) {
      (*cands)[i].score = scorer(mean[i], variance[i], (*cands)[i].energy_j);
    }
  }

  // A random neighbour of `c`: Gaussian steps of sd `step` on every real coordinate and, on
  // average once per point, a discrete parameter moved to the next value (integers) or another
  // choice (categoricals).
  Params Perturb(const Candidate& c, double step, Rng& rng) const {
    std::vector<double> u = c.u;
    int discrete = 0;
    for (size_t k = 0; k < u.size(); ++k) {
      if (space_.parameters[k].type == Parameter::Type::real) {
        u[k] = std::clamp(u[k] + step * rng.Normal(), 0.0, 1.0);
      } else {
        ++discrete;
      }
    }
    Params p = FromUnit(space_, u);
    for (const Parameter& param : space_.parameters) {
      if (param.type == Parameter::Type::real || rng.Uniform() * discrete >= 1) continue;
      Value& v = p[param.name];
      if (param.type == Parameter::Type::integer) {
        const int64_t i = std::get<int64_t>(v) + (rng.Uniform() < 0.5 ? -1 : 1);
        v = std::clamp(i, static_cast<int64_t>(param.low), static_cast<int64_t>(param.high));
      } else if (param.choices.size() > 1) {
        const auto at = std::find(param.choices.begin(), param.choices.end(), v);
        const auto k = static_cast<uint64_t>(at - param.choices.begin());
        v = param.choices[(k + 1 + rng.Below(param.choices.size() - 1)) % param.choices.size()];
      }
    }
    return p;
  }

  // Rounds of random local steps around each start, keeping a step when it scores higher (and,
  // with a budget, is predicted within it).
  void Refine(const GaussianProcess& gp, const Scorer& scorer, const std::set<Params>& tried,
              size_t n, const EnergyPredictor& energy, std::vector<Candidate>* starts) {
    const bool all_energies = mode_ == Mode::ei_per_joule || mode_ == Mode::ehvi;
    const std::optional<double>& budget = options_.energy_budget_j;
    Rng rng(MixSeed(options_.seed, 0x726566ULL + n));
    double step = kFirstStep;
    for (int round = 0; round < kRounds; ++round, step /= 2) {
      std::vector<Candidate> batch;
      std::vector<size_t> owner;
      for (size_t s = 0; s < starts->size(); ++s) {
        for (int k = 0; k < kPerturbations; ++k) {
          Params p = Perturb((*starts)[s], step, rng);
          if (p == (*starts)[s].params || tried.count(p)) continue;
          Candidate c{ToUnit(space_, p), std::move(p)};
          if (all_energies) {
            std::optional<double> e = cache_.Get(c.params, energy);
            if (!e || (budget && *e > *budget)) continue;
            c.energy_j = *e;
          }
          batch.push_back(std::move(c));
          owner.push_back(s);
        }
      }
      if (batch.empty()) continue;
      Score(gp, scorer, &batch);
      for (size_t i = 0; i < batch.size(); ++i) {
        Candidate& start = (*starts)[owner[i]];
        if (!(batch[i].score > start.score)) continue;
        if (!all_energies && !cache_.Allows(batch[i].params, budget, energy)) continue;
        start = batch[i];
      }
    }
  }

  Space space_;
  StrategyOptions options_;
  Mode mode_;
  Sampler sampler_;
  EnergyCache cache_;
};

}  // namespace

std::unique_ptr<Strategy> MakeBo(const Space& space, const StrategyOptions& options) {
  return std::make_unique<BoStrategy>(space, options);
}

}  // namespace joulecast::search::internal
