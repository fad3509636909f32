#include "analyzer/gate/baseline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace joulecast::gate {
namespace {

using nlohmann::json;

// The parts of a joulecast.analysis/1 report a baseline reads.
json Report() {
  auto level = [](double e) {
    return json{
        {"energy_j", e}, {"energy_j_low", e * 0.8}, {"energy_j_high", e * 1.2}, {"time_s", e / 10}};
  };
  return {
      {"schema", "joulecast.analysis/1"},
      {"model", {{"name", "simplecnn"}, {"source", "models/simplecnn.json"}}},
      {"prediction",
       {{"profile", {{"source", "p.json"}, {"created", "2026-11-23T00:00:00Z"}, {"device", "cpu"}}},
        {"run", {{"batch", 64}, {"samples", 60000}, {"epochs", 2}}},
        {"per_step", level(0.5)},
        {"per_epoch", level(469)},
        {"total", level(938)}}}};
}

std::string ErrorOf(const json& j) {
  Result<Baseline> b = ParseBaseline(j.dump(), "base.json");
  return b.ok() ? "" : b.status().message();
}

TEST(GateBaseline, ReadsTheReport) {
  Result<Baseline> b = ParseBaseline(Report().dump(), "base.json");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->source, "base.json");
  EXPECT_EQ(b->model_name, "simplecnn");
  EXPECT_EQ(b->batch, 64);
  EXPECT_EQ(b->samples, 60000);
  EXPECT_EQ(b->epochs, 2);
  EXPECT_EQ(b->profile_device, "cpu");
  EXPECT_DOUBLE_EQ(b->At(Level::step).energy_j, 0.5);
  EXPECT_DOUBLE_EQ(b->At(Level::epoch).energy_j_high, 469 * 1.2);
  EXPECT_DOUBLE_EQ(b->At(Level::run).energy_j_low, 938 * 0.8);
}

TEST(GateBaseline, ErrorsNameTheFileAndTheField) {
  struct Case {
    const char* pointer;  // removed, or replaced by `value`
    json value;
    const char* says;
  };
  for (const Case& c : {
           Case{"/schema", nullptr, "base.json: /schema is missing"},
           Case{"/schema", "joulecast.gate/1", "base.json: /schema is 'joulecast.gate/1'"},
           Case{"/schema", 3, "base.json: /schema must be a string"},
           Case{"/prediction", nullptr, "base.json: /prediction is missing: the report has no"},
           Case{"/prediction", json::array(), "base.json: /prediction must be an object"},
           Case{"/model/name", nullptr, "base.json: /model/name is missing"},
           Case{"/prediction/run/batch", nullptr, "base.json: /prediction/run/batch is missing"},
           Case{"/prediction/run/epochs", 0, "/prediction/run/epochs must be an integer >= 1"},
           Case{"/prediction/run/samples", 1.5, "/prediction/run/samples must be an integer"},
           Case{"/prediction/profile/created", nullptr, "/prediction/profile/created is missing"},
           Case{"/prediction/per_epoch", nullptr, "base.json: /prediction/per_epoch is missing"},
           Case{"/prediction/total", "x", "base.json: /prediction/total must be an object"},
           Case{"/prediction/total/energy_j", nullptr, "/prediction/total/energy_j is missing"},
           Case{"/prediction/total/energy_j", "1",
                "/prediction/total/energy_j must be a number > 0"},
           Case{"/prediction/per_step/energy_j", 0,
                "/prediction/per_step/energy_j must be a number > 0"},
           Case{"/prediction/per_step/energy_j_high", -1,
                "/prediction/per_step/energy_j_high must"},
       }) {
    json j = Report();
    json::json_pointer ptr(c.pointer);
    if (c.value.is_null()) {
      j[ptr.parent_pointer()].erase(ptr.back());
    } else {
      j[ptr] = c.value;
    }
    const std::string error = ErrorOf(j);
    EXPECT_NE(error.find(c.says), std::string::npos) << c.pointer << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(GateBaseline, NotJsonOrNotAnObject) {
  EXPECT_EQ(ParseBaseline("{\"schema\": ", "b.json")
                .status()
                .message()
                .rfind("b.json: not valid JSON", 0),
            0u);
  EXPECT_EQ(ParseBaseline("[1]", "b.json").status().message(),
            "b.json: the document must be an object");
  EXPECT_FALSE(ParseBaseline("", "b.json").ok());
}

TEST(GateBaseline, ReadBaselineNamesTheFile) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "joulecast_baseline_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_EQ(ReadBaseline((dir / "none.json").string()).status().message(),
            (dir / "none.json").string() + ": cannot open the baseline report");
  EXPECT_EQ(ReadBaseline(dir.string()).status().message(),
            dir.string() + ": is a directory, not a baseline report");
  std::ofstream(dir / "ok.json") << Report().dump(2);
  Result<Baseline> b = ReadBaseline((dir / "ok.json").string());
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->source, (dir / "ok.json").string());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace joulecast::gate
