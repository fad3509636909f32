// The real `joulecast calibrate`: its one-line errors with exit code 2, the checks that run before
// anything is measured (an unwritable profile, an unusable database), and Ctrl-C: the samples
// measured so far stay in the database, the old profile is untouched, and the message says how
// to resume.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;

struct Output {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
};

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int SampleRows(const fs::path& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt* q = nullptr;
  int rows = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM samples", -1, &q, nullptr) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW) {
    rows = sqlite3_column_int(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return rows;
}

class CalibrateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("joulecast_calibrate_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `joulecast calibrate ARGS` (trusted test strings) and waits for it.
  Output Calibrate(const std::string& args) {
    const std::string cmd = "'" JOULECAST_BIN "' calibrate " + args + " >'" +
                            (dir_ / "out").string() + "' 2>'" + (dir_ / "err").string() + "'";
    const auto start = std::chrono::steady_clock::now();
    int status = std::system(cmd.c_str());
    Output o;
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = Slurp(dir_ / "out");
    o.err = Slurp(dir_ / "err");
    return o;
  }

  // Expects exit code 2 and the last line of stderr to be the one error, containing `what`.
  void ExpectError(const Output& o, const std::string& what) {
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
    ASSERT_FALSE(o.err.empty());
    ASSERT_EQ(o.err.back(), '\n');
    const size_t start = o.err.rfind('\n', o.err.size() - 2);
    const std::string last = o.err.substr(start == std::string::npos ? 0 : start + 1);
    EXPECT_EQ(last.rfind("joulecast calibrate: ", 0), 0u) << o.err;
    EXPECT_NE(last.find(what), std::string::npos) << "wanted '" << what << "' in:\n" << o.err;
  }

  fs::path dir_;
};

TEST_F(CalibrateCli, UsageErrorsAreOneLineAndExit2) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "-o PROFILE is required"},
      {"-o", "-o needs a file name"},
      {"-o - ", "-o needs a file"},
      {"-o p.json --rse 0", "--rse needs a number between 0 and 1"},
      {"-o p.json --rse 1.5", "--rse needs a number between 0 and 1"},
      {"-o p.json --threads x", "--threads needs a non-negative integer"},
      {"-o p.json --samples-per-kind 0", "--samples-per-kind needs a positive integer"},
      {"-o p.json --device tpu", "--device must be cpu, cuda or cuda:N"},
      {"-o p.json --meter joulemeter", "--meter must be auto, rapl, nvml or estimate"},
      {"-o p.json --cpu-watts -3", "--cpu-watts needs a positive number"},
      {"-o p.json --frobnicate", "unknown option '--frobnicate'"},
      {"-o p.json --db p.json", "--db must not be the profile itself"},
  };
  for (const auto& [args, what] : cases) {
    Output o = Calibrate(args);
    SCOPED_TRACE(args);
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << "more than one line:\n" << o.err;
    EXPECT_NE(o.err.find(what), std::string::npos) << o.err;
  }
  EXPECT_FALSE(fs::exists("p.json"));
}

TEST_F(CalibrateCli, HelpExitsZero) {
  Output o = Calibrate("--help");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("usage: joulecast calibrate -o PROFILE"), std::string::npos);
}

TEST_F(CalibrateCli, UnwritableProfileFailsBeforeMeasuring) {
  const fs::path missing = dir_ / "no" / "such" / "folder" / "p.json";
  Output o = Calibrate("--quick -o '" + missing.string() + "'");
  ExpectError(o, "cannot write there");
  EXPECT_NE(o.err.find("nothing was measured"), std::string::npos);
  EXPECT_EQ(o.err.find("measuring"), std::string::npos) << "it started measuring:\n" << o.err;
  EXPECT_LT(o.seconds, 20);  // a quick calibration would take a minute
  EXPECT_FALSE(fs::exists(missing.string() + ".db"));

  fs::create_directories(dir_ / "folder.json");
  o = Calibrate("--quick -o '" + (dir_ / "folder.json").string() + "'");
  ExpectError(o, "is a folder");
}

TEST_F(CalibrateCli, UnusableDatabaseFailsBeforeMeasuringAndKeepsTheOldProfile) {
  const fs::path profile = dir_ / "p.json";
  std::ofstream(profile) << "OLD PROFILE\n";
  std::ofstream(dir_ / "junk.db") << "this is not a SQLite database, only some text in a file\n";
  Output o = Calibrate("--quick --meter estimate -o '" + profile.string() + "' --db '" +
                       (dir_ / "junk.db").string() + "'");
  ExpectError(o, "not a SQLite database");
  EXPECT_EQ(o.err.find("calibrate: 1/"), std::string::npos) << o.err;
  EXPECT_EQ(Slurp(profile), "OLD PROFILE\n");
  EXPECT_FALSE(fs::exists(profile.string() + ".tmp"));
}

TEST_F(CalibrateCli, MissingCounterIsAClearError) {
  Output o = Calibrate("--quick --meter nvml -o '" + (dir_ / "p.json").string() + "'");
  // On a machine with a usable NVIDIA GPU this would calibrate; elsewhere NVML cannot open.
  if (o.exit_code == 2) {
    ExpectError(o, "");
    EXPECT_NE(o.err.find("NVML"), std::string::npos) << o.err;
    EXPECT_FALSE(fs::exists(dir_ / "p.json"));
  }
}

TEST_F(CalibrateCli, CtrlCKeepsTheSamplesAndTheOldProfileAndSaysHowToResume) {
  const fs::path profile = dir_ / "p.json";
  std::ofstream(profile) << "OLD PROFILE\n";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen((dir_ / "err").c_str(), "w", stderr);
    std::freopen((dir_ / "out").c_str(), "w", stdout);
    execl(JOULECAST_BIN, JOULECAST_BIN, "calibrate", "--quick", "--meter", "estimate", "-o",
          profile.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once two samples are stored.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && SampleRows(profile.string() + ".db") < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(SampleRows(profile.string() + ".db"), 2) << Slurp(dir_ / "err");
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal instead of stopping cleanly";
  Output o;
  o.exit_code = WEXITSTATUS(status);
  o.out = Slurp(dir_ / "out");
  o.err = Slurp(dir_ / "err");
  ExpectError(o, "run the same command again to resume");
  EXPECT_NE(o.err.find("samples are saved in " + profile.string() + ".db"), std::string::npos);
  EXPECT_EQ(Slurp(profile), "OLD PROFILE\n");
  EXPECT_FALSE(fs::exists(profile.string() + ".tmp"));
  const int kept = SampleRows(profile.string() + ".db");
  EXPECT_GE(kept, 2);
}

}  // namespace
