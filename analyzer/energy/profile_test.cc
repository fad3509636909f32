#include "analyzer/energy/profile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace joulecast {
namespace {

Profile Sample() {
  Profile p;
  p.created = "2026-11-23T06:00:00Z";
  p.hardware["cpu_model"] = "AMD EPYC";
  p.hardware["threads"] = "2";
  p.meter_kind = "estimate";
  p.meter_description = "estimate: CPU time x 10 W per busy thread";
  p.models["conv"] = {{"macs_fwd", "layers"}, {2e-9, 1e-4}, {1e-10, 1e-5}, 0.07, 40};
  p.models["relu"] = {{"elements_fwd"}, {1e-9}, {1e-10}, 0.12, 20};
  p.models["conv.depthwise"] = {{"macs_fwd"}, {3e-8}, {3e-9}, 0.1, 12};
  p.step = {{"params", "one"}, {1e-8, 0.01}, {1e-9, 0.001}, 0.05, 30};
  return p;
}

// `text` with the first `from` replaced by `to`, and the error ParseProfile gives for it.
struct Broken {
  std::string from, to, error;
};

void ExpectErrors(const std::string& text, const std::vector<Broken>& cases) {
  for (const Broken& c : cases) {
    std::string t = text;
    const size_t at = t.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    t.replace(at, c.from.size(), c.to);
    Result<Profile> r = ParseProfile(t, "p.json");
    EXPECT_EQ(r.ok() ? std::string("ok") : r.status().message(), c.error) << c.from;
  }
}

TEST(Profile, RoundTripsThroughJson) {
  Profile p = Sample();
  auto back = ParseProfile(ProfileJson(p), "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->created, p.created);
  EXPECT_EQ(back->hardware.at("cpu_model"), "AMD EPYC");
  EXPECT_EQ(back->meter_kind, "estimate");
  EXPECT_FALSE(back->meter_real);
  ASSERT_EQ(back->models.size(), 3u);
  EXPECT_EQ(back->models.at("conv").features, p.models["conv"].features);
  EXPECT_DOUBLE_EQ(back->models.at("conv").energy_j[0], 2e-9);
  EXPECT_DOUBLE_EQ(back->models.at("conv.depthwise").energy_j[0], 3e-8);
  EXPECT_DOUBLE_EQ(back->models.at("relu").cv_mape, 0.12);
  EXPECT_EQ(back->step.samples, 30);
}

TEST(Profile, ErrorsNameTheField) {
  ExpectErrors(
      ProfileJson(Sample()),
      {{"\"macs_fwd\"", "\"flops\"", "p.json: /models/conv/features/0 is not a known feature name"},
       {"\"conv\"", "\"convolution\"",
        "p.json: /models/convolution is not a model class (a layer kind, or kind.variant)"},
       {"\"conv.depthwise\"", "\"conv.Depth wise\"",
        "p.json: /models/conv.Depth wise is not a model class (a layer kind, or kind.variant)"},
       {"joulecast.profile/2", "joulecast.profile/9",
        "p.json: /schema is 'joulecast.profile/9'; this joulecast reads joulecast.profile/3 (and "
        "/2, /1): a newer joulecast wrote it, or it is not a profile"},
       {"\"real\": false", "\"real\": true",
        "p.json: /meter/real is true but the meter is the estimate"}});
  EXPECT_EQ(ParseProfile("{", "p.json").status().message(), "p.json: not valid JSON");
  EXPECT_EQ(LoadProfile("/nonexistent/p.json").status().message(),
            "/nonexistent/p.json: cannot open the profile");
}

TEST(Profile, NegativeCoefficientIsRejected) {
  Profile p = Sample();
  p.models["conv"].energy_j[1] = -1;
  auto r = ParseProfile(ProfileJson(p), "p.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "p.json: /models/conv/energy_j/1 must be a number >= 0");
}

TEST(Profile, VersionOneKeysModelsByKind) {
  std::string v2 = ProfileJson(Sample());
  std::string v1 = v2;
  v1.replace(v1.find("joulecast.profile/2"), 19, "joulecast.profile/1");
  v1.replace(v1.find("\"models\""), 8, "\"kinds\"");
  auto r = ParseProfile(v1, "old.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->models.count("conv"), 1u);
}

TEST(Profile, ModelForFallsBackToTheKindThenItsReferenceVariant) {
  Profile p = Sample();
  std::string used;
  EXPECT_EQ(ModelFor(p, "conv.depthwise", &used), &p.models["conv.depthwise"]);
  EXPECT_EQ(used, "conv.depthwise");
  EXPECT_EQ(ModelFor(p, "conv.grouped", &used), &p.models["conv"]);
  EXPECT_EQ(used, "conv");
  p.models["activation.tanh"] = {{"elements_fwd"}, {1e-9}, {1e-10}, 0.1, 5};
  EXPECT_EQ(ModelFor(p, "activation.softmax", &used), &p.models["activation.tanh"]);
  EXPECT_EQ(ModelFor(p, "pool.max"), nullptr);
}

TEST(Profile, SchemaThreeRoundTripsAndNamesBadFields) {
  Profile p;
  p.created = "2026-12-04T00:00:00Z";
  p.device = "cuda:0";
  p.meter_kind = "nvml";
  p.meter_real = true;
  p.tf32 = "convolutions on, matmul off";
  const FamilyTime conv{.host_fwd_s = 1e-5,
                        .macs_per_s_fwd = 1e14,
                        .bytes_per_s_fwd = 3e12,
                        .bytes_per_s_bwd = 2e12,
                        .m0 = 100,
                        .samples = 12,
                        .max_macs = 1e11};
  const TimeModel m{.async = true,
                    .launch_s = 5e-6,
                    .device_scale = {1.1, 0.9, 1.2},
                    .step_overhead_s = 1e-4,
                    .optimizer_launches_per_tensor = 4,
                    .optimizer_bytes_per_param = 28,
                    .optimizer_bytes_per_s = 3e12,
                    .families = {{"conv", conv}}};
  p.time_models["fp32"] = m;
  p.time_models["bf16"] = m;
  p.power = {80, 120, 400, 700};
  p.networks = {0.1, 0.25, 20, 0.12};
  const std::string text = ProfileJson(p);
  EXPECT_NE(text.find("\"schema\": \"joulecast.profile/3\""), std::string::npos);
  Result<Profile> back = ParseProfile(text, "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ(back->tf32, p.tf32);
  ASSERT_EQ(back->time_models.size(), 2u);
  const TimeModel& b = back->time_models.at("bf16");
  EXPECT_TRUE(b.async);
  EXPECT_DOUBLE_EQ(b.device_scale.linear, 0.9);
  EXPECT_DOUBLE_EQ(b.optimizer_bytes_per_s, 3e12);
  EXPECT_DOUBLE_EQ(b.families.at("conv").m0, 100);
  EXPECT_DOUBLE_EQ(b.families.at("conv").bytes_per_s_bwd, 2e12);
  EXPECT_DOUBLE_EQ(b.families.at("conv").max_macs, 1e11);
  EXPECT_DOUBLE_EQ(back->power.limit_w, 700);
  EXPECT_DOUBLE_EQ(back->networks.time_cv_mape, 0.12);
  EXPECT_EQ(ProfileJson(*back), text);
  // A profile from before the optimizer was timed has no step_s or tensor_s: not timed.
  EXPECT_EQ(text.find("\"tensor_s\""), std::string::npos);
  EXPECT_DOUBLE_EQ(b.optimizer_tensor_s, 0);
  Profile timed = p;
  timed.time_models["fp32"].optimizer_step_s = 2e-4;
  timed.time_models["fp32"].optimizer_tensor_s = 1.5e-5;
  Result<Profile> timed_back = ParseProfile(ProfileJson(timed), "timed.json");
  ASSERT_TRUE(timed_back.ok()) << timed_back.status().message();
  EXPECT_DOUBLE_EQ(timed_back->time_models.at("fp32").optimizer_step_s, 2e-4);
  EXPECT_DOUBLE_EQ(timed_back->time_models.at("fp32").optimizer_tensor_s, 1.5e-5);
  EXPECT_DOUBLE_EQ(timed_back->time_models.at("bf16").optimizer_tensor_s, 0);
  // Channel blocks: written only when there are blocks, read back, and checked.
  EXPECT_EQ(text.find("\"channel_block\""), std::string::npos);
  Profile blocked = p;
  blocked.time_models["fp32"].families["conv"].channel_block = 16;
  const std::string blocked_text = ProfileJson(blocked);
  Result<Profile> blocked_back = ParseProfile(blocked_text, "blocked.json");
  ASSERT_TRUE(blocked_back.ok()) << blocked_back.status().message();
  EXPECT_EQ(blocked_back->time_models.at("fp32").families.at("conv").channel_block, 16);
  EXPECT_EQ(blocked_back->time_models.at("bf16").families.at("conv").channel_block, 0);
  ExpectErrors(blocked_text, {{"\"channel_block\": 16", "\"channel_block\": 2.5",
                               "p.json: /time/fp32/families/conv/channel_block must be an "
                               "integer from 0 to 1024"}});
  // A channel half-efficiency and energies per MAC and byte: read back; absent, they are 0.
  EXPECT_EQ(text.find("\"c0\""), std::string::npos);
  EXPECT_DOUBLE_EQ(b.joules_per_mac, 0);
  Profile work = p;
  work.time_models["fp32"].families["conv"].c0 = 150;
  work.time_models["fp32"].joules_per_mac = 6e-12;
  work.time_models["fp32"].joules_per_byte = 2e-10;
  work.time_models["fp32"].joules_per_mac_matmul = 1.8e-11;
  const std::string work_text = ProfileJson(work);
  Result<Profile> work_back = ParseProfile(work_text, "work.json");
  ASSERT_TRUE(work_back.ok()) << work_back.status().message();
  const TimeModel& wf = work_back->time_models.at("fp32");
  EXPECT_DOUBLE_EQ(wf.families.at("conv").c0, 150);
  EXPECT_DOUBLE_EQ(wf.joules_per_mac, 6e-12);
  EXPECT_DOUBLE_EQ(wf.joules_per_byte, 2e-10);
  ASSERT_TRUE(wf.joules_per_mac_matmul.has_value());
  EXPECT_DOUBLE_EQ(*wf.joules_per_mac_matmul, 1.8e-11);
  // Absent (bf16 here, and profiles before it): a matmul MAC costs what a convolution's does.
  EXPECT_FALSE(work_back->time_models.at("bf16").joules_per_mac_matmul.has_value());
  EXPECT_EQ(text.find("\"joules_per_mac_matmul\""), std::string::npos);
  ExpectErrors(work_text, {{"\"c0\": 150", "\"c0\": -1",
                            "p.json: /time/fp32/families/conv/c0 must be a number >= 0"},
                           {"\"joules_per_mac_matmul\": 1.8e-11", "\"joules_per_mac_matmul\": -1",
                            "p.json: /time/fp32/joules_per_mac_matmul must be a number >= 0"}});

  ExpectErrors(
      text,
      {{"\"bf16\": {", "\"fp8\": {", "p.json: /time/fp8 is not a precision (fp32, bf16 or fp16)"},
       {"\"launch_s\": 5e-06", "\"launch_s\": -1",
        "p.json: /time/bf16/launch_s must be a number >= 0"},
       {"\"active_w\": 120", "\"active\": 120", "p.json: /power/active_w is missing"}});
}

}  // namespace
}  // namespace joulecast
