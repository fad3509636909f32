#include "calibrate/calibration/fit.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "calibrate/calibration/halton.h"
#include "calibrate/calibration/nnls.h"

namespace joulecast {

namespace {

enum class Target { energy, time };

// Which columns the design matrix has: per model class its feature set, then the step model's.
struct Columns {
  std::vector<std::pair<std::string, std::string>> layer;  // (class, feature)
  static constexpr int kStep = 2;                   // "params", "one"
  int size() const { return static_cast<int>(layer.size()) + kStep; }
};

Columns MakeColumns(const std::set<std::string>& kinds,
                    const std::map<std::string, FeatureSet>& selection) {
  Columns c;
  for (const std::string& k : kinds) {
    for (const std::string& f : selection.at(k)) c.layer.emplace_back(k, f);
  }
  return c;
}

Eigen::VectorXd Row(const Columns& c, const NetworkFeatures& f, double one) {
  Eigen::VectorXd x(c.size());
  for (size_t i = 0; i < c.layer.size(); ++i) x(i) = f.Get(c.layer[i].first, c.layer[i].second);
  x(c.size() - 2) = f.params;
  x(c.size() - 1) = one;
  return x;
}

struct Prepared {
  NetworkFeatures delta;  // probe - base
  double y_delta[2], se_delta[2];
  double y_base[2], se_base[2];
};

Prepared Prepare(const FitSample& s) {
  Prepared p;
  p.delta = Difference(s.probe, s.base);
  p.y_delta[0] = s.probe_energy_j - s.base_energy_j;
  p.se_delta[0] = s.delta_energy_se_j >= 0 ? s.delta_energy_se_j
                                           : std::hypot(s.probe_energy_se_j, s.base_energy_se_j);
  p.y_base[0] = s.base_energy_j;
  p.se_base[0] = s.base_energy_se_j;
  p.y_delta[1] = s.probe_time_s - s.base_time_s;
  p.se_delta[1] = s.delta_time_se_s >= 0 ? s.delta_time_se_s
                                         : std::hypot(s.probe_time_se_s, s.base_time_se_s);
  p.y_base[1] = s.base_time_s;
  p.se_base[1] = s.base_time_se_s;
  return p;
}

class Fitter {
 public:
  Fitter(const std::vector<FitSample>& samples, int folds, uint64_t seed, double network_weight)
      : samples_(samples), network_weight_(network_weight) {
    for (const FitSample& s : samples) {
      prepared_.push_back(Prepare(s));
      for (const auto& [k, sums] : s.probe.by_class) kinds_.insert(k);
      for (const auto& [k, sums] : s.base.by_class) kinds_.insert(k);
    }
    // Seeded shuffle (Fisher-Yates on splitmix64), then deal the samples round-robin.
    const int n = static_cast<int>(samples.size());
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    uint64_t state = SplitMix64(seed ^ 0x666f6c6473ULL);
    for (int i = n - 1; i > 0; --i) {
      state = SplitMix64(state);
      std::swap(order[i], order[static_cast<int>(state % static_cast<uint64_t>(i + 1))]);
    }
    folds_ = std::max(2, std::min(folds, n));
    fold_.resize(n);
    for (int p = 0; p < n; ++p) fold_[order[p]] = p % folds_;
  }

  const std::set<std::string>& kinds() const { return kinds_; }

  // Coefficients fitted on every sample whose fold is not `held_out` (-1: all).
  Eigen::VectorXd Fit(const Columns& c, Target t, int held_out) const {
    const int ti = t == Target::energy ? 0 : 1;
    std::vector<Eigen::VectorXd> rows;
    std::vector<double> ys;
    double max_y = 0;
    for (size_t i = 0; i < samples_.size(); ++i) {
      if (fold_[i] == held_out) continue;
      const Prepared& p = prepared_[i];
      max_y = std::max({max_y, std::abs(p.y_delta[ti]), std::abs(p.y_base[ti])});
    }
    const double floor = 1e-9 * std::max(max_y, 1e-300);
    std::vector<double> weights;
    for (size_t i = 0; i < samples_.size(); ++i) {
      if (fold_[i] == held_out) continue;
      const Prepared& p = prepared_[i];
      rows.push_back(Row(c, p.delta, 0));
      ys.push_back(p.y_delta[ti]);
      const double w = samples_[i].model_class == kNetworkClass ? network_weight_ : 1.0;
      weights.push_back(w / (std::abs(p.y_delta[ti]) + 2 * p.se_delta[ti] + floor));
      rows.push_back(Row(c, samples_[i].base, 1));
      ys.push_back(p.y_base[ti]);
      weights.push_back(1 / (std::abs(p.y_base[ti]) + 2 * p.se_base[ti] + floor));
    }
    Eigen::MatrixXd a(static_cast<Eigen::Index>(rows.size()), c.size());
    Eigen::VectorXd b(static_cast<Eigen::Index>(rows.size()));
    for (size_t r = 0; r < rows.size(); ++r) {
      a.row(static_cast<Eigen::Index>(r)) = rows[r].transpose() * weights[r];
      b(static_cast<Eigen::Index>(r)) = ys[r] * weights[r];
    }
    return SolveNnls(a, b);
  }

  // Held-out MAPE per kind (on Delta) and for the base networks (the step), by k-fold CV.
  struct Errors {
    std::map<std::string, double> by_kind;
    double base = 0;
    std::vector<double> delta;  // held-out prediction per sample
    std::vector<double> probe_ape;  // held-out relative error of each whole probe network
  };
  Errors CrossValidate(const Columns& c, Target t) const {
    const int ti = t == Target::energy ? 0 : 1;
    std::map<std::string, std::pair<double, int>> sums;
    double base_sum = 0;
    std::vector<double> predicted(samples_.size()), probe_ape(samples_.size());
    for (int f = 0; f < folds_; ++f) {
      const Eigen::VectorXd coef = Fit(c, t, f);
      for (size_t i = 0; i < samples_.size(); ++i) {
        if (fold_[i] != f) continue;
        const Prepared& p = prepared_[i];
        const double delta = Row(c, p.delta, 0).dot(coef);
        const double base = Row(c, samples_[i].base, 1).dot(coef);
        predicted[i] = delta;
        probe_ape[i] = Ape(delta + base, p.y_delta[ti] + p.y_base[ti]);
        auto& [sum, count] = sums[samples_[i].model_class];
        sum += Ape(delta, p.y_delta[ti]);
        ++count;
        base_sum += Ape(base, p.y_base[ti]);
      }
    }
    Errors e;
    for (const auto& [k, sc] : sums) e.by_kind[k] = sc.first / sc.second;
    e.base = base_sum / static_cast<double>(samples_.size());
    e.delta = std::move(predicted);
    e.probe_ape = std::move(probe_ape);
    return e;
  }

 private:
  static double Ape(double predicted, double measured) {
    return std::abs(predicted - measured) / std::max(std::abs(measured), 1e-300);
  }

  const std::vector<FitSample>& samples_;
  const double network_weight_;
  std::vector<Prepared> prepared_;
  std::set<std::string> kinds_;
  std::vector<int> fold_;
  int folds_ = 2;
};

std::vector<double> Slice(const Eigen::VectorXd& coef, const Columns& c,
                          const std::string& kind) {
  std::vector<double> out;
  for (size_t i = 0; i < c.layer.size(); ++i) {
    if (c.layer[i].first == kind) out.push_back(coef(static_cast<Eigen::Index>(i)));
  }
  return out;
}

}  // namespace

std::vector<FeatureSet> DefaultCandidates(const std::string& model_class) {
  const FeatureSet macs = {"macs_fwd", "macs_bwd_input", "macs_bwd_weight"};
  const std::string kind = model_class.substr(0, model_class.find('.'));
  if (kind == "conv" || kind == "linear") {
    FeatureSet a = macs, b = macs, c = macs, d = macs;
    a.push_back("layers");
    b.insert(b.end(), {"elements_fwd", "elements_bwd", "layers"});
    c.insert(c.end(), {"im2col_elements", "elements_fwd", "elements_bwd", "layers"});
    d.insert(d.end(), {"im2col_elements", "elements_fwd", "elements_bwd",
                       "saved_activation_bytes", "layers"});
    return {a, b, c, d};
  }
  return {{"elements_fwd", "elements_bwd", "layers"},
          {"elements_fwd", "elements_bwd", "saved_activation_bytes", "layers"}};
}

Result<FitResult> FitModels(const std::vector<FitSample>& samples, const FitOptions& options) {
  if (samples.size() < 2) {
    return Status::Error("fitting needs at least 2 measured samples, got " +
                         std::to_string(samples.size()));
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    const FitSample& s = samples[i];
    for (double v : {s.probe_energy_j, s.base_energy_j, s.probe_time_s, s.base_time_s,
                     s.probe_energy_se_j, s.base_energy_se_j, s.probe_time_se_s,
                     s.base_time_se_s}) {
      if (!std::isfinite(v)) {
        return Status::Error("sample " + std::to_string(i) + " (" + s.model_class +
                             ") has a non-finite measurement");
      }
    }
  }
  Fitter fitter(samples, options.folds, options.seed, options.network_weight);
  std::map<std::string, int> counts;
  for (const FitSample& s : samples) ++counts[s.model_class];

  auto candidates = [&](const std::string& k) {
    auto it = options.candidates.find(k);
    return it != options.candidates.end() && !it->second.empty() ? it->second
                                                                  : DefaultCandidates(k);
  };
  std::map<std::string, FeatureSet> selection;
  for (const std::string& k : fitter.kinds()) selection[k] = candidates(k).front();

  // Coordinate descent: each measured class in turn takes its candidate with the lowest held-out
  // MAPE, the others fixed; a later candidate must be better by a margin (2% of the error and
  // 0.01 percentage points) to replace an earlier, simpler one.
  for (int pass = 0; pass < 3; ++pass) {
    bool changed = false;
    for (const auto& [kind, count] : counts) {
      if (!fitter.kinds().count(kind)) continue;  // "network": no class of its own
      const std::vector<FeatureSet> cands = candidates(kind);
      if (cands.size() < 2) continue;
      double best = 0;
      size_t best_i = 0;
      for (size_t i = 0; i < cands.size(); ++i) {
        std::map<std::string, FeatureSet> trial = selection;
        trial[kind] = cands[i];
        const double mape =
            fitter.CrossValidate(MakeColumns(fitter.kinds(), trial), Target::energy).by_kind[kind];
        if (i == 0 || mape < best * 0.98 - 1e-4) {
          best = mape;
          best_i = i;
        }
      }
      if (selection[kind] != cands[best_i]) {
        selection[kind] = cands[best_i];
        changed = true;
      }
    }
    if (!changed) break;
  }

  const Columns columns = MakeColumns(fitter.kinds(), selection);
  const Eigen::VectorXd energy = fitter.Fit(columns, Target::energy, -1);
  const Eigen::VectorXd time = fitter.Fit(columns, Target::time, -1);
  const auto cv_energy = fitter.CrossValidate(columns, Target::energy);
  const auto cv_time = fitter.CrossValidate(columns, Target::time);

  FitResult r;
  for (const std::string& cls : fitter.kinds()) {
    LinearModel m;
    m.features = selection[cls];
    m.energy_j = Slice(energy, columns, cls);
    m.time_s = Slice(time, columns, cls);
    auto measured = counts.find(cls);
    if (measured != counts.end()) {
      m.cv_mape = cv_energy.by_kind.at(cls);
      m.samples = measured->second;
      r.time_cv_mape[cls] = cv_time.by_kind.at(cls);
    } else {
      // A class only the stems and heads have: fitted through the networks it is part of, so
      // its error is the held-out error of whole base networks.
      m.cv_mape = cv_energy.base;
      m.samples = 0;
      r.time_cv_mape[cls] = cv_time.base;
    }
    r.models[cls] = m;
  }
  const Eigen::Index n = columns.size();
  r.step.features = {"params", "one"};
  r.step.energy_j = {energy(n - 2), energy(n - 1)};
  r.step.time_s = {time(n - 2), time(n - 1)};
  r.step.cv_mape = cv_energy.base;
  r.step.samples = static_cast<int>(samples.size());
  r.step_time_cv_mape = cv_time.base;
  r.held_out_delta_energy_j = cv_energy.delta;
  std::vector<double> network_ape;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].model_class == kNetworkClass) network_ape.push_back(cv_energy.probe_ape[i]);
  }
  if (!network_ape.empty()) {
    std::sort(network_ape.begin(), network_ape.end());
    r.networks.samples = static_cast<int>(network_ape.size());
    r.networks.cv_mape = std::accumulate(network_ape.begin(), network_ape.end(), 0.0) /
                         static_cast<double>(network_ape.size());
    // The 90th percentile, by the nearest rank.
    const size_t rank = static_cast<size_t>(std::ceil(0.9 * static_cast<double>(network_ape.size())));
    r.networks.cv_p90 = network_ape[std::max<size_t>(rank, 1) - 1];
  }
  return r;
}

}  // namespace joulecast
