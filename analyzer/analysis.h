// One analysis, as `joulecast analyze` and `joulecast gate` both run it: load a model, cost it,
// and, with a profile, predict one training step and the whole run.
#pragma once

#include <optional>
#include <string>

#include "analyzer/carbon/carbon.h"
#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"
#include "analyzer/core/training_settings.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"
#include "analyzer/report/report.h"

namespace joulecast {

struct AnalysisRequest {
  std::string model;                ///< A .onnx file or a .json architecture.
  /// What to load; `load.batch` is --batch: unset, the file's training batch, else 1.
  LoadOptions load;
  /// The profile to predict with; empty: `default_profile_path` if that file exists, else no
  /// prediction.
  std::string profile_path;
  std::string default_profile_path;
  bool require_profile = false;     ///< No profile at all is an error (the gate needs one).
  bool strict = false;              ///< An unmodelled op is an error.
  std::optional<int64_t> samples;   ///< --samples: unset, the file's, else kDefaultSamples.
  std::optional<int64_t> epochs;    ///< --epochs: unset, the file's, else 1.
  /// --precision (fp32, bf16 or fp16): unset, the file's, else fp32; the profile must predict it.
  std::optional<std::string> precision;
  CarbonRequest carbon;           ///< --region and --carbon-intensity.
  std::string carbon_table_path;  ///< The table --region looks codes up in.
};

struct Analysis {
  Graph graph;
  ModelCost cost;
  std::optional<Profile> profile;
  bool default_profile = false;     ///< The profile was picked because none was given.
  std::optional<StepPrediction> step;
  std::optional<RunPrediction> run;
  ResolvedTraining training;  ///< The settings used, each with where it came from.
  CarbonIntensity carbon;     ///< The intensity used, and where it came from.

  /// The report input pointing into this analysis (valid while it lives and is not moved).
  ReportInput ReportView() const;
};

/// The training settings of `graph` (loaded with `request`): each from its flag, else the
/// file's "training" object, else the default.
ResolvedTraining ResolveTraining(const AnalysisRequest& request, const Graph& graph);

/// Runs the request. Errors are one line naming the file and what is wrong.
Result<Analysis> RunAnalysis(const AnalysisRequest& request);

}  // namespace joulecast
