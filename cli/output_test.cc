#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "common/testing/test_util.h"

namespace joulecast::cli {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

TEST(WriteOutput, ReplacesAFileWholeAndLeavesNoTemporary) {
  const TempDir dir;
  dir.Write("r.txt", "an older and longer report\n");
  EXPECT_EQ(WriteOutput((dir / "r.txt").string(), "new\n"), "");
  EXPECT_EQ(ReadFile(dir / "r.txt"), "new\n");
  EXPECT_FALSE(fs::exists(dir / "r.txt.tmp"));
  EXPECT_NE(WriteOutput((dir / "no/r.txt").string(), "x"), "");
}

// Renaming over a device or a pipe would replace it (as root, `-o /dev/null` replaced
// /dev/null with a file); they are written in place.
TEST(WriteOutput, WritesIntoAPipeWithoutReplacingIt) {
  const TempDir dir;
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string read;
  std::thread reader([&] { read = ReadFile(fifo); });
  EXPECT_EQ(CheckWritable(fifo.string(), "nothing was run"), "");
  EXPECT_EQ(WriteOutput(fifo.string(), "through the pipe\n"), "");
  reader.join();
  EXPECT_EQ(read, "through the pipe\n");
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_FALSE(fs::exists(dir / "pipe.tmp"));
}

TEST(CheckWritable, NamesWhatWasNotDone) {
  const TempDir dir;
  EXPECT_EQ(CheckWritable((dir / "p.json").string(), "nothing was measured"), "");
  EXPECT_FALSE(fs::exists(dir / "p.json.tmp"));
  const std::string error = CheckWritable((dir / "no/p.json").string(), "nothing was measured");
  EXPECT_NE(error.find("cannot write there"), std::string::npos) << error;
  EXPECT_NE(error.find("; nothing was measured"), std::string::npos) << error;
  EXPECT_EQ(CheckWritable(dir.path().string(), "x"),
            dir.path().string() + ": is a folder, not a file");
}

}  // namespace
}  // namespace joulecast::cli
