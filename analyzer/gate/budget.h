// What a gate limits: an energy or emissions budget written with its unit ("250kJ", "0.4kWh",
// "150gCO2e"), a relative increase ("5%"), and the level a limit applies to (one training step,
// one epoch, the whole run).
//
// Parsers accept exactly the documented forms and return one line naming the flag's value and
// what is wrong; they never throw.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "analyzer/core/status.h"

namespace joulecast::gate {

/// What a budget measures.
enum class Quantity {
  energy,     ///< Joules of predicted training energy.
  emissions,  ///< Grams of CO2e: the energy at the run's carbon intensity.
};

/// The unit a budget was written in.
enum class BudgetUnit { J, kJ, MJ, Wh, kWh, MWh, GWh, gCO2e, kgCO2e, tCO2e };

struct Budget {
  double amount = 0;                ///< As written: 250 for "250kJ".
  BudgetUnit unit = BudgetUnit::J;  ///< As written.
  Quantity quantity = Quantity::energy;
  double limit = 0;  ///< In base units: joules (energy) or grams CO2e.
  std::string text;  ///< The argument as given, for messages.
};

/// Parses "<number><unit>" with no space: a finite number > 0 ("250", "0.5", "1e3") followed by
/// one of J, kJ, MJ, Wh, kWh, MWh, GWh, gCO2e, kgCO2e, tCO2e (case matters: MJ is megajoules;
/// tCO2e is metric tonnes).
Result<Budget> ParseBudget(const std::string& text);

/// Parses a percentage, "5%" or "5", in [0, 1e6]; returns the fraction (0.05).
Result<double> ParsePercent(const std::string& text);

/// The unit's name as written in flags ("kWh").
std::string_view BudgetUnitName(BudgetUnit unit);

/// Where a limit applies.
enum class Level { step, epoch, run };

/// "step", "epoch" or "run".
std::string_view LevelName(Level level);
/// "per-step", "per-epoch" or "whole-run".
std::string LevelPhrase(Level level);
/// Parses "step", "epoch" or "run".
std::optional<Level> ParseLevel(std::string_view name);

}  // namespace joulecast::gate
