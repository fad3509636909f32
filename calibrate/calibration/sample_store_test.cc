#include "calibrate/calibration/sample_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace joulecast {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "joulecast-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static StoredSample Sample(const std::string& design, int64_t index) {
    StoredSample s;
    s.design = design;
    s.kind = design == "conv_first" ? "conv" : design;
    s.index = index;
    s.config_json = "{\"i\":" + std::to_string(index) + "}";
    s.probe_json = "{\"probe\":1}";
    s.base_json = "{\"base\":1}";
    s.batch = 8 + index;
    s.probe = {0.5 + index, 0.01, 0.02, 0.001, 3, 7, 0.02};
    s.base = {0.25, 0.005, 0.01, 0.0005, 4, 9, 0.02};
    s.delta_energy_se_j = 0.004;
    s.delta_time_se_s = 0.0002;
    s.measure_s = 1.5;
    s.meter_kind = "estimate";
    s.threads = 2;
    s.measured_at = "2025-01-01T00:00:00Z";
    return s;
  }

  fs::path dir_;
};

const std::string kKey = "design_version=1;seed=1;meter=estimate;";

TEST_F(StoreTest, KeepsSamplesAcrossReopening) {
  {
    auto store = SampleStore::Open(Path("a.db"), kKey);
    ASSERT_TRUE(store.ok()) << store.status().message();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*store)->Insert(Sample("conv", i)).ok());
    ASSERT_TRUE((*store)->Insert(Sample("relu", 0)).ok());
  }
  auto store = SampleStore::Open(Path("a.db"), kKey);
  ASSERT_TRUE(store.ok());
  auto rows = (*store)->Load();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  const StoredSample& s = (*rows)[2];
  EXPECT_EQ(s.design, "conv");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.config_json, "{\"i\":2}");
  EXPECT_EQ(s.batch, 10);
  EXPECT_DOUBLE_EQ(s.probe.energy_j, 2.5);
  EXPECT_EQ(s.probe.repeats, 3);
  EXPECT_EQ(s.probe.steps, 7);
  EXPECT_EQ(s.base.repeats, 4);
  EXPECT_DOUBLE_EQ(s.base.time_se_s, 0.0005);
  EXPECT_EQ(s.threads, 2);
  EXPECT_DOUBLE_EQ(s.delta_energy_se_j, 0.004);
  EXPECT_DOUBLE_EQ(s.delta_time_se_s, 0.0002);
  EXPECT_DOUBLE_EQ(s.measure_s, 1.5);
  EXPECT_EQ(s.meter_kind, "estimate");
  EXPECT_EQ(s.measured_at, "2025-01-01T00:00:00Z");
  EXPECT_EQ((*rows)[3].design, "relu");
}

TEST_F(StoreTest, RefusesASampleTwice) {
  auto store = SampleStore::Open(Path("a.db"), kKey);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Insert(Sample("conv", 0)).ok());
  Status again = (*store)->Insert(Sample("conv", 0));
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find(Path("a.db")), std::string::npos) << again.message();
  // The failed insert left the database usable and unchanged.
  ASSERT_TRUE((*store)->Insert(Sample("conv", 1)).ok());
  EXPECT_EQ((*store)->Load()->size(), 2u);
}

TEST_F(StoreTest, RejectsADatabaseOfOtherOptions) {
  ASSERT_TRUE(SampleStore::Open(Path("a.db"), kKey).ok());
  auto other = SampleStore::Open(Path("a.db"), "design_version=1;seed=2;meter=estimate;");
  ASSERT_FALSE(other.ok());
  const std::string& m = other.status().message();
  EXPECT_NE(m.find("seed is 1 there, 2 here"), std::string::npos) << m;
  EXPECT_NE(m.find("--db"), std::string::npos) << m;
}

TEST_F(StoreTest, RejectsFilesThatAreNotItsDatabase) {
  {
    std::ofstream(Path("text.db")) << "this is not a database, just text of some length......\n";
  }
  auto text = SampleStore::Open(Path("text.db"), kKey);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a SQLite database"), std::string::npos)
      << text.status().message();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path("other.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto other = SampleStore::Open(Path("other.db"), kKey);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not a joulecast calibration database"),
            std::string::npos)
      << other.status().message();
}

TEST_F(StoreTest, UnwritablePlaceIsAnErrorNamingTheFile) {
  auto store = SampleStore::Open(Path("no/such/folder/a.db"), kKey);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("no/such/folder/a.db"), std::string::npos);
}

TEST(HashHex, StableAndSensitive) {
  EXPECT_EQ(HashHex(""), "cbf29ce484222325");  // FNV-1a 64 offset basis
  EXPECT_EQ(HashHex("a"), "af63dc4c8601ec8c");
  EXPECT_NE(HashHex("seed=1;"), HashHex("seed=2;"));
  EXPECT_EQ(HashHex("x").size(), 16u);
}

}  // namespace
}  // namespace joulecast
