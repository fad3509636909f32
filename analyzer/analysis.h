// One analysis, as `joulecast analyze` and `joulecast gate` both run it: load a model, cost it,
// and, with a profile, predict one training step and the whole run.
#pragma once

#include <optional>
#include <string>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"
#include "analyzer/report/report.h"

namespace joulecast {

struct AnalysisRequest {
  std::string model;                ///< A .onnx file or a .json architecture.
  LoadOptions load;
  /// The profile to predict with; empty: `default_profile_path` if that file exists, else no
  /// prediction.
  std::string profile_path;
  std::string default_profile_path;
  bool require_profile = false;     ///< No profile at all is an error (the gate needs one).
  bool strict = false;              ///< An unmodelled op is an error.
  TrainingRun run;                  ///< Its batch is overwritten by the loaded graph's.
  std::string precision = "fp32";   ///< fp32, bf16 or fp16; the profile must predict it.
};

struct Analysis {
  Graph graph;
  ModelCost cost;
  std::optional<Profile> profile;
  bool default_profile = false;     ///< The profile was picked because none was given.
  std::optional<StepPrediction> step;
  std::optional<RunPrediction> run;

  /// The report input pointing into this analysis (valid while it lives and is not moved).
  ReportInput ReportView() const;
};

/// Runs the request. Errors are one line naming the file and what is wrong.
Result<Analysis> RunAnalysis(const AnalysisRequest& request);

}  // namespace joulecast
