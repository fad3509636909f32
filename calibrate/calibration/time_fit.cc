#include "calibrate/calibration/time_fit.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "analyzer/energy/predict.h"
#include "calibrate/calibration/nelder_mead.h"

namespace joulecast {

namespace {

double D(const Count& c) { return static_cast<double>(c.value()); }

bool HasOps(const LayerCost& l) { return PassOps(l).first > 0; }

// A family's parameters as a point of log space; which ones exist depends on the layers.
struct FamilyLayout {
  bool macs = false, gemm = false, channels = false;
  size_t size() const { return 4 + (macs ? 2 : 0) + (gemm ? 3 : 0) + (channels ? 1 : 0); }
  FamilyTime Decode(const std::vector<double>& x) const {
    FamilyTime f;
    size_t i = 0;
    f.host_fwd_s = std::exp(x[i++]);
    f.host_bwd_s = std::exp(x[i++]);
    f.bytes_per_s_fwd = std::exp(x[i++]);
    f.bytes_per_s_bwd = std::exp(x[i++]);
    if (macs) {
      f.macs_per_s_fwd = std::exp(x[i++]);
      f.macs_per_s_bwd = std::exp(x[i++]);
    }
    if (gemm) {
      f.m0 = std::exp(x[i++]);
      f.n0 = std::exp(x[i++]);
      f.k0 = std::exp(x[i++]);
    }
    if (channels) f.c0 = std::exp(x[i++]);
    return f;
  }
};

double Backward(const LayerTimingSample& s) {
  return std::max(s.backward_s, 0.05 * (s.forward_s + s.backward_s));
}

double FamilyLoss(const FamilyTime& f, const std::vector<const LayerTimingSample*>& samples,
                  bool async) {
  double loss = 0;
  for (const LayerTimingSample* s : samples) {
    const auto [fwd, bwd] = AloneTime(f, s->layer, async, ElementBytes(s->precision));
    if (!(fwd > 0) || !(bwd > 0)) return INFINITY;
    const double a = std::log(fwd / s->forward_s), b = std::log(bwd / Backward(*s));
    loss += a * a + b * b;
  }
  return loss / static_cast<double>(samples.size());
}

// Mean absolute relative error of forward + backward.
double FamilyMape(const FamilyTime& f, const std::vector<const LayerTimingSample*>& samples,
                  bool async) {
  double sum = 0;
  for (const LayerTimingSample* s : samples) {
    const auto [fwd, bwd] = AloneTime(f, s->layer, async, ElementBytes(s->precision));
    sum += std::abs((fwd + bwd) / (s->forward_s + Backward(*s)) - 1);
  }
  return samples.empty() ? 0 : sum / static_cast<double>(samples.size());
}

FamilyTime FitFamilyOnce(const std::vector<const LayerTimingSample*>& samples, bool async,
                         int channel_block) {
  FamilyLayout layout;
  std::vector<double> fwd_min, bwd_min, bytes_rate, macs_rate;
  for (const LayerTimingSample* s : samples) {
    layout.macs = layout.macs || HasOps(s->layer);
    layout.gemm = layout.gemm || HasGemm(s->layer);
    layout.channels = layout.channels || (!HasOps(s->layer) && s->layer.in_channels > 0);
    fwd_min.push_back(s->forward_s);
    bwd_min.push_back(Backward(*s));
    const auto [bf, bb] = PassBytes(s->layer, ElementBytes(s->precision));
    bytes_rate.push_back((bf + bb) / (s->forward_s + Backward(*s)));
    if (HasOps(s->layer)) {
      const auto [ops_fwd, ops_bwd] = PassOps(s->layer);
      macs_rate.push_back((ops_fwd + ops_bwd) / (s->forward_s + Backward(*s)));
    }
  }
  // Half-efficiency sizes add three parameters: fitted only with three samples per parameter.
  layout.gemm = layout.gemm && samples.size() >= 3 * (4 + 2 + 3);
  layout.channels = layout.channels && samples.size() >= 2 * (4 + 1);

  const double host_fwd = *std::min_element(fwd_min.begin(), fwd_min.end());
  const double host_bwd = *std::min_element(bwd_min.begin(), bwd_min.end());
  const double bytes = *std::max_element(bytes_rate.begin(), bytes_rate.end()) * 2;
  const double macs = macs_rate.empty() ? 0 : *std::max_element(macs_rate.begin(), macs_rate.end()) * 2;
  auto loss = [&](const std::vector<double>& x) -> double {
    for (double v : x) {
      if (!std::isfinite(v)) return INFINITY;
    }
    FamilyTime f = layout.Decode(x);
    f.channel_block = channel_block;
    // Physical bounds: a floor between 0.1 us and 10 ms, a bandwidth between 0.1 GB/s and
    // 100 TB/s, a MAC rate between 1 M/s (a CPU pools about 50 M outputs a second) and
    // 10 PMAC/s, half-efficiency sizes below 1e6
    // (M's below 1e8: its rows are batch x positions, millions on a GPU).
    auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
    if (!in(f.host_fwd_s, 1e-7, 1e-2) || !in(f.host_bwd_s, 1e-7, 1e-2) ||
        !in(f.bytes_per_s_fwd, 1e8, 1e14) || !in(f.bytes_per_s_bwd, 1e8, 1e14)) {
      return INFINITY;
    }
    if (layout.macs && (!in(f.macs_per_s_fwd, 1e6, 1e16) || !in(f.macs_per_s_bwd, 1e6, 1e16))) {
      return INFINITY;
    }
    if (layout.gemm && (!in(f.m0, 1e-3, 1e8) || !in(f.n0, 1e-3, 1e6) || !in(f.k0, 1e-3, 1e6))) {
      return INFINITY;
    }
    if (layout.channels && !in(f.c0, 1e-3, 1e5)) return INFINITY;

    return FamilyLoss(f, samples, async);
  };
  std::vector<double> best;
  double best_loss = INFINITY;
  // Starts: memory-bound, balanced and compute-bound guesses.
  for (double k : {1.0, 10.0, 0.1}) {
    auto clamp = [](double v, double lo, double hi) { return std::log(std::clamp(v, lo, hi)); };
    std::vector<double> x = {clamp(host_fwd * 0.8, 2e-7, 5e-3), clamp(host_bwd * 0.8, 2e-7, 5e-3),
                             clamp(bytes * (layout.macs ? k : 1), 2e8, 5e13),
                             clamp(bytes * (layout.macs ? k : 1), 2e8, 5e13)};
    if (layout.macs) {
      x.push_back(clamp(macs / k, 2e6, 5e15));
      x.push_back(clamp(macs / k, 2e6, 5e15));
    }
    if (layout.gemm) {
      for (int i = 0; i < 3; ++i) x.push_back(std::log(16.0));
    }
    if (layout.channels) x.push_back(std::log(16.0));

    NelderMeadOptions o;
    o.max_evaluations = 1500 * static_cast<int>(layout.size());
    x = NelderMead(loss, x, o);
    o.step = 0.2;
    x = NelderMead(loss, x, o);
    const double l = loss(x);
    if (l < best_loss) {
      best_loss = l;
      best = x;
    }
    if (!layout.macs) break;  // the guesses differ only for MAC-bound families
  }
  FamilyTime f = layout.Decode(best);
  f.channel_block = channel_block;
  // Below one channel the stretch is nothing a layer could show: none (the CPU's).
  if (f.c0 < 1) f.c0 = 0;
  return f;
}

// The family fitted with the channel block that fits `samples` best, of none and the vector
// widths and tile sizes devices use. No block for a family with neither matrix products nor
// depthwise convolutions, or with too few samples to tell.
FamilyTime FitWithBestChannelBlock(const std::vector<const LayerTimingSample*>& samples,
                                   bool async) {
  FamilyTime best = FitFamilyOnce(samples, async, 0);
  const bool channels = std::any_of(samples.begin(), samples.end(), [](const LayerTimingSample* s) {
    return HasGemm(s->layer) || s->layer.variant == "depthwise";
  });
  if (!channels || samples.size() < 3 * (4 + 2)) return best;
  // A block must earn its place: at least 10% less loss than none (on the H200's recorded
  // timings, blocks gained under 8% and changed held-out networks at random; on the CPU, 16
  // halved the convolutions' loss).
  double best_loss = 0.9 * FamilyLoss(best, samples, async);
  for (int block : {8, 16, 32}) {
    FamilyTime f = FitFamilyOnce(samples, async, block);
    const double loss = FamilyLoss(f, samples, async);
    if (loss < best_loss) {
      best_loss = loss;
      best = f;
    }
  }
  return best;
}

}  // namespace

int ChooseChannelBlock(const std::vector<const LayerTimingSample*>& samples, bool async) {
  return FitWithBestChannelBlock(samples, async).channel_block;
}

std::vector<FamilyTime> FitFamilyFolds(const std::vector<const LayerTimingSample*>& samples,
                                       bool async, int channel_block) {
  const size_t folds = std::min<size_t>(5, samples.size());
  std::vector<FamilyTime> fits;
  if (folds < 3) return fits;
  for (size_t k = 0; k < folds; ++k) {
    std::vector<const LayerTimingSample*> train;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i % folds != k) train.push_back(samples[i]);
    }
    fits.push_back(FitFamilyOnce(train, async, channel_block));
  }
  return fits;
}

FamilyTime FitFamily(const std::vector<const LayerTimingSample*>& samples, bool async) {
  FamilyTime f = FitWithBestChannelBlock(samples, async);
  f.samples = static_cast<int>(samples.size());
  // k-fold held-out error of a pass pair.
  const std::vector<FamilyTime> fits = FitFamilyFolds(samples, async, f.channel_block);
  if (!fits.empty()) {
    double sum = 0;
    for (size_t k = 0; k < fits.size(); ++k) {
      std::vector<const LayerTimingSample*> test;
      for (size_t i = k; i < samples.size(); i += fits.size()) test.push_back(samples[i]);
      sum += FamilyMape(fits[k], test, async) * static_cast<double>(test.size());
    }
    f.cv_mape = sum / static_cast<double>(samples.size());
  } else {
    f.cv_mape = FamilyMape(f, samples, async);
  }
  f.min_macs = f.min_elements = INFINITY;
  for (const LayerTimingSample* s : samples) {
    const double macs = D(s->layer.work.macs_fwd);
    const double elements = D(s->layer.work.elements_in) + D(s->layer.work.elements_fwd);
    if (macs > 0) {
      f.min_macs = std::min(f.min_macs, macs);
      f.max_macs = std::max(f.max_macs, macs);
    }
    f.min_elements = std::min(f.min_elements, elements);
    f.max_elements = std::max(f.max_elements, elements);
  }
  if (!std::isfinite(f.min_macs)) f.min_macs = 0;
  if (!std::isfinite(f.min_elements)) f.min_elements = 0;
  return f;
}

void FitOptimizer(const std::vector<const OptimizerTimingSample*>& samples, TimeModel& model) {
  auto decode = [&](const std::vector<double>& x) {
    TimeModel m = model;
    m.optimizer_step_s = std::exp(x[0]);
    m.optimizer_tensor_s = std::exp(x[1]);
    m.optimizer_bytes_per_s = std::exp(x[2]);
    return m;
  };
  auto loss = [&](const std::vector<double>& x) -> double {
    for (double v : x) {
      if (!std::isfinite(v)) return INFINITY;
    }
    const TimeModel m = decode(x);
    // Physical bounds: a step's host cost up to 1 s, a tensor's up to 10 ms, a bandwidth
    // between 0.1 GB/s and 100 TB/s.
    if (m.optimizer_step_s < 1e-8 || m.optimizer_step_s > 1 || m.optimizer_tensor_s < 1e-9 ||
        m.optimizer_tensor_s > 1e-2 || m.optimizer_bytes_per_s < 1e8 ||
        m.optimizer_bytes_per_s > 1e14) {
      return INFINITY;
    }
    double l = 0;
    for (const OptimizerTimingSample* s : samples) {
      const double e = std::log(OptimizerTime(m, s->params, s->tensors) / s->step_s);
      l += e * e;
    }
    return l / static_cast<double>(samples.size());
  };
  // Starts from the fastest step (the host floor), the most tensors' and the most parameters'.
  double floor_s = INFINITY, per_tensor = 0, bandwidth = 0;
  for (const OptimizerTimingSample* s : samples) {
    floor_s = std::min(floor_s, s->step_s);
    const double tensors = static_cast<double>(std::max<int64_t>(s->tensors, 1));
    per_tensor = std::max(per_tensor, s->step_s / tensors);
    bandwidth = std::max(bandwidth, model.optimizer_bytes_per_param *
                                        static_cast<double>(s->params) / s->step_s);
  }
  std::vector<double> x = {std::log(std::clamp(floor_s * 0.5, 1e-7, 0.5)),
                           std::log(std::clamp(per_tensor * 0.5, 1e-8, 5e-3)),
                           std::log(std::clamp(bandwidth * 1.5, 2e8, 5e13))};
  NelderMeadOptions o;
  o.max_evaluations = 3000;
  x = NelderMead(loss, x, o);
  o.step = 0.2;
  x = NelderMead(loss, x, o);
  model = decode(x);
}

namespace {

// min |A x - 1|^2 over x >= 0, A given by its rows (k columns): coordinate descent on columns
// scaled to unit length, which converges for a convex objective whatever the columns' scales
// (seconds, MACs and bytes differ by twenty orders of magnitude).
std::vector<double> NonNegativeLeastSquares(const std::vector<std::vector<double>>& rows,
                                            size_t k) {
  std::vector<double> norm(k, 0.0);
  for (const auto& r : rows) {
    for (size_t a = 0; a < k; ++a) norm[a] += r[a] * r[a];
  }
  for (double& v : norm) v = std::sqrt(v);
  std::vector<std::vector<double>> gram(k, std::vector<double>(k, 0.0));
  std::vector<double> rhs(k, 0.0);
  for (const auto& r : rows) {
    for (size_t a = 0; a < k; ++a) {
      if (norm[a] == 0) continue;
      rhs[a] += r[a] / norm[a];
      for (size_t b = 0; b < k; ++b) {
        if (norm[b] > 0) gram[a][b] += r[a] * r[b] / (norm[a] * norm[b]);
      }
    }
  }
  std::vector<double> y(k, 0.0);
  for (int sweep = 0; sweep < 20000; ++sweep) {
    double moved = 0;
    for (size_t a = 0; a < k; ++a) {
      if (gram[a][a] <= 0) continue;
      double r = rhs[a];
      for (size_t b = 0; b < k; ++b) {
        if (b != a) r -= gram[a][b] * y[b];
      }
      const double v = std::max(0.0, r / gram[a][a]);
      moved = std::max(moved, std::abs(v - y[a]));
      y[a] = v;
    }
    if (moved < 1e-12) break;
  }
  std::vector<double> x(k, 0.0);
  for (size_t a = 0; a < k; ++a) x[a] = norm[a] > 0 ? y[a] / norm[a] : 0;
  return x;
}

// A network reduced to what stage 3 varies: per layer its launches and device times alone.
struct NetworkTerms {
  std::vector<double> launch_fwd, launch_bwd, dev_fwd, dev_bwd;
  std::vector<Kind> kind;
  double params = 0, tensors = 0;
  double macs = 0, bytes = 0;  ///< Work of the layers (both passes); bytes without the optimizer's.
  double matmul_macs = 0;      ///< The linear layers' share of macs.
};

NetworkTerms Terms(const TimeModel& model, const ModelCost& cost, int element_bytes) {
  NetworkTerms t;
  for (const LayerCost& l : cost.layers) {
    if (l.kind == Kind::shape) continue;
    const auto [lf, lb] = Launches(l.kind);
    const FamilyTime* f = FamilyFor(model, ModelClass(l));
    const auto [df, db] = f ? DeviceTime(*f, l, element_bytes) : std::pair<double, double>{0, 0};
    t.launch_fwd.push_back(lf);
    t.launch_bwd.push_back(l.work.elements_bwd.value() > 0 ? lb : 0);
    t.dev_fwd.push_back(df);
    t.dev_bwd.push_back(db);
    t.kind.push_back(l.kind);
    const auto [bf, bb] = PassBytes(l, element_bytes);
    const double macs = TrainingMacs(l.work);
    t.macs += macs;
    if (l.kind == Kind::linear) t.matmul_macs += macs;
    t.bytes += bf + bb;
  }
  t.params = D(cost.params);
  t.tensors = static_cast<double>(cost.param_tensors);
  return t;
}

// Step time and device-busy time of a network under the stage-2 parameters in `m`: the sum
// PredictStep() makes (PredictLayerTime(), OptimizerTime()), over precomputed terms so that the
// thousands of evaluations of a fit do not look families up again. The cross-validation
// predicts with PredictStep() itself (PredictNetwork()), so a drift between the two would show
// as held-out error.
std::pair<double, double> StepTime(const TimeModel& m, const NetworkTerms& t) {
  double time = 0, busy = 0;
  for (size_t i = 0; i < t.dev_fwd.size(); ++i) {
    const double hf = t.launch_fwd[i] * m.launch_s, hb = t.launch_bwd[i] * m.launch_s;
    const double scale = m.device_scale.For(t.kind[i]);
    const double df = t.dev_fwd[i] * scale, db = t.dev_bwd[i] * scale;
    time += m.async ? std::max(hf, df) + std::max(hb, db) : hf + hb + df + db;
    busy += df + db;
  }
  time += OptimizerTime(m, static_cast<int64_t>(t.params), static_cast<int64_t>(t.tensors)) +
          m.step_overhead_s;
  if (m.optimizer_bytes_per_s > 0) {
    busy += m.optimizer_bytes_per_param * t.params / m.optimizer_bytes_per_s;
  }
  return {time, busy};
}

struct Fitted {
  std::map<std::string, TimeModel> models;
  PowerModel power;
};

// Stages 3 and 4 on the networks `use` (indices).
Fitted FitContext(const std::map<std::string, TimeModel>& families,
                  const std::vector<NetworkSample>& networks,
                  const std::map<std::string, std::vector<NetworkTerms>>& terms,
                  const std::vector<size_t>& use, const TimeFitOptions& options) {
  Fitted out;
  std::vector<std::string> precisions;  // fp32 first: the others may borrow from it
  if (families.count("fp32")) precisions.push_back("fp32");
  for (const auto& [precision, base] : families) {
    if (precision != "fp32") precisions.push_back(precision);
  }
  // Stage 3, over every precision at once: the host's pace (its time per launch and per step)
  // is the machine's whatever the precision; each precision has its own host time per
  // parameter tensor (the optimizer's, or beyond a timed optimizer's: autocast's weight casts)
  // and device scales. Fitting the shared part on all networks keeps a precision with few
  // networks from fitting its own launch time to them.
  std::vector<std::string> fitted;
  std::map<std::string, std::vector<size_t>> mine;
  for (const std::string& precision : precisions) {
    for (size_t i : use) {
      if (networks[i].precision == precision) mine[precision].push_back(i);
    }
    if (!mine[precision].empty()) fitted.push_back(precision);
  }
  // The launch is measured: the forward floor of the one-kernel families (a launch and its
  // dispatch); inside a network it may differ by up to 2x either way, as may device times.
  const TimeModel& reference = families.at(fitted.empty() ? precisions.front() : fitted.front());
  const bool async = reference.async;
  const double nominal = reference.launch_s > 0 ? reference.launch_s : 1e-5;
  const double launch_lo = reference.launch_s > 0 ? 0.5 * nominal : 1e-7;
  const double launch_hi = reference.launch_s > 0 ? 2 * nominal : 1e-3;
  // x: log launch_s, log step overhead, then per fitted precision: log host time per parameter
  // tensor and the log device scales. On a CPU one scale for convolutions and one for matrix
  // products, where every layer's device time shows in the step, and none for the memory-bound
  // rest, which costs in a network what it costs alone (a free scale there only made up for
  // other errors: it sat at its bound, docs/calibrate.md). One for all on a GPU, where small
  // networks are mostly bound by dispatch and three scales could not be told apart (they
  // overfit).
  const size_t per = async ? 2 : 3;
  auto decode = [&](const std::vector<double>& x) {
    std::map<std::string, TimeModel> r;
    for (size_t p = 0; p < fitted.size(); ++p) {
      TimeModel m = families.at(fitted[p]);
      m.launch_s = std::exp(x[0]);
      m.step_overhead_s = std::exp(x[1]);
      const double* y = &x[2 + per * p];
      m.optimizer_launches_per_tensor = std::exp(y[0]) / m.launch_s;
      m.device_scale = async ? TimeModel::Scales{std::exp(y[1]), std::exp(y[1]), std::exp(y[1])}
                             : TimeModel::Scales{std::exp(y[1]), std::exp(y[2]), 1.0};
      r[fitted[p]] = m;
    }
    return r;
  };
  size_t count = 0;
  for (const auto& [precision, indices] : mine) count += indices.size();
  auto loss = [&](const std::vector<double>& x) -> double {
    for (double v : x) {
      if (!std::isfinite(v)) return INFINITY;
    }
    // Physical bounds: a launch between 0.1 us and 1 ms (within 2x of the one measured), an
    // overhead up to 1 s, a host time per tensor up to 1 ms, the network context within 3x of
    // the layers alone.
    const double launch = std::exp(x[0]), overhead = std::exp(x[1]);
    if (launch < launch_lo || launch > launch_hi || overhead < 1e-7 || overhead > 1) {
      return INFINITY;
    }
    for (size_t p = 0; p < fitted.size(); ++p) {
      const double* y = &x[2 + per * p];
      if (std::exp(y[0]) > 1e-3 || std::exp(y[0]) < 1e-8) return INFINITY;
      for (size_t k = 1; k < per; ++k) {
        if (std::abs(y[k]) > std::log(3.0)) return INFINITY;
      }
    }
    const std::map<std::string, TimeModel> r = decode(x);
    double l = 0;
    for (const auto& [precision, m] : r) {
      const std::vector<NetworkTerms>& t = terms.at(precision);
      for (size_t i : mine.at(precision)) {
        const double e = std::log(StepTime(m, t[i]).first / networks[i].time_s);
        l += e * e;
      }
    }
    return l / static_cast<double>(count);
  };
  if (!fitted.empty()) {
    std::vector<double> best;
    double best_loss = INFINITY;
    for (double k : {0.8, 1.25}) {
      const double launch = nominal * k;
      std::vector<double> x = {std::log(launch), std::log(1e-4)};
      for (const std::string& precision : fitted) {
        x.push_back(std::log(families.at(precision).optimizer_tensor_s > 0 ? launch / 2 : 4 * launch));
        for (size_t s = 1; s < per; ++s) x.push_back(0);
      }
      NelderMeadOptions o;
      o.max_evaluations = 1000 * static_cast<int>(x.size());
      x = NelderMead(loss, x, o);
      o.step = 0.2;
      x = NelderMead(loss, x, o);
      if (loss(x) < best_loss) {
        best_loss = loss(x);
        best = x;
      }
    }
    out.models = decode(best);
  }
  for (const std::string& precision : precisions) {
    if (out.models.count(precision)) continue;
    // No network at this precision: the network context of fp32 (else of the first fitted).
    TimeModel m = families.at(precision);
    if (!out.models.empty()) {
      const TimeModel& f = out.models.count("fp32") ? out.models.at("fp32") : out.models.begin()->second;
      m.launch_s = f.launch_s;
      m.device_scale = f.device_scale;
      m.optimizer_launches_per_tensor = f.optimizer_launches_per_tensor;
      m.step_overhead_s = f.step_overhead_s;
    }
    out.models[precision] = m;
  }
  // Power: energy = time x active + time x (busy / predicted time) x dynamic + MACs x
  // joules_per_mac(precision) + bytes x joules_per_byte, on measured time, by non-negative least
  // squares on relative errors. A byte costs the memory the same whatever the precision, and
  // busy time the same clocks; a multiply-accumulate costs each precision's units their own
  // (TF32 against bf16 tensor cores), and fp32's matrix products theirs where they run on
  // full-precision cores (TimeFitOptions::fp32_matmul_apart). On the recorded H200 data,
  // per-precision busy and byte terms fitted six bf16 networks no better than shared ones
  // (docs/validation.md).
  std::vector<std::string> names;
  for (const auto& [precision, m] : out.models) names.push_back(precision);
  // Columns: active, dynamic, per byte, then per MAC for each precision, then (fp32's matrix
  // products apart) per fp32 matmul MAC.
  int matmul_networks = 0;
  for (size_t i : use) {
    const NetworkSample& n = networks[i];
    if (n.precision != "fp32" || !terms.count("fp32")) continue;
    const NetworkTerms& nt = terms.at("fp32")[i];
    if (nt.macs > 0 && nt.matmul_macs >= 0.5 * nt.macs) ++matmul_networks;
  }
  const bool matmul_apart = options.fp32_matmul_apart && matmul_networks > 0;
  const size_t k = 3 + names.size() + (matmul_apart ? 1 : 0);
  std::vector<std::vector<double>> rows;
  std::vector<int> networks_at(names.size(), 0);
  for (size_t i : use) {
    const NetworkSample& n = networks[i];
    auto it = out.models.find(n.precision);
    if (it == out.models.end() || !(n.energy_j > 0)) continue;
    const NetworkTerms& nt = terms.at(n.precision)[i];
    const auto [time, busy] = StepTime(it->second, nt);
    const size_t p = static_cast<size_t>(std::find(names.begin(), names.end(), n.precision) -
                                         names.begin());
    const double w = 1 / n.energy_j;
    std::vector<double> x(k, 0.0);
    x[0] = n.time_s * w;
    x[1] = n.time_s * std::min(1.0, busy / time) * w;
    x[2] = (nt.bytes + it->second.optimizer_bytes_per_param * nt.params) * w;
    const bool apart = matmul_apart && n.precision == "fp32";
    x[3 + p] = (apart ? nt.macs - nt.matmul_macs : nt.macs) * w;
    if (apart) x[k - 1] = nt.matmul_macs * w;
    rows.push_back(std::move(x));
    ++networks_at[p];
  }
  if (!options.work_energy) {
    for (auto& r : rows) std::fill(r.begin() + 2, r.end(), 0.0);
  }
  const std::vector<double> theta = NonNegativeLeastSquares(rows, k);
  const double active = theta[0], dynamic = theta[1];
  // A precision without networks of its own takes fp32's energy per MAC (else the first's).
  const auto fp32 = std::find(names.begin(), names.end(), "fp32");
  const size_t shared = fp32 != names.end() ? static_cast<size_t>(fp32 - names.begin()) : 0;
  for (size_t p = 0; p < names.size(); ++p) {
    TimeModel& m = out.models[names[p]];
    m.dynamic_w = dynamic;
    m.joules_per_byte = theta[2];
    m.joules_per_mac = theta[3 + (networks_at[p] > 0 ? p : shared)];
    if (matmul_apart && names[p] == "fp32") m.joules_per_mac_matmul = theta[k - 1];
  }
  out.power = {options.idle_w, active, dynamic, options.limit_w};
  return out;
}

}  // namespace

Estimate PredictNetwork(const TimeModel& model, const PowerModel& power, const ModelCost& cost,
                        const std::string& precision) {
  Profile p;
  p.version = 3;
  p.time_models[precision] = model;
  p.power = power;
  return PredictStep(cost, p, precision).total;
}

Result<TimeFitResult> FitTimePower(const std::vector<LayerTimingSample>& layers,
                                   const std::vector<NetworkSample>& networks,
                                   const TimeFitOptions& options,
                                   const std::vector<OptimizerTimingSample>& optimizer) {
  if (layers.empty()) return Status::Error("no layer timings to fit");
  if (networks.size() < 3) {
    return Status::Error("at least 3 whole-network measurements are needed to fit power, have " +
                         std::to_string(networks.size()));
  }
  // Stage 1: families per precision and model class.
  std::map<std::string, std::map<std::string, std::vector<const LayerTimingSample*>>> groups;
  for (const LayerTimingSample& s : layers) groups[s.precision][ModelClass(s.layer)].push_back(&s);
  std::map<std::string, TimeModel> families;
  for (const auto& [precision, classes] : groups) {
    TimeModel& m = families[precision];
    m.async = options.async;
    m.optimizer_bytes_per_param = options.optimizer_accesses_per_param * ElementBytes("fp32");
    for (const auto& [model_class, samples] : classes) {
      m.families[model_class] = FitFamily(samples, options.async);
    }
    // The update streams parameters like the fastest memory-bound layer streams activations;
    // a launch costs what a one-kernel layer's forward costs alone (the median of those floors).
    std::vector<double> floors;
    for (const auto& [name, f] : m.families) {
      if (f.macs_per_s_fwd == 0) {
        m.optimizer_bytes_per_s = std::max(m.optimizer_bytes_per_s, f.bytes_per_s_fwd);
      }
      const Kind kind = *KindFromName(name.substr(0, name.find('.')));
      if (kind == Kind::relu || kind == Kind::activation || kind == Kind::pool) floors.push_back(f.host_fwd_s);
    }
    if (!floors.empty()) {
      std::sort(floors.begin(), floors.end());
      m.launch_s = floors[floors.size() / 2];
    }
  }
  // A precision borrows what it lacks from fp32: under autocast, normalisation, pooling and
  // most element-wise ops run as they do in fp32.
  if (auto fp32 = families.find("fp32"); fp32 != families.end()) {
    for (auto& [precision, m] : families) {
      for (const auto& [name, f] : fp32->second.families) m.families.emplace(name, f);
      if (m.optimizer_bytes_per_s == 0) m.optimizer_bytes_per_s = fp32->second.optimizer_bytes_per_s;
      if (m.launch_s == 0) m.launch_s = fp32->second.launch_s;
    }
  }
  // Stage 2: the optimizer, where it was timed (Adam keeps fp32 state under autocast, so a
  // precision without timings of its own uses fp32's).
  for (auto& [precision, m] : families) {
    std::vector<const OptimizerTimingSample*> mine, fp32;
    for (const OptimizerTimingSample& s : optimizer) {
      if (!(s.step_s > 0) || s.params <= 0 || s.tensors <= 0) continue;
      if (s.precision == precision) mine.push_back(&s);
      if (s.precision == "fp32") fp32.push_back(&s);
    }
    if (!mine.empty() || !fp32.empty()) FitOptimizer(mine.empty() ? fp32 : mine, m);
  }
  std::map<std::string, std::vector<NetworkTerms>> terms;
  // Indexed like `networks`; only the networks of the model's own precision are ever read.
  for (const auto& [precision, m] : families) {
    std::vector<NetworkTerms>& t = terms[precision];
    for (const NetworkSample& n : networks) {
      t.push_back(n.precision == precision ? Terms(m, n.cost, ElementBytes(precision))
                                           : NetworkTerms{});
    }
  }
  for (const NetworkSample& n : networks) {
    if (!families.count(n.precision)) {
      return Status::Error("network '" + n.name + "' was measured at " + n.precision +
                           " but no layer was timed at that precision");
    }
  }
  std::vector<size_t> all(networks.size());
  std::iota(all.begin(), all.end(), 0);
  Fitted fitted = FitContext(families, networks, terms, all, options);

  TimeFitResult r;
  r.time_models = fitted.models;
  r.power = fitted.power;
  // Cross-validation over networks: stages 3 and 4 without each fold.
  std::vector<size_t> order = all;
  std::mt19937_64 rng(options.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const size_t folds = std::min<size_t>(std::max(options.folds, 2), networks.size());
  std::vector<double> energy_errors, time_errors;
  for (size_t k = 0; k < folds; ++k) {
    std::vector<size_t> train, test;
    for (size_t i = 0; i < order.size(); ++i) (i % folds == k ? test : train).push_back(order[i]);
    const Fitted f = FitContext(families, networks, terms, train, options);
    for (size_t i : test) {
      const NetworkSample& n = networks[i];
      const Estimate e = PredictNetwork(f.models.at(n.precision), f.power, n.cost, n.precision);
      if (n.energy_j > 0) energy_errors.push_back(std::abs(e.energy_j / n.energy_j - 1));
      time_errors.push_back(std::abs(e.time_s / n.time_s - 1));
    }
  }
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  r.networks.samples = static_cast<int>(networks.size());
  r.networks.cv_mape = mean(energy_errors);
  r.networks.time_cv_mape = mean(time_errors);
  std::vector<double> sorted = energy_errors;
  std::sort(sorted.begin(), sorted.end());
  r.networks.cv_p90 =
      sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, static_cast<size_t>(0.9 * static_cast<double>(sorted.size())))];
  return r;
}

}  // namespace joulecast
