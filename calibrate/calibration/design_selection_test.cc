// Choosing where to time: the committee of fold fits parts where the timings leave a family
// unsure, and the choice is the same every time.
#include "calibrate/calibration/design_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

namespace joulecast {
namespace {

TEST(DesignSelection, TwoThirdsOfTheTimingsFillTheSpaceFirst) {
  EXPECT_EQ(SpaceFillingTimings(48), 32);
  EXPECT_EQ(SpaceFillingTimings(12), 8);
  EXPECT_EQ(SpaceFillingTimings(4), 3);
  EXPECT_EQ(SpaceFillingTimings(3), 3);
  EXPECT_EQ(SpaceFillingTimings(2), 2);
}

double Elements(const LayerCost& l) {
  return static_cast<double>(l.work.elements_in.value() + l.work.elements_fwd.value());
}

TEST(DesignSelection, ChoosesWhereTheTimingsLeaveTheFamilyUnsure) {
  // ReLUs timed by a known roofline (a 20 us floor, then 1 TB/s), with a little noise, but only
  // the smaller half of the first 24 points: the fits agree there and part past them.
  const LayerDesignLimits limits = GpuLimits();
  const FamilyTime truth{.host_fwd_s = 2e-5, .host_bwd_s = 4e-5, .bytes_per_s_fwd = 1e12,
                         .bytes_per_s_bwd = 8e11};
  std::vector<LayerTimingSample> all;
  for (int64_t i = 0; i < 24; ++i) {
    Result<LayerConfig> c = MakeLayerConfig("relu", i, 1, limits);
    ASSERT_TRUE(c.ok());
    Result<LayerCost> layer = CostOfTimedLayer(c->json, c->batch, c->input_needs_grad);
    ASSERT_TRUE(layer.ok()) << layer.status().message();
    LayerTimingSample s{*layer, "fp32", 0, 0};
    std::tie(s.forward_s, s.backward_s) = AloneTime(truth, *layer, true, 4);
    const double noise = 1 + 0.1 * std::sin(static_cast<double>(i) * 2.1);
    s.forward_s *= noise;
    s.backward_s /= noise;
    all.push_back(s);
  }
  std::vector<double> sizes;
  for (const auto& s : all) sizes.push_back(Elements(s.layer));
  std::nth_element(sizes.begin(), sizes.begin() + 12, sizes.end());
  const double median = sizes[12];
  std::vector<LayerTimingSample> small;
  for (const auto& s : all) {
    if (Elements(s.layer) < median) small.push_back(s);
  }
  ASSERT_GE(small.size(), 9u);

  Result<std::vector<int64_t>> chosen = LeastSureIndices("relu", small, 24, 6, 48, 1, limits, true);
  ASSERT_TRUE(chosen.ok()) << chosen.status().message();
  ASSERT_EQ(chosen->size(), 6u);
  EXPECT_TRUE(std::is_sorted(chosen->begin(), chosen->end()));
  EXPECT_EQ(std::adjacent_find(chosen->begin(), chosen->end()), chosen->end());
  auto log_size = [&](int64_t index) {
    Result<LayerConfig> c = MakeLayerConfig("relu", index, 1, limits);
    Result<LayerCost> l = CostOfTimedLayer(c->json, c->batch, c->input_needs_grad);
    return std::log(Elements(*l));
  };
  double pool = 0, picked = 0;
  for (int64_t i = 24; i < 72; ++i) pool += log_size(i) / 48;
  for (int64_t i : *chosen) {
    EXPECT_GE(i, 24);
    EXPECT_LT(i, 72);
    picked += log_size(i) / 6;
  }
  // Past the timed sizes: the chosen layers are larger than the pool's average.
  EXPECT_GT(picked, pool + 0.5) << "chosen mean log size " << picked << ", pool " << pool;
  // The same data choose the same points.
  Result<std::vector<int64_t>> again = LeastSureIndices("relu", small, 24, 6, 48, 1, limits, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *chosen);
  // Fewer than 3 timings: no committee, the next points in order.
  Result<std::vector<int64_t>> few =
      LeastSureIndices("relu", {small[0], small[1]}, 24, 3, 24, 1, limits, true);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(*few, (std::vector<int64_t>{24, 25, 26}));
  EXPECT_FALSE(LeastSureIndices("nope", small, 24, 3, 24, 1, limits, true).ok());
}

}  // namespace
}  // namespace joulecast
