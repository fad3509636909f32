#include "calibrate/calibration/nnls.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <vector>

namespace joulecast {

Eigen::VectorXd SolveNnls(const Eigen::MatrixXd& a_in, const Eigen::VectorXd& b) {
  assert(a_in.rows() == b.size());
  const Eigen::Index n = a_in.cols();
  Eigen::VectorXd scale = a_in.colwise().norm().transpose();
  for (Eigen::Index j = 0; j < n; ++j) scale(j) = scale(j) > 0 ? scale(j) : 1;
  const Eigen::MatrixXd a = a_in * scale.cwiseInverse().asDiagonal();

  const double tol = 10 * std::numeric_limits<double>::epsilon() *
                     std::max<double>(1, static_cast<double>(std::max(a.rows(), n))) *
                     std::max(1.0, a.cwiseAbs().colwise().sum().maxCoeff());
  std::vector<bool> passive(n, false);
  // Columns that just entered and could not stay positive: not tried again until x changes.
  std::vector<bool> rejected(n, false);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);

  // The least-squares solution over the passive columns, zero elsewhere.
  auto solve_passive = [&]() {
    std::vector<Eigen::Index> cols;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (passive[j]) cols.push_back(j);
    }
    Eigen::MatrixXd ap(a.rows(), static_cast<Eigen::Index>(cols.size()));
    for (size_t k = 0; k < cols.size(); ++k) ap.col(static_cast<Eigen::Index>(k)) = a.col(cols[k]);
    Eigen::VectorXd sp = ap.colPivHouseholderQr().solve(b);
    Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
    for (size_t k = 0; k < cols.size(); ++k) s(cols[k]) = sp(static_cast<Eigen::Index>(k));
    return s;
  };

  const int max_outer = static_cast<int>(3 * n + 10);
  for (int outer = 0; outer < max_outer; ++outer) {
    Eigen::VectorXd w = a.transpose() * (b - a * x);
    Eigen::Index t = -1;
    double best = tol;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!passive[j] && !rejected[j] && w(j) > best) {
        best = w(j);
        t = j;
      }
    }
    if (t < 0) break;  // Kuhn-Tucker conditions hold: no active column would lower the residual.
    passive[t] = true;
    for (int inner = 0; inner <= n; ++inner) {
      Eigen::VectorXd s = solve_passive();
      bool feasible = true;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[j] && s(j) <= 0) feasible = false;
      }
      if (feasible) {
        x = s;
        break;
      }
      // Step from x toward s as far as the constraints allow, then drop the columns that hit 0.
      double alpha = 1;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[j] && s(j) <= 0) alpha = std::min(alpha, x(j) / (x(j) - s(j)));
      }
      x += alpha * (s - x);
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[j] && x(j) <= tol) {
          passive[j] = false;
          x(j) = 0;
        }
      }
    }
    // A column that entered but could not stay positive (rounding, or a column dependent on the
    // passive ones) would otherwise be chosen again forever.
    if (passive[t]) {
      std::fill(rejected.begin(), rejected.end(), false);
    } else {
      rejected[t] = true;
    }
  }
  return x.cwiseQuotient(scale);
}

}  // namespace joulecast
