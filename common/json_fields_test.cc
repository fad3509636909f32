// Reading JSON fields: messages name the field by pointer, describe what they got in one line,
// and read the same from ordered documents.
#include "common/json_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace joulecast::json_fields {
namespace {

template <typename Json>
std::string ErrorOf(const Json& doc) {
  static constexpr std::string_view kAllowed[] = {"a", "b"};
  try {
    OnlyAllow(doc, "/x", kAllowed, "in x");
  } catch (const FieldError& e) {
    return ErrorLine("f.json", e.pointer(), e.what());
  }
  return "";
}

TEST(JsonFields, UnknownFieldsAreNamedByPointer) {
  const auto doc = nlohmann::json::parse(R"({"a": 1, "c/d": 2})");
  EXPECT_EQ(ErrorOf(doc), "f.json: /x/c~1d: unknown field \"c/d\" in x; its fields are a, b");
  EXPECT_EQ(ErrorOf(nlohmann::ordered_json::parse(R"({"b": 1, "z\n": 2})")),
            "f.json: /x/z\\x0a: unknown field \"z\\x0a\" in x; its fields are a, b");
}

TEST(JsonFields, DescribesWhatItGot) {
  EXPECT_EQ(Describe(nlohmann::json::parse("[]")), "an empty array");
  EXPECT_EQ(Describe(nlohmann::ordered_json::parse("[1, 2]")), "an array of 2 values");
  EXPECT_EQ(Describe(nlohmann::json("say \"hi\"")), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Describe(nlohmann::json(2.5)), "2.5");
  EXPECT_EQ(Quote(std::string(70, 'x')), "\"" + std::string(60, 'x') + "...\"");
}

TEST(JsonFields, FieldsReadBoundedValues) {
  const auto doc = nlohmann::json::parse(R"({"n": 3, "k": [2, 3], "f": 2.5, "s": ""})");
  Fields f(doc, "/layers/0");
  EXPECT_EQ(f.Int("n", 1, 10), 3);
  EXPECT_EQ(f.Int("missing", 1, 10, 7), 7);
  EXPECT_EQ(f.Pair("k", 1, 10, std::nullopt), (std::array<int64_t, 2>{2, 3}));
  try {
    f.Int("f", 1, 10);
    ADD_FAILURE() << "2.5 read as an integer";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.pointer(), "/layers/0/f");
    EXPECT_STREQ(e.what(), "expected a positive integer up to 10, got 2.5");
  }
  EXPECT_THROW(f.Text("s"), FieldError);
  EXPECT_THROW(Fields(doc["n"], "/n"), FieldError);
}

}  // namespace
}  // namespace joulecast::json_fields
