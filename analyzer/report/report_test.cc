#include "analyzer/report/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analyzer/report/report_test_util.h"

namespace joulecast {
namespace {

using testing::CostedGraph;
using testing::SmallModel;

// SmallModel with an unmodelled node of type "Custom".
CostedGraph Small() { return SmallModel("small", "Custom"); }

TEST(Report, JsonHasTheDocumentedFields) {
  CostedGraph a = Small();
  auto j = nlohmann::json::parse(RenderReport({&a.g, &a.c}, ReportFormat::json));
  EXPECT_EQ(j["schema"], "joulecast.analysis/1");
  EXPECT_EQ(j["model"]["params"], 4 * 27 + 5 * 4 + 5);
  EXPECT_EQ(j["model"]["macs"], 4 * 64 * 27 + 20);  // per sample
  EXPECT_EQ(j["per_batch"]["macs_fwd"], 2 * (4 * 64 * 27 + 20));
  EXPECT_EQ(j["model"]["batch"], 2);
  ASSERT_EQ(j["layers"].size(), 6u);
  EXPECT_EQ(j["layers"][0]["name"], "Conv_0");
  EXPECT_EQ(j["layers"][0]["op"], "Conv");
  EXPECT_EQ(j["layers"][0]["kind"], "conv");
  EXPECT_EQ(j["layers"][0]["output_shape"], nlohmann::json({2, 4, 8, 8}));
  EXPECT_EQ(j["layers"][5]["output_shape"], nullptr);
  EXPECT_EQ(j["by_kind"]["conv"]["macs"], 4 * 64 * 27);
  EXPECT_EQ(j["by_kind"]["linear"]["params"], 25);
  EXPECT_TRUE(j["by_kind"].contains("dropout"));  // every kind is always present
  ASSERT_EQ(j["unmodelled"].size(), 1u);
  EXPECT_EQ(j["unmodelled"][0]["op"], "Custom");
}

TEST(Report, TextShowsLayersKindsAndUnmodelledNodes) {
  CostedGraph a = Small();
  std::string t = RenderReport({&a.g, &a.c}, ReportFormat::text);
  EXPECT_NE(t.find("N\xC3\x97" "4\xC3\x97" "8\xC3\x97" "8"), std::string::npos) << t;
  EXPECT_NE(t.find("per kind"), std::string::npos);
  EXPECT_NE(t.find("1 zero-cost shape node not shown"), std::string::npos) << t;
  EXPECT_NE(t.find("Unknown_5 (Custom): op not modelled"), std::string::npos) << t;
  EXPECT_NE(t.find("parameters 133"), std::string::npos) << t;
}

TEST(Report, MarkdownTablesHaveHeaderRules) {
  CostedGraph a = Small();
  std::string m = RenderReport({&a.g, &a.c}, ReportFormat::markdown);
  EXPECT_NE(m.find("| layer "), std::string::npos);
  EXPECT_NE(m.find("| ---"), std::string::npos) << m;
  EXPECT_NE(m.find("**Unmodelled nodes**"), std::string::npos);
}

Profile EstimateProfile() {
  Profile p;
  p.source = "dev.json";
  p.meter_kind = "estimate";
  p.meter_description = "CPU time x 10 W per busy thread";
  p.hardware["cpu_model"] = "AMD EPYC";
  p.models["conv.input"] = {{"macs_fwd"}, {1e-6}, {1e-8}, 0.1, 10};
  p.models["linear"] = {{"macs_fwd"}, {1e-6}, {1e-8}, 0.1, 10};
  p.step = {{"one"}, {0.5}, {0.01}, 0.0, 10};
  return p;
}

TEST(Report, PredictionSaysWhatItRestsOnAndThatTheMeterIsAnEstimate) {
  CostedGraph a = Small();
  Profile p = EstimateProfile();
  StepPrediction s = PredictStep(a.c, p);
  RunPrediction r = PredictRun(s, {.samples = 1000, .epochs = 3, .batch = 2,
                                   .carbon_g_per_kwh = 100});
  ReportInput in{&a.g, &a.c, &p, &s, true, &r};
  std::string t = RenderReport(in, ReportFormat::text);
  EXPECT_NE(t.find("3 epochs of 1,000 samples at batch 2: 500 steps per epoch, 1,500 in all"),
            std::string::npos) << t;
  EXPECT_NE(t.find("emissions at 100 gCO2e/kWh"), std::string::npos) << t;
  EXPECT_NE(t.find("profile dev.json (the default: no --profile given)"), std::string::npos) << t;
  EXPECT_NE(t.find("estimated, not measured"), std::string::npos) << t;
  EXPECT_NE(t.find("no model in the profile for: relu pool other"), std::string::npos) << t;
  auto j = nlohmann::json::parse(RenderReport(in, ReportFormat::json));
  double conv_j = 2 * (4 * 64 * 27) * 1e-6;
  EXPECT_DOUBLE_EQ(j["prediction"]["by_kind"]["conv"]["energy_j"].get<double>(), conv_j);
  const double step_j = conv_j + 40e-6 + 0.5;
  EXPECT_DOUBLE_EQ(j["prediction"]["per_step"]["energy_j"].get<double>(), step_j);
  EXPECT_DOUBLE_EQ(j["prediction"]["per_epoch"]["energy_j"].get<double>(), 500 * step_j);
  EXPECT_DOUBLE_EQ(j["prediction"]["total"]["energy_j"].get<double>(), 1500 * step_j);
  EXPECT_DOUBLE_EQ(j["prediction"]["total"]["kwh"].get<double>(), 1500 * step_j / 3.6e6);
  EXPECT_DOUBLE_EQ(j["prediction"]["total"]["gco2e"].get<double>(), 1500 * step_j / 3.6e6 * 100);
  EXPECT_LT(j["prediction"]["total"]["energy_j_low"].get<double>(), 1500 * step_j);
  EXPECT_GT(j["prediction"]["total"]["energy_j_high"].get<double>(), 1500 * step_j);
  EXPECT_EQ(j["prediction"]["run"]["steps"].get<int>(), 1500);
  EXPECT_DOUBLE_EQ(j["prediction"]["by_kind"]["conv"]["share"].get<double>(), conv_j / step_j);
  EXPECT_FALSE(j["prediction"]["profile"]["meter"]["real"].get<bool>());
  EXPECT_TRUE(j["prediction"]["profile"]["default"].get<bool>());
  EXPECT_DOUBLE_EQ(j["layers"][0]["prediction"]["energy_j"].get<double>(), conv_j);
}

}  // namespace
}  // namespace joulecast
