#include "analyzer/carbon/carbon.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/testing/test_util.h"

namespace joulecast {
namespace {

std::string ShippedTable() {
  const char* src = std::getenv("JOULECAST_SOURCE_DIR");
  return std::string(src ? src : ".") + "/data/carbon/grid_intensity.json";
}

TEST(CarbonTest, CountriesByAlpha2AndAlpha3AnyCase) {
  Result<CarbonIntensity> de = LookUpRegion(ShippedTable(), "DE");
  ASSERT_TRUE(de.ok()) << de.status().message();
  EXPECT_EQ(de->region, "DE");
  EXPECT_EQ(de->region_name, "Germany");
  EXPECT_EQ(de->year, 2023);
  EXPECT_DOUBLE_EQ(de->g_per_kwh, 380.9);
  EXPECT_NE(de->source.find("Ember"), std::string::npos);
  Result<CarbonIntensity> fra = LookUpRegion(ShippedTable(), "fra");
  ASSERT_TRUE(fra.ok()) << fra.status().message();
  EXPECT_EQ(fra->region, "FR");
  EXPECT_LT(fra->g_per_kwh, 100);  // nuclear and hydro
  Result<CarbonIntensity> in = LookUpRegion(ShippedTable(), "in");
  ASSERT_TRUE(in.ok());
  EXPECT_GT(in->g_per_kwh, 600);  // coal
  EXPECT_NE(in->Describe().find("region IN (India), "), std::string::npos) << in->Describe();
}

TEST(CarbonTest, GridRegion) {
  Result<CarbonIntensity> se3 = LookUpRegion(ShippedTable(), "SE3");
  ASSERT_TRUE(se3.ok()) << se3.status().message();
  EXPECT_NE(se3->region_name.find("Sweden"), std::string::npos);
  EXPECT_NE(se3->source.find("ENTSO-E"), std::string::npos);
}

TEST(CarbonTest, UnknownCodeIsOneLineNamingIt) {
  Result<CarbonIntensity> r = LookUpRegion(ShippedTable(), "XQ");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"XQ\""), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

TEST(CarbonTest, FlagWinsButABadRegionIsStillAnError) {
  CarbonRequest both{.region = "DE", .g_per_kwh = 100};
  Result<CarbonIntensity> c = ResolveCarbon(both, ShippedTable());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->from, CarbonIntensity::From::flag);
  EXPECT_DOUBLE_EQ(c->g_per_kwh, 100);
  EXPECT_FALSE(ResolveCarbon({.region = "nowhere", .g_per_kwh = 100}, ShippedTable()).ok());
  Result<CarbonIntensity> none = ResolveCarbon({}, ShippedTable());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->from, CarbonIntensity::From::world_default);
  EXPECT_DOUBLE_EQ(none->g_per_kwh, kWorldCarbonIntensity);
}

TEST(CarbonTest, BadTableNamesFileAndField) {
  testing::TempDir dir;
  const std::string path = (dir / "t.json").string();
  dir.Write("t.json", R"({"schema": "joulecast.carbon/1", "sources": {"s": {"name": "S"}},
      "regions": [{"code": "AA", "name": "A", "g_per_kwh": "lots", "year": 2023, "source": "s"}]})");
  Result<CarbonIntensity> r = LookUpRegion(path, "aa");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/regions/0/g_per_kwh"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(LookUpRegion((dir / "missing.json").string(), "AA").ok());
}

}  // namespace
}  // namespace joulecast
