#include "calibrate/calibration/calibrate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>

#include "analyzer/json/json_frontend.h"
#include "calibrate/calibration/features.h"
#include "calibrate/torch/measure.h"

namespace joulecast {

namespace {

// Bump when a change to the designs or the measurement makes old samples incomparable.
constexpr const char* kDesignVersion = "2";

// Default samples per kind for the full and the quick plan: about 1.4 s and 0.4 s a sample on
// the 2-core development VM, so about 9 and 1 minutes of measuring. conv gets the most: its
// space (kernel, stride, groups, channels, size) is the largest and it dominates CNN energy.
int DefaultSamples(Kind kind, bool quick) {
  switch (kind) {
    case Kind::conv: return quick ? 40 : 112;
    case Kind::linear: return quick ? 18 : 48;
    case Kind::activation: return quick ? 20 : 56;
    case Kind::norm: return quick ? 14 : 36;
    case Kind::pool: return quick ? 16 : 40;
    case Kind::elementwise: return quick ? 16 : 40;
    case Kind::dropout: return quick ? 12 : 32;
    case Kind::other: return quick ? 8 : 48;  // the network design
    default: return quick ? 14 : 32;  // relu
  }
}

// A kind's samples split between its designs.
int SamplesOf(Design d, int per_kind) {
  switch (d) {
    case Design::conv_first: return per_kind / 4;
    case Design::conv: return per_kind - per_kind / 4;
    case Design::linear_first: return per_kind / 3;
    case Design::linear: return per_kind - per_kind / 3;
    default: return per_kind;
  }
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Standard error of the mean; 0 with fewer than 2 values.
double Se(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
}

// Repeated measurements of one network: per-step energy and time, one value per round.
struct Series {
  const Graph* graph = nullptr;
  MeasureOptions options;
  std::vector<double> energy_j, time_s;

  double Rse() const {
    const double m = Mean(energy_j);
    return energy_j.size() >= 2 && m > 0 ? Se(energy_j) / m : INFINITY;
  }
  MeasuredNetwork Summary() const {
    MeasuredNetwork n;
    n.energy_j = Mean(energy_j);
    n.energy_se_j = Se(energy_j);
    n.time_s = Mean(time_s);
    n.time_se_s = Se(time_s);
    n.repeats = static_cast<int>(energy_j.size());
    n.steps = options.steps;
    n.rse = energy_j.size() >= 2 && n.energy_j > 0 ? n.energy_se_j / n.energy_j : 0;
    return n;
  }
};

constexpr int kMinRounds = 3;
constexpr int kMaxRounds = 30;
constexpr int64_t kMaxSteps = 1000;

struct PairResult {
  bool interrupted = false;
  MeasuredNetwork probe, base;
  double delta_energy_se_j = 0, delta_time_se_s = 0;
  int threads = 0;
};

// Measures a probe and its base in paired rounds: every round runs MeasureTraining on both,
// so that slow drifts of the machine (other load, clocks, temperature) hit both alike and cancel
// in their difference, whose noise is then estimated from the rounds' differences.
class PairMeasurer {
 public:
  PairMeasurer(const CalibrationOptions& o, EnergyMeter& meter, double window_s)
      : o_(o), meter_(meter), window_s_(window_s) {}

  Result<PairResult> Measure(const Graph& probe, const Graph& base, int64_t batch, double cap_s,
                             const std::string& what) {
    Series series[2];
    series[0].graph = &probe;
    series[1].graph = &base;
    PairResult r;
    const Clock::time_point start = Clock::now();
    // Pilot: one short run of each sizes the rounds (steps to fill the window, warm-up); it
    // counts as the first round when both runs already span half the window.
    Measurement pilot[2];
    for (int k = 0; k < 2; ++k) {
      Series& s = series[k];
      s.options.batch = batch;
      s.options.dataset = "synthetic";
      s.options.train.optimizer = "adam";
      s.options.train.threads = o_.threads;
      s.options.train.device = o_.device;
      s.options.train.seed = o_.seed;
      s.options.steps = 2;
      s.options.warmup_steps = 1;
      if (Stopped()) return Interrupted();
      Result<Measurement> m = Run(s, what);
      if (!m.ok()) return m.status();
      pilot[k] = *m;
      r.threads = m->threads;
    }
    const bool keep = pilot[0].time_s >= 0.5 * window_s_ && pilot[1].time_s >= 0.5 * window_s_;
    for (int k = 0; k < 2; ++k) {
      Series& s = series[k];
      const double step_s = std::max(pilot[k].time_s_per_step, 1e-6);
      if (keep) {
        Keep(s, pilot[k]);
        s.options.steps = pilot[k].steps;
      } else {
        s.options.steps = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(window_s_ / step_s)),
                                              2, kMaxSteps);
      }
      s.options.warmup_steps = step_s < 0.05 ? 2 : 1;
    }
    auto done = [&]() {
      const size_t n = series[0].energy_j.size();
      if (n >= kMaxRounds) return true;
      if (n >= 2 && Since(start) >= cap_s) return true;
      return n >= kMinRounds && series[0].Rse() <= o_.rse && series[1].Rse() <= o_.rse;
    };
    while (!done()) {
      for (Series& s : series) {
        if (Stopped()) return Interrupted();
        Result<Measurement> m = Run(s, what);
        if (!m.ok()) return m.status();
        Keep(s, *m);
      }
    }
    r.probe = series[0].Summary();
    r.base = series[1].Summary();
    std::vector<double> de, dt;
    for (size_t i = 0; i < series[0].energy_j.size(); ++i) {
      de.push_back(series[0].energy_j[i] - series[1].energy_j[i]);
      dt.push_back(series[0].time_s[i] - series[1].time_s[i]);
    }
    r.delta_energy_se_j = Se(de);
    r.delta_time_se_s = Se(dt);
    return r;
  }

 private:
  bool Stopped() const { return o_.stop && o_.stop->load(); }
  static PairResult Interrupted() {
    PairResult r;
    r.interrupted = true;
    return r;
  }
  Result<Measurement> Run(Series& s, const std::string& what) {
    Result<Measurement> m = MeasureTraining(*s.graph, s.options, meter_);
    if (!m.ok()) return Status::Error(what + ": " + m.status().message());
    return m;
  }
  static void Keep(Series& s, const Measurement& m) {
    s.energy_j.push_back(m.energy_j_per_step);
    s.time_s.push_back(m.time_s_per_step);
  }

  const CalibrationOptions& o_;
  EnergyMeter& meter_;
  double window_s_;
};

Result<Graph> LoadNetwork(const std::string& json, int64_t batch, const std::string& what) {
  LoadOptions load;
  load.batch = batch;
  Result<Graph> g = ParseJsonArchitecture(json, what, load);
  if (!g.ok()) return Status::Error("calibration network " + g.status().message());
  return g;
}

double Window(const CalibrationOptions& o) {
  return o.repeat_window_s > 0 ? o.repeat_window_s : o.quick ? 0.04 : 0.15;
}
double Cap(const CalibrationOptions& o) {
  return o.sample_time_cap_s > 0 ? o.sample_time_cap_s : o.quick ? 2.5 : 8.0;
}
double Budget(const CalibrationOptions& o) {
  return o.budget_s > 0 ? o.budget_s : o.quick ? 90.0 : 780.0;
}
DesignLimits Limits(const CalibrationOptions& o) {
  return o.limits ? *o.limits : o.quick ? QuickLimits() : FullLimits();
}

}  // namespace

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::pair<Design, int>> PlanSamples(const CalibrationOptions& options) {
  const std::vector<Design>& designs = options.designs.empty() ? AllDesigns() : options.designs;
  std::vector<std::pair<Design, int>> plan;
  for (Design d : designs) {
    const Kind k = DesignKind(d);
    // A kind measured by one design only (a test's subset) gives it all the kind's samples.
    int designs_of_kind = 0;
    for (Design e : designs) designs_of_kind += DesignKind(e) == k;
    const int per_kind =
        options.samples_per_kind > 0 ? options.samples_per_kind : DefaultSamples(k, options.quick);
    const int n = designs_of_kind > 1 ? SamplesOf(d, per_kind) : per_kind;
    if (n > 0) plan.emplace_back(d, n);
  }
  return plan;
}

std::string OptionsKey(const CalibrationOptions& o, const EnergyMeter& meter) {
  const DesignLimits l = Limits(o);
  std::string designs;
  for (Design d : o.designs.empty() ? AllDesigns() : o.designs) {
    if (!designs.empty()) designs += ',';
    designs += DesignName(d);
  }
  std::string key;
  auto add = [&](const std::string& k, const std::string& v) {
    key.append(k).append(1, '=').append(v).append(1, ';');
  };
  add("design_version", kDesignVersion);
  add("designs", designs);
  add("channels", "1-" + std::to_string(l.max_channels));
  add("spatial", std::to_string(l.min_spatial) + "-" + std::to_string(l.max_spatial));
  add("features", std::to_string(l.min_features) + "-" + std::to_string(l.max_features));
  add("batch", std::to_string(l.min_batch) + "-" + std::to_string(l.max_batch));
  add("max_step_s", Number(l.max_step_s));
  add("max_positions", std::to_string(l.max_positions));
  add("max_tensor_bytes", std::to_string(l.max_tensor_bytes));
  add("rse", Number(o.rse));
  add("sample_time_cap_s", Number(Cap(o)));
  add("repeat_window_s", Number(Window(o)));
  add("seed", std::to_string(o.seed));
  add("device", o.device);
  add("threads", std::to_string(o.threads));
  add("meter", meter.kind());
  add("meter_description", meter.description());
  return key;
}

Result<CalibrationOutcome> RunCalibration(const CalibrationOptions& options, EnergyMeter& meter) {
  const Clock::time_point start = Clock::now();
  if (!(options.rse > 0 && options.rse < 1)) {
    return Status::Error("the target relative standard error must be in (0, 1)");
  }
  Result<std::unique_ptr<SampleStore>> store =
      SampleStore::Open(options.db_path, OptionsKey(options, meter));
  if (!store.ok()) return store.status();
  Result<std::vector<StoredSample>> stored = (*store)->Load();
  if (!stored.ok()) return stored.status();

  const DesignLimits limits = Limits(options);
  const std::vector<std::pair<Design, int>> plan = PlanSamples(options);
  std::map<std::pair<std::string, int64_t>, const StoredSample*> have;
  for (const StoredSample& s : *stored) have[{s.design, s.index}] = &s;

  // Interleave the designs (every design's point 0, then every point 1, ...) so that an
  // interrupted run has measured every kind, and the pace (ETA) is representative early.
  std::vector<std::pair<Design, int64_t>> order;
  int max_n = 0;
  for (const auto& [d, n] : plan) max_n = std::max(max_n, n);
  for (int i = 0; i < max_n; ++i) {
    for (const auto& [d, n] : plan) {
      if (i < n) order.emplace_back(d, i);
    }
  }

  CalibrationOutcome out;
  out.total = static_cast<int>(order.size());
  std::vector<StoredSample> samples;  // The plan's, stored or measured now.
  std::vector<std::pair<Design, int64_t>> todo;
  for (const auto& [d, i] : order) {
    auto it = have.find({std::string(DesignName(d)), i});
    if (it != have.end()) {
      samples.push_back(*it->second);
    } else {
      todo.emplace_back(d, i);
    }
  }
  out.resumed = out.done = static_cast<int>(samples.size());

  CalibrationProgress progress;
  progress.total = out.total;
  progress.done = out.done;
  progress.resumed = out.resumed;
  if (options.progress) options.progress(progress);

  PairMeasurer measurer(options, meter, Window(options));
  const Clock::time_point measuring = Clock::now();
  int measured = 0;
  for (const auto& [design, index] : todo) {
    if (options.stop && options.stop->load()) {
      out.interrupted = true;
      break;
    }
    const std::string what = std::string(DesignName(design)) + " sample " + std::to_string(index);
    Result<ProbePair> pair = MakeProbePair(design, index, options.seed, limits);
    if (!pair.ok()) return pair.status();
    Result<Graph> probe = LoadNetwork(pair->probe_json, pair->batch, what + " (probe)");
    if (!probe.ok()) return probe.status();
    Result<Graph> base = LoadNetwork(pair->base_json, pair->batch, what + " (base)");
    if (!base.ok()) return base.status();
    // Behind the run's budget, samples stop repeating sooner (never below 2 rounds); the plan
    // itself never changes, so a resumed run measures the same points.
    const double left_s = Budget(options) - Since(measuring);
    const double cap_s = std::clamp(
        left_s / static_cast<double>(todo.size() - measured), 0.0, Cap(options));
    const Clock::time_point sample_start = Clock::now();
    Result<PairResult> r = measurer.Measure(*probe, *base, pair->batch, cap_s, what);
    if (!r.ok()) return r.status();
    if (r->interrupted) {
      out.interrupted = true;
      break;
    }
    StoredSample s;
    s.design = std::string(DesignName(design));
    s.kind = std::string(KindName(DesignKind(design)));
    s.index = index;
    s.config_json = pair->config_json;
    s.probe_json = pair->probe_json;
    s.base_json = pair->base_json;
    s.batch = pair->batch;
    s.probe = r->probe;
    s.base = r->base;
    s.delta_energy_se_j = r->delta_energy_se_j;
    s.delta_time_se_s = r->delta_time_se_s;
    s.measure_s = Since(sample_start);
    s.meter_kind = meter.kind();
    s.threads = r->threads;
    s.measured_at = UtcNow();
    if (Status st = (*store)->Insert(s); !st.ok()) return st;
    samples.push_back(s);
    ++measured;
    out.done = static_cast<int>(samples.size());

    progress.done = out.done;
    progress.design = s.design;
    progress.index = index;
    progress.probe = s.probe;
    progress.base = s.base;
    progress.elapsed_s = Since(start);
    progress.eta_s = Since(measuring) / measured * static_cast<double>(todo.size() - measured);
    if (options.progress) options.progress(progress);
  }
  if (out.interrupted) {
    out.elapsed_s = Since(start);
    return out;
  }

  progress.fitting = true;
  progress.eta_s = 0;
  progress.elapsed_s = Since(start);
  if (options.progress) options.progress(progress);

  std::vector<FitSample> fit_samples;
  int threads = 0;
  for (const StoredSample& s : samples) {
    auto design = DesignFromName(s.design);
    if (!design) return Status::Error(options.db_path + ": unknown design '" + s.design + "'");
    FitSample f;
    Result<NetworkFeatures> probe = FeaturesOfJson(s.probe_json, s.batch);
    if (!probe.ok()) return probe.status();
    Result<NetworkFeatures> base = FeaturesOfJson(s.base_json, s.batch);
    if (!base.ok()) return base.status();
    f.probe = std::move(*probe);
    f.base = std::move(*base);
    f.model_class = SampleClass(*design, Difference(f.probe, f.base));
    if (f.model_class.empty()) {
      return Status::Error(options.db_path + ": " + s.design + " sample " +
                           std::to_string(s.index) + " adds no layer of its kind");
    }
    f.probe_energy_j = s.probe.energy_j;
    f.probe_energy_se_j = s.probe.energy_se_j;
    f.probe_time_s = s.probe.time_s;
    f.probe_time_se_s = s.probe.time_se_s;
    f.base_energy_j = s.base.energy_j;
    f.base_energy_se_j = s.base.energy_se_j;
    f.base_time_s = s.base.time_s;
    f.base_time_se_s = s.base.time_se_s;
    f.delta_energy_se_j = s.delta_energy_se_j;
    f.delta_time_se_s = s.delta_time_se_s;
    fit_samples.push_back(std::move(f));
    threads = std::max(threads, s.threads);
  }
  FitOptions fit_options;
  fit_options.seed = options.seed;
  Result<FitResult> fit = FitModels(fit_samples, fit_options);
  if (!fit.ok()) return fit.status();

  Profile& p = out.profile;
  p.created = UtcNow();
  p.device = options.device;
  const int gpu = options.device.rfind("cuda", 0) == 0
                      ? (options.device.size() > 5 ? std::atoi(options.device.c_str() + 5) : 0)
                      : -1;
  p.hardware = DescribeHardware(options.hardware, gpu);
  p.hardware["threads"] = std::to_string(threads);
  if (!options.libtorch_version.empty()) p.hardware["libtorch"] = options.libtorch_version;
  p.meter_kind = meter.kind();
  p.meter_real = meter.real();
  p.meter_description = meter.description();
  p.models = fit->models;
  p.step = fit->step;
  p.networks = fit->networks;
  out.fit = std::move(*fit);
  out.elapsed_s = Since(start);
  return out;
}

}  // namespace joulecast
