// Nelder-Mead simplex minimisation. The time model's objective (log errors of times that are
// maxima of a dispatch floor and a roofline) has kinks where a regime changes, so a method that
// needs no gradient is the robust choice for its few (at most 8) parameters.
#pragma once

#include <functional>
#include <vector>

namespace joulecast {

struct NelderMeadOptions {
  double step = 0.5;       ///< Initial simplex edge along each coordinate.
  int max_evaluations = 4000;
  double tolerance = 1e-10;  ///< Stop when the simplex's values differ by less than this.
};

/// Minimises `f` from `x0`; returns the best point found. `f` may return +infinity.
std::vector<double> NelderMead(const std::function<double(const std::vector<double>&)>& f,
                               std::vector<double> x0, const NelderMeadOptions& options = {});

}  // namespace joulecast
