#include "calibrate/calibration/nnls.h"

#include <gtest/gtest.h>

#include <limits>

namespace joulecast {
namespace {

// The NNLS answer by brute force: the best unconstrained least-squares solution over every subset
// of columns whose coefficients are all >= 0 (the optimum is one of them).
Eigen::VectorXd BruteForce(const Eigen::MatrixXd& a, const Eigen::VectorXd& b) {
  const int n = static_cast<int>(a.cols());
  Eigen::VectorXd best = Eigen::VectorXd::Zero(n);
  double best_r = b.squaredNorm();
  for (int mask = 1; mask < (1 << n); ++mask) {
    std::vector<int> cols;
    for (int j = 0; j < n; ++j) {
      if (mask & (1 << j)) cols.push_back(j);
    }
    Eigen::MatrixXd sub(a.rows(), static_cast<Eigen::Index>(cols.size()));
    for (size_t k = 0; k < cols.size(); ++k) sub.col(k) = a.col(cols[k]);
    Eigen::VectorXd s = sub.colPivHouseholderQr().solve(b);
    if (s.minCoeff() < 0) continue;
    Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
    for (size_t k = 0; k < cols.size(); ++k) x(cols[k]) = s(k);
    const double r = (a * x - b).squaredNorm();
    if (r < best_r) {
      best_r = r;
      best = x;
    }
  }
  return best;
}

TEST(Nnls, RecoversAnExactNonNegativeSolution) {
  Eigen::MatrixXd a(5, 3);
  a << 1, 2, 0, 0, 1, 1, 3, 0, 1, 1, 1, 1, 2, 5, 3;
  const Eigen::Vector3d truth(1.5, 0.25, 2.0);
  const Eigen::VectorXd x = SolveNnls(a, a * truth);
  ASSERT_EQ(x.size(), 3);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(x(j), truth(j), 1e-10) << j;
}

TEST(Nnls, ClampsWhereTheUnconstrainedAnswerIsNegative) {
  // Unconstrained: x = (1, -1). With x >= 0 the second is 0 and the first still 1.
  const Eigen::MatrixXd a = Eigen::MatrixXd::Identity(2, 2);
  const Eigen::VectorXd x = SolveNnls(a, Eigen::Vector2d(1, -1));
  EXPECT_NEAR(x(0), 1, 1e-12);
  EXPECT_EQ(x(1), 0);

  // A textbook case: rows (1 0), (1 0), (0 1) and b = (2, 1, -1): x = (1.5, 0).
  Eigen::MatrixXd c(3, 2);
  c << 1, 0, 1, 0, 0, 1;
  const Eigen::VectorXd y = SolveNnls(c, Eigen::Vector3d(2, 1, -1));
  EXPECT_NEAR(y(0), 1.5, 1e-12);
  EXPECT_EQ(y(1), 0);
}

TEST(Nnls, CorrelatedColumnsWhereTheActiveSetMustDropOne) {
  // Columns 0 and 1 nearly equal; b favours 0 and pushes 1 negative unconstrained.
  Eigen::MatrixXd a(4, 3);
  a << 1, 1.1, 0, 2, 1.9, 1, 3, 3.2, 0, 4, 3.9, 1;
  const Eigen::Vector4d b(2, 3, 7, 6);
  const Eigen::VectorXd x = SolveNnls(a, b);
  const Eigen::VectorXd want = BruteForce(a, b);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(x(j), want(j), 1e-9) << j;
  EXPECT_GE(x.minCoeff(), 0);
  // The unconstrained answer really is infeasible here, so the constraint was exercised.
  EXPECT_LT(a.colPivHouseholderQr().solve(b).minCoeff(), 0);
}

TEST(Nnls, MatchesBruteForceOnRandomProblems) {
  std::srand(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int m = 3 + trial % 9, n = 1 + trial % 5;
    const Eigen::MatrixXd a = Eigen::MatrixXd::Random(m, n);
    const Eigen::VectorXd b = Eigen::VectorXd::Random(m);
    const Eigen::VectorXd x = SolveNnls(a, b);
    const Eigen::VectorXd want = BruteForce(a, b);
    EXPECT_GE(x.minCoeff(), 0) << trial;
    // Same residual (the optimum is unique in value; in coefficients when a has full rank).
    EXPECT_NEAR((a * x - b).squaredNorm(), (a * want - b).squaredNorm(), 1e-9) << trial;
  }
}

TEST(Nnls, ColumnsOfVeryDifferentScale) {
  // Counts of 1e9 beside a constant column: the energy per MAC is ~1e-9 J, the constant ~1.
  Eigen::MatrixXd a(6, 2);
  a << 1e9, 1, 3e9, 1, 2e8, 1, 7e9, 1, 5e8, 1, 9e9, 1;
  const Eigen::Vector2d truth(2.5e-9, 0.75);
  const Eigen::VectorXd x = SolveNnls(a, a * truth);
  EXPECT_NEAR(x(0) / truth(0), 1, 1e-9);
  EXPECT_NEAR(x(1) / truth(1), 1, 1e-9);
}

TEST(Nnls, ZeroColumnGetsZeroAndEmptyProblemIsZero) {
  Eigen::MatrixXd a(3, 2);
  a << 0, 1, 0, 2, 0, 3;
  const Eigen::VectorXd x = SolveNnls(a, Eigen::Vector3d(2, 4, 6));
  EXPECT_EQ(x(0), 0);
  EXPECT_NEAR(x(1), 2, 1e-12);
  // Everything negative: x = 0.
  const Eigen::VectorXd z = SolveNnls(a, Eigen::Vector3d(-2, -4, -6));
  EXPECT_EQ(z(0), 0);
  EXPECT_EQ(z(1), 0);
}

}  // namespace
}  // namespace joulecast
