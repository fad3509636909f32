#include "calibrate/calibration/nelder_mead.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace joulecast {

std::vector<double> NelderMead(const std::function<double(const std::vector<double>&)>& f,
                               std::vector<double> x0, const NelderMeadOptions& options) {
  const size_t n = x0.size();
  if (n == 0) return x0;
  std::vector<std::vector<double>> simplex(n + 1, x0);
  for (size_t i = 0; i < n; ++i) simplex[i + 1][i] += options.step;
  std::vector<double> value(n + 1);
  int evaluations = 0;
  auto eval = [&](const std::vector<double>& x) {
    ++evaluations;
    const double v = f(x);
    return std::isfinite(v) ? v : INFINITY;
  };
  for (size_t i = 0; i <= n; ++i) value[i] = eval(simplex[i]);
  std::vector<size_t> order(n + 1);
  while (evaluations < options.max_evaluations) {
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value[a] < value[b]; });
    const size_t best = order.front(), worst = order.back(), second = order[n - 1];
    if (std::abs(value[worst] - value[best]) < options.tolerance) break;
    std::vector<double> centroid(n, 0.0);
    for (size_t i = 0; i <= n; ++i) {
      if (i == worst) continue;
      for (size_t k = 0; k < n; ++k) centroid[k] += simplex[i][k] / static_cast<double>(n);
    }
    auto along = [&](double t) {
      std::vector<double> x(n);
      for (size_t k = 0; k < n; ++k) x[k] = centroid[k] + t * (simplex[worst][k] - centroid[k]);
      return x;
    };
    std::vector<double> reflected = along(-1);
    const double vr = eval(reflected);
    if (vr < value[best]) {
      std::vector<double> expanded = along(-2);
      const double ve = eval(expanded);
      if (ve < vr) {
        simplex[worst] = expanded;
        value[worst] = ve;
      } else {
        simplex[worst] = reflected;
        value[worst] = vr;
      }
      continue;
    }
    if (vr < value[second]) {
      simplex[worst] = reflected;
      value[worst] = vr;
      continue;
    }
    std::vector<double> contracted = vr < value[worst] ? along(-0.5) : along(0.5);
    const double vc = eval(contracted);
    if (vc < std::min(vr, value[worst])) {
      simplex[worst] = contracted;
      value[worst] = vc;
      continue;
    }
    // Shrink toward the best point.
    for (size_t i = 0; i <= n; ++i) {
      if (i == best) continue;
      for (size_t k = 0; k < n; ++k) {
        simplex[i][k] = simplex[best][k] + 0.5 * (simplex[i][k] - simplex[best][k]);
      }
      value[i] = eval(simplex[i]);
    }
  }
  const size_t best = static_cast<size_t>(std::min_element(value.begin(), value.end()) - value.begin());
  return simplex[best];
}

}  // namespace joulecast
