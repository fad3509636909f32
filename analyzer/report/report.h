// Renders an analysis (the IR graph and its costs) for people and for scripts.
//
// Text is a readable table; markdown suits a pull-request comment; JSON follows the stable
// schema "joulecast.analysis/1" documented in docs/analysis-json.md; HTML is one self-contained
// page with inline SVG charts and nothing fetched from anywhere (docs/html-report.md).
// Rendering never fails.
#pragma once

#include <string>

#include "analyzer/carbon/carbon.h"
#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/training_settings.h"
#include "analyzer/energy/predict.h"
#include "analyzer/energy/profile.h"

namespace joulecast {

enum class ReportFormat { text, markdown, json, html };

/// What a report shows. The pointers are borrowed for the call.
struct ReportInput {
  const Graph* graph = nullptr;          ///< REQUIRED.
  const ModelCost* cost = nullptr;       ///< REQUIRED: computed from *graph.
  const Profile* profile = nullptr;      ///< With `prediction`: the profile it rests on.
  const StepPrediction* prediction = nullptr;  ///< Optional energy and time per step.
  bool default_profile = false;          ///< The profile was picked because none was given.
  /// With `prediction`: per epoch and whole run; null: one epoch of the default samples.
  const RunPrediction* run = nullptr;
  /// Optional: the training settings used and where each came from.
  const ResolvedTraining* training = nullptr;
  /// Optional: the carbon intensity used and where it came from; null: the run's number only.
  const CarbonIntensity* carbon = nullptr;
};

/// Renders the analysis in `format`.
std::string RenderReport(const ReportInput& input, ReportFormat format);

}  // namespace joulecast
