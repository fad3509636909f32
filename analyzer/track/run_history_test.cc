#include "analyzer/track/run_history.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testing/test_util.h"

namespace joulecast::track {
namespace {

TrackedRun MakeRun(double energy_j, RunStatus status, std::optional<double> predicted_j,
                   const std::string& profile = "p.json") {
  TrackedRun r;
  r.started_utc = "2026-12-04T10:00:00Z";
  r.command = {"python3", "train.py", "--lr", "it's"};
  r.exit_code = status == RunStatus::ok ? 0 : status == RunStatus::failed ? 3 : 130;
  r.status = status;
  r.meter = "estimate";
  r.energy_j = energy_j;
  r.duration_s = 2;
  if (predicted_j) {
    TrackPrediction p;
    p.model = "m.json";
    p.profile = profile;
    p.energy_j = *predicted_j;
    p.low_j = *predicted_j * 0.8;
    p.high_j = *predicted_j * 1.2;
    r.prediction = p;
  }
  return r;
}

TEST(RunHistory, RowsRoundTripAndProfileErrorCountsCompletedRunsOnly) {
  testing::TempDir dir;
  const std::string path = (dir / "sub/history.db").string();
  ASSERT_TRUE(AppendRun(path, MakeRun(110, RunStatus::ok, 100)).ok());
  ASSERT_TRUE(AppendRun(path, MakeRun(70, RunStatus::ok, 100)).ok());
  ASSERT_TRUE(AppendRun(path, MakeRun(5, RunStatus::interrupted, 100)).ok());
  ASSERT_TRUE(AppendRun(path, MakeRun(50, RunStatus::failed, std::nullopt)).ok());
  ASSERT_TRUE(AppendRun(path, MakeRun(200, RunStatus::ok, 100, "q.json")).ok());
  Result<std::vector<HistoryRow>> rows = ReadHistory(path);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 5u);
  EXPECT_EQ((*rows)[0].command, "python3 train.py --lr 'it'\\''s'");
  EXPECT_EQ((*rows)[2].status, "interrupted");
  EXPECT_EQ((*rows)[2].exit_code, 130);
  EXPECT_EQ((*rows)[3].status, "failed");
  EXPECT_FALSE((*rows)[3].predicted_j);
  std::vector<ProfileError> errors = ProfileErrors(*rows);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].profile, "p.json");
  EXPECT_EQ(errors[0].runs, 2);
  EXPECT_NEAR(errors[0].mean_abs_error, 0.2, 1e-12);  // (10% + 30%) / 2
  EXPECT_EQ(errors[0].outside_interval, 1);           // 70 < 80
  EXPECT_EQ(errors[1].runs, 1);
  EXPECT_NEAR(errors[1].mean_abs_error, 1.0, 1e-12);
  const std::string text = RenderHistory(path, *rows, false);
  EXPECT_NE(text.find("profile p.json: mean absolute error 20.0% over 2 completed runs"),
            std::string::npos)
      << text;
  nlohmann::json j = nlohmann::json::parse(RenderHistory(path, *rows, true));
  EXPECT_EQ(j["schema"], "joulecast.history/1");
  EXPECT_EQ(j["runs"].size(), 5u);
  EXPECT_TRUE(j["runs"][3]["predicted_j"].is_null());
}

TEST(RunHistory, MissingOrForeignFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  Result<std::vector<HistoryRow>> none = ReadHistory((dir / "none.db").string());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("none.db"), std::string::npos);
  dir.Write("text.db", "not a database at all, just text\n");
  EXPECT_FALSE(ReadHistory((dir / "text.db").string()).ok());
  EXPECT_FALSE(AppendRun((dir / "text.db").string(), MakeRun(1, RunStatus::ok, std::nullopt)).ok());
}

TEST(TrackedRun, ReportsSayOutsideTheIntervalAndTheDifference) {
  TrackedRun r = MakeRun(150, RunStatus::ok, 100);
  EXPECT_NEAR(*RelativeDifference(r), 0.5, 1e-12);
  const std::string text = RenderTrackedRun(r, TrackFormat::text);
  EXPECT_NE(text.find("+50.0% against the prediction"), std::string::npos) << text;
  EXPECT_NE(text.find("outside the prediction interval"), std::string::npos) << text;
  EXPECT_NE(text.find("estimated, not measured"), std::string::npos) << text;
  nlohmann::json j = nlohmann::json::parse(RenderTrackedRun(r, TrackFormat::json));
  EXPECT_EQ(j["schema"], "joulecast.track/1");
  EXPECT_EQ(j["prediction"]["outside_interval"], true);
  EXPECT_EQ(j["status"], "ok");
  TrackedRun within = MakeRun(110, RunStatus::ok, 100);
  EXPECT_NE(RenderTrackedRun(within, TrackFormat::markdown).find("within the prediction interval"),
            std::string::npos);
}

}  // namespace
}  // namespace joulecast::track
