// `joulecast measure MODEL`: trains the model for a few steps and reports measured time and
// energy per step, with the meter that measured it. The schema of --format json is in
// docs/measure.md.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analyzer/load_model.h"
#include "calibrate/meters/meter.h"
#include "calibrate/torch/measure.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/meter_flags.h"
#include "cli/torch_backend.h"

namespace joulecast::cli {

namespace {

constexpr const char* kMeasureUsage =
    "usage: joulecast measure MODEL [--batch N] [--steps N] [--warmup N]\n"
    "                         [--dataset synthetic|fashion-mnist] [--optimizer adam|sgd]\n"
    "                         [--lr X] [--threads N] [--device cpu|cuda[:N]]\n"
    "                         [--precision fp32|bf16|fp16]\n"
    "                         [--meter auto|rapl|nvml|estimate] [--cpu-watts W]\n"
    "                         [--input CxHxW] [--format text|json] [-o FILE] [--seed N]\n"
    "\n"
    "Trains MODEL (.onnx or .json) and measures time and energy per training step after\n"
    "warm-up (docs/measure.md).\n";

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
  std::string libtorch_version;
  std::vector<std::string> from_file;  ///< Settings taken from the file's "training" object.
  Measurement m;
};

// "batch, optimizer": what the file's "training" object set.
std::string Joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

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
      {"libtorch", r.libtorch_version},
      {"from_file", r.from_file},
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
  if (!r.from_file.empty()) {
    s += "             " + Joined(r.from_file) + " from the file's training object\n";
  }
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
  std::string format = "text", model, output;
  // clang-format off
  CommandLine cli(
      "measure", kMeasureUsage, 19,
      {
          {.name = "--batch", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 1 << 24, .help = "batch size (default: the file's training batch, else 64)",
           .set = Into(&options.batch)},
          {.name = "--steps", .metavar = "N", .kind = FlagKind::integer, .min = 1,
           .max = 1 << 24,
           .help = "steps to measure (default 20; more if the window is too short for the\n"
                   "meter)",
           .set = Into(&options.steps)},
          {.name = "--warmup", .metavar = "N", .kind = FlagKind::integer, .min = 0,
           .max = 1 << 24, .help = "steps before measuring (default 3)",
           .set = Into(&options.warmup_steps)},
          {.name = "--dataset", .metavar = "D", .kind = FlagKind::choice,
           .choices = {"synthetic", "fashion-mnist"},
           .help = "synthetic (default; one random batch reused) or fashion-mnist (the\n"
                   "training split from /usr/share/datasets/fashion-mnist; 1x28x28 input)",
           .set = Into(&options.dataset)},
          {.name = "--optimizer", .metavar = "O", .kind = FlagKind::choice,
           .choices = {"adam", "sgd"},
           .help = "adam or sgd (momentum 0.9); default: the file's, else adam",
           .set = Into(&options.train.optimizer)},
          {.name = "--lr", .metavar = "X", .kind = FlagKind::real,
           .help = "learning rate (default 0.001)", .set = Into(&options.train.learning_rate)},
          {.name = "--threads", .metavar = "N", .kind = FlagKind::integer, .min = 0, .max = 1024,
           .help = "libtorch intra-op threads (default: the default profile's, else\n"
                   "libtorch's own choice)",
           .set = Into(&options.train.threads)},
          DeviceFlag(&options.train.device,
                     "cpu (default), cuda or cuda:N (needs a CUDA build of libtorch)"),
          PrecisionFlag(&options.train.precision,
                        "fp32, bf16 or fp16 (CUDA only; default: the file's, else fp32):\n"
                        "forward and loss under autocast, as torch.autocast"),
          MeterFlag(&meter_options,
                    "auto (default: the best hardware counter, else the estimate), rapl,\n"
                    "nvml or estimate"),
          CpuWattsFlag(&meter_options, "the estimate's power per busy thread, in watts"),
          {.name = "--input", .metavar = "CxHxW", .kind = FlagKind::dims,
           .help = "bind symbolic input dims, or replace a JSON architecture's input shape",
           .error = "--input needs positive dims like 1x28x28", .set = Into(&load.input_chw)},
          {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
           .choices = {"text", "json"}, .help = "text (default) or json", .set = Into(&format)},
          OutputFlag(&output, "write the result to FILE instead of standard output"),
          {.name = "--seed", .metavar = "N", .kind = FlagKind::integer, .min = 0,
           .max = INT64_MAX,
           .help = "seeds weights, synthetic data and the data order (default 1)",
           .set = Into(&options.train.seed)},
      });
  // clang-format on
  cli.Positionals(OnePositional(&model, "MODEL"));
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (model.empty()) {
    cli.PrintHelp(stderr);
    return 2;
  }
  Result<const TorchBackend*> torch = LoadTorchBackend();
  if (!torch.ok()) return cli.Fail(torch.status().message());
  const TorchBackend& backend = **torch;

  // The file's "training" object sets what the flags leave unset.
  if (cli.Given("--batch")) load.batch = options.batch;
  Result<Graph> graph = LoadModel(model, load);
  if (!graph.ok()) return cli.Fail(graph.status().message());
  const TrainingSettings& file = graph->training;
  std::vector<std::string> from_file;
  if (!cli.Given("--batch")) {
    if (file.batch) {
      options.batch = graph->batch;
      from_file.push_back("batch");
    } else {
      // No batch anywhere: load again at measure's own default (an ONNX model, or a JSON
      // architecture without one).
      load.batch = options.batch;
      graph = LoadModel(model, load);
      if (!graph.ok()) return cli.Fail(graph.status().message());
    }
  }
  if (!cli.Given("--optimizer") && file.optimizer) {
    options.train.optimizer = *file.optimizer;
    from_file.push_back("optimizer");
  }
  if (!cli.Given("--precision") && file.precision) {
    options.train.precision = *file.precision;
    from_file.push_back("precision");
  }
  if (Status s = backend.check_precision(options.train.device, options.train.precision); !s.ok()) {
    return cli.Fail(s.message());
  }

  // Measure with the threads the default profile was calibrated with, so that measurements
  // and predictions describe the same setting.
  if (!cli.Given("--threads")) {
    if (int threads = ProfileThreads(DefaultProfilePath())) options.train.threads = threads;
  }
  if (Status s = backend.check_device(options.train.device); !s.ok()) return cli.Fail(s.message());

  MeterForDevice(backend, options.train.device, &meter_options);
  Run run;
  Result<std::unique_ptr<EnergyMeter>> meter = OpenMeter(meter_options, &run.meter_why);
  if (!meter.ok()) return cli.Fail(meter.status().message());

  Result<Measurement> m = backend.measure_training(*graph, options, **meter);
  if (!m.ok()) return cli.Fail(m.status().message());
  run.model_file = model;
  run.graph = &*graph;
  run.options = options;
  run.meter = meter->get();
  run.libtorch_version = backend.libtorch_version();
  run.from_file = from_file;
  run.m = *m;
  std::string error = WriteOutput(output, format == "json" ? RenderJson(run) : RenderText(run));
  if (!error.empty()) return cli.Fail(error);
  return 0;
}

}  // namespace joulecast::cli
