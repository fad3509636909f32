// Acquisition functions: how promising a point is, from the GP's posterior mean and standard
// deviation of its accuracy (maximised). docs/search-strategies.md has the formulas.
//
// Every function here returns a score where larger is better; EI, PI and EHVI are returned as
// logarithms, computed so that they stay finite and ordered far from the incumbent, where the
// plain values underflow to 0 and would tie (Ament et al., "Unexpected improvements to expected
// improvement for Bayesian optimization", NeurIPS 2023).
#pragma once

#include <vector>

namespace joulecast::search {

/// PI's margin: improvement must exceed xi = kPiMargin x the standard deviation of the observed
/// accuracies (0.01, scikit-optimize's default, in standardised units).
inline constexpr double kPiMargin = 0.01;
/// UCB = mean + kUcbKappa x sd (2: about the 97.7th percentile of the posterior).
inline constexpr double kUcbKappa = 2.0;

/// log Phi(z), the standard normal CDF; finite for every finite z.
double LogNormalCdf(double z);
/// log h(z), h(z) = phi(z) + z Phi(z) = E[max(0, z + Z)] for standard normal Z; finite for every
/// finite z (h(z) ~ phi(z) / z^2 as z -> -inf).
double LogH(double z);

/// log EI = log E[max(0, f - best)] for f ~ N(mean, sd^2) = log sd + log h((mean - best) / sd).
double LogExpectedImprovement(double mean, double sd, double best);
/// log PI = log P(f > best + xi) = log Phi((mean - best - xi) / sd).
double LogProbabilityOfImprovement(double mean, double sd, double best, double xi);
/// UCB = mean + kUcbKappa sd.
double UpperConfidenceBound(double mean, double sd);

/// ei-per-joule's exponent t: 1 until `initial` trials have run, then falling linearly to 0 at
/// `budget` trials (0 from then on): score = log EI - t log(predicted energy).
double EnergyExponent(int trials_done, int initial, int budget);

/// A point of the accuracy/energy plane: `energy` is the coordinate minimised (the search uses
/// log joules), `accuracy` the one maximised.
struct FrontPoint {
  double energy = 0;
  double accuracy = 0;
};

/// The non-dominated points of `points` (no other point has energy <= and accuracy >= with one
/// strictly better), sorted by energy ascending (so accuracy ascending too).
std::vector<FrontPoint> ParetoFront(std::vector<FrontPoint> points);

/// log of the expected hypervolume improvement of a point with known `energy` and accuracy
/// ~ N(mean, sd^2) over `front` (from ParetoFront), with reference point (ref_energy,
/// ref_accuracy): the area of [energy, ref_energy] x [ref_accuracy, accuracy] not yet dominated.
/// Over that interval the front is a step function: levels b_j (non-decreasing) on widths w_j,
/// so HVI(a) = sum_j w_j max(0, a - b_j) and
///   EHVI = sum_j w_j E[max(0, A - b_j)] = sum_j w_j sd h((mean - b_j) / sd),
/// summed here in log space. -inf when energy >= ref_energy.
double LogExpectedHypervolumeImprovement(const std::vector<FrontPoint>& front, double ref_energy,
                                         double ref_accuracy, double energy, double mean,
                                         double sd);

}  // namespace joulecast::search
