// One analysis of one model in a fresh process, reporting its wall time and peak memory.
//
//   peak_rss MODEL [--batch N]
//
// Prints one JSON line: nodes, params, macs (per sample), and
//   wall_ms       the first LoadModel + ComputeCosts in this process: what `joulecast analyze`
//                 pays, one-time library set-up included (ONNX registers its operator schemas
//                 on first use, some 40 million instructions);
//   warm_ms       the same analysis run again in the same process, set-up already done: the
//                 fair match for a Python timing taken after `import onnx`;
//   rss_start_kb  peak resident set before loading (the process and its libraries);
//   peak_rss_kb   peak resident set after the first analysis, everything included.
// A separate process per measurement because peak RSS only ever grows. Exit 2 on bad usage or
// a model that fails to load.
//
// The peak is VmHWM from /proc/self/status, the high-water mark of this program's own address
// space. getrusage's ru_maxrss is the fallback only: it also counts the memory of whatever
// process forked this one before exec (a Python parent that vforks, say).
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "analyzer/load_model.h"

namespace {

int64_t PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // Linux: kilobytes.
}

struct Analysis {
  size_t nodes = 0;
  int64_t params = 0;
  double macs = 0;
  size_t unmodelled = 0;
  double wall_ms = 0;
};

// Loads and costs `path`; prints the error and returns nullopt when either fails.
std::optional<Analysis> Analyze(const std::string& path, const joulecast::LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  joulecast::Result<joulecast::Graph> graph = joulecast::LoadModel(path, options);
  if (!graph.ok()) {
    std::fprintf(stderr, "peak_rss: %s\n", graph.status().message().c_str());
    return std::nullopt;
  }
  joulecast::Result<joulecast::ModelCost> cost = joulecast::ComputeCosts(*graph);
  if (!cost.ok()) {
    std::fprintf(stderr, "peak_rss: %s\n", cost.status().message().c_str());
    return std::nullopt;
  }
  Analysis a;
  a.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  a.nodes = graph->nodes.size();
  a.params = cost->params.value();
  a.macs = cost->PerSample(cost->total.macs_fwd);
  a.unmodelled = cost->unmodelled.size();
  return a;
}

int Usage() {
  std::fprintf(stderr, "usage: peak_rss MODEL [--batch N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) return Usage();
  joulecast::LoadOptions options;
  if (argc == 4) {
    if (std::string(argv[2]) != "--batch") return Usage();
    char* end = nullptr;
    const long long batch = std::strtoll(argv[3], &end, 10);
    if (*end != '\0' || batch < 1) return Usage();
    options.batch = batch;
  }
  const std::string path = argv[1];

  const int64_t rss_start_kb = PeakRssKb();
  const std::optional<Analysis> cold = Analyze(path, options);
  if (!cold) return 2;
  const int64_t peak_rss_kb = PeakRssKb();
  const std::optional<Analysis> warm = Analyze(path, options);
  if (!warm) return 2;

  const nlohmann::json line = {
      {"model", path},
      {"nodes", cold->nodes},
      {"params", cold->params},
      {"macs", cold->macs},
      {"unmodelled", cold->unmodelled},
      {"wall_ms", cold->wall_ms},
      {"warm_ms", warm->wall_ms},
      {"rss_start_kb", rss_start_kb},
      {"peak_rss_kb", peak_rss_kb},
  };
  std::printf("%s\n", line.dump().c_str());
  return 0;
}
