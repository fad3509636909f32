// What calibration times: the single-layer configurations of every design (deterministic,
// loadable, the layer they claim to be, within the device's caps), the random whole networks,
// and the hardware facts a profile records.
#include "calibrate/calibration/layer_design.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/core/costs.h"
#include "calibrate/calibration/design_selection.h"
#include "calibrate/calibration/hardware.h"

namespace joulecast {
namespace {

// The driver's proc files as two driver generations write them.
TEST(Hardware, ReadsTheGpuModelAndTheDriverVersionOfEitherVersionLine) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("jc_hw_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "gpus" / "0000:01:00.0");
  std::ofstream(dir / "gpus" / "0000:01:00.0" / "information")
      << "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\n";
  HardwareSources s;
  s.nvidia = dir.string();
  for (const auto& [line, want] : std::vector<std::pair<std::string, std::string>>{
           {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC "
            "2023\n",
            "535.104.05"},
           {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
            "(dvs-builder@U22)\n",
            "580.159.04"}}) {
    std::ofstream(dir / "version") << line;
    const auto hw = DescribeHardware(s, 0);
    EXPECT_EQ(hw.at("driver"), want) << line;
    EXPECT_EQ(hw.at("gpu"), "NVIDIA H100 80GB HBM3");
  }
  EXPECT_EQ(DescribeHardware(s, 1).count("gpu"), 0u);  // no second GPU
  std::filesystem::remove_all(dir);
}

struct NamedLimits {
  const char* name;
  LayerDesignLimits limits;
};

std::vector<NamedLimits> BothLimits() { return {{"gpu", GpuLimits()}, {"cpu", CpuLimits()}}; }

TEST(LayerDesign, EveryDesignIsDeterministicLoadsIsItsOwnClassAndStaysWithinTheCaps) {
  ASSERT_EQ(LayerDesigns().size(), 15u);
  for (const auto& [limits_name, limits] : BothLimits()) {
    for (const std::string& design : LayerDesigns()) {
      for (int64_t index = 0; index <= 40; ++index) {
        SCOPED_TRACE(std::string(limits_name) + " " + design + " " + std::to_string(index));
        Result<LayerConfig> c = MakeLayerConfig(design, index, 7, limits);
        ASSERT_TRUE(c.ok()) << c.status().message();
        Result<LayerConfig> again = MakeLayerConfig(design, index, 7, limits);
        ASSERT_TRUE(again.ok());
        EXPECT_EQ(c->json, again->json);
        EXPECT_EQ(c->batch, again->batch);
        EXPECT_EQ(c->design, design);
        EXPECT_EQ(c->index, index);
        EXPECT_GE(c->batch, limits.min_batch) << c->json;
        EXPECT_LE(c->batch, limits.max_batch) << c->json;

        Result<ModelCost> cost = CostOfTimedArchitecture(c->json, c->batch, c->input_needs_grad);
        ASSERT_TRUE(cost.ok()) << cost.status().message() << "\n" << c->json;
        EXPECT_EQ(cost->batch, c->batch);
        EXPECT_TRUE(cost->unmodelled.empty()) << c->json;
        const LayerCost* layer = nullptr;
        int layers = 0;
        for (const LayerCost& l : cost->layers) {
          if (l.kind == Kind::shape) continue;
          ++layers;
          layer = &l;
        }
        ASSERT_EQ(layers, 1) << c->json;
        EXPECT_EQ(ModelClass(*layer), design) << c->json;

        const bool is_input = design == "conv.input" || design == "linear.input";
        EXPECT_EQ(c->input_needs_grad, !is_input);
        // Widths as real networks have them: a multiple of 8 from 16 up (an image's 1 or 3
        // channels into a first layer, a classifier's 10-15 outputs and the narrowest layers
        // left as they are).
        const nlohmann::json arch = nlohmann::json::parse(c->json);
        const nlohmann::json& op = arch["layers"][0];
        std::vector<int64_t> widths = {arch["input"]["shape"][0].get<int64_t>()};
        if (op.contains("out_channels")) widths.push_back(op["out_channels"].get<int64_t>());
        if (op.contains("out_features")) widths.push_back(op["out_features"].get<int64_t>());
        for (int64_t w : widths) {
          if (w >= 16) {
            EXPECT_EQ(w % 8, 0) << c->json;
          }
        }
        const bool products = design.rfind("conv", 0) == 0 || design.rfind("linear", 0) == 0;
        if (is_input) {
          EXPECT_EQ(layer->work.macs_bwd_input.value(), 0) << c->json;
        } else if (products) {
          EXPECT_GT(layer->work.macs_bwd_input.value(), 0) << c->json;
        }
        if (products) {
          EXPECT_GT(layer->work.macs_fwd.value(), 0) << c->json;
        } else {
          EXPECT_EQ(layer->work.macs_fwd.value(), 0) << c->json;
        }
        EXPECT_LE(static_cast<double>(cost->total.macs_fwd.value()), limits.max_macs) << c->json;
        EXPECT_LE(static_cast<double>(cost->total.elements_in.value()) +
                      static_cast<double>(cost->total.elements_fwd.value()),
                  limits.max_elements)
            << c->json;
      }
    }
  }
}

TEST(LayerDesign, OtherSeedsGiveOtherConfigurations) {
  for (const auto& [limits_name, limits] : BothLimits()) {
    int differ = 0, compared = 0;
    for (const std::string& design : LayerDesigns()) {
      int design_differ = 0;
      for (int64_t index = 0; index <= 40; ++index) {
        Result<LayerConfig> a = MakeLayerConfig(design, index, 1, limits);
        Result<LayerConfig> b = MakeLayerConfig(design, index, 2, limits);
        ASSERT_TRUE(a.ok() && b.ok());
        design_differ += a->json != b->json || a->batch != b->batch ? 1 : 0;
      }
      EXPECT_GT(design_differ, 0) << limits_name << " " << design;
      differ += design_differ;
      compared += 41;
    }
    EXPECT_GT(2 * differ, compared) << limits_name;
  }
  // Within one seed the points differ too: a sequence, not one configuration repeated.
  std::set<std::string> seen;
  for (int64_t index = 0; index < 8; ++index) {
    Result<LayerConfig> c = MakeLayerConfig("conv", index, 1, GpuLimits());
    ASSERT_TRUE(c.ok());
    seen.insert(c->json + std::to_string(c->batch));
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(LayerDesign, AnUnknownDesignIsAnErrorNamingIt) {
  Result<LayerConfig> c = MakeLayerConfig("conv.transpose_3d", 0, 1, GpuLimits());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("conv.transpose_3d"), std::string::npos)
      << c.status().message();
  EXPECT_FALSE(MakeLayerConfig("network", 0, 1, CpuLimits()).ok());
}

TEST(LayerDesign, ConvolutionsGetMoreTimingsThanMemoryBoundLayers) {
  EXPECT_GT(DesignWeight("conv"), DesignWeight("relu"));
  EXPECT_GT(DesignWeight("linear"), DesignWeight("dropout"));
  for (const std::string& design : LayerDesigns()) EXPECT_GT(DesignWeight(design), 0) << design;
}

TEST(LayerDesign, NetworksLoadAtTheirBatchAndEveryFourthIsAnMlp) {
  for (const auto& [limits_name, limits] : BothLimits()) {
    std::set<std::string> names;
    for (int64_t index = 0; index <= 20; ++index) {
      SCOPED_TRACE(std::string(limits_name) + " network " + std::to_string(index));
      const NetworkConfig n = MakeNetworkConfig(index, 3, limits);
      EXPECT_EQ(n.index, index);
      EXPECT_EQ(n.json, MakeNetworkConfig(index, 3, limits).json);
      EXPECT_GE(n.batch, limits.min_batch);
      EXPECT_LE(n.batch, limits.max_batch);
      ASSERT_EQ(n.input.size(), 3u);
      names.insert(n.json);

      Result<ModelCost> cost = CostOfTimedArchitecture(n.json, n.batch, false);
      ASSERT_TRUE(cost.ok()) << cost.status().message() << "\n" << n.json;
      EXPECT_EQ(cost->batch, n.batch);
      EXPECT_TRUE(cost->unmodelled.empty()) << n.json;
      EXPECT_GT(cost->total.macs_fwd.value(), 0) << n.json;
      const int convs = cost->by_kind[static_cast<int>(Kind::conv)].layers;
      const int linears = cost->by_kind[static_cast<int>(Kind::linear)].layers;
      if (index % 4 == 3) {
        EXPECT_EQ(convs, 0) << n.json;
        EXPECT_GE(linears, 2) << n.json;
      } else {
        EXPECT_GT(convs, 0) << n.json;
        EXPECT_LE(static_cast<double>(n.batch) * static_cast<double>(n.input[1]) *
                      static_cast<double>(n.input[2]),
                  limits.max_network_positions)
            << n.json;
        EXPECT_NE(std::find(limits.network_sizes.begin(), limits.network_sizes.end(), n.input[1]),
                  limits.network_sizes.end())
            << n.json;
      }
    }
    EXPECT_EQ(names.size(), 21u) << limits_name;
  }
}

TEST(LayerDesign, OptimizerStepsSpanValuesAndTensorsWithinTheFirstSix) {
  for (const LayerDesignLimits& limits : {GpuLimits(), CpuLimits()}) {
    int64_t lo = INT64_MAX, hi = 0, fewest = INT64_MAX, most = 0;
    for (int i = 0; i < kOptimizerConfigs; ++i) {
      const auto [params, tensors] = OptimizerConfig(i, limits);
      EXPECT_GE(params, tensors);
      EXPECT_LE(params, limits.max_optimizer_params);
      if (i >= 6) continue;
      lo = std::min(lo, params);
      hi = std::max(hi, params);
      fewest = std::min(fewest, tensors);
      most = std::max(most, tensors);
    }
    EXPECT_EQ(lo, 10'000);
    EXPECT_EQ(hi, limits.max_optimizer_params);
    EXPECT_EQ(fewest, 1);
    EXPECT_GE(most, 128);
  }
}

}  // namespace
}  // namespace joulecast
