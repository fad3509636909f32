// Fits the time x power model (calibrate/calibration/time_fit.h) on recorded measurements, such
// as ../shared/data/gpu-h200 (real H200 layer timings and NVML energy of whole training steps),
// with half of the networks and every layer timing, and predicts the other half: the accuracy of
// the model itself, apart from how well a calibration on a machine measures it.
//
//   build/bench/recorded_fit [DIR]   (default ../shared/data/gpu-h200 beside the repository)
//
// Prints the fitted parameters, every layer timing's error predicted alone (per family), each
// held-out network's measured and predicted energy and time per step, the mean and largest
// errors, the MACs-proportional baseline (one constant fitted on the held-out networks
// themselves: its best case) and, for networks measured in both fp32 and bf16, the predicted
// against the measured bf16/fp32 energy ratio.
//
// Switches (environment):
//   JOULECAST_FIT_HALF=1            fit the other half and predict the first
//   JOULECAST_FIT_ALL=1             fit and predict every network (in-sample: the model's best)
//   JOULECAST_NO_OPTIMIZER_TIMINGS  fit the optimizer from the networks, not adam.jsonl
//   JOULECAST_NO_WORK_ENERGY        power without energy per MAC and per byte
//   JOULECAST_NO_MATMUL_APART       fp32 matrix products at the convolutions' energy per MAC
//   JOULECAST_PROFILE=FILE          predict the layer timings with that profile's families
//   JOULECAST_SHOW_NETWORK=NAME     that network's layers, as predicted
//   JOULECAST_SHOW_FAMILY=NAME      every layer timing of that family: measured and predicted
//   JOULECAST_WRITE_PROFILE=FILE    the fit as a profile, to predict other measurements with
//                                   (bench/gpu/compare.py --profile FILE); a bench artefact, not a
//                                   calibration: shipped profiles come from joulecast calibrate
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "analyzer/energy/profile.h"
#include "analyzer/energy/time_model.h"
#include "calibrate/calibration/recorded_data.h"
#include "calibrate/calibration/time_fit.h"

using namespace joulecast;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : JOULECAST_DEFAULT_GPU_DATA;
  Result<RecordedData> d = LoadRecordedData(dir);
  if (!d.ok()) {
    std::fprintf(stderr, "recorded_fit: %s\n", d.status().message().c_str());
    return 2;
  }
  // Halves by network, so that a network measured in fp32 and bf16 is in one half.
  std::vector<NetworkSample> train, test;
  std::map<std::string, size_t> order;
  for (const NetworkSample& n : d->networks) order.emplace(n.name, order.size());
  const size_t fit_half = std::getenv("JOULECAST_FIT_HALF") ? std::atoi(std::getenv("JOULECAST_FIT_HALF")) % 2 : 0;
  for (const NetworkSample& n : d->networks) (order[n.name] % 2 == fit_half ? train : test).push_back(n);
  // JOULECAST_FIT_ALL=1: fit every network and predict them all (in-sample: what the model's
  // form can reach at best, not an accuracy).
  if (std::getenv("JOULECAST_FIT_ALL")) train = test = d->networks;
  TimeFitOptions o;
  o.async = true;
  o.fp32_matmul_apart = !std::getenv("JOULECAST_NO_MATMUL_APART");
  o.idle_w = d->idle_w;
  o.limit_w = d->limit_w;
  // JOULECAST_NO_WORK_ENERGY=1: the busy-time power alone, without energy per MAC and byte.
  o.work_energy = !std::getenv("JOULECAST_NO_WORK_ENERGY");
  // JOULECAST_NO_OPTIMIZER_TIMINGS=1: fit the optimizer from the networks, as before it was timed.
  const bool timed = !std::getenv("JOULECAST_NO_OPTIMIZER_TIMINGS");
  Result<TimeFitResult> fit =
      FitTimePower(d->layers, train, o, timed ? d->optimizer : std::vector<OptimizerTimingSample>{});
  if (!fit.ok()) {
    std::fprintf(stderr, "recorded_fit: %s\n", fit.status().message().c_str());
    return 2;
  }
  std::printf("%s: %zu layer timings, %zu networks fitted, %zu held out\n", dir.c_str(),
              d->layers.size(), train.size(), test.size());
  if (const char* path = std::getenv("JOULECAST_WRITE_PROFILE")) {
    Profile p;
    p.version = 3;
    p.device = "cuda:0";
    p.hardware["gpu"] = "NVIDIA H200 (recorded: " + dir + ")";
    p.meter_kind = "nvml";
    p.meter_real = true;
    p.meter_description = "recorded NVML energy of whole training steps (" + dir + "/README.md)";
    p.time_models = fit->time_models;
    p.power = fit->power;
    p.networks = fit->networks;
    p.tf32 = "convolutions on, matmul off (PyTorch's defaults)";
    std::ofstream(path) << ProfileJson(p);
    std::printf("wrote %s\n", path);
  }
  for (const auto& [precision, m] : fit->time_models) {
    std::printf("%s: launch %.2f us, device scale conv %.3f linear %.3f memory %.3f, optimizer "
                "%.3g launches/tensor or %.1f us/tensor + %.1f us/step at %.0f GB/s, step "
                "overhead %.3f ms, dynamic power %.1f W, %.3g pJ a MAC (matmul %.3g), %.3g pJ a byte; %zu families\n",
                precision.c_str(), m.launch_s * 1e6, m.device_scale.conv, m.device_scale.linear,
                m.device_scale.memory, m.optimizer_launches_per_tensor, m.optimizer_tensor_s * 1e6,
                m.optimizer_step_s * 1e6, m.optimizer_bytes_per_s / 1e9, m.step_overhead_s * 1e3,
                m.dynamic_w, m.joules_per_mac * 1e12,
                m.joules_per_mac_matmul.value_or(m.joules_per_mac) * 1e12,
                m.joules_per_byte * 1e12, m.families.size());
    for (const auto& [name, f] : m.families) {
      std::printf("  %-22s %4d timings  cv %5.1f%%  floor %6.1f/%6.1f us  %9.1f/%9.1f GMAC/s  %7.1f/%7.1f GB/s  m0 %.3g n0 %.3g k0 %.3g c0 %.3g block %d\n",
                  name.c_str(), f.samples, 100 * f.cv_mape, f.host_fwd_s * 1e6, f.host_bwd_s * 1e6,
                  f.macs_per_s_fwd / 1e9, f.macs_per_s_bwd / 1e9, f.bytes_per_s_fwd / 1e9,
                  f.bytes_per_s_bwd / 1e9, f.m0, f.n0, f.k0, f.c0, f.channel_block);
    }
  }
  // Every layer timing predicted alone, per family and precision: the mean absolute error, the
  // geometric mean of predicted / measured, and that ratio for the timings over 1 ms. By the
  // families just fitted, or with JOULECAST_PROFILE=FILE by that profile's (a calibration's
  // families against these timings).
  std::map<std::string, TimeModel> families = fit->time_models;
  if (const char* path = std::getenv("JOULECAST_PROFILE")) {
    Result<Profile> p = LoadProfile(path);
    if (!p.ok()) {
      std::fprintf(stderr, "recorded_fit: %s\n", p.status().message().c_str());
      return 2;
    }
    families = p->time_models;
    std::printf("layer timings predicted by %s:\n", path);
  }
  struct Sums {
    int n = 0, big = 0;
    double abs = 0, log = 0, big_log = 0;
  };
  std::map<std::pair<std::string, std::string>, Sums> by_family;
  for (const LayerTimingSample& s : d->layers) {
    auto m = families.find(s.precision);
    if (m == families.end()) continue;
    std::string family;
    const FamilyTime* f = FamilyFor(m->second, ModelClass(s.layer), &family);
    if (!f) continue;
    const auto [pf, pb] = AloneTime(*f, s.layer, m->second.async, ElementBytes(s.precision));
    const double measured = s.forward_s + s.backward_s, ratio = (pf + pb) / measured;
    if (const char* show = std::getenv("JOULECAST_SHOW_FAMILY"); show && family == show) {
      std::printf("  %s %s M %8lld N %5lld K %6lld C %5lld  fwd %8.1f/%8.1f us  bwd %8.1f/%8.1f us  "
                  "total %+6.1f%%\n", family.c_str(), s.precision.c_str(), (long long)s.layer.gemm_m,
                  (long long)s.layer.gemm_n, (long long)s.layer.gemm_k,
                  (long long)s.layer.in_channels, s.forward_s * 1e6, pf * 1e6, s.backward_s * 1e6,
                  pb * 1e6, 100 * (ratio - 1));
    }
    Sums& sum = by_family[{family, s.precision}];
    ++sum.n;
    sum.abs += std::abs(ratio - 1);
    sum.log += std::log(ratio);
    if (measured > 1e-3) {
      ++sum.big;
      sum.big_log += std::log(ratio);
    }
  }
  for (const auto& [key, sum] : by_family) {
    std::printf("  layers %-22s %s %4d timings: error %5.1f%%, predicted/measured %.2f, over 1 ms (%d) %.2f\n",
                key.first.c_str(), key.second.c_str(), sum.n, 100 * sum.abs / sum.n,
                std::exp(sum.log / sum.n), sum.big, sum.big > 0 ? std::exp(sum.big_log / sum.big) : 0.0);
  }
  // JOULECAST_SHOW_NETWORK=NAME: that network's layers, predicted (time, device time, host).
  if (const char* name = std::getenv("JOULECAST_SHOW_NETWORK")) {
    for (const NetworkSample& n : d->networks) {
      if (n.name != name) continue;
      const TimeModel& m = fit->time_models.at(n.precision);
      std::printf("%s %s: measured %.3f ms\n", name, n.precision.c_str(), n.time_s * 1e3);
      double sum = 0;
      for (const LayerCost& l : n.cost.layers) {
        const LayerTime t = PredictLayerTime(m, l, ElementBytes(n.precision));
        sum += t.time_s;
        if (t.time_s > 0)
          std::printf("  %-16s %-10s M %8lld N %5lld K %6lld  time %7.1f us  device %7.1f  host %6.1f\n",
                      t.family.c_str(), RegimeName(t.regime), (long long)l.gemm_m,
                      (long long)l.gemm_n, (long long)l.gemm_k, t.time_s * 1e6, t.device_s * 1e6,
                      t.host_s * 1e6);
      }
      std::printf("  layers %.3f ms, optimizer %.3f ms, overhead %.3f ms\n", sum * 1e3,
                  OptimizerTime(m, n.cost.params.value(), n.cost.param_tensors) * 1e3,
                  m.step_overhead_s * 1e3);
    }
  }
  std::printf("power: idle %.1f W (recorded), active %.1f W, dynamic %.1f W, limit %.0f W\n",
              fit->power.idle_w, fit->power.active_w, fit->power.dynamic_w, fit->power.limit_w);
  std::printf("networks, cross-validated within the fitted half: energy %.1f%% (p90 %.1f%%), time %.1f%%\n\n",
              100 * fit->networks.cv_mape, 100 * fit->networks.cv_p90, 100 * fit->networks.time_cv_mape);

  std::map<std::string, std::pair<double, double>> by_precision_sum;  // abs errors
  std::map<std::string, double> worst, time_sum, macs_num, macs_den;
  std::map<std::string, int> count;
  std::map<std::string, std::map<std::string, std::pair<double, double>>> ratio;  // name -> prec -> (meas, pred)
  std::printf("| network | precision | batch | measured J/step | predicted J/step | error | measured ms | predicted ms | error |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const NetworkSample& n : test) {
    const Estimate e = PredictNetwork(fit->time_models.at(n.precision), fit->power, n.cost,
                                      n.precision);
    const double ee = e.energy_j / n.energy_j - 1, te = e.time_s / n.time_s - 1;
    std::printf("| %s | %s | %lld | %.3f | %.3f | %+.1f%% | %.2f | %.2f | %+.1f%% |\n", n.name.c_str(),
                n.precision.c_str(), static_cast<long long>(n.cost.batch), n.energy_j, e.energy_j,
                100 * ee, n.time_s * 1e3, e.time_s * 1e3, 100 * te);
    by_precision_sum[n.precision].first += std::abs(ee);
    worst[n.precision] = std::max(worst[n.precision], std::abs(ee));
    time_sum[n.precision] += std::abs(te);
    ++count[n.precision];
    const double macs = TrainingMacs(n.cost.total);
    macs_num[n.precision] += macs / n.energy_j;
    macs_den[n.precision] += macs * macs / (n.energy_j * n.energy_j);
    ratio[n.name][n.precision] = {n.energy_j, e.energy_j};
  }
  // Networks measured in both precisions are all in one half or the other; predict the fitted
  // half's too, for the ratio only.
  for (const NetworkSample& n : train) {
    const Estimate e = PredictNetwork(fit->time_models.at(n.precision), fit->power, n.cost,
                                      n.precision);
    if (!ratio.count(n.name)) ratio[n.name][n.precision] = {n.energy_j, e.energy_j};
    else if (!ratio[n.name].count(n.precision)) ratio[n.name][n.precision] = {n.energy_j, e.energy_j};
  }
  std::printf("\n");
  for (const auto& [precision, c] : count) {
    const double k = macs_num[precision] / macs_den[precision];
    double macs_err = 0;
    for (const NetworkSample& n : test) {
      if (n.precision == precision) macs_err += std::abs(k * TrainingMacs(n.cost.total) / n.energy_j - 1);
    }
    const double mape = by_precision_sum[precision].first / c;
    std::printf("%s held out: %d networks, energy MAPE %.1f%%, worst %.1f%%, time MAPE %.1f%%; "
                "MACs-proportional %.1f%% (%.1fx worse)\n", precision.c_str(), c, 100 * mape,
                100 * worst[precision], 100 * time_sum[precision] / c, 100 * macs_err / c,
                macs_err / c / mape);
  }
  double points = 0;
  int pairs = 0;
  for (const auto& [name, p] : ratio) {
    if (!p.count("fp32") || !p.count("bf16")) continue;
    const double measured = p.at("bf16").first / p.at("fp32").first;
    const double predicted = p.at("bf16").second / p.at("fp32").second;
    points += std::abs(predicted - measured) * 100;
    ++pairs;
    std::printf("  %s: bf16/fp32 energy measured %.2f, predicted %.2f\n", name.c_str(), measured, predicted);
  }
  if (pairs > 0) std::printf("bf16 against fp32: %d networks, mean gap %.1f points\n", pairs, points / pairs);
  return 0;
}
