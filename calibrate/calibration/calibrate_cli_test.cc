// The real `joulecast calibrate`: its one-line errors with exit code 2, the checks that run before
// anything is measured (an unwritable profile, an unusable database), Ctrl-C (the measurements
// taken so far stay in the database, the old profile is untouched, the message says how to
// resume, and the same command resumes), and --fit-only refitting a database into a profile.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>

#include "common/sqlite.h"
#include "common/testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;

// The measurements stored in a calibration database, or -1 if it cannot be read.
int TimingRows(const fs::path& db_path) {
  joulecast::sqlite::Database db(db_path, joulecast::sqlite::Database::Mode::read_only, 0);
  if (!db.ok()) return -1;
  joulecast::sqlite::Statement q(db, "SELECT count(*) FROM timings");
  return q.Step() ? static_cast<int>(q.Int(0)) : -1;
}

class CalibrateCli : public ::testing::Test {
 protected:
  // Runs `joulecast calibrate ARGS` (trusted test strings) and waits for it.
  CommandOutput Calibrate(const std::string& args) {
    return RunCommand("'" JOULECAST_BIN "' calibrate " + args);
  }

  // Expects exit code 2 and the last line of stderr to be the one error, containing `what`.
  void ExpectError(const CommandOutput& o, const std::string& what) {
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
    ASSERT_FALSE(o.err.empty());
    ASSERT_EQ(o.err.back(), '\n');
    const size_t start = o.err.rfind('\n', o.err.size() - 2);
    const std::string last = o.err.substr(start == std::string::npos ? 0 : start + 1);
    EXPECT_EQ(last.rfind("joulecast calibrate: ", 0), 0u) << o.err;
    EXPECT_NE(last.find(what), std::string::npos) << "wanted '" << what << "' in:\n" << o.err;
  }

  TempDir dir_;
};

// A calibration small enough for a test: 4 timings per layer design, 3 networks of 0.05 s.
constexpr const char* kSmall =
    "--quick --meter estimate --layers-per-design 1 --networks 3 --window 0.05 --threads 1";

TEST_F(CalibrateCli, UsageErrorsAreOneLineAndExit2) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "-o PROFILE is required"},
      {"-o", "-o needs a file name"},
      {"-o - ", "-o needs a file"},
      {"-o p.json --threads x", "--threads needs a non-negative integer up to 1024"},
      {"-o p.json --layers-per-design 0", "--layers-per-design needs a positive integer up to"},
      {"-o p.json --layers-per-design", "--layers-per-design needs a positive integer up to"},
      {"-o p.json --networks 2", "--networks needs an integer from 3 to"},
      {"-o p.json --window 0", "--window needs seconds between 0 and 600"},
      {"-o p.json --window 601", "--window needs seconds between 0 and 600"},
      {"-o p.json --precision fp8", "--precision: 'fp8' is not fp32, bf16 or fp16"},
      {"-o p.json --precision fp32,,bf16", "--precision: '' is not fp32, bf16 or fp16"},
      {"-o p.json --db a.db --db b.db", "--db is given twice"},
      {"-o p.json --db a.db --db b.db --fit-only", "--db is given twice"},
      {"-o p.json --fit-only", "--fit-only needs --db FILE"},
      {"-o p.json --seed -1", "--seed needs a non-negative integer up to"},
      {"-o p.json --device tpu", "--device must be cpu, cuda or cuda:N"},
      {"-o p.json --meter joulemeter", "--meter must be auto, rapl, nvml or estimate"},
      {"-o p.json --cpu-watts -3", "--cpu-watts needs a positive number"},
      {"-o p.json --frobnicate", "unknown option '--frobnicate'"},
      {"-o p.json --samples-per-kind 4", "unknown option '--samples-per-kind'"},
      {"-o p.json --rse 0.05", "unknown option '--rse'"},
      {"-o p.json --db p.json", "--db must not be the profile itself"},
  };
  for (const auto& [args, what] : cases) {
    CommandOutput o = Calibrate(args);
    SCOPED_TRACE(args);
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << "more than one line:\n" << o.err;
    EXPECT_NE(o.err.find(what), std::string::npos) << o.err;
  }
  EXPECT_FALSE(fs::exists("p.json"));
  EXPECT_FALSE(fs::exists("p.json.db"));
  EXPECT_FALSE(fs::exists("a.db"));
}

TEST_F(CalibrateCli, HelpExitsZero) {
  CommandOutput o = Calibrate("--help");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("usage: joulecast calibrate -o PROFILE"), std::string::npos);
  for (const char* flag : {"--layers-per-design N", "--networks N", "--window S", "--fit-only",
                           "--precision"}) {
    EXPECT_NE(o.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(CalibrateCli, UnwritableProfileFailsBeforeMeasuring) {
  const fs::path missing = dir_ / "no" / "such" / "folder" / "p.json";
  CommandOutput o = Calibrate("--quick -o '" + missing.string() + "'");
  ExpectError(o, "cannot write there");
  EXPECT_NE(o.err.find("nothing was measured"), std::string::npos);
  EXPECT_EQ(o.err.find("measuring"), std::string::npos) << "it started measuring:\n" << o.err;
  EXPECT_EQ(o.err.find("calibrate: 1/"), std::string::npos) << "it measured:\n" << o.err;
  EXPECT_FALSE(fs::exists(missing.string() + ".db"));

  fs::create_directories(dir_ / "folder.json");
  o = Calibrate("--quick -o '" + (dir_ / "folder.json").string() + "'");
  ExpectError(o, "is a folder");
}

TEST_F(CalibrateCli, UnusableDatabaseFailsBeforeMeasuringAndKeepsTheOldProfile) {
  const fs::path profile = dir_ / "p.json";
  std::ofstream(profile) << "OLD PROFILE\n";
  std::ofstream(dir_ / "junk.db") << "this is not a SQLite database, only some text in a file\n";
  CommandOutput o = Calibrate("--quick --meter estimate -o '" + profile.string() + "' --db '" +
                              (dir_ / "junk.db").string() + "'");
  ExpectError(o, "not a joulecast calibration database");
  EXPECT_NE(o.err.find("junk.db"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("calibrate: 1/"), std::string::npos) << o.err;
  EXPECT_EQ(ReadFile(profile), "OLD PROFILE\n");
  EXPECT_FALSE(fs::exists(profile.string() + ".tmp"));
}

TEST_F(CalibrateCli, AnExplicitCounterIsUsedOrIsAClearError) {
  const fs::path profile = dir_ / "p.json";
  CommandOutput o = Calibrate(std::string(kSmall) + " --meter nvml -o '" + profile.string() + "'");
  if (o.exit_code == 2) {
    // No usable NVIDIA GPU here: NVML cannot open, and nothing falls back to another meter.
    ExpectError(o, "");
    EXPECT_NE(o.err.find("NVML"), std::string::npos) << o.err;
    EXPECT_FALSE(fs::exists(profile));
  } else {
    // A machine with NVML: the profile says so.
    ASSERT_EQ(o.exit_code, 0) << o.err;
    const nlohmann::json p = nlohmann::json::parse(ReadFile(profile));
    EXPECT_EQ(p.at("meter").at("kind"), "nvml") << p.dump();
  }
}

// "interrupted: 5 of 63 measurements are saved in DB; ..." -> 5 and 63 (-1 if absent).
std::pair<int, int> SavedOf(const std::string& err) {
  const size_t at = err.find("interrupted: ");
  int done = -1, total = -1;
  if (at == std::string::npos ||
      std::sscanf(err.c_str() + at, "interrupted: %d of %d measurements", &done, &total) != 2) {
    return {-1, -1};
  }
  return {done, total};
}

TEST_F(CalibrateCli, CtrlCKeepsTheMeasurementsAndTheOldProfileAndTheSameCommandResumes) {
  const fs::path profile = dir_ / "p.json";
  const std::string db = profile.string() + ".db";
  std::ofstream(profile) << "OLD PROFILE\n";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen((dir_ / "err").c_str(), "w", stderr);
    std::freopen((dir_ / "out").c_str(), "w", stdout);
    execl(JOULECAST_BIN, JOULECAST_BIN, "calibrate", "--quick", "--meter", "estimate",
          "--layers-per-design", "1", "--networks", "3", "--window", "0.05", "--threads", "1",
          "-o", profile.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once two measurements are stored.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && TimingRows(db) < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(TimingRows(db), 2) << ReadFile(dir_ / "err");
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal instead of stopping cleanly";
  CommandOutput o;
  o.exit_code = WEXITSTATUS(status);
  o.out = ReadFile(dir_ / "out");
  o.err = ReadFile(dir_ / "err");
  ExpectError(o, "interrupted: ");
  EXPECT_NE(o.err.find("calibrate: 1/"), std::string::npos) << "no progress lines:\n" << o.err;
  EXPECT_NE(o.err.find("measurements are saved in " + db +
                       "; run the same command again to resume (" + profile.string() +
                       " was not written)"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(ReadFile(profile), "OLD PROFILE\n");
  EXPECT_FALSE(fs::exists(profile.string() + ".tmp"));
  const auto [saved, total] = SavedOf(o.err);
  const int kept = TimingRows(db);
  EXPECT_GE(kept, 2);
  EXPECT_EQ(saved, kept) << o.err;
  // 4 timings of each of 15 designs, 6 optimizer steps (--quick), 3 networks
  EXPECT_EQ(total, 15 * 4 + 6 + 3) << o.err;

  // The same command resumes: it measures only the rest and writes the profile.
  o = Calibrate(std::string(kSmall) + " -o '" + profile.string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("wrote " + profile.string() + ": " + std::to_string(total) +
                       " measurements (" + std::to_string(total - kept) + " measured now, " +
                       std::to_string(kept) + " from the database)"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.err.find("measurements; fitting the profile"), std::string::npos) << o.err;
  EXPECT_EQ(TimingRows(db), total);
  const nlohmann::json p = nlohmann::json::parse(ReadFile(profile));
  EXPECT_EQ(p.at("schema"), "joulecast.profile/3");
  EXPECT_FALSE(fs::exists(profile.string() + ".tmp"));
}

TEST_F(CalibrateCli, FitOnlyRefitsTheDatabaseOfASmallRunIntoASchema3Profile) {
  const fs::path profile = dir_ / "p.json";
  const fs::path db = dir_ / "m.db";
  CommandOutput o =
      Calibrate(std::string(kSmall) + " -o '" + profile.string() + "' --db '" + db.string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("measured now, 0 from the database"), std::string::npos) << o.out;
  const nlohmann::json measured = nlohmann::json::parse(ReadFile(profile));
  EXPECT_EQ(measured.at("schema"), "joulecast.profile/3");
  const int rows = TimingRows(db);
  EXPECT_EQ(rows, 15 * 4 + 6 + 3);

  const fs::path refit = dir_ / "p2.json";
  o = Calibrate("--fit-only --db '" + db.string() + "' -o '" + refit.string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("wrote " + refit.string()), std::string::npos) << o.out;
  const nlohmann::json p = nlohmann::json::parse(ReadFile(refit));
  EXPECT_EQ(p.at("schema"), "joulecast.profile/3");
  EXPECT_EQ(p.at("meter").at("kind"), measured.at("meter").at("kind"));
  EXPECT_EQ(p.at("hardware"), measured.at("hardware"));
  EXPECT_EQ(TimingRows(db), rows) << "fit-only measured something";

  // Without a database to fit it fails in one line and writes nothing.
  const fs::path none = dir_ / "p3.json";
  o = Calibrate("--fit-only --db '" + (dir_ / "none.db").string() + "' -o '" + none.string() +
                "'");
  ExpectError(o, "none.db");
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << o.err;
  EXPECT_FALSE(fs::exists(none));
  EXPECT_FALSE(fs::exists(dir_ / "none.db"));
}

}  // namespace
