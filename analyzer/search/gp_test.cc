#include "analyzer/search/gp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analyzer/search/rng.h"

namespace joulecast::search {
namespace {

double Smooth(const std::vector<double>& x) {
  return std::sin(3 * x[0]) + 0.5 * std::cos(5 * x[1]);
}

std::vector<std::vector<double>> HaltonPoints(int n, int dims, uint64_t seed) {
  const ScrambledHalton h = SeededHalton(dims, seed);
  std::vector<std::vector<double>> x;
  for (int i = 0; i < n; ++i) x.push_back(h.Point(static_cast<uint64_t>(i)));
  return x;
}

std::vector<double> Values(const std::vector<std::vector<double>>& x,
                           double (*f)(const std::vector<double>&)) {
  std::vector<double> y;
  for (const auto& p : x) y.push_back(f(p));
  return y;
}

TEST(GpFit, RecoversASmoothFunction) {
  auto x = HaltonPoints(60, 2, 1);
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, Values(x, Smooth));
  ASSERT_TRUE(gp.ok()) << gp.status().message();
  Rng rng(7);
  std::vector<std::vector<double>> test;
  for (int i = 0; i < 300; ++i) test.push_back({rng.Uniform(), rng.Uniform()});
  std::vector<double> mean, var;
  gp->Predict(test, &mean, &var);
  double se = 0, inside = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    double err = mean[i] - Smooth(test[i]);
    se += err * err;
    inside += std::abs(err) <= 3 * std::sqrt(var[i]) + 1e-3;
  }
  double rmse = std::sqrt(se / static_cast<double>(test.size()));
  EXPECT_LT(rmse, 0.03);  // the function's standard deviation is about 0.75
  EXPECT_GT(inside / static_cast<double>(test.size()), 0.9);  // calibrated variances
}

TEST(GpFit, MaximisingImprovesTheLikelihood) {
  auto x = HaltonPoints(40, 2, 3);
  auto y = Values(x, Smooth);
  GpOptions fixed;
  fixed.optimise = false;
  fixed.initial = GpHyperparameters{{5.0, 5.0}, 0.1, 0.5};
  Result<GaussianProcess> start = GaussianProcess::Fit(x, y, fixed);
  GpOptions fitted = fixed;
  fitted.optimise = true;
  Result<GaussianProcess> best = GaussianProcess::Fit(x, y, fitted);
  ASSERT_TRUE(start.ok() && best.ok());
  EXPECT_EQ(start->hyperparameters().length_scales[0], 5.0);
  EXPECT_GT(best->log_marginal_likelihood(), start->log_marginal_likelihood() + 10);
  // Near a maximum: the gradient is about zero, so a small move of any hyperparameter lowers
  // the likelihood (or changes it very little).
  const GpHyperparameters& h = best->hyperparameters();
  for (double factor : {0.9, 1.1}) {
    GpOptions moved = fixed;
    moved.initial = h;
    moved.initial->signal_variance *= factor;
    moved.initial->length_scales[0] *= factor;
    Result<GaussianProcess> near = GaussianProcess::Fit(x, y, moved);
    ASSERT_TRUE(near.ok());
    EXPECT_LT(near->log_marginal_likelihood(), best->log_marginal_likelihood() + 1e-3);
  }
}

TEST(GpFit, LengthScalesFindTheIrrelevantInput) {
  auto x = HaltonPoints(50, 2, 5);
  std::vector<double> y;
  for (const auto& p : x) y.push_back(std::sin(4 * p[0]));
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y);
  ASSERT_TRUE(gp.ok());
  const auto& l = gp->hyperparameters().length_scales;
  EXPECT_GT(l[1], 5 * l[0]) << l[0] << " " << l[1];
}

TEST(GpFit, NoiseIsEstimated) {
  auto x = HaltonPoints(80, 1, 9);
  Rng rng(11);
  std::vector<double> clean, noisy;
  for (const auto& p : x) {
    clean.push_back(std::sin(4 * p[0]));
    noisy.push_back(clean.back() + 0.3 * rng.Normal());
  }
  Result<GaussianProcess> a = GaussianProcess::Fit(x, clean);
  Result<GaussianProcess> b = GaussianProcess::Fit(x, noisy);
  ASSERT_TRUE(a.ok() && b.ok());
  // Standardised: the noisy outputs' noise is about 0.09 / (0.5 + 0.09) of their variance.
  EXPECT_LT(a->hyperparameters().noise_variance, 1e-3);
  EXPECT_GT(b->hyperparameters().noise_variance, 0.03);
}

TEST(GpFit, DuplicatedPointsNeedJitterWithoutNoise) {
  std::vector<std::vector<double>> x = {{0.2, 0.3}, {0.2, 0.3}, {0.7, 0.1}};
  std::vector<double> y = {1, 1, 0};
  GpOptions fixed;
  fixed.optimise = false;
  fixed.initial = GpHyperparameters{{0.5, 0.5}, 1.0, 0.0};
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y, fixed);
  ASSERT_TRUE(gp.ok()) << gp.status().message();
  EXPECT_GE(gp->jitter(), 1e-8);
  EXPECT_LE(gp->jitter(), 1e-2);
  std::vector<double> mean, var;
  gp->Predict({{0.2, 0.3}, {0.5, 0.5}}, &mean, &var);
  EXPECT_NEAR(mean[0], 1, 1e-3);
  EXPECT_TRUE(std::isfinite(mean[1]) && std::isfinite(var[1]));
  // With the noise the optimiser keeps (at least 1e-6), no jitter is needed.
  Result<GaussianProcess> fitted = GaussianProcess::Fit(x, y);
  ASSERT_TRUE(fitted.ok());
  EXPECT_EQ(fitted->jitter(), 0);
}

TEST(GpFit, InterpolatesNoiselessData) {
  auto x = HaltonPoints(20, 3, 2);
  std::vector<double> y;
  for (const auto& p : x) y.push_back(p[0] + 2 * p[1] * p[1] - p[2]);
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, y);
  ASSERT_TRUE(gp.ok());
  std::vector<double> mean, var;
  gp->Predict(x, &mean, &var);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(mean[i], y[i], 0.02);
    EXPECT_LT(var[i], 1e-3);
  }
}

TEST(GpPredict, BlocksGiveTheSameAnswerAsOnePointAtATime) {
  auto x = HaltonPoints(30, 2, 4);
  Result<GaussianProcess> gp = GaussianProcess::Fit(x, Values(x, Smooth));
  ASSERT_TRUE(gp.ok());
  auto test = HaltonPoints(1100, 2, 8);  // more than two blocks of 512
  std::vector<double> mean, var;
  gp->Predict(test, &mean, &var);
  for (size_t i = 0; i < test.size(); i += 97) {
    std::vector<double> m1, v1;
    gp->Predict({test[i]}, &m1, &v1);
    EXPECT_NEAR(m1[0], mean[i], 1e-10);
    EXPECT_NEAR(v1[0], var[i], 1e-10);
  }
}

TEST(GpFit, IsDeterministicForASeed) {
  auto x = HaltonPoints(25, 2, 6);
  auto y = Values(x, Smooth);
  Result<GaussianProcess> a = GaussianProcess::Fit(x, y), b = GaussianProcess::Fit(x, y);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->log_marginal_likelihood(), b->log_marginal_likelihood());
  EXPECT_EQ(a->hyperparameters().length_scales, b->hyperparameters().length_scales);
}

TEST(GpFit, RejectsBadInput) {
  EXPECT_FALSE(GaussianProcess::Fit({}, {}).ok());
  EXPECT_FALSE(GaussianProcess::Fit({{0.1, 0.2}, {0.3}}, {1, 2}).ok());
  EXPECT_FALSE(GaussianProcess::Fit({{0.1}, {NAN}}, {1, 2}).ok());
  EXPECT_FALSE(GaussianProcess::Fit({{0.1}, {0.2}}, {1, INFINITY}).ok());
  GpOptions wrong;
  wrong.initial = GpHyperparameters{{0.5, 0.5}, 1, 0.01};
  EXPECT_FALSE(GaussianProcess::Fit({{0.1}, {0.2}}, {1, 2}, wrong).ok());
}

}  // namespace
}  // namespace joulecast::search
