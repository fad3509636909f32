#include "analyzer/search/acquisition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "analyzer/search/rng.h"

namespace joulecast::search {
namespace {

double DirectH(double z) {
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi);
  return pdf + z * 0.5 * std::erfc(-z / std::sqrt(2.0));
}

TEST(AcquisitionLogH, MatchesTheDirectFormulaWhereThatIsAccurate) {
  for (double z = -8; z <= 6; z += 0.125) {
    EXPECT_NEAR(LogH(z), std::log(DirectH(z)), 1e-9 * (1 + std::abs(std::log(DirectH(z))))) << z;
  }
}

TEST(AcquisitionLogH, FiniteAndIncreasingWhereEiUnderflows) {
  EXPECT_EQ(DirectH(-40), 0.0);  // the plain formula has underflowed here
  double previous = -INFINITY;
  for (double z = -1e7; z <= 5; z = z < -2 ? z * 0.93 : z + 0.01) {
    double v = LogH(z);
    ASSERT_TRUE(std::isfinite(v)) << z;
    ASSERT_GT(v, previous) << z;
    previous = v;
  }
  // Continuous across the branches at -1 and -1000.
  for (double z : {-1.0, -1000.0}) {
    EXPECT_NEAR(LogH(std::nextafter(z, 0.0)), LogH(z), 1e-9 * std::abs(LogH(z))) << z;
  }
  // The far tail follows log phi(z) - 2 log|z|.
  EXPECT_NEAR(LogH(-1e4), -0.5e8 - 0.5 * std::log(2 * std::numbers::pi) - 2 * std::log(1e4), 1e-6);
}

TEST(AcquisitionEi, LogEiOrdersPointsFarFromTheIncumbent) {
  const double best = 0.9;
  double previous = -INFINITY;
  for (double mean = 0.0; mean < 0.9; mean += 0.05) {
    double sd = 0.005;  // (mean - best) / sd down to -180: EI itself is exactly 0
    double v = LogExpectedImprovement(mean, sd, best);
    ASSERT_TRUE(std::isfinite(v));
    EXPECT_GT(v, previous);
    previous = v;
  }
  // Near the incumbent it is the plain log EI.
  EXPECT_NEAR(LogExpectedImprovement(0.91, 0.02, 0.9), std::log(0.02 * DirectH(0.5)), 1e-12);
  // A larger spread at the same mean is worth more.
  EXPECT_GT(LogExpectedImprovement(0.5, 0.02, 0.9), LogExpectedImprovement(0.5, 0.01, 0.9));
}

TEST(AcquisitionPi, LogCdfIsFiniteAndMatchesErfc) {
  for (double z = -6; z <= 6; z += 0.5) {
    EXPECT_NEAR(LogNormalCdf(z), std::log(0.5 * std::erfc(-z / std::sqrt(2.0))), 1e-12) << z;
  }
  EXPECT_TRUE(std::isfinite(LogNormalCdf(-200)));
  EXPECT_LT(LogNormalCdf(-201), LogNormalCdf(-200));
  EXPECT_NEAR(LogNormalCdf(-200),
              -0.5 * 200 * 200 - std::log(200) - 0.5 * std::log(2 * std::numbers::pi), 1e-4);
  EXPECT_NEAR(LogProbabilityOfImprovement(1.0, 0.1, 0.9, 0.0),
              std::log(0.5 * std::erfc(-1 / std::sqrt(2.0))), 1e-12);
  EXPECT_DOUBLE_EQ(UpperConfidenceBound(0.5, 0.1), 0.5 + kUcbKappa * 0.1);
}

TEST(AcquisitionEiPerJoule, ExponentCoolsFromOneToZero) {
  EXPECT_EQ(EnergyExponent(3, 5, 25), 1.0);
  EXPECT_EQ(EnergyExponent(5, 5, 25), 1.0);
  EXPECT_DOUBLE_EQ(EnergyExponent(15, 5, 25), 0.5);
  EXPECT_EQ(EnergyExponent(25, 5, 25), 0.0);
  EXPECT_EQ(EnergyExponent(40, 5, 25), 0.0);
}

TEST(AcquisitionPareto, FrontKeepsTheNonDominated) {
  std::vector<FrontPoint> front =
      ParetoFront({{3, 0.9}, {1, 0.5}, {2, 0.4}, {2, 0.8}, {4, 0.85}, {1, 0.3}});
  ASSERT_EQ(front.size(), 3u);
  EXPECT_EQ(front[0].energy, 1);
  EXPECT_EQ(front[0].accuracy, 0.5);
  EXPECT_EQ(front[1].energy, 2);
  EXPECT_EQ(front[1].accuracy, 0.8);
  EXPECT_EQ(front[2].energy, 3);
}

// The hypervolume improvement of (energy, a), integrated over energy by the midpoint rule on
// cells of 0.05, exact here since the front's steps fall on cell edges.
double HviByIntegration(const std::vector<FrontPoint>& front, double ref_e, double ref_a,
                        double energy, double a) {
  const int steps = static_cast<int>(std::lround((ref_e - energy) * 20));
  double area = 0;
  for (int i = 0; i < steps; ++i) {
    double e = energy + (ref_e - energy) * (i + 0.5) / steps;
    double dominated = ref_a;
    for (const FrontPoint& p : front) {
      if (p.energy <= e) dominated = std::max(dominated, p.accuracy);
    }
    area += std::max(0.0, a - dominated) * (ref_e - energy) / steps;
  }
  return area;
}

TEST(AcquisitionEhvi, MatchesMonteCarlo) {
  std::vector<FrontPoint> front = ParetoFront({{1, 0.6}, {2, 0.8}, {3, 0.85}});
  Rng rng(3);
  for (double energy : {0.5, 1.5, 2.5}) {
    const double mean = 0.78, sd = 0.05;
    double sum = 0;
    const int n = 40000;
    for (int i = 0; i < n; ++i)
      sum += HviByIntegration(front, 4, 0.5, energy, mean + sd * rng.Normal());
    double mc = sum / n;
    double closed = std::exp(LogExpectedHypervolumeImprovement(front, 4, 0.5, energy, mean, sd));
    EXPECT_NEAR(closed, mc, 0.03 * mc + 1e-4) << energy;
  }
}

TEST(AcquisitionEhvi, PrefersAPointThatExtendsTheFront) {
  std::vector<FrontPoint> front = ParetoFront({{std::log(10.0), 0.8}, {std::log(100.0), 0.9}});
  const double ref_e = std::log(200.0), ref_a = 0.5;
  // Same predicted accuracy: cheaper than the front's cheapest extends it; dearer is dominated.
  double cheap = LogExpectedHypervolumeImprovement(front, ref_e, ref_a, std::log(5.0), 0.8, 0.01);
  double dear = LogExpectedHypervolumeImprovement(front, ref_e, ref_a, std::log(150.0), 0.8, 0.01);
  double between =
      LogExpectedHypervolumeImprovement(front, ref_e, ref_a, std::log(30.0), 0.85, 0.01);
  EXPECT_GT(cheap, dear + 10);
  EXPECT_GT(between, dear + 10);
  EXPECT_TRUE(std::isfinite(dear));  // still ordered, not a flat zero
  EXPECT_EQ(LogExpectedHypervolumeImprovement(front, ref_e, ref_a, ref_e, 0.99, 0.01), -INFINITY);
  // Empty front: the whole box above the reference accuracy counts.
  EXPECT_NEAR(std::exp(LogExpectedHypervolumeImprovement({}, 2, 0, 1, 0.7, 1e-9)), 0.7, 1e-6);
}

}  // namespace
}  // namespace joulecast::search
