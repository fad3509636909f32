#include "analyzer/gate/budget.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

namespace joulecast::gate {

namespace {

struct UnitInfo {
  BudgetUnit unit;
  std::string_view name;
  Quantity quantity;
  double base;  // joules or grams CO2e per unit
};

constexpr std::array<UnitInfo, 10> kUnits = {{
    {BudgetUnit::J, "J", Quantity::energy, 1},
    {BudgetUnit::kJ, "kJ", Quantity::energy, 1e3},
    {BudgetUnit::MJ, "MJ", Quantity::energy, 1e6},
    {BudgetUnit::Wh, "Wh", Quantity::energy, 3600},
    {BudgetUnit::kWh, "kWh", Quantity::energy, 3.6e6},
    {BudgetUnit::MWh, "MWh", Quantity::energy, 3.6e9},
    {BudgetUnit::GWh, "GWh", Quantity::energy, 3.6e12},
    {BudgetUnit::gCO2e, "gCO2e", Quantity::emissions, 1},
    {BudgetUnit::kgCO2e, "kgCO2e", Quantity::emissions, 1e3},
    {BudgetUnit::tCO2e, "tCO2e", Quantity::emissions, 1e6},
}};

constexpr const char* kUnitList = "J, kJ, MJ, Wh, kWh, MWh, GWh, gCO2e, kgCO2e or tCO2e";

struct LevelInfo {
  Level level;
  std::string_view name;    // In flags and JSON.
  std::string_view phrase;  // In sentences.
};

constexpr std::array<LevelInfo, 3> kLevels = {{
    {Level::step, "step", "per-step"},
    {Level::epoch, "epoch", "per-epoch"},
    {Level::run, "run", "whole-run"},
}};

// The row of `level`; the whole run's for a value outside the enum.
const LevelInfo& LevelWords(Level level) {
  for (const LevelInfo& l : kLevels) {
    if (l.level == level) return l;
  }
  return kLevels.back();
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The number at the start of `s` (from_chars: no sign, no spaces, no hex), and where it ends.
std::optional<double> LeadingNumber(std::string_view s, size_t* end) {
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::invalid_argument) return std::nullopt;
  *end = static_cast<size_t>(ptr - s.data());
  // Out of range: too large or too small to mean anything; callers reject the non-finite.
  return ec == std::errc::result_out_of_range ? HUGE_VAL : v;
}

}  // namespace

std::string_view BudgetUnitName(BudgetUnit unit) {
  for (const UnitInfo& u : kUnits) {
    if (u.unit == unit) return u.name;
  }
  return "?";
}

Result<Budget> ParseBudget(const std::string& text) {
  const std::string quoted = "'" + text + "'";
  for (char ch : text) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      return Status::Error(quoted + ": write the amount and unit without a space, like 0.5kWh");
    }
  }
  size_t end = 0;
  std::optional<double> amount = LeadingNumber(text, &end);
  if (!amount) {
    return Status::Error(quoted + ": must start with a positive number, like 250kJ or 0.5kWh");
  }
  if (!std::isfinite(*amount) || *amount <= 0) {
    return Status::Error(quoted + ": the amount must be a finite number > 0");
  }
  const std::string_view unit = std::string_view(text).substr(end);
  if (unit.empty()) {
    return Status::Error(quoted + ": needs a unit right after the number, no space: " + kUnitList +
                         " (like 250kJ)");
  }
  for (const UnitInfo& u : kUnits) {
    if (u.name != unit) continue;
    Budget b;
    b.amount = *amount;
    b.unit = u.unit;
    b.quantity = u.quantity;
    b.limit = *amount * u.base;
    b.text = text;
    if (!std::isfinite(b.limit)) return Status::Error(quoted + ": the amount is too large");
    return b;
  }
  std::string hint;
  if (EqualsIgnoringCase(unit, "mj")) {
    hint = " (MJ is megajoules; for small per-step budgets write joules, like 0.5J)";
  } else {
    for (const UnitInfo& u : kUnits) {
      if (EqualsIgnoringCase(u.name, unit)) hint = " (did you mean " + std::string(u.name) + "?)";
    }
  }
  return Status::Error(quoted + ": unknown unit '" + std::string(unit) + "': use " + kUnitList +
                       hint);
}

Result<double> ParsePercent(const std::string& text) {
  const std::string quoted = "'" + text + "'";
  std::string_view s = text;
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  size_t end = 0;
  std::optional<double> v = s.empty() ? std::nullopt : LeadingNumber(s, &end);
  if (!v || end != s.size() || !std::isfinite(*v) || *v > 1e6) {
    return Status::Error(quoted + ": must be a percentage >= 0, like 5% or 5");
  }
  return *v / 100;
}

std::string_view LevelName(Level level) { return LevelWords(level).name; }

std::string LevelPhrase(Level level) { return std::string(LevelWords(level).phrase); }

std::optional<Level> ParseLevel(std::string_view name) {
  for (const LevelInfo& l : kLevels) {
    if (l.name == name) return l.level;
  }
  return std::nullopt;
}

}  // namespace joulecast::gate
