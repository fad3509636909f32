#include "analyzer/energy/profile.h"

#include <gtest/gtest.h>

namespace joulecast {
namespace {

Profile Sample() {
  Profile p;
  p.created = "2026-11-23T06:00:00Z";
  p.hardware["cpu_model"] = "AMD EPYC";
  p.hardware["threads"] = "2";
  p.meter_kind = "estimate";
  p.meter_description = "estimate: CPU time x 10 W per busy thread";
  p.kinds[Kind::conv] = {{"macs_fwd", "layers"}, {2e-9, 1e-4}, {1e-10, 1e-5}, 0.07, 40};
  p.kinds[Kind::relu] = {{"elements_fwd"}, {1e-9}, {1e-10}, 0.12, 20};
  p.step = {{"params", "one"}, {1e-8, 0.01}, {1e-9, 0.001}, 0.05, 30};
  return p;
}

TEST(Profile, RoundTripsThroughJson) {
  Profile p = Sample();
  auto back = ParseProfile(ProfileJson(p), "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->created, p.created);
  EXPECT_EQ(back->hardware.at("cpu_model"), "AMD EPYC");
  EXPECT_EQ(back->meter_kind, "estimate");
  EXPECT_FALSE(back->meter_real);
  ASSERT_EQ(back->kinds.size(), 2u);
  EXPECT_EQ(back->kinds.at(Kind::conv).features, p.kinds[Kind::conv].features);
  EXPECT_DOUBLE_EQ(back->kinds.at(Kind::conv).energy_j[0], 2e-9);
  EXPECT_DOUBLE_EQ(back->kinds.at(Kind::relu).cv_mape, 0.12);
  EXPECT_EQ(back->step.samples, 30);
}

TEST(Profile, ErrorsNameTheField) {
  std::string good = ProfileJson(Sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    auto r = ParseProfile(t, "p.json");
    EXPECT_FALSE(r.ok());
    return r.status().message();
  };
  EXPECT_EQ(with("\"macs_fwd\"", "\"flops\""), "p.json: /kinds/conv/features/0 is not a known feature name");
  EXPECT_EQ(with("\"conv\"", "\"convolution\""), "p.json: /kinds/convolution is not a layer kind");
  EXPECT_EQ(with("joulecast.profile/1", "joulecast.profile/9"),
            "p.json: /schema is 'joulecast.profile/9'; this joulecast reads joulecast.profile/1");
  EXPECT_NE(with("\"real\": false", "\"real\": true").find("/meter/real"), std::string::npos);
  EXPECT_EQ(ParseProfile("{", "p.json").status().message(), "p.json: not valid JSON");
  EXPECT_EQ(LoadProfile("/nonexistent/p.json").status().message(),
            "/nonexistent/p.json: cannot open the profile");
}

TEST(Profile, NegativeCoefficientIsRejected) {
  Profile p = Sample();
  p.kinds[Kind::conv].energy_j[1] = -1;
  auto r = ParseProfile(ProfileJson(p), "p.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "p.json: /kinds/conv/energy_j/1 must be a number >= 0");
}

}  // namespace
}  // namespace joulecast
