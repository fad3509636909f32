#include "analyzer/search/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <string>

#include "analyzer/search/paper_space_testing.h"

namespace joulecast::search {
namespace {

const std::string kPaperSpace = PaperSpaceJson();

Space Parse(const std::string& text) {
  Result<Space> s = ParseSpace(text, "space.json");
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? *s : Space{};
}

// The error for `text`, which must fail.
std::string Error(const std::string& text) {
  Result<Space> s = ParseSpace(text, "space.json");
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.status().message();
}

std::string WithParams(const std::string& params, const std::string& arch = R"({"w": "$w"})") {
  return R"({"architecture": )" + arch + R"(, "parameters": )" + params + "}";
}

TEST(SpaceParse, ReadsThePaperSpaceInFileOrder) {
  Space s = Parse(kPaperSpace);
  ASSERT_EQ(s.parameters.size(), 4u);
  EXPECT_EQ(s.parameters[0].name, "learning_rate");
  EXPECT_TRUE(s.parameters[0].log);
  EXPECT_EQ(s.parameters[1].name, "beta1");
  EXPECT_EQ(s.parameters[2].type, Parameter::Type::integer);
  EXPECT_EQ(s.parameters[3].choices.size(), 2u);
  EXPECT_EQ(s.training.epochs, 2);
  EXPECT_EQ(s.training.batch_size, 512);
  EXPECT_EQ(s.source, "space.json");
}

TEST(SpaceParse, ErrorsNameTheSourceAndPointer) {
  struct Case {
    std::string text, expected;
  };
  const Case cases[] = {
      {"[1]", "space.json: expected a JSON object"},
      {"{", "space.json: invalid JSON"},
      {WithParams(R"({"w": {"type": "double", "low": 0, "high": 1}})"),
       "space.json: /parameters/w/type: expected \"float\", \"int\" or \"categorical\""},
      {WithParams(R"({"w": {"type": "float", "low": 2, "high": 1}})"),
       "space.json: /parameters/w/high: high 1 is below low 2"},
      {WithParams(R"({"w": {"type": "float", "low": 0, "high": 1, "log": true}})"),
       "space.json: /parameters/w/low: a log parameter needs low > 0"},
      {WithParams(R"({"w": {"type": "categorical", "choices": []}})"),
       "space.json: /parameters/w/choices: expected a non-empty array"},
      {WithParams(R"({"w": {"type": "categorical", "choices": [1, 2, 1]}})"),
       "space.json: /parameters/w/choices/2: duplicate choice 1"},
      {WithParams(R"({"w": {"type": "int", "low": 1.5, "high": 4}})"),
       "space.json: /parameters/w/low: expected an integer"},
      {WithParams(R"({"w": {"type": "int", "low": 1}})"),
       "space.json: /parameters/w/high: missing required field"},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3, "step": 1}})"),
       "space.json: /parameters/w/step: unknown field \"step\""},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3}})", R"({"w": ["$v"]})"),
       "space.json: /architecture/w/0: \"$v\" names no parameter"},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3},
                      "depth": {"type": "int", "low": 1, "high": 3}})"),
       "space.json: /parameters/depth: parameter \"depth\" is used nowhere"},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3},
                      "optimizer": {"type": "categorical", "choices": ["adam", "rmsprop"]}})"),
       "space.json: /parameters/optimizer: optimizer must be categorical"},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3},
                      "learning_rate": {"type": "float", "low": 0, "high": 1}})"),
       "space.json: /parameters/learning_rate: learning_rate must take numbers above 0"},
      {WithParams(R"({"w": {"type": "int", "low": 1, "high": 3},
                      "batch_size": {"type": "float", "low": 1, "high": 64}})"),
       "space.json: /parameters/batch_size: batch_size must be an int parameter"},
      {R"({"architecture": {}, "parameters": {"w": {"type": "int", "low": 1, "high": 3}},
           "training": {"epochs": 0}})",
       "space.json: /training/epochs: expected an integer from 1"},
      {R"({"architecture": {}, "parameters": {"w": {"type": "int", "low": 1, "high": 3}},
           "training": {"optimiser": "adam"}})",
       "space.json: /training/optimiser: unknown field"},
      {R"({"architecture": 3, "parameters": {}})", "space.json: /architecture: expected"},
      {R"({"architecture": {}, "parameters": {}})",
       "space.json: /parameters: expected a non-empty"},
      {R"({"architecture": {}})", "space.json: /parameters: missing required field"},
      {WithParams(R"({"a/b": {"type": "int", "low": 1, "high": 3}})"),
       "space.json: /parameters/a~1b: a parameter name is"},
  };
  for (const Case& c : cases) {
    std::string error = Error(c.text);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << "got: " << error << "\nwanted: " << c.expected;
  }
}

TEST(SpaceExpand, ReplacesPlaceholdersAnywhereKeepingTypes) {
  Space s = Parse(WithParams(
      R"({"w": {"type": "int", "low": 8, "high": 64}, "act": {"type": "categorical",
          "choices": ["relu", "tanh"]}, "p": {"type": "float", "low": 0, "high": 0.5}})",
      R"({"input": {"shape": [1, 28, 28]}, "layers": [
          {"op": "conv2d", "out_channels": "$w", "kernel": 3}, {"op": "$act"},
          {"op": "dropout", "p": "$p"}, {"op": "linear", "out_features": "$w", "note": "$w "}]})"));
  Params params{{"w", int64_t{32}}, {"act", std::string("tanh")}, {"p", 0.25}};
  Result<std::string> arch = ExpandArchitecture(s, params);
  ASSERT_TRUE(arch.ok()) << arch.status().message();
  EXPECT_NE(arch->find(R"("out_channels":32)"), std::string::npos) << *arch;
  EXPECT_NE(arch->find(R"("out_features":32)"), std::string::npos) << *arch;
  EXPECT_NE(arch->find(R"("op":"tanh")"), std::string::npos) << *arch;
  EXPECT_NE(arch->find(R"("p":0.25)"), std::string::npos) << *arch;
  // Only strings that are exactly "$name" are placeholders.
  EXPECT_NE(arch->find(R"("note":"$w ")"), std::string::npos) << *arch;
  // The template keeps the file's key order.
  EXPECT_LT(arch->find("input"), arch->find("layers"));

  Result<std::string> missing = ExpandArchitecture(s, Params{{"w", int64_t{8}}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/architecture/layers/1/op: no value for parameter"),
            std::string::npos)
      << missing.status().message();
}

TEST(SpaceTraining, ParametersOverrideTheTraining) {
  Space s = Parse(kPaperSpace);
  EXPECT_TRUE(UsedInArchitecture(s, "nr_conv"));
  EXPECT_FALSE(UsedInArchitecture(s, "learning_rate"));
  Training t = TrainingFor(s, Params{{"learning_rate", 0.02},
                                     {"beta1", 0.5},
                                     {"nr_conv", int64_t{3}},
                                     {"optimizer", std::string("sgd")}});
  EXPECT_EQ(t.learning_rate, 0.02);
  EXPECT_EQ(t.beta1, 0.5);
  EXPECT_EQ(t.beta2, 0.999);
  EXPECT_EQ(t.optimizer, "sgd");
  EXPECT_EQ(t.epochs, 2);
}

TEST(SpaceUnit, LogRealsAreLinearInLogSpace) {
  Space s = Parse(kPaperSpace);
  Params p = FromUnit(s, {0.5, 0.5, 0.5, 0.5});
  EXPECT_NEAR(std::get<double>(p["learning_rate"]), 1e-3, 1e-15);
  EXPECT_NEAR(std::get<double>(p["beta1"]), 0.55, 1e-15);
  EXPECT_DOUBLE_EQ(std::get<double>(FromUnit(s, {0, 0, 0, 0})["learning_rate"]), 1e-5);
  EXPECT_DOUBLE_EQ(std::get<double>(FromUnit(s, {1, 1, 1, 1})["learning_rate"]), 1e-1);
  std::vector<double> u = ToUnit(s, Params{{"learning_rate", 1e-4},
                                           {"beta1", 0.1},
                                           {"nr_conv", int64_t{1}},
                                           {"optimizer", std::string("adam")}});
  EXPECT_NEAR(u[0], 0.25, 1e-12);
  EXPECT_EQ(u[1], 0.0);
}

TEST(SpaceUnit, IntegersAndCategoricalsSitAtCellCentres) {
  Space s = Parse(kPaperSpace);
  // nr_conv 1..4: four cells of width 0.25; optimizer: two cells of width 0.5.
  for (int64_t v = 1; v <= 4; ++v) {
    std::vector<double> u = ToUnit(s, Params{{"learning_rate", 1e-3},
                                             {"beta1", 0.5},
                                             {"nr_conv", v},
                                             {"optimizer", std::string("sgd")}});
    EXPECT_DOUBLE_EQ(u[2], (static_cast<double>(v - 1) + 0.5) / 4);
    EXPECT_DOUBLE_EQ(u[3], 0.75);
  }
  // Every point of a cell maps to its value, edges included.
  const double inside[] = {0.0, 0.1, 0.2499, 0.25, 0.6, 0.74, 0.75, 0.9999, 1.0};
  const int64_t expected[] = {1, 1, 1, 2, 3, 3, 4, 4, 4};
  for (size_t i = 0; i < std::size(inside); ++i) {
    Params p = FromUnit(s, {0.5, 0.5, inside[i], inside[i]});
    EXPECT_EQ(std::get<int64_t>(p["nr_conv"]), expected[i]) << inside[i];
    EXPECT_EQ(std::get<std::string>(p["optimizer"]), inside[i] < 0.5 ? "adam" : "sgd");
  }
}

TEST(SpaceUnit, LogIntegersHaveEqualCellsInLogSpace) {
  Space s = Parse(WithParams(R"({"w": {"type": "int", "low": 1, "high": 1000, "log": true}})"));
  // Cells are equal in log space over [0.5, 1000.5], whose middle is sqrt(0.5 x 1000.5) = 22.4.
  EXPECT_NEAR(ToUnit(s, Params{{"w", int64_t{22}}})[0], 0.5, 0.01);
  EXPECT_GT(ToUnit(s, Params{{"w", int64_t{2}}})[0] - ToUnit(s, Params{{"w", int64_t{1}}})[0],
            10 * (ToUnit(s, Params{{"w", int64_t{1000}}})[0] -
                  ToUnit(s, Params{{"w", int64_t{999}}})[0]));
  for (int64_t v : {int64_t{1}, int64_t{2}, int64_t{10}, int64_t{999}, int64_t{1000}}) {
    std::vector<double> u = ToUnit(s, Params{{"w", v}});
    EXPECT_EQ(std::get<int64_t>(FromUnit(s, u)["w"]), v);
  }
  for (double u = 0; u <= 1; u += 0.01) {
    Params p = FromUnit(s, {u});
    // The centre of the value's cell maps back to the same value.
    EXPECT_EQ(FromUnit(s, ToUnit(s, p)), p) << u;
  }
}

TEST(SpaceUnit, RoundTripsThroughTheUnitCube) {
  Space s = Parse(kPaperSpace);
  for (double a = 0.05; a < 1; a += 0.1) {
    std::vector<double> u = {a, 1 - a, a, 1 - a};
    Params p = FromUnit(s, u);
    std::vector<double> back = ToUnit(s, p);
    EXPECT_NEAR(back[0], u[0], 1e-12);
    EXPECT_NEAR(back[1], u[1], 1e-12);
    Params again = FromUnit(s, back);
    EXPECT_EQ(again["nr_conv"], p["nr_conv"]);
    EXPECT_EQ(again["optimizer"], p["optimizer"]);
    EXPECT_NEAR(std::get<double>(again["learning_rate"]), std::get<double>(p["learning_rate"]),
                1e-15);
  }
}

TEST(SpaceParams, JsonRoundTripsExactly) {
  Space s = Parse(kPaperSpace);
  for (double a = 0.013; a < 1; a += 0.0917) {
    Params p = FromUnit(s, {a, a * a, 1 - a, a});
    Result<Params> back = ParamsFromJson(ParamsJson(p), s);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(*back, p) << ParamsJson(p);
  }
  Params p{{"learning_rate", 0.1 + 0.2},
           {"beta1", 1.0},
           {"nr_conv", int64_t{2}},
           {"optimizer", std::string("adam")}};
  EXPECT_EQ(ParamsJson(p),
            R"({"beta1":1.0,"learning_rate":0.30000000000000004,"nr_conv":2,"optimizer":"adam"})");
  EXPECT_EQ(ParamsText(p), "beta1=1, learning_rate=0.30000000000000004, nr_conv=2, optimizer=adam");
}

TEST(SpaceParams, FromJsonRejectsWhatTheSpaceCannotHold) {
  Space s = Parse(kPaperSpace);
  auto error = [&](const std::string& json) {
    Result<Params> p = ParamsFromJson(json, s);
    EXPECT_FALSE(p.ok()) << json;
    return p.ok() ? "" : p.status().message();
  };
  const std::string ok = R"("learning_rate":0.001,"beta1":0.5,"nr_conv":2,"optimizer":"adam")";
  EXPECT_TRUE(ParamsFromJson("{" + ok + "}", s).ok());
  EXPECT_NE(error("{" + ok + R"(,"depth":3})").find("/depth: not a parameter"), std::string::npos);
  EXPECT_NE(error(R"({"learning_rate":0.001,"beta1":0.5,"nr_conv":2})").find("/optimizer: missing"),
            std::string::npos);
  EXPECT_NE(error(R"({"learning_rate":0.001,"beta1":0.5,"nr_conv":2.0,"optimizer":"adam"})")
                .find("/nr_conv: expected an integer"),
            std::string::npos);
  EXPECT_NE(error(R"({"learning_rate":0.001,"beta1":0.5,"nr_conv":9,"optimizer":"adam"})")
                .find("/nr_conv: expected an integer in the parameter's range"),
            std::string::npos);
  EXPECT_NE(error(R"({"learning_rate":0.001,"beta1":0.5,"nr_conv":2,"optimizer":"rmsprop"})")
                .find("/optimizer: expected one of the parameter's choices"),
            std::string::npos);
}

TEST(SpaceLoad, MissingFileNamesIt) {
  Result<Space> s = LoadSpace("/nonexistent/space.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("/nonexistent/space.json: cannot open", 0), 0u);
}

}  // namespace
}  // namespace joulecast::search
