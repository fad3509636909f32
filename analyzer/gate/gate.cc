#include "analyzer/gate/gate.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "analyzer/analysis.h"
#include "analyzer/gate/gate_internal.h"
#include "analyzer/report/format.h"

namespace joulecast::gate {

namespace {

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * fraction);
  return buf;
}

std::string What(Level level, Quantity quantity, bool conservative) {
  return LevelPhrase(level) + (quantity == Quantity::energy ? " energy" : " emissions") +
         (conservative ? " (upper bound)" : "");
}

double Value(const Subject& s, Level level, Quantity quantity, bool conservative) {
  const Bounded& b = At(s.run, level);
  const double joules = conservative ? b.high.energy_j : b.mid.energy_j;
  return quantity == Quantity::energy ? joules : GramsCo2e(joules, s.run.run.carbon_g_per_kwh);
}

double Margin(double limit, double value) {
  if (limit > 0) return (limit - value) / limit;
  return value > 0 ? -1 : 0;
}

Check BudgetCheck(const Subject& s, const GateOptions& o) {
  const Budget& budget = *o.budget;
  Check c;
  c.kind = CheckKind::budget;
  c.level = o.level;
  c.quantity = budget.quantity;
  c.display_unit = budget.unit;
  c.limit = c.reference = budget.limit;
  c.value = Value(s, o.level, budget.quantity, o.conservative);
  c.margin = Margin(c.limit, c.value);
  c.pass = c.value <= c.limit;
  const std::string what =
      What(o.level, budget.quantity, o.conservative) + " " + FormatAmount(c.value, c.display_unit);
  const std::string limit = FormatAmount(c.limit, c.display_unit);
  c.message = c.pass ? what + " is within budget " + limit + " (" + Percent(c.margin) + " left)"
                     : what + " exceeds budget " + limit + " by " + Percent(-c.margin);
  return c;
}

Check BaselineCheck(const Subject& s, const GateOptions& o) {
  const Baseline& baseline = *o.baseline;
  Check c;
  c.kind = CheckKind::baseline;
  c.level = o.level;
  c.quantity = Quantity::energy;
  c.display_unit = BudgetUnit::J;
  c.reference = baseline.At(o.level).energy_j;
  c.limit = c.reference * (1 + o.max_increase);
  c.value = Value(s, o.level, Quantity::energy, o.conservative);
  c.margin = Margin(c.limit, c.value);
  c.pass = c.value <= c.limit;
  const double change = c.reference > 0 ? c.value / c.reference - 1 : 0;
  const std::string what = What(o.level, Quantity::energy, o.conservative) + " " +
                           FormatAmount(c.value, c.display_unit) + " is " +
                           Percent(std::fabs(change)) + (change < 0 ? " below" : " above") +
                           " baseline " + FormatAmount(c.reference, c.display_unit);
  c.message = c.pass ? what + " (allowed " + AllowedPercent(o.max_increase) + ")"
                     : what + ", more than the allowed " + AllowedPercent(o.max_increase);
  return c;
}

std::string RunSettings(int64_t batch, int64_t samples, int64_t epochs) {
  return "batch " + std::to_string(batch) + ", " + std::to_string(samples) + " samples, " +
         std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs");
}

void BaselineWarnings(const Subject& s, const GateOptions& o, std::vector<std::string>& out) {
  const Baseline& b = *o.baseline;
  const TrainingRun& r = s.run.run;
  if (b.batch != r.batch || b.samples != r.samples || b.epochs != r.epochs) {
    out.push_back("the baseline " + b.source + " was predicted for " +
                  RunSettings(b.batch, b.samples, b.epochs) + ", this run for " +
                  RunSettings(r.batch, r.samples, r.epochs) + "; comparing " +
                  What(o.level, Quantity::energy, false) + " anyway");
  }
  if (b.profile_created != s.profile.created || b.profile_device != s.profile.device) {
    out.push_back("the baseline " + b.source + " was predicted with another profile (" +
                  b.profile_device + ", created " + b.profile_created +
                  "; this one: " + s.profile.device + ", created " + s.profile.created +
                  "): the change mixes the model's and the profile's");
  }
}

}  // namespace

std::string AllowedPercent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%g%%", 100 * fraction);
  return buf;
}

const Bounded& At(const RunPrediction& run, Level level) {
  switch (level) {
    case Level::step:
      return run.per_step;
    case Level::epoch:
      return run.per_epoch;
    case Level::run:
      return run.total;
  }
  return run.total;
}

std::string FormatAmount(double base, BudgetUnit unit) {
  switch (unit) {
    case BudgetUnit::J: case BudgetUnit::kJ: case BudgetUnit::MJ:
      return report::Quantity(base, "J");
    case BudgetUnit::Wh: case BudgetUnit::kWh: case BudgetUnit::MWh: case BudgetUnit::GWh:
      return report::Quantity(base / 3600, "Wh");
    case BudgetUnit::gCO2e: case BudgetUnit::kgCO2e: case BudgetUnit::tCO2e:
      return report::Emissions(base);
  }
  return report::Quantity(base, "J");
}

Subject SubjectOf(const Analysis& a) {
  Subject s;
  s.model_name = a.graph.name;
  s.model_source = a.graph.source;
  const Profile& p = *a.profile;
  s.profile = {p.source,   a.default_profile, p.created,    p.device,
               p.hardware, p.meter_kind,      p.meter_real, p.meter_description};
  s.run = *a.run;
  s.carbon = a.carbon.Describe();
  const ResolvedTraining& t = a.training;
  auto from = [](SettingSource src) { return std::string(" (") + SettingSourceName(src) + ")"; };
  s.training = "batch " + std::to_string(t.batch.value) + from(t.batch.source) + ", epochs " +
               std::to_string(t.epochs.value) + from(t.epochs.source) + ", samples " +
               std::to_string(t.samples.value) + from(t.samples.source) + ", " + t.precision.value +
               from(t.precision.source);
  if (!a.step->missing_kinds.empty()) {
    std::string kinds;
    for (Kind k : a.step->missing_kinds)
      kinds += (kinds.empty() ? "" : ", ") + std::string(KindName(k));
    s.caveats.push_back("the profile has no model for " + kinds +
                        ": those layers are predicted as zero");
  }
  if (!a.cost.unmodelled.empty()) {
    const size_t n = a.cost.unmodelled.size();
    s.caveats.push_back(
        std::to_string(n) +
        (n == 1 ? " node is not modelled and counts" : " nodes are not modelled and count") +
        " as zero (joulecast analyze lists them; --strict makes them errors)");
  }
  return s;
}

GateResult EvaluateGate(Subject subject, GateOptions options) {
  GateResult r;
  if (options.budget) r.checks.push_back(BudgetCheck(subject, options));
  if (options.baseline) r.checks.push_back(BaselineCheck(subject, options));
  r.warnings = subject.caveats;
  if (options.baseline) BaselineWarnings(subject, options, r.warnings);
  r.pass = !r.checks.empty();
  for (const Check& c : r.checks) r.pass = r.pass && c.pass;
  r.subject = std::move(subject);
  r.options = std::move(options);
  return r;
}

std::string SummaryLine(const GateResult& r) {
  std::string out = r.pass ? "OK: " : "FAIL: ";
  bool first = true;
  for (const Check& c : r.checks) {
    if (!r.pass && c.pass) continue;
    out += (first ? "" : "; ") + c.message;
    first = false;
  }
  if (!r.warnings.empty()) {
    out += " (" + std::to_string(r.warnings.size()) +
           (r.warnings.size() == 1 ? " warning" : " warnings") + " in the report)";
  }
  return out;
}

}  // namespace joulecast::gate
