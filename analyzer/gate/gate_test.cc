#include "analyzer/gate/gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <nlohmann/json.hpp>

#include "common/testing/test_util.h"

namespace joulecast::gate {
namespace {

using joulecast::testing::Count;

// Whether `text` holds `what`; a failure shows both.
::testing::AssertionResult Contains(std::string_view text, std::string_view what) {
  if (text.find(what) == std::string_view::npos) {
    return ::testing::AssertionFailure() << "\"" << what << "\" is not in:\n" << text;
  }
  return ::testing::AssertionSuccess() << "\"" << what << "\" is in:\n" << text;
}

// Whether `text` begins with `prefix`; a failure shows both.
::testing::AssertionResult StartsWith(std::string_view text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) != prefix) {
    return ::testing::AssertionFailure() << "\"" << prefix << "\" does not begin:\n" << text;
  }
  return ::testing::AssertionSuccess();
}

// 54.5 J per step (43.6 J to 65.4 J), 10 steps per epoch, 2 epochs: 1.09 kJ in the whole run.
Subject MakeSubject(double step_j = 54.5, double carbon_g_per_kwh = 480) {
  Subject s;
  s.model_name = "net";
  s.model_source = "models/net.json";
  s.profile.source = "p.json";
  s.profile.created = "2026-11-23T00:00:00Z";
  s.profile.device = "cpu";
  s.profile.hardware = {{"cpu_model", "Test CPU"}, {"threads", "1"}};
  s.profile.meter_kind = "estimate";
  s.profile.meter_description = "process CPU time x 10 W";
  StepPrediction step;
  step.total = {step_j, 0.1};
  step.low = {step_j * 0.8, 0.08};
  step.high = {step_j * 1.2, 0.12};
  s.run = PredictRun(
      step,
      TrainingRun{.samples = 100, .epochs = 2, .batch = 10, .carbon_g_per_kwh = carbon_g_per_kwh});
  return s;
}

Budget B(const char* text) {
  Result<Budget> b = ParseBudget(text);
  EXPECT_TRUE(b.ok()) << b.status().message();
  return *b;
}

// A baseline with `step_j` per step, predicted like MakeSubject().
Baseline MakeBaseline(double step_j, int64_t batch = 10) {
  Baseline b;
  b.source = "base.json";
  b.model_name = "old";
  b.batch = batch;
  b.samples = 100;
  b.epochs = 2;
  b.profile_created = "2026-11-23T00:00:00Z";
  b.profile_device = "cpu";
  auto level = [](double e) { return LevelEnergy{e, e * 0.8, e * 1.2}; };
  b.per_step = level(step_j);
  b.per_epoch = level(step_j * 10);
  b.total = level(step_j * 20);
  return b;
}

GateResult Gate(GateOptions o, Subject s = MakeSubject()) {
  return EvaluateGate(std::move(s), std::move(o));
}

TEST(Gate, BudgetOverAndWithin) {
  GateResult over = Gate({.budget = B("1kJ")});
  ASSERT_EQ(over.checks.size(), 1u);
  const Check& c = over.checks[0];
  EXPECT_FALSE(over.pass);
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.kind, CheckKind::budget);
  EXPECT_DOUBLE_EQ(c.limit, 1000);
  EXPECT_DOUBLE_EQ(c.value, 1090);
  EXPECT_NEAR(c.margin, -0.09, 1e-12);
  EXPECT_EQ(c.message, "whole-run energy 1.09 kJ exceeds budget 1 kJ by 9.0%");
  EXPECT_EQ(SummaryLine(over), "FAIL: whole-run energy 1.09 kJ exceeds budget 1 kJ by 9.0%");

  GateResult within = Gate({.budget = B("0.5kWh")});
  EXPECT_TRUE(within.pass);
  EXPECT_EQ(within.checks[0].message,
            "whole-run energy 303 mWh is within budget 500 Wh (99.9% left)");
  EXPECT_TRUE(StartsWith(SummaryLine(within), "OK: whole-run energy"));
}

TEST(Gate, ExactlyAtTheLimitPasses) {
  GateResult r = Gate({.budget = B("1090J")});
  EXPECT_TRUE(r.pass);
  EXPECT_DOUBLE_EQ(r.checks[0].margin, 0);
}

TEST(Gate, LevelsPickPerStepPerEpochOrWholeRun) {
  EXPECT_DOUBLE_EQ(Gate({.budget = B("1J"), .level = Level::step}).checks[0].value, 54.5);
  EXPECT_DOUBLE_EQ(Gate({.budget = B("1J"), .level = Level::epoch}).checks[0].value, 545);
  EXPECT_DOUBLE_EQ(Gate({.budget = B("1J"), .level = Level::run}).checks[0].value, 1090);
  EXPECT_TRUE(Gate({.budget = B("60J"), .level = Level::step}).pass);
  EXPECT_FALSE(Gate({.budget = B("60J"), .level = Level::epoch}).pass);
  EXPECT_EQ(Gate({.budget = B("60J"), .level = Level::step}).checks[0].message,
            "per-step energy 54.5 J is within budget 60 J (9.2% left)");
  EXPECT_EQ(Gate({.budget = B("500J"), .level = Level::epoch}).checks[0].message,
            "per-epoch energy 545 J exceeds budget 500 J by 9.0%");
}

TEST(Gate, EmissionsBudgetUsesTheCarbonIntensity) {
  // 1090 J = 3.03e-4 kWh: 0.145 g at 480 g/kWh, 0.0303 g at 100 g/kWh.
  GateResult dirty = Gate({.budget = B("0.1gCO2e")});
  EXPECT_FALSE(dirty.pass);
  EXPECT_EQ(dirty.checks[0].quantity, Quantity::emissions);
  EXPECT_NEAR(dirty.checks[0].value, 1090 / 3.6e6 * 480, 1e-12);
  EXPECT_EQ(dirty.checks[0].message,
            "whole-run emissions 145 mgCO2e exceeds budget 100 mgCO2e by 45.3%");
  EXPECT_TRUE(Gate({.budget = B("0.1gCO2e")}, MakeSubject(54.5, 100)).pass);
  EXPECT_TRUE(Gate({.budget = B("0.001kgCO2e")}).pass);
}

TEST(Gate, BaselineAllowsTheIncreaseAndNoMore) {
  // The baseline's whole run is 1000 J; this one 1090 J, 9% more.
  GateResult ten = Gate({.baseline = MakeBaseline(50), .max_increase = 0.10});
  ASSERT_EQ(ten.checks.size(), 1u);
  EXPECT_TRUE(ten.pass);
  EXPECT_EQ(ten.checks[0].kind, CheckKind::baseline);
  EXPECT_DOUBLE_EQ(ten.checks[0].reference, 1000);
  EXPECT_DOUBLE_EQ(ten.checks[0].limit, 1100);
  EXPECT_EQ(ten.checks[0].message,
            "whole-run energy 1.09 kJ is 9.0% above baseline 1 kJ (allowed +10%)");
  EXPECT_TRUE(ten.warnings.empty());

  GateResult five = Gate({.baseline = MakeBaseline(50), .max_increase = 0.05});
  EXPECT_FALSE(five.pass);
  EXPECT_EQ(five.checks[0].message,
            "whole-run energy 1.09 kJ is 9.0% above baseline 1 kJ, more than the allowed +5%");

  GateResult smaller = Gate({.baseline = MakeBaseline(60), .max_increase = 0});
  EXPECT_TRUE(smaller.pass);
  EXPECT_EQ(smaller.checks[0].message,
            "whole-run energy 1.09 kJ is 9.2% below baseline 1.2 kJ (allowed +0%)");
}

TEST(Gate, BaselineAtTheChosenLevel) {
  GateResult r = Gate({.baseline = MakeBaseline(50), .max_increase = 0.05, .level = Level::step});
  EXPECT_DOUBLE_EQ(r.checks[0].reference, 50);
  EXPECT_DOUBLE_EQ(r.checks[0].value, 54.5);
  EXPECT_EQ(r.checks[0].level, Level::step);
  EXPECT_FALSE(r.pass);
}

TEST(Gate, DifferentRunSettingsOrProfileAreWarnedButCompared) {
  GateResult r = Gate({.baseline = MakeBaseline(50, 32), .max_increase = 0.10});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "the baseline base.json was predicted for batch 32, 100 samples, 2 epochs, this run "
            "for batch 10, 100 samples, 2 epochs; comparing whole-run energy anyway");
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(SummaryLine(r),
            "OK: whole-run energy 1.09 kJ is 9.0% above baseline 1 kJ (allowed +10%) (1 warning "
            "in the report)");

  Baseline other = MakeBaseline(50);
  other.profile_created = "2025-01-01T00:00:00Z";
  r = Gate({.baseline = other, .max_increase = 0.10});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(Contains(r.warnings[0], "another profile"));
}

TEST(Gate, ConservativeComparesTheUpperBoundWithTheBaselinesCentralValue) {
  // Upper bound 1.2 x 1090 = 1308 J.
  EXPECT_TRUE(Gate({.budget = B("1.2kJ")}).pass);
  GateResult budget = Gate({.budget = B("1.2kJ"), .conservative = true});
  EXPECT_FALSE(budget.pass);
  EXPECT_DOUBLE_EQ(budget.checks[0].value, 1308);
  EXPECT_EQ(budget.checks[0].message,
            "whole-run energy (upper bound) 1.31 kJ exceeds budget 1.2 kJ by 9.0%");

  GateResult emissions = Gate({.budget = B("1gCO2e"), .conservative = true});
  EXPECT_NEAR(emissions.checks[0].value, 1308 / 3.6e6 * 480, 1e-12);

  // Against the baseline's upper bound (1200 J + 10%) it would pass; against its central 1000 J
  // + 10% it does not.
  GateResult baseline =
      Gate({.baseline = MakeBaseline(50), .max_increase = 0.10, .conservative = true});
  EXPECT_FALSE(baseline.pass);
  EXPECT_DOUBLE_EQ(baseline.checks[0].limit, 1100);
  EXPECT_DOUBLE_EQ(baseline.checks[0].value, 1308);
}

TEST(Gate, BothChecksMustPass) {
  GateResult r = Gate({.budget = B("2kJ"), .baseline = MakeBaseline(50), .max_increase = 0.05});
  ASSERT_EQ(r.checks.size(), 2u);
  EXPECT_TRUE(r.checks[0].pass);
  EXPECT_FALSE(r.checks[1].pass);
  EXPECT_FALSE(r.pass);
  // The summary names only what failed.
  EXPECT_EQ(
      SummaryLine(r),
      "FAIL: whole-run energy 1.09 kJ is 9.0% above baseline 1 kJ, more than the allowed +5%");
  r = Gate({.budget = B("2kJ"), .baseline = MakeBaseline(50), .max_increase = 0.10});
  EXPECT_TRUE(r.pass);
  EXPECT_TRUE(Contains(SummaryLine(r), "; "));
}

TEST(Gate, CaveatsBecomeWarnings) {
  Subject s = MakeSubject();
  s.caveats = {"3 nodes are not modelled"};
  GateResult r = Gate({.budget = B("2kJ")}, s);
  EXPECT_EQ(r.warnings, std::vector<std::string>{"3 nodes are not modelled"});
}

TEST(GateFormatAmount, SiPrefixesInTheUnitsFamily) {
  EXPECT_EQ(FormatAmount(1090, BudgetUnit::J), "1.09 kJ");
  EXPECT_EQ(FormatAmount(1090, BudgetUnit::MJ), "1.09 kJ");
  EXPECT_EQ(FormatAmount(0.0107, BudgetUnit::kJ), "10.7 mJ");
  EXPECT_EQ(FormatAmount(1.8e6, BudgetUnit::kWh), "500 Wh");
  EXPECT_EQ(FormatAmount(3.6e6, BudgetUnit::Wh), "1 kWh");
  EXPECT_EQ(FormatAmount(0.0859, BudgetUnit::kgCO2e), "85.9 mgCO2e");
  EXPECT_EQ(FormatAmount(0, BudgetUnit::J), "0 J");
  EXPECT_EQ(FormatAmount(1.2 * 3.6e9, BudgetUnit::MWh), "1.2 MWh");
  EXPECT_EQ(FormatAmount(7.2e12, BudgetUnit::kWh), "2 GWh");
  EXPECT_EQ(FormatAmount(850e3, BudgetUnit::tCO2e), "850 kgCO2e");
  EXPECT_EQ(FormatAmount(3.4e9, BudgetUnit::gCO2e), "3.4 ktCO2e");
}

TEST(GateXmlEscape, MarkupControlCharactersAndInvalidUtf8) {
  EXPECT_EQ(XmlEscape(R"(<a href="x">Tom & Jerry's</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;");
  EXPECT_EQ(XmlEscape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
  EXPECT_EQ(XmlEscape(std::string("a\x01"
                                  "b\x1b",
                                  4)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape(std::string("nul\0", 4)), "nul\xEF\xBF\xBD");
  // Valid UTF-8 passes through: µ, ✅, an emoji.
  EXPECT_EQ(XmlEscape("\xC2\xB5 \xE2\x9C\x85 \xF0\x9F\x98\x80"),
            "\xC2\xB5 \xE2\x9C\x85 \xF0\x9F\x98\x80");
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, U+FFFE.
  EXPECT_EQ(XmlEscape("\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xE2\x9C"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xEF\xBF\xBE"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(RenderGate, JunitHasOneCasePerCheckAndEscapesEveryString) {
  Subject s = MakeSubject();
  s.model_name = "net<&\"'>\x01";
  s.profile.meter_description = "a < b & c";
  Baseline base = MakeBaseline(50);
  base.source = "base<1>.json";
  GateResult r = Gate({.budget = B("2kJ"), .baseline = base, .max_increase = 0.05}, s);
  const std::string xml = RenderGate(r, GateFormat::junit);
  EXPECT_TRUE(StartsWith(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
  EXPECT_TRUE(Contains(xml, "<testsuite name=\"joulecast gate\" tests=\"2\" failures=\"1\""));
  EXPECT_EQ(Count(xml, "<testcase "), 2u);
  EXPECT_EQ(Count(xml, "</testcase>"), 2u);
  EXPECT_EQ(Count(xml, "<failure "), 1u);
  EXPECT_TRUE(Contains(xml,
                       "<failure message=\"whole-run energy 1.09 kJ is 9.0% above baseline 1 kJ, "
                       "more than the allowed +5%\""));
  EXPECT_TRUE(Contains(xml, "net&lt;&amp;&quot;&apos;&gt;\xEF\xBF\xBD"));
  EXPECT_TRUE(Contains(xml, "base&lt;1&gt;.json"));
  EXPECT_TRUE(Contains(xml, "estimated, not measured"));
  // Nothing unescaped slipped through: every '<' opens a tag or the declaration, every '&' an
  // entity.
  for (size_t at = xml.find('&'); at != std::string::npos; at = xml.find('&', at + 1)) {
    const std::string rest = xml.substr(at, 6);
    EXPECT_TRUE(rest.rfind("&amp;", 0) == 0 || rest.rfind("&lt;", 0) == 0 ||
                rest.rfind("&gt;", 0) == 0 || rest.rfind("&quot;", 0) == 0 ||
                rest.rfind("&apos;", 0) == 0 || rest.rfind("&#", 0) == 0)
        << rest;
  }
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
  EXPECT_FALSE(Contains(xml, "<1>"));
}

TEST(RenderGate, MarkdownTableForAPullRequest) {
  GateResult r = Gate({.budget = B("1kJ"), .baseline = MakeBaseline(50), .max_increase = 0.10});
  const std::string md = RenderGate(r, GateFormat::markdown);
  EXPECT_TRUE(StartsWith(md, "### joulecast gate: \xE2\x9D\x8C failed (1 of 2 checks)\n"));
  EXPECT_TRUE(Contains(md,
                       "| check | limit | predicted | margin | result |\n"
                       "| :--- | ---: | ---: | ---: | :---: |\n"
                       "| budget: whole-run energy within 1kJ | 1 kJ | 1.09 kJ | 9.0% over | "
                       "\xE2\x9D\x8C |\n"
                       "| baseline: whole-run energy at most +10% over baseline 1 kJ (base.json) | "
                       "1.1 kJ | 1.09 kJ | 0.9% left | \xE2\x9C\x85 |\n"));
  EXPECT_TRUE(Contains(md, "**These energies are estimated, not measured.**"));
  EXPECT_TRUE(Contains(md, "Test CPU"));

  Subject s = MakeSubject();
  s.model_name = "a|b";
  s.profile.meter_real = true;
  s.profile.meter_kind = "rapl";
  const std::string real = RenderGate(Gate({.budget = B("2kJ")}, s), GateFormat::markdown);
  EXPECT_TRUE(StartsWith(real, "### joulecast gate: \xE2\x9C\x85 passed (1 check)\n"));
  EXPECT_TRUE(Contains(real, "a\\|b"));
  EXPECT_FALSE(Contains(real, "estimated"));
}

TEST(RenderGate, JsonSchema) {
  Subject s = MakeSubject();
  s.model_name = "bad\xFFutf8";
  GateResult r = Gate({.budget = B("1kJ"),
                       .baseline = MakeBaseline(50),
                       .max_increase = 0.10,
                       .conservative = false},
                      s);
  nlohmann::json j = nlohmann::json::parse(RenderGate(r, GateFormat::json));
  EXPECT_EQ(j["schema"], "joulecast.gate/1");
  EXPECT_FALSE(j["pass"].get<bool>());
  ASSERT_EQ(j["checks"].size(), 2u);
  const auto& budget = j["checks"][0];
  EXPECT_EQ(budget["name"], "budget");
  EXPECT_EQ(budget["level"], "run");
  EXPECT_EQ(budget["unit"], "J");
  EXPECT_DOUBLE_EQ(budget["limit"].get<double>(), 1000);
  EXPECT_DOUBLE_EQ(budget["value"].get<double>(), 1090);
  EXPECT_NEAR(budget["margin"].get<double>(), -0.09, 1e-12);
  EXPECT_FALSE(budget["pass"].get<bool>());
  EXPECT_EQ(budget["budget"], "1kJ");
  const auto& base = j["checks"][1];
  EXPECT_EQ(base["name"], "baseline");
  EXPECT_TRUE(base["pass"].get<bool>());
  EXPECT_DOUBLE_EQ(base["baseline"]["value"].get<double>(), 1000);
  EXPECT_NEAR(base["increase"].get<double>(), 0.09, 1e-12);
  EXPECT_DOUBLE_EQ(base["max_increase"].get<double>(), 0.10);
  EXPECT_EQ(j["model"]["source"], "models/net.json");
  EXPECT_EQ(j["model"]["name"], "bad\xEF\xBF\xBDutf8");
  EXPECT_DOUBLE_EQ(j["prediction"]["per_step"]["energy_j"].get<double>(), 54.5);
  EXPECT_DOUBLE_EQ(j["prediction"]["per_epoch"]["energy_j_high"].get<double>(), 654);
  EXPECT_DOUBLE_EQ(j["prediction"]["total"]["energy_j_low"].get<double>(), 872);
  EXPECT_NEAR(j["prediction"]["total"]["gco2e"].get<double>(), 1090 / 3.6e6 * 480, 1e-12);
  EXPECT_EQ(j["prediction"]["run"]["steps"], 20);
  EXPECT_EQ(j["profile"]["meter"]["real"], false);
  EXPECT_EQ(j["profile"]["hardware"]["cpu_model"], "Test CPU");
}

TEST(RenderGate, TextNamesEveryCheckAndWarning) {
  Subject s = MakeSubject();
  s.caveats = {"the profile has no model for norm: those layers are predicted as zero"};
  const std::string text =
      RenderGate(Gate({.budget = B("1kJ"), .baseline = MakeBaseline(50), .max_increase = 0.1}, s),
                 GateFormat::text);
  EXPECT_TRUE(StartsWith(text, "joulecast gate: FAIL\n"));
  EXPECT_TRUE(
      Contains(text, "FAIL budget: whole-run energy 1.09 kJ exceeds budget 1 kJ by 9.0%\n"));
  EXPECT_TRUE(Contains(text, "pass baseline: "));
  EXPECT_TRUE(Contains(text, "warning: the profile has no model for norm"));
  EXPECT_TRUE(Contains(text, "energies from it are estimated, not measured"));
}

}  // namespace
}  // namespace joulecast::gate
