#include "analyzer/search/acquisition.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace joulecast::search {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kHalfLog2Pi = 0.91893853320467274178;      // log(2 pi) / 2
constexpr double kHalfLogPiOver2 = 0.22579135264472743236;  // log(pi / 2) / 2
constexpr double kMinSd = 1e-12;

// erfcx(x) = exp(x^2) erfc(x) for x >= 0. Below 25 erfc is still far from underflow (erfc(25) is
// about 1e-273) and exp(x^2) from overflow; above, the asymptotic series
// erfcx(x) ~ 1 / (x sqrt(pi)) sum_k (-1)^k (2k-1)!! / (2x^2)^k, whose terms past k = 7 are
// below 1e-17 there.
double Erfcx(double x) {
  if (x < 25) return std::exp(x * x) * std::erfc(x);
  const double inv2x2 = 1 / (2 * x * x);
  double term = 1, sum = 1;
  for (int k = 1; k <= 7; ++k) {
    term *= -(2 * k - 1) * inv2x2;
    sum += term;
  }
  return sum / (x * 1.7724538509055160273);  // sqrt(pi)
}

// log(1 - exp(a)) for a < 0, accurate on both sides of -log 2.
double Log1mExp(double a) {
  return a > -0.6931471805599453 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a));
}

double LogNormalPdf(double z) { return -0.5 * z * z - kHalfLog2Pi; }

}  // namespace

double LogNormalCdf(double z) {
  if (z >= 0) return std::log1p(-0.5 * std::erfc(z / kSqrt2));
  // Phi(z) = erfc(-z / sqrt2) / 2 = erfcx(-z / sqrt2) exp(-z^2 / 2) / 2.
  return std::log(0.5 * Erfcx(-z / kSqrt2)) - 0.5 * z * z;
}

double LogH(double z) {
  if (z > -1) {
    const double cdf = 0.5 * std::erfc(-z / kSqrt2);
    return std::log(std::exp(LogNormalPdf(z)) + z * cdf);
  }
  if (z > -1e3) {
    // h(z) = phi(z) (1 + z Phi(z) / phi(z)) and Phi(z) / phi(z) = sqrt(pi / 2) erfcx(-z / sqrt2),
    // so log h = log phi(z) + log(1 - exp(log(|z| sqrt(pi / 2) erfcx(|z| / sqrt2)))).
    const double a = std::log(-z) + kHalfLogPiOver2 + std::log(Erfcx(-z / kSqrt2));
    return LogNormalPdf(z) + Log1mExp(std::min(a, -1e-300));
  }
  // Far tail: h(z) = phi(z) / z^2 (1 - 3 / z^2 + 15 / z^4 - 105 / z^6 + ...).
  const double inv2 = 1 / (z * z);
  return LogNormalPdf(z) + std::log(inv2) + std::log1p(inv2 * (-3 + inv2 * (15 - 105 * inv2)));
}

double LogExpectedImprovement(double mean, double sd, double best) {
  sd = std::max(sd, kMinSd);
  return std::log(sd) + LogH((mean - best) / sd);
}

double LogProbabilityOfImprovement(double mean, double sd, double best, double xi) {
  sd = std::max(sd, kMinSd);
  return LogNormalCdf((mean - best - xi) / sd);
}

double UpperConfidenceBound(double mean, double sd) { return mean + kUcbKappa * sd; }

double EnergyExponent(int trials_done, int initial, int budget) {
  if (trials_done <= initial) return 1;
  if (budget <= initial) return 0;
  double t = 1 - static_cast<double>(trials_done - initial) / static_cast<double>(budget - initial);
  return std::clamp(t, 0.0, 1.0);
}

std::vector<FrontPoint> ParetoFront(std::vector<FrontPoint> points) {
  // By energy ascending, ties by accuracy descending: a point is on the front when its accuracy
  // beats every point before it.
  std::sort(points.begin(), points.end(), [](const FrontPoint& a, const FrontPoint& b) {
    return a.energy != b.energy ? a.energy < b.energy : a.accuracy > b.accuracy;
  });
  std::vector<FrontPoint> front;
  for (const FrontPoint& p : points) {
    if (front.empty() || p.accuracy > front.back().accuracy) front.push_back(p);
  }
  return front;
}

double LogExpectedHypervolumeImprovement(const std::vector<FrontPoint>& front, double ref_energy,
                                         double ref_accuracy, double energy, double mean,
                                         double sd) {
  if (!(energy < ref_energy)) return -kInf;
  sd = std::max(sd, kMinSd);
  const double log_sd = std::log(sd);
  // The first front point above `energy`; the ones at or below set the first level.
  auto it = std::upper_bound(front.begin(), front.end(), energy,
                             [](double e, const FrontPoint& p) { return e < p.energy; });
  double level = ref_accuracy;
  if (it != front.begin()) level = std::max(level, std::prev(it)->accuracy);
  double pos = energy;
  // log-sum-exp, accumulated as max + log(sum exp(x - max)).
  double max_term = -kInf, sum = 0;
  auto add = [&](double log_width, double lvl) {
    double term = log_width + log_sd + LogH((mean - lvl) / sd);
    if (term > max_term) {
      sum = sum * std::exp(max_term - term) + 1;
      max_term = term;
    } else {
      sum += std::exp(term - max_term);
    }
  };
  for (; it != front.end() && it->energy < ref_energy; ++it) {
    // Levels only rise from here, so the rest adds at most log(remaining width) + this term:
    // once that is negligible against the sum, stop.
    if (max_term > -kInf &&
        std::log(ref_energy - pos) + log_sd + LogH((mean - level) / sd) < max_term - 40) {
      return max_term + std::log(sum);
    }
    if (it->energy > pos) add(std::log(it->energy - pos), level);
    level = std::max(level, it->accuracy);
    pos = it->energy;
  }
  add(std::log(ref_energy - pos), level);
  return max_term + std::log(sum);
}

}  // namespace joulecast::search
