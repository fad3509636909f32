#include "cli/flags.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace joulecast::cli {
namespace {

// A command line with one row of each kind, writing into these fields.
struct Fields {
  int64_t count = 5;
  int threads = 0;
  double rate = 1;
  std::string format = "text", name;
  bool quick = false;
  std::optional<std::vector<int64_t>> dims;
  std::vector<std::string> positionals;

  CommandLine Line() {
    // clang-format off
    CommandLine cli(
        "demo", "usage: joulecast demo [options]\n", 18,
        {
            {.name = "--count", .metavar = "N", .kind = FlagKind::integer, .min = 1, .max = 100,
             .help = "how many (default 5)", .set = Into(&count)},
            {.name = "--threads", .metavar = "N", .kind = FlagKind::integer, .min = 0,
             .max = 64, .set = Into(&threads)},
            {.name = "--networks", .metavar = "N", .kind = FlagKind::integer, .min = 3,
             .max = 9, .set = Into(&threads)},
            {.name = "--rate", .metavar = "X", .kind = FlagKind::real, .max = 10,
             .help = "a rate,\nover two lines", .set = Into(&rate)},
            {.name = "--format", .metavar = "F", .kind = FlagKind::choice,
             .choices = {"text", "json", "html"}, .help = "text (default), json or html",
             .set = Into(&format)},
            {.name = "-o", .alias = "--output", .metavar = "FILE", .kind = FlagKind::text,
             .empty_ok = false, .error = "-o needs a file name", .set = Into(&name)},
            {.name = "--quick", .help = "quicker", .set = Into(&quick)},
            {.name = "--input-dimensions", .metavar = "CxHxW", .kind = FlagKind::dims,
             .help = "bind the input", .set = Into(&dims)},
        });
    // clang-format on
    cli.Positionals([this](const std::string& arg) {
      if (arg == "bad") return std::string("bad positional");
      positionals.push_back(arg);
      return std::string();
    });
    return cli;
  }
};

// Parses `args`; returns the exit code (-1 to go on) and what went to standard error.
std::pair<int, std::string> Parse(CommandLine& cli, const std::vector<std::string>& args) {
  ::testing::internal::CaptureStderr();
  std::optional<int> exit_code = cli.Parse(args);
  return {exit_code.value_or(-1), ::testing::internal::GetCapturedStderr()};
}

TEST(CommandLine, ParsesEachKindIntoItsField) {
  Fields f;
  CommandLine cli = f.Line();
  auto [code, err] =
      Parse(cli, {"a", "--count", "7", "--rate", "2.5", "--format", "json", "--output", "x.txt",
                  "--quick", "--input-dimensions", "3x32x32", "b"});
  EXPECT_EQ(code, -1) << err;
  EXPECT_EQ(f.count, 7);
  EXPECT_EQ(f.rate, 2.5);
  EXPECT_EQ(f.format, "json");
  EXPECT_EQ(f.name, "x.txt");
  EXPECT_TRUE(f.quick);
  EXPECT_EQ(f.dims, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(f.positionals, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cli.given(), (std::vector<std::string>{"--count", "--rate", "--format", "-o", "--quick",
                                                   "--input-dimensions"}));
  EXPECT_TRUE(cli.Given("-o"));
  EXPECT_FALSE(cli.Given("--threads"));
}

TEST(CommandLine, ErrorsNameTheFlagInTheKindsWording) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--count", "0"}, "--count needs a positive integer up to 100"},
      {{"--count"}, "--count needs a positive integer up to 100"},
      {{"--count", "+5"}, "--count needs a positive integer up to 100"},
      {{"--threads", "65"}, "--threads needs a non-negative integer up to 64"},
      {{"--networks", "2"}, "--networks needs an integer from 3 to 9"},
      {{"--rate", "11"}, "--rate needs a positive number up to 10"},
      {{"--rate", "0"}, "--rate needs a positive number up to 10"},
      {{"--format", "pdf"}, "--format must be text, json or html"},
      {{"-o", ""}, "-o needs a file name"},
      {{"--output"}, "-o needs a file name"},
      {{"--input-dimensions", "3x0"}, "--input-dimensions needs positive dims like 3x224x224"},
      {{"--bogus"}, "unknown option '--bogus' (see joulecast demo --help)"},
      {{"bad"}, "bad positional"},
  };
  for (const auto& [args, message] : cases) {
    Fields f;
    CommandLine cli = f.Line();
    auto [code, err] = Parse(cli, args);
    EXPECT_EQ(code, 2) << args[0];
    EXPECT_EQ(err, "joulecast demo: " + message + "\n") << args[0];
  }
}

TEST(CommandLine, WithoutATakerAPositionalIsAnUnknownOption) {
  CommandLine cli("demo", "", 10, {});
  auto [code, err] = Parse(cli, {"stray"});
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "joulecast demo: unknown option 'stray' (see joulecast demo --help)\n");
}

TEST(CommandLine, StopsAtTheFirstError) {
  Fields f;
  CommandLine cli = f.Line();
  auto [code, err] = Parse(cli, {"--count", "0", "--format", "pdf"});
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "joulecast demo: --count needs a positive integer up to 100\n");
  EXPECT_EQ(f.count, 5) << "a rejected value is not stored";
}

std::string HelpOf(const CommandLine& cli) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&buffer, &size);
  cli.PrintHelp(f);
  std::fclose(f);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(CommandLine, HelpListsRowsWithHelpAlignedAtTheColumn) {
  Fields f;
  EXPECT_EQ(HelpOf(f.Line()),
            "usage: joulecast demo [options]\n"
            "  --count N       how many (default 5)\n"
            "  --rate X        a rate,\n"
            "                  over two lines\n"
            "  --format F      text (default), json or html\n"
            "  --quick         quicker\n"
            "  --input-dimensions CxHxW\n"
            "                  bind the input\n");
}

TEST(CommandLine, HelpFlagPrintsHelpAndStops) {
  Fields f;
  CommandLine cli = f.Line();
  ::testing::internal::CaptureStdout();
  auto [code, err] = Parse(cli, {"--count", "9", "--help", "--count", "0"});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(err, "");
  EXPECT_EQ(out.rfind("usage: joulecast demo", 0), 0u) << out;
}

TEST(FlagValues, AcceptOnlyTheDocumentedForms) {
  EXPECT_EQ(IntIn("12", 0, 100), 12);
  EXPECT_FALSE(IntIn("101", 0, 100));
  EXPECT_FALSE(IntIn(" 12", 0, 100));
  EXPECT_FALSE(IntIn("1e3", 0, 10000));
  EXPECT_FALSE(IntIn("99999999999999999999", 0, INT64_MAX));
  EXPECT_EQ(PositiveReal("1e-3"), 1e-3);
  EXPECT_FALSE(PositiveReal("-1"));
  EXPECT_FALSE(PositiveReal("inf"));
  EXPECT_FALSE(PositiveReal("1x"));
  EXPECT_EQ(DimsArg("3x224x224"), (std::vector<int64_t>{3, 224, 224}));
  EXPECT_FALSE(DimsArg("3x"));
  EXPECT_FALSE(DimsArg("3x2000000"));
}

}  // namespace
}  // namespace joulecast::cli
