// A Gaussian process regressor for Bayesian optimisation: inputs in the unit cube (ToUnit),
// outputs standardised internally, a Matern-5/2 kernel with one length scale per input (ARD)
//
//   k(x, x') = s2 (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r),  r^2 = sum_d ((x_d - x'_d) / l_d)^2
//
// plus Gaussian noise, and hyperparameters that maximise the log marginal likelihood
//
//   log p(y | X) = -y^T K^-1 y / 2 - log|K| / 2 - n log(2 pi) / 2,  K = k(X, X) + noise I
//
// (analytic gradients, L-BFGS over log-parameters squashed into bounds, several seeded starts of
// which the most promising is run to convergence).
// K is factorised by Cholesky; a factorisation that fails is retried with jitter 1e-8, 1e-7, ...
// up to 1e-2 added to the diagonal before it is an error. Eigen stays inside gp.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast::search {

/// The kernel's hyperparameters, for standardised outputs.
struct GpHyperparameters {
  std::vector<double> length_scales;  ///< One per input dimension, in unit-cube units.
  double signal_variance = 1;         ///< s2: prior variance of the standardised function.
  double noise_variance = 1e-2;       ///< Observation noise variance, standardised units.
};

/// Where the optimiser may put the hyperparameters (inclusive).
inline constexpr double kGpMinLengthScale = 1e-2, kGpMaxLengthScale = 20;
inline constexpr double kGpMinSignalVariance = 1e-2, kGpMaxSignalVariance = 1e2;
inline constexpr double kGpMinNoiseVariance = 1e-6, kGpMaxNoiseVariance = 1;

struct GpOptions {
  bool optimise = true;  ///< False: use `initial` (or the defaults) as given.
  /// Starts: the first from `initial`, the others seeded at random. Each runs 10 L-BFGS
  /// iterations; the best then continues up to `max_iterations` in all.
  int restarts = 3;
  int max_iterations = 50;
  uint64_t seed = 1;  ///< For the random starts.
  int threads = 0;    ///< Starts and predictions in parallel; 0: the machine's cores.
  /// The first start (or the fixed hyperparameters). Default: every length scale 0.5, s2 1,
  /// noise 1e-2.
  std::optional<GpHyperparameters> initial;
};

class GaussianProcess {
 public:
  /// Fits to rows `x` (n points of equal dimension, ideally in [0, 1]) and values `y`.
  /// Errors: no points, ragged or non-finite inputs, hyperparameters of the wrong size or out of
  /// range, or a covariance that stays singular with jitter 1e-2.
  static Result<GaussianProcess> Fit(const std::vector<std::vector<double>>& x,
                                     const std::vector<double>& y, const GpOptions& options = {});

  /// Posterior mean and variance of the latent function (noise excluded), in y's units, at
  /// `count` points stored row by row in `points` (count x dims()). One triangular solve covers
  /// a whole block of points.
  void Predict(const double* points, size_t count, double* mean, double* variance) const;
  /// The same for points as rows.
  void Predict(const std::vector<std::vector<double>>& points, std::vector<double>* mean,
               std::vector<double>* variance) const;

  const GpHyperparameters& hyperparameters() const;
  /// log p(y | X) of the standardised outputs at the fitted hyperparameters.
  double log_marginal_likelihood() const;
  /// The jitter the final factorisation needed (0 when none).
  double jitter() const;
  /// The standardisation: y = y_mean + y_std * f.
  double y_mean() const;
  double y_std() const;
  int dims() const;
  size_t size() const;

 private:
  struct Model;
  explicit GaussianProcess(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  std::shared_ptr<const Model> model_;
};

}  // namespace joulecast::search
