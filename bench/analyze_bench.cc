// Wall time of the analyzer (joulecast::LoadModel + ComputeCosts) on real and synthetic models.
//
// Models come from the `bench_data` target: torchvision's VGG-16 and ResNet-50 training-graph
// exports (scripts/export_torchvision.py) and chains of Conv/Relu/Add blocks of 500 to 5,000
// nodes (bench/make_synthetic.py; every synthetic_N.onnx in the directory is run), whose BigO
// line shows how cost grows with graph size.
// Directories: $JOULECAST_TORCHVISION_DIR and $JOULECAST_SYNTHETIC_DIR, defaulting to where the
// build put them. A missing file is reported as a skipped benchmark, not a crash.
// Benchmarks report numbers; they do not pass or fail on timing. Peak memory: see peak_rss.cc.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/load_model.h"

namespace joulecast {
namespace {

std::string DirFromEnv(const char* var, const char* fallback) {
  const char* dir = std::getenv(var);
  return dir && *dir ? dir : fallback;
}

// One full analysis, as `joulecast analyze` does it before printing: load, infer, cost.
// Returns the node count, or -1 after reporting the error on `state`.
int64_t AnalyzeOnce(benchmark::State& state, const std::string& path, const LoadOptions& opts) {
  Result<Graph> graph = LoadModel(path, opts);
  if (!graph.ok()) {
    state.SkipWithError(graph.status().message().c_str());
    return -1;
  }
  Result<ModelCost> cost = ComputeCosts(*graph);
  if (!cost.ok()) {
    state.SkipWithError(cost.status().message().c_str());
    return -1;
  }
  benchmark::DoNotOptimize(cost->total.macs_fwd.value());
  return static_cast<int64_t>(graph->nodes.size());
}

// Whether `path` exists; when not, reports on `state` how to make it.
bool Exists(benchmark::State& state, const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  state.SkipWithError((path + " is missing: build the bench_data target").c_str());
  return false;
}

// Times AnalyzeOnce on `path` for as long as `state` runs. Returns the node count, or -1 after
// reporting the error on `state`.
int64_t TimeAnalyses(benchmark::State& state, const std::string& path) {
  if (!Exists(state, path)) return -1;
  int64_t nodes = 0;
  for (auto _ : state) {
    nodes = AnalyzeOnce(state, path, LoadOptions{});
    if (nodes < 0) return -1;
  }
  return nodes;
}

void Analyze(benchmark::State& state, const std::string& path) {
  const int64_t nodes = TimeAnalyses(state, path);
  if (nodes < 0) return;
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["file_MB"] = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
}

// Costs alone, on a graph loaded once: what the front end's share of Analyze is not.
void CostsOnly(benchmark::State& state, const std::string& path) {
  if (!Exists(state, path)) return;
  Result<Graph> graph = LoadModel(path, LoadOptions{});
  if (!graph.ok()) {
    state.SkipWithError(graph.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    Result<ModelCost> cost = ComputeCosts(*graph);
    if (!cost.ok()) {
      state.SkipWithError(cost.status().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(cost->total.macs_fwd.value());
  }
}

// Node counts N of the synthetic_N.onnx files in `dir`, ascending; the four bench_data makes
// when there are none, so that their absence is reported.
std::vector<int64_t> SyntheticSizes(const std::string& dir) {
  std::vector<int64_t> sizes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "synthetic_", suffix = ".onnx";
    if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix)) {
      continue;
    }
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
      continue;
    }
    sizes.push_back(std::stoll(digits));
  }
  if (sizes.empty()) sizes = {500, 1000, 2000, 5000};
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

// range(0) is the node count of synthetic_N.onnx.
void AnalyzeSynthetic(benchmark::State& state, const std::string& dir) {
  const int64_t nodes =
      TimeAnalyses(state, dir + "/synthetic_" + std::to_string(state.range(0)) + ".onnx");
  if (nodes < 0) return;
  state.SetComplexityN(nodes);
  state.counters["nodes"] = static_cast<double>(nodes);
  // Seconds per node: flat across sizes when growth is linear.
  state.counters["per_node"] = benchmark::Counter(
      static_cast<double>(nodes),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace
}  // namespace joulecast

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  const std::string tv =
      joulecast::DirFromEnv("JOULECAST_TORCHVISION_DIR", JOULECAST_DEFAULT_TORCHVISION_DIR);
  const std::string synthetic =
      joulecast::DirFromEnv("JOULECAST_SYNTHETIC_DIR", JOULECAST_DEFAULT_SYNTHETIC_DIR);

  for (const char* model : {"vgg16", "resnet50"}) {
    const std::string path = tv + "/" + model + ".onnx";
    benchmark::RegisterBenchmark((std::string("Analyze/") + model).c_str(), joulecast::Analyze,
                                 path)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("CostsOnly/") + model).c_str(),
                                 joulecast::CostsOnly, path)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  auto* scaling =
      benchmark::RegisterBenchmark("AnalyzeSynthetic", joulecast::AnalyzeSynthetic, synthetic);
  for (int64_t nodes : joulecast::SyntheticSizes(synthetic)) scaling->Arg(nodes);
  scaling->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Complexity(benchmark::oN);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
