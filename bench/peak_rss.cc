// One analysis of one model in a fresh process, reporting its wall time and peak memory.
//
//   peak_rss MODEL [--batch N]
//
// Prints one JSON line: nodes, params, macs (per sample), wall_ms (LoadModel + ComputeCosts),
// rss_start_kb (peak resident set before loading: the process and its libraries) and
// peak_rss_kb (getrusage ru_maxrss at exit, everything included). A separate process per
// measurement because peak RSS only ever grows. Exit 2 on bad usage or a model that fails.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "analyzer/load_model.h"

namespace {

int64_t PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // Linux: kilobytes.
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
  const auto start = std::chrono::steady_clock::now();
  joulecast::Result<joulecast::Graph> graph = joulecast::LoadModel(path, options);
  if (!graph.ok()) {
    std::fprintf(stderr, "peak_rss: %s\n", graph.status().message().c_str());
    return 2;
  }
  joulecast::Result<joulecast::ModelCost> cost = joulecast::ComputeCosts(*graph);
  if (!cost.ok()) {
    std::fprintf(stderr, "peak_rss: %s\n", cost.status().message().c_str());
    return 2;
  }
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
          .count();

  const nlohmann::json line = {
      {"model", path},
      {"nodes", graph->nodes.size()},
      {"params", cost->params.value()},
      {"macs", cost->PerSample(cost->total.macs_fwd)},
      {"unmodelled", cost->unmodelled.size()},
      {"wall_ms", wall_ms},
      {"rss_start_kb", rss_start_kb},
      {"peak_rss_kb", PeakRssKb()},
  };
  std::printf("%s\n", line.dump().c_str());
  return 0;
}
