#include "analyzer/gate/budget.h"

#include <gtest/gtest.h>

namespace joulecast::gate {
namespace {

TEST(GateBudget, EveryUnitInBaseUnits) {
  struct Case {
    const char* text;
    BudgetUnit unit;
    Quantity quantity;
    double limit;
  };
  for (const Case& c : {Case{"250J", BudgetUnit::J, Quantity::energy, 250},
                        Case{"250kJ", BudgetUnit::kJ, Quantity::energy, 250e3},
                        Case{"1.5MJ", BudgetUnit::MJ, Quantity::energy, 1.5e6},
                        Case{"2Wh", BudgetUnit::Wh, Quantity::energy, 7200},
                        Case{"0.5kWh", BudgetUnit::kWh, Quantity::energy, 1.8e6},
                        Case{"150gCO2e", BudgetUnit::gCO2e, Quantity::emissions, 150},
                        Case{"0.2kgCO2e", BudgetUnit::kgCO2e, Quantity::emissions, 200},
                        Case{"1.2MWh", BudgetUnit::MWh, Quantity::energy, 1.2 * 3.6e9},
                        Case{"2GWh", BudgetUnit::GWh, Quantity::energy, 7.2e12},
                        Case{"3tCO2e", BudgetUnit::tCO2e, Quantity::emissions, 3e6},
                        Case{"1e3J", BudgetUnit::J, Quantity::energy, 1000},
                        Case{".5kJ", BudgetUnit::kJ, Quantity::energy, 500}}) {
    Result<Budget> b = ParseBudget(c.text);
    ASSERT_TRUE(b.ok()) << c.text << ": " << b.status().message();
    EXPECT_EQ(b->unit, c.unit) << c.text;
    EXPECT_EQ(b->quantity, c.quantity) << c.text;
    EXPECT_DOUBLE_EQ(b->limit, c.limit) << c.text;
    EXPECT_EQ(b->text, c.text);
    EXPECT_EQ(
        std::string(c.text).substr(std::string(c.text).size() - BudgetUnitName(c.unit).size()),
        BudgetUnitName(c.unit));
  }
  EXPECT_DOUBLE_EQ(ParseBudget("250kJ")->amount, 250);
}

TEST(GateBudget, BadFormsSayWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"0.5 kWh", "without a space"},
                        Case{" 5kJ", "without a space"},
                        Case{"kJ", "must start with a positive number"},
                        Case{"", "must start with a positive number"},
                        Case{"-5kJ", "must start with a positive number"},
                        Case{"+5kJ", "must start with a positive number"},
                        Case{"0kJ", "finite number > 0"},
                        Case{"infJ", "finite number > 0"},
                        Case{"nanJ", "finite number > 0"},
                        Case{"1e999J", "finite number > 0"},
                        Case{"250", "needs a unit"},
                        Case{"250kj", "did you mean kJ?"},
                        Case{"0.5kwh", "did you mean kWh?"},
                        Case{"5gco2e", "did you mean gCO2e?"},
                        Case{"5mJ", "MJ is megajoules"},
                        Case{"5mj", "MJ is megajoules"},
                        Case{"5kcal", "unknown unit 'kcal'"},
                        Case{"5kJs", "unknown unit 'kJs'"},
                        Case{"1x10J", "unknown unit 'x10J'"},
                        Case{"5%", "unknown unit '%'"}}) {
    Result<Budget> b = ParseBudget(c.text);
    ASSERT_FALSE(b.ok()) << c.text;
    EXPECT_NE(b.status().message().find(c.says), std::string::npos)
        << c.text << ": " << b.status().message();
    EXPECT_EQ(b.status().message().rfind("'" + std::string(c.text) + "'", 0), 0u)
        << b.status().message();
    EXPECT_EQ(b.status().message().find('\n'), std::string::npos);
  }
}

TEST(GateBudget, OverflowingAmountIsAnError) { EXPECT_FALSE(ParseBudget("1e305MJ").ok()); }

TEST(GatePercent, WithOrWithoutTheSign) {
  EXPECT_DOUBLE_EQ(*ParsePercent("5%"), 0.05);
  EXPECT_DOUBLE_EQ(*ParsePercent("5"), 0.05);
  EXPECT_DOUBLE_EQ(*ParsePercent("0"), 0);
  EXPECT_DOUBLE_EQ(*ParsePercent("12.5%"), 0.125);
  for (const char* bad : {"", "%", "-5%", "5%%", "5 %", "five", "inf", "nan%", "2e6%", "5%x"}) {
    EXPECT_FALSE(ParsePercent(bad).ok()) << bad;
  }
}

TEST(GateLevel, NamesRoundTrip) {
  for (Level l : {Level::step, Level::epoch, Level::run}) {
    EXPECT_EQ(ParseLevel(LevelName(l)), l);
  }
  EXPECT_FALSE(ParseLevel("total").has_value());
  EXPECT_FALSE(ParseLevel("Step").has_value());
}

}  // namespace
}  // namespace joulecast::gate
