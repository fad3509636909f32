#include "analyzer/search/gp.h"

#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <thread>

#include "analyzer/search/rng.h"

namespace joulecast::search {

namespace {

using Eigen::ArrayXXd;
using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kSqrt5 = 2.2360679774997896964;
constexpr double kLog2Pi = 1.8378770664093454836;
constexpr double kFirstJitter = 1e-8, kLastJitter = 1e-2;
constexpr size_t kPredictBlock = 512;
// L-BFGS iterations every start gets before only the best one continues.
constexpr int kScreenIterations = 10;

int ThreadCount(int requested, int work) {
  int n = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(std::min(n, 8), 1, std::max(work, 1));
}

// Runs body(i) for i in [0, count) on up to `threads` threads; each i runs exactly once.
template <typename Body>
void ParallelFor(int count, int threads, Body body) {
  threads = std::min(threads, count);
  if (threads <= 1) {
    for (int i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) body(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// Matern-5/2 of a scaled squared distance. (Scalar loops over these beat Eigen's array exp here
// by about ten times.)
inline double Matern(double r2, double s2) {
  const double r = std::sqrt(std::max(r2, 0.0));
  return s2 * (1 + kSqrt5 * r + (5.0 / 3.0) * r2) * std::exp(-kSqrt5 * r);
}

// The scaled squared distance between rows i and j of row-major points `x` (d columns).
inline double ScaledDistance2(const double* a, const double* b, const double* inv_l2, int d) {
  double r2 = 0;
  for (int k = 0; k < d; ++k) {
    const double t = a[k] - b[k];
    r2 += t * t * inv_l2[k];
  }
  return r2;
}

// Cholesky of `k`, retried with growing jitter on the diagonal. Returns false when even the
// largest jitter fails.
bool Factor(const MatrixXd& k, Eigen::LLT<MatrixXd>* llt, double* jitter) {
  llt->compute(k);
  *jitter = 0;
  if (llt->info() == Eigen::Success) return true;
  for (double j = kFirstJitter; j <= kLastJitter * 1.0001; j *= 10) {
    MatrixXd kj = k;
    kj.diagonal().array() += j;
    llt->compute(kj);
    if (llt->info() == Eigen::Success) {
      *jitter = j;
      return true;
    }
  }
  return false;
}

// The training data.
struct Data {
  int n = 0, d = 0;
  std::vector<double> x;  // n x d, row-major
  VectorXd y;             // standardised
  const double* Row(int i) const { return x.data() + static_cast<size_t>(i) * d; }
};

// The noise-free kernel matrix of the training points.
MatrixXd KernelMatrix(const Data& data, const double* inv_l2, double s2) {
  MatrixXd k(data.n, data.n);
  for (int j = 0; j < data.n; ++j) {
    for (int i = j; i < data.n; ++i) {
      k(i, j) = k(j, i) = Matern(ScaledDistance2(data.Row(i), data.Row(j), inv_l2, data.d), s2);
    }
  }
  return k;
}

// theta = (log l_1 .. log l_d, log s2, log noise).
struct Bounds {
  VectorXd lo, hi;
};

Bounds MakeBounds(int d) {
  Bounds b{VectorXd(d + 2), VectorXd(d + 2)};
  b.lo.head(d).setConstant(std::log(kGpMinLengthScale));
  b.hi.head(d).setConstant(std::log(kGpMaxLengthScale));
  b.lo(d) = std::log(kGpMinSignalVariance);
  b.hi(d) = std::log(kGpMaxSignalVariance);
  b.lo(d + 1) = std::log(kGpMinNoiseVariance);
  b.hi(d + 1) = std::log(kGpMaxNoiseVariance);
  return b;
}

struct Evaluation {
  double lml = -std::numeric_limits<double>::infinity();
  VectorXd grad;  // d lml / d theta
};

// The log marginal likelihood at theta and, when `grad`, its gradient:
// d lml / d theta_j = tr((alpha alpha^T - K^-1) dK/dtheta_j) / 2, with
// dK/dlog l_d = (5/3) s2 (1 + sqrt5 r) exp(-sqrt5 r) (x_d - x'_d)^2 / l_d^2,
// dK/dlog s2 = K_f and dK/dlog noise = noise I.
bool Evaluate(const Data& data, const VectorXd& theta, bool grad, Evaluation* out) {
  const int d = data.d, n = data.n;
  const double s2 = std::exp(theta(d)), noise = std::exp(theta(d + 1));
  std::vector<double> inv_l2(d);
  for (int k = 0; k < d; ++k) inv_l2[k] = std::exp(-2 * theta(k));
  MatrixXd k = KernelMatrix(data, inv_l2.data(), s2);
  k.diagonal().array() += noise;
  Eigen::LLT<MatrixXd> llt;
  double jitter;
  if (!Factor(k, &llt, &jitter)) return false;
  VectorXd alpha = llt.solve(data.y);
  const double log_det_half = llt.matrixLLT().diagonal().array().log().sum();
  out->lml = -0.5 * data.y.dot(alpha) - log_det_half - 0.5 * static_cast<double>(n) * kLog2Pi;
  if (!std::isfinite(out->lml)) return false;
  if (!grad) return true;
  MatrixXd w = alpha * alpha.transpose() - llt.solve(MatrixXd::Identity(n, n));
  // Over pairs i > j (both halves are equal; the diagonal's distances are 0), the noise-free
  // kernel is k(i, j) and its derivative factor comes from the same r.
  out->grad = VectorXd::Zero(d + 2);
  double sum_wk = 0;
  for (int j = 0; j < n; ++j) {
    const double* b = data.Row(j);
    for (int i = j + 1; i < n; ++i) {
      const double* a = data.Row(i);
      const double r = std::sqrt(ScaledDistance2(a, b, inv_l2.data(), d));
      const double common = (5.0 / 3.0) * s2 * (1 + kSqrt5 * r) * std::exp(-kSqrt5 * r) * w(i, j);
      for (int c = 0; c < d; ++c) {
        const double t = a[c] - b[c];
        out->grad(c) += common * t * t;
      }
      sum_wk += w(i, j) * k(i, j);
    }
  }
  // 0.5 x 2 (pairs counted once) for the length scales; s2's term also has the diagonal.
  for (int c = 0; c < d; ++c) out->grad(c) *= inv_l2[c];
  out->grad(d) = sum_wk + 0.5 * s2 * w.trace();
  out->grad(d + 1) = 0.5 * noise * w.trace();
  return true;
}

double Sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// theta from the unconstrained phi: theta = lo + (hi - lo) sigmoid(phi).
VectorXd Squash(const VectorXd& phi, const Bounds& b) {
  VectorXd t(phi.size());
  for (Eigen::Index i = 0; i < phi.size(); ++i)
    t(i) = b.lo(i) + (b.hi(i) - b.lo(i)) * Sigmoid(phi(i));
  return t;
}

VectorXd Unsquash(const VectorXd& theta, const Bounds& b) {
  VectorXd phi(theta.size());
  for (Eigen::Index i = 0; i < theta.size(); ++i) {
    double f = std::clamp((theta(i) - b.lo(i)) / (b.hi(i) - b.lo(i)), 1e-6, 1 - 1e-6);
    phi(i) = std::log(f / (1 - f));
  }
  return phi;
}

// Minimises -lml over phi with L-BFGS (memory 8) and a backtracking Armijo line search.
// Returns the best theta found and its lml (-inf when the start itself does not factorise).
std::pair<VectorXd, double> Maximise(const Data& data, const VectorXd& theta0, const Bounds& b,
                                     int max_iterations) {
  auto objective = [&](const VectorXd& phi, VectorXd* grad) -> double {
    VectorXd theta = Squash(phi, b);
    Evaluation ev;
    if (!Evaluate(data, theta, grad != nullptr, &ev))
      return std::numeric_limits<double>::infinity();
    if (grad) {
      grad->resize(phi.size());
      for (Eigen::Index i = 0; i < phi.size(); ++i) {
        double s = Sigmoid(phi(i));
        (*grad)(i) = -ev.grad(i) * (b.hi(i) - b.lo(i)) * s * (1 - s);
      }
    }
    return -ev.lml;
  };
  VectorXd x = Unsquash(theta0, b), g;
  double f = objective(x, &g);
  if (!std::isfinite(f)) return {theta0, -std::numeric_limits<double>::infinity()};
  std::deque<std::pair<VectorXd, VectorXd>> memory;  // (s, y)
  constexpr size_t kMemory = 8;
  for (int it = 0; it < max_iterations; ++it) {
    // Two-loop recursion: direction = -H g.
    VectorXd q = g;
    std::vector<double> a(memory.size());
    for (size_t i = memory.size(); i-- > 0;) {
      const auto& [s, y] = memory[i];
      a[i] = s.dot(q) / y.dot(s);
      q -= a[i] * y;
    }
    if (!memory.empty()) {
      const auto& [s, y] = memory.back();
      q *= s.dot(y) / y.dot(y);
    } else {
      q /= std::max(1.0, g.norm());
    }
    for (size_t i = 0; i < memory.size(); ++i) {
      const auto& [s, y] = memory[i];
      double beta = y.dot(q) / y.dot(s);
      q += (a[i] - beta) * s;
    }
    VectorXd dir = -q;
    double slope = g.dot(dir);
    if (!(slope < 0)) {
      memory.clear();
      dir = -g / std::max(1.0, g.norm());
      slope = g.dot(dir);
      if (!(slope < 0)) break;
    }
    double step = 1;
    VectorXd x_new, g_new;
    double f_new = f;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls, step *= 0.5) {
      x_new = x + step * dir;
      f_new = objective(x_new, &g_new);
      if (std::isfinite(f_new) && f_new <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    VectorXd s = x_new - x, y = g_new - g;
    if (s.dot(y) > 1e-12) {
      memory.emplace_back(s, y);
      if (memory.size() > kMemory) memory.pop_front();
    }
    const double decrease = f - f_new;
    x = x_new;
    g = g_new;
    f = f_new;
    if (decrease < 1e-7 * (1 + std::abs(f)) || g.lpNorm<Eigen::Infinity>() < 1e-7) break;
  }
  return {Squash(x, b), -f};
}

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

struct GaussianProcess::Model {
  int n = 0, d = 0;
  std::vector<double> x;       // n x d, row-major
  std::vector<double> inv_l2;  // 1 / l_d^2
  Eigen::LLT<MatrixXd> llt;
  VectorXd alpha;
  GpHyperparameters hyper;
  double lml = 0, jitter = 0, y_mean = 0, y_std = 1;
  int threads = 1;
};

Result<GaussianProcess> GaussianProcess::Fit(const std::vector<std::vector<double>>& x,
                                             const std::vector<double>& y,
                                             const GpOptions& options) {
  if (x.empty() || x.size() != y.size()) {
    return Status::Error("gaussian process: needs as many values as points, at least one");
  }
  const auto n = static_cast<Eigen::Index>(x.size());
  const int d = static_cast<int>(x[0].size());
  if (d < 1) return Status::Error("gaussian process: points need at least one coordinate");
  Data data;
  data.n = static_cast<int>(n);
  data.d = d;
  data.y.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    if (static_cast<int>(x[i].size()) != d || !AllFinite(x[i])) {
      return Status::Error("gaussian process: point " + std::to_string(i) +
                           " has the wrong number of coordinates or one that is not finite");
    }
    data.x.insert(data.x.end(), x[i].begin(), x[i].end());
  }
  if (!AllFinite(y)) return Status::Error("gaussian process: a value is not finite");

  auto model = std::make_shared<Model>();
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(n);
  double var = 0;
  for (double v : y) var += (v - mean) * (v - mean);
  var /= static_cast<double>(n);
  model->y_mean = mean;
  model->y_std = n >= 2 && var > 1e-24 ? std::sqrt(var) : 1.0;
  for (Eigen::Index i = 0; i < n; ++i) data.y(i) = (y[i] - mean) / model->y_std;

  GpHyperparameters start =
      options.initial.value_or(GpHyperparameters{std::vector<double>(d, 0.5), 1.0, 1e-2});
  if (static_cast<int>(start.length_scales.size()) != d) {
    return Status::Error("gaussian process: " + std::to_string(start.length_scales.size()) +
                         " length scales for " + std::to_string(d) + " dimensions");
  }
  bool valid = start.signal_variance > 0 && std::isfinite(start.signal_variance) &&
               start.noise_variance >= 0 && std::isfinite(start.noise_variance) &&
               AllFinite(start.length_scales);
  for (double l : start.length_scales) valid = valid && l > 0;
  if (!valid) return Status::Error("gaussian process: hyperparameters must be positive and finite");

  model->threads = ThreadCount(options.threads, 1 << 20);
  VectorXd theta(d + 2);
  for (int k = 0; k < d; ++k) theta(k) = std::log(start.length_scales[k]);
  theta(d) = std::log(start.signal_variance);
  theta(d + 1) = start.noise_variance > 0 ? std::log(start.noise_variance)
                                          : -std::numeric_limits<double>::infinity();
  if (options.optimise) {
    const Bounds bounds = MakeBounds(d);
    const int starts = std::max(1, options.restarts);
    std::vector<VectorXd> from(starts, theta.cwiseMax(bounds.lo).cwiseMin(bounds.hi));
    Rng rng(MixSeed(options.seed, 0x6770));
    for (int s = 1; s < starts; ++s) {
      // Random starts where good fits usually are: length scales 0.05..2, s2 0.3..3,
      // noise 1e-4..1e-1 (log-uniform).
      for (int k = 0; k < d; ++k) from[s](k) = std::log(0.05) + rng.Uniform() * std::log(40.0);
      from[s](d) = std::log(0.3) + rng.Uniform() * std::log(10.0);
      from[s](d + 1) = std::log(1e-4) + rng.Uniform() * std::log(1e3);
    }
    // Every start runs a few iterations (in parallel); only the best goes on to the end.
    const int screen = std::min(kScreenIterations, options.max_iterations);
    std::vector<std::pair<VectorXd, double>> found(starts);
    ParallelFor(starts, ThreadCount(options.threads, starts),
                [&](int s) { found[s] = Maximise(data, from[s], bounds, screen); });
    int best = -1;
    for (int s = 0; s < starts; ++s) {
      if (std::isfinite(found[s].second) && (best < 0 || found[s].second > found[best].second)) {
        best = s;
      }
    }
    if (best >= 0) {
      theta = found[best].first;
      if (options.max_iterations > screen) {
        auto [more, lml] = Maximise(data, theta, bounds, options.max_iterations - screen);
        if (lml >= found[best].second) theta = more;
      }
    }
  }

  GpHyperparameters& h = model->hyper;
  h = start;  // as given when not optimised
  if (options.optimise) {
    for (int k = 0; k < d; ++k) h.length_scales[k] = std::exp(theta(k));
    h.signal_variance = std::exp(theta(d));
    h.noise_variance = std::exp(theta(d + 1));
  }

  model->inv_l2.resize(d);
  for (int c = 0; c < d; ++c) model->inv_l2[c] = 1 / (h.length_scales[c] * h.length_scales[c]);
  MatrixXd k = KernelMatrix(data, model->inv_l2.data(), h.signal_variance);
  k.diagonal().array() += h.noise_variance;
  if (!Factor(k, &model->llt, &model->jitter)) {
    return Status::Error("gaussian process: the covariance of " + std::to_string(n) +
                         " points is singular even with jitter 1e-2 on its diagonal");
  }
  model->alpha = model->llt.solve(data.y);
  model->lml = -0.5 * data.y.dot(model->alpha) -
               model->llt.matrixLLT().diagonal().array().log().sum() -
               0.5 * static_cast<double>(n) * kLog2Pi;
  model->x = std::move(data.x);
  model->n = data.n;
  model->d = d;
  return GaussianProcess(std::move(model));
}

void GaussianProcess::Predict(const double* points, size_t count, double* mean,
                              double* variance) const {
  const Model& m = *model_;
  const size_t d = static_cast<size_t>(m.d);
  const size_t blocks = (count + kPredictBlock - 1) / kPredictBlock;
  ParallelFor(static_cast<int>(blocks), m.threads, [&](int b) {
    const size_t first = static_cast<size_t>(b) * kPredictBlock;
    const auto rows = static_cast<Eigen::Index>(std::min(kPredictBlock, count - first));
    MatrixXd ks(m.n, rows);
    for (Eigen::Index c = 0; c < rows; ++c) {
      const double* p = points + (first + static_cast<size_t>(c)) * d;
      for (int i = 0; i < m.n; ++i) {
        ks(i, c) = Matern(
            ScaledDistance2(m.x.data() + static_cast<size_t>(i) * d, p, m.inv_l2.data(), m.d),
            m.hyper.signal_variance);
      }
    }
    VectorXd mu = ks.transpose() * m.alpha;
    m.llt.matrixL().solveInPlace(ks);
    VectorXd v = ks.colwise().squaredNorm().transpose();
    for (Eigen::Index i = 0; i < rows; ++i) {
      mean[first + i] = m.y_mean + m.y_std * mu(i);
      double latent = std::max(m.hyper.signal_variance - v(i), 1e-12 * m.hyper.signal_variance);
      variance[first + i] = m.y_std * m.y_std * latent;
    }
  });
}

void GaussianProcess::Predict(const std::vector<std::vector<double>>& points,
                              std::vector<double>* mean, std::vector<double>* variance) const {
  const int d = dims();
  std::vector<double> flat;
  flat.reserve(points.size() * d);
  for (const auto& p : points) flat.insert(flat.end(), p.begin(), p.begin() + d);
  mean->resize(points.size());
  variance->resize(points.size());
  Predict(flat.data(), points.size(), mean->data(), variance->data());
}

const GpHyperparameters& GaussianProcess::hyperparameters() const { return model_->hyper; }
double GaussianProcess::log_marginal_likelihood() const { return model_->lml; }
double GaussianProcess::jitter() const { return model_->jitter; }
double GaussianProcess::y_mean() const { return model_->y_mean; }
double GaussianProcess::y_std() const { return model_->y_std; }
int GaussianProcess::dims() const { return model_->d; }
size_t GaussianProcess::size() const { return static_cast<size_t>(model_->n); }

}  // namespace joulecast::search
