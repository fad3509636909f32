// Reads measurements recorded outside joulecast into the fit's samples: the layout of
// ../shared/data/gpu-h200/ (layers.jsonl, networks.jsonl, adam.jsonl, meta.json; its README says how each
// figure was taken), where every layer and network is a joulecast JSON architecture. Tests and
// bench/ fit the time x power model on it from a machine without a GPU.
#pragma once

#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "calibrate/calibration/time_fit.h"

namespace joulecast {

struct RecordedData {
  std::vector<LayerTimingSample> layers;
  std::vector<NetworkSample> networks;
  std::vector<OptimizerTimingSample> optimizer;  ///< adam.jsonl, when there is one.
  double idle_w = 0;   ///< meta.json's idle_power_w.
  double limit_w = 0;  ///< meta.json's power_limit_w.
};

/// Loads `dir`/layers.jsonl, networks.jsonl, meta.json and, if present, adam.jsonl. Errors name
/// the file and line.
Result<RecordedData> LoadRecordedData(const std::string& dir);

}  // namespace joulecast
