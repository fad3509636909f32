// The optional "training" object of JSON architectures and families.
#include <gtest/gtest.h>

#include <string>

#include "analyzer/json/json_frontend.h"
#include "analyzer/json/json_test_util.h"

namespace joulecast {
namespace {

constexpr const char* kPlain =
    R"({"name": "tiny", "input": {"shape": [1, 8, 8]}, "layers": [{"op": "flatten"},
        {"op": "linear", "out_features": 4}], "training": %s})";
constexpr const char* kFamily =
    R"({"family": "SimpleCNN", "input": {"shape": [1, 28, 28]}, "training": %s})";

std::string With(const char* doc, const std::string& training) {
  std::string s = doc;
  return s.replace(s.find("%s"), 2, training);
}

TEST(JsonTraining, PlainAndFamilyCarryEveryField) {
  const std::string training =
      R"({"batch": 512, "epochs": 25, "samples": 60000, "optimizer": "sgd", "precision": "bf16"})";
  for (const char* doc : {kPlain, kFamily}) {
    Result<Graph> g = ParseJsonArchitecture(With(doc, training), "t.json", {});
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(g->training.batch, 512);
    EXPECT_EQ(g->training.epochs, 25);
    EXPECT_EQ(g->training.samples, 60000);
    EXPECT_EQ(g->training.optimizer, "sgd");
    EXPECT_EQ(g->training.precision, "bf16");
    EXPECT_EQ(g->batch, 512) << "the file's batch binds the symbolic batch";
    EXPECT_TRUE(g->batch_symbolic);
  }
}

TEST(JsonTraining, FlagBatchWinsAndFieldsAreOptional) {
  LoadOptions o;
  o.batch = 8;
  Result<Graph> g = ParseJsonArchitecture(With(kFamily, R"({"batch": 512})"), "t.json", o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->batch, 8);
  EXPECT_EQ(g->training.batch, 512);
  EXPECT_FALSE(g->training.epochs);
  Result<Graph> empty = ParseJsonArchitecture(With(kPlain, "{}"), "t.json", {});
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->batch, 1);
  EXPECT_FALSE(empty->training.batch);
}

TEST(JsonTraining, BundledPaperFamiliesCarryThePapersRun) {
  for (const char* name : {"simplecnn", "simplecnn2", "densepolynn", "denselinearnn"}) {
    Result<Graph> g =
        LoadJsonFile(json_test::SourceDir() + "/models/" + name + ".json", LoadOptions{});
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(g->batch, 512) << name;
    EXPECT_EQ(g->training.epochs, 25) << name;
    EXPECT_EQ(g->training.samples, 60000) << name;
    EXPECT_EQ(g->training.optimizer, "adam") << name;
  }
}

TEST(JsonTraining, BadValuesNameTheFieldOnOneLine) {
  struct Case {
    std::string training, pointer, what;
  };
  const Case cases[] = {
      {R"({"batch": 0})", "/training/batch", "0"},
      {R"({"batch": -3})", "/training/batch", "-3"},
      {R"({"batch": "64"})", "/training/batch", "\"64\""},
      {R"({"epochs": 2.5})", "/training/epochs", "2.5"},
      {R"({"samples": 0})", "/training/samples", "0"},
      {R"({"optimizer": "rmsprop"})", "/training/optimizer", "rmsprop"},
      {R"({"optimizer": 1})", "/training/optimizer", "adam, sgd"},
      {R"({"precision": "fp8"})", "/training/precision", "fp8"},
      {R"({"learning_rate": 0.1})", "/training", "learning_rate"},
      {R"([512])", "/training", "object"},
  };
  for (const char* doc : {kPlain, kFamily}) {
    for (const Case& c : cases) {
      Result<Graph> g = ParseJsonArchitecture(With(doc, c.training), "t.json", {});
      ASSERT_FALSE(g.ok()) << c.training;
      const std::string& m = g.status().message();
      EXPECT_EQ(m.rfind("t.json: " + c.pointer, 0), 0u) << m;
      EXPECT_NE(m.find(c.what), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

}  // namespace
}  // namespace joulecast
