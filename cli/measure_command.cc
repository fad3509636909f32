// `joulecast measure MODEL`: trains the model for a few steps and reports measured time and
// energy per step, with the meter that measured it. The schema of --format json is in
// docs/measure.md.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/energy/profile.h"
#include "analyzer/load_model.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/measure.h"
#include "calibrate/torch/torch_network.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/meter_flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kMeasureHelp =
    "usage: joulecast measure MODEL [--batch N] [--steps N] [--warmup N]\n"
    "                         [--dataset synthetic|fashion-mnist] [--optimizer adam|sgd]\n"
    "                         [--lr X] [--threads N] [--device cpu|cuda[:N]]\n"
    "                         [--precision fp32|bf16|fp16]\n"
    "                         [--meter auto|rapl|nvml|estimate] [--cpu-watts W]\n"
    "                         [--input CxHxW] [--format text|json] [-o FILE] [--seed N]\n"
    "\n"
    "Trains MODEL (.onnx or .json) and measures time and energy per training step after\n"
    "warm-up (docs/measure.md).\n"
    "  --batch N        batch size (default 64)\n"
    "  --steps N        steps to measure (default 20; more if the window is too short for the\n"
    "                   meter)\n"
    "  --warmup N       steps before measuring (default 3)\n"
    "  --dataset D      synthetic (default; one random batch reused) or fashion-mnist (the\n"
    "                   training split from /usr/share/datasets/fashion-mnist; 1x28x28 input)\n"
    "  --optimizer O    adam (default) or sgd (momentum 0.9)\n"
    "  --lr X           learning rate (default 0.001)\n"
    "  --threads N      libtorch intra-op threads (default: the default profile's, else\n"
    "                   libtorch's own choice)\n"
    "  --device D       cpu (default), cuda or cuda:N (needs a CUDA build of libtorch)\n"
    "  --precision P    fp32 (default), bf16 or fp16 (CUDA only): forward and loss under\n"
    "                   autocast, as torch.autocast\n"
    "  --meter M        auto (default: the best hardware counter, else the estimate), rapl,\n"
    "                   nvml or estimate\n"
    "  --cpu-watts W    the estimate's power per busy thread, in watts\n"
    "  --input CxHxW    bind symbolic input dims, or replace a JSON architecture's input shape\n"
    "  --format F       text (default) or json\n"
    "  -o FILE          write the result to FILE instead of standard output\n"
    "  --seed N         seeds weights, synthetic data and the data order (default 1)\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "joulecast measure: %s\n", message.c_str());
  return 2;
}

// "1.23 ms", "4.56 s".
std::string Seconds(double s) {
  char buf[32];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.3g ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g s", s);
  }
  return buf;
}

std::string Number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct Run {
  std::string model_file;
  const Graph* graph = nullptr;
  MeasureOptions options;
  const EnergyMeter* meter = nullptr;
  std::string meter_why;
  Measurement m;
};

std::string RenderJson(const Run& r) {
  const Measurement& m = r.m;
  const TrainOptions& t = r.options.train;
  nlohmann::ordered_json meter = {
      {"kind", r.meter->kind()},
      {"real", r.meter->real()},
      {"description", r.meter->description()},
      {"update_period_s", r.meter->update_period_s()},
      {"selection", r.meter_why},
  };
  if (!r.meter->real()) meter["note"] = "estimated, not measured";
  nlohmann::ordered_json j = {
      {"schema", "joulecast.measurement/1"},
      {"model", r.graph->name},
      {"model_file", r.model_file},
      {"batch", m.batch},
      {"steps", m.steps},
      {"steps_requested", r.options.steps},
      {"warmup_steps", r.options.warmup_steps},
      {"threads", m.threads},
      {"device", t.device},
      {"precision", t.precision},
      {"dataset", r.options.dataset},
      {"optimizer",
       {{"name", t.optimizer},
        {"lr", t.learning_rate},
        {"beta1", t.beta1},
        {"beta2", t.beta2},
        {"weight_decay", t.weight_decay}}},
      {"seed", t.seed},
      {"loss_first", m.loss_first},
      {"loss_last", m.loss_last},
      {"measurement",
       {{"time_s", m.time_s},
        {"energy_j", m.energy_j},
        {"per_step",
         {{"time_s", m.time_s_per_step},
          {"time_s_stddev", m.time_s_per_step_stddev},
          {"energy_j", m.energy_j_per_step}}}}},
      {"meter", meter},
      {"libtorch", LibtorchVersion()},
  };
  return j.dump(2) + "\n";
}

std::string RenderText(const Run& r) {
  const Measurement& m = r.m;
  const TrainOptions& t = r.options.train;
  const bool real = r.meter->real();
  std::string s;
  s += "model        " + r.graph->name + " (" + r.model_file + ")\n";
  s += "training     batch " + std::to_string(m.batch) + ", " + t.optimizer + " lr " +
       Number("%g", t.learning_rate) + ", " + r.options.dataset + " data, " + t.device + ", " +
       t.precision + ", " + std::to_string(m.threads) + (m.threads == 1 ? " thread" : " threads") +
       ", seed " + std::to_string(t.seed) + "\n";
  s += "steps        " + std::to_string(m.steps) + " measured after " +
       std::to_string(r.options.warmup_steps) + " warm-up";
  if (m.steps > r.options.steps)
    s += " (more than the " + std::to_string(r.options.steps) +
         " asked, to span 10 meter update periods)";
  s += "\n";
  s += "time/step    " + Seconds(m.time_s_per_step) + " \xC2\xB1 " +
       Seconds(m.time_s_per_step_stddev) + " (stddev), " + Seconds(m.time_s) + " in all\n";
  s += "energy/step  " + Number("%.4g", m.energy_j_per_step) + " J (" + Number("%.4g", m.energy_j) +
       " J in all)" + (real ? std::string() : std::string(", estimated, not measured")) + "\n";
  s += "meter        " + r.meter->kind() + ": " + r.meter->description() +
       (real ? " (hardware counter)" : "") + "\n";
  if (!r.meter_why.empty()) s += "             " + r.meter_why + "\n";
  s += "loss         " + Number("%.4f", m.loss_first) + " first, " + Number("%.4f", m.loss_last) +
       " last\n";
  return s;
}

}  // namespace

int Measure(const std::vector<std::string>& args) {
  LoadOptions load;
  MeasureOptions options;
  MeterOptions meter_options;
  bool json = false;
  std::string model, output;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kMeasureHelp, stdout);
      return 0;
    } else if (a == "--batch" || a == "--steps" || a == "--warmup" || a == "--threads" ||
               a == "--seed") {
      auto v = value();
      const bool zero_ok = a == "--warmup" || a == "--threads" || a == "--seed";
      const int64_t max = a == "--threads" ? 1024 : a == "--seed" ? INT64_MAX : 1 << 24;
      auto n = v ? IntIn(*v, zero_ok ? 0 : 1, max) : std::nullopt;
      if (!n) {
        return Fail(a + " needs " + (zero_ok ? "a non-negative" : "a positive") +
                    " integer up to " + std::to_string(max));
      }
      if (a == "--batch")
        options.batch = *n;
      else if (a == "--steps")
        options.steps = *n;
      else if (a == "--warmup")
        options.warmup_steps = *n;
      else if (a == "--threads")
        options.train.threads = static_cast<int>(*n);
      else
        options.train.seed = static_cast<uint64_t>(*n);
    } else if (a == "--dataset") {
      auto v = value();
      if (v != "synthetic" && v != "fashion-mnist") {
        return Fail("--dataset must be synthetic or fashion-mnist");
      }
      options.dataset = *v;
    } else if (a == "--optimizer") {
      auto v = value();
      if (v != "adam" && v != "sgd") return Fail("--optimizer must be adam or sgd");
      options.train.optimizer = *v;
    } else if (a == "--lr") {
      auto v = value();
      auto x = v ? PositiveReal(*v) : std::nullopt;
      if (!x) return Fail("--lr needs a positive number");
      options.train.learning_rate = *x;
    } else if (a == "--precision") {
      auto v = value();
      if (!v) return Fail("--precision needs fp32, bf16 or fp16");
      options.train.precision = *v;
    } else if (IsMeterFlag(a)) {
      std::string error = ParseMeterFlag(a, value(), &options.train.device, &meter_options);
      if (!error.empty()) return Fail(error);
    } else if (a == "--input") {
      auto v = value();
      auto d = v ? DimsArg(*v) : std::nullopt;
      if (!d) return Fail("--input needs positive dims like 1x28x28");
      load.input_chw = d;
    } else if (a == "--format") {
      auto v = value();
      if (v == "text")
        json = false;
      else if (v == "json")
        json = true;
      else
        return Fail("--format must be text or json");
    } else if (a == "-o" || a == "--output") {
      auto v = value();
      if (!v) return Fail("-o needs a file name");
      output = *v;
    } else if (!a.empty() && a[0] == '-') {
      return Fail("unknown option '" + a + "' (see joulecast measure --help)");
    } else if (model.empty()) {
      model = a;
    } else {
      return Fail("more than one MODEL given: '" + model + "' and '" + a + "'");
    }
  }
  if (model.empty()) {
    std::fputs(kMeasureHelp, stderr);
    return 2;
  }
  if (Status s = CheckPrecision(options.train.device, options.train.precision); !s.ok()) {
    return Fail(s.message());
  }

  // Measure with the threads the default profile was calibrated with, so that measurements
  // and predictions describe the same setting.
  bool threads_given = false;
  for (const std::string& a : args) threads_given |= a == "--threads";
  if (!threads_given) {
    Result<Profile> profile = LoadProfile(DefaultProfilePath());
    if (profile.ok()) {
      auto it = profile->hardware.find("threads");
      if (it != profile->hardware.end()) {
        if (auto n = IntIn(it->second, 1, 1024)) options.train.threads = static_cast<int>(*n);
      }
    }
  }
  load.batch = options.batch;
  Result<Graph> graph = LoadModel(model, load);
  if (!graph.ok()) return Fail(graph.status().message());
  if (Status s = CheckDevice(options.train.device); !s.ok()) return Fail(s.message());

  const int gpu = CudaIndex(options.train.device);
  meter_options.gpu = gpu >= 0;
  meter_options.gpu_index = gpu >= 0 ? gpu : 0;
  meter_options.synchronize = DeviceSynchronizer(options.train.device);
  Run run;
  Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(meter_options, &run.meter_why);
  if (!meter.ok()) return Fail(meter.status().message());

  Result<Measurement> m = MeasureTraining(*graph, options, **meter);
  if (!m.ok()) return Fail(m.status().message());
  run.model_file = model;
  run.graph = &*graph;
  run.options = options;
  run.meter = meter->get();
  run.m = *m;
  std::string error = WriteOutput(output, json ? RenderJson(run) : RenderText(run));
  if (!error.empty()) return Fail(error);
  return 0;
}

}  // namespace joulecast::cli
