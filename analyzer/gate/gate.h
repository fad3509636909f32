// A CI budget gate: checks the predicted training energy of one analysis against an absolute
// budget and/or an earlier report (the baseline), and renders the verdict for people (text),
// pull requests (markdown), CI test reporters (JUnit XML) and scripts (JSON, schema
// "joulecast.gate/1", docs/gate.md).
//
// A check passes when the compared value is at most its limit. Evaluation and rendering never
// fail; input errors (a bad budget, an unreadable baseline) are caught earlier by budget.h and
// baseline.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analyzer/energy/predict.h"
#include "analyzer/gate/baseline.h"
#include "analyzer/gate/budget.h"

namespace joulecast {
struct Analysis;
}

namespace joulecast::gate {

/// What the prediction rests on, copied from the profile so that every number can be traced.
struct ProfileInfo {
  std::string source;
  bool is_default = false;  ///< Picked because no --profile was given.
  std::string created;
  std::string device;
  std::map<std::string, std::string> hardware;
  std::string meter_kind;
  bool meter_real = false;  ///< False: the energies are estimated, not measured.
  std::string meter_description;
};

/// The prediction under test.
struct Subject {
  std::string model_name;
  std::string model_source;
  ProfileInfo profile;
  RunPrediction run;
  /// Where the carbon intensity came from (CarbonIntensity::Describe); "" when not known.
  std::string carbon;
  /// The training settings and where each came from, as the analysis report words them.
  std::string training;
  /// Reasons the prediction may be low: kinds without a model, unmodelled nodes (one line each).
  std::vector<std::string> caveats;
};

/// The subject of an analysis. REQUIRES: the analysis has a prediction (profile and run set).
Subject SubjectOf(const Analysis& analysis);

struct GateOptions {
  std::optional<Budget> budget = std::nullopt;      ///< An absolute limit.
  std::optional<Baseline> baseline = std::nullopt;  ///< A relative limit, with `max_increase`.
  double max_increase = 0;    ///< Allowed increase over the baseline, a fraction (0.05).
  Level level = Level::run;   ///< Which prediction the limits apply to.
  bool conservative = false;  ///< Compare the interval's upper bound, not the central value.
};

enum class CheckKind { budget, baseline };

struct Check {
  CheckKind kind = CheckKind::budget;
  Level level = Level::run;
  Quantity quantity = Quantity::energy;     ///< Baseline checks always compare energy.
  BudgetUnit display_unit = BudgetUnit::J;  ///< The unit family numbers are shown in.
  double limit = 0;                         ///< Joules or grams CO2e.
  double value = 0;      ///< The predicted value compared (upper bound when conservative).
  double reference = 0;  ///< Baseline checks: the baseline's central value; budget: the limit.
  double margin = 0;     ///< (limit - value) / limit: headroom (> 0) or overage (< 0).
  bool pass = false;
  std::string message;  ///< One line: "whole-run energy 1.09 kJ exceeds budget 1 kJ by 9.0%".
};

struct GateResult {
  Subject subject;
  GateOptions options;
  std::vector<Check> checks;          ///< Budget first, then baseline.
  std::vector<std::string> warnings;  ///< Caveats and baseline mismatches, one line each.
  bool pass = false;                  ///< Every check passed.
};

/// Runs the checks `options` asks for. REQUIRES: a budget or a baseline is set.
GateResult EvaluateGate(Subject subject, GateOptions options);

enum class GateFormat { text, markdown, junit, json };

/// The report in `format`.
std::string RenderGate(const GateResult& result, GateFormat format);

/// One line for standard error: "OK: <checks>" or "FAIL: <failed checks>", plus a count of
/// warnings when there are any. No trailing newline.
std::string SummaryLine(const GateResult& result);

/// `text` escaped for XML 1.0 character data and attribute values: the five markup characters
/// as entities, control characters XML cannot carry and invalid UTF-8 as U+FFFD.
std::string XmlEscape(std::string_view text);

/// A value in `unit`'s family with an SI prefix and 3 significant digits: "1.09 kJ", "179 mWh",
/// "85.9 mgCO2e". `base` is joules, or grams CO2e for the CO2e units.
std::string FormatAmount(double base, BudgetUnit unit);

}  // namespace joulecast::gate
